import { z } from 'zod';
import type { EntityRegistry } from '../../shared/flows/registry.ts';
import type { Dependencies } from '../../shared/runtime/dependencies.ts';
import { startConsole } from '../console/server.ts';
import type { Io } from './run.ts';
import { UsageError } from './spec.ts';

const portSchema = z.coerce.number().int().min(0).max(65_535);

/** `connector console [--port N]`: serves the console on 127.0.0.1 until SIGINT or SIGTERM; prints its URL with the token. */
export async function runConsole(d: Dependencies, port: string | undefined, io: Io, registry: EntityRegistry): Promise<number> {
  const parsed = portSchema.safeParse(port ?? 0);
  if (!parsed.success) throw new UsageError('--port must be a port number from 0 to 65535', '--port');
  const server = await startConsole(d, { port: parsed.data, registry });
  io.out(`console: ${server.url}`);
  io.out('Open it in a browser on this machine: it listens on 127.0.0.1 only, and the token in the URL is its key. Ctrl-C stops it.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  return 0;
}
