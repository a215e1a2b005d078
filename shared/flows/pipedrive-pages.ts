import type { PipedriveClient, PipedriveCollection, RemoteRecord } from '../ports/pipedrive.ts';

type ListOptions = Omit<NonNullable<Parameters<PipedriveClient['list']>[1]>, 'cursor'>;

/** RFC 3339 without milliseconds, as Pipedrive's `updated_since` takes it. */
export const pipedriveTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/u, 'Z');

/** Every page of a Pipedrive list (500 records a page, 10 tokens each), following its cursor to the end. */
export async function* listPages(
  pipedrive: PipedriveClient,
  collection: PipedriveCollection,
  opts: ListOptions = {},
): AsyncGenerator<RemoteRecord[]> {
  let cursor: string | undefined;
  do {
    const page = await pipedrive.list(collection, { ...opts, ...(cursor && { cursor }) });
    yield page.items;
    cursor = page.nextCursor;
  } while (cursor);
}

/** The whole list, for the few callers that need it at once (a page of won deals, a recheck of 100 ids). */
export async function listAll(
  pipedrive: PipedriveClient,
  collection: PipedriveCollection,
  opts: ListOptions = {},
): Promise<RemoteRecord[]> {
  const all: RemoteRecord[] = [];
  for await (const items of listPages(pipedrive, collection, opts)) all.push(...items);
  return all;
}
