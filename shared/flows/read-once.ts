/** The answer of `read` for `id`, asked once while `cache` lives (a batch, a record): later askers share the first read. */
export function readOnce<T>(cache: Map<string, Promise<T>>, id: string, read: () => Promise<T>): Promise<T> {
  let value = cache.get(id);
  if (!value) cache.set(id, (value = read()));
  return value;
}
