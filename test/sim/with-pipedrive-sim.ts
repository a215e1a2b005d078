import { startPipedriveSim, type PipedriveSim, type PipedriveSimOptions } from '../../scripts/simulators/pipedrive/index.ts';

/** Runs `fn` against a fresh Pipedrive simulator and closes it afterwards, whatever happens. */
export async function withPipedriveSim(options: PipedriveSimOptions, fn: (sim: PipedriveSim) => Promise<void>): Promise<void> {
  const sim = await startPipedriveSim(options);
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}
