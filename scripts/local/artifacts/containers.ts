import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ArtifactFunction } from './template.ts';

/**
 * What runs inside each container: it imports the bundle once (its module state is this container's
 * own) and runs one invocation per message, handing back the result or the error as Lambda reports it.
 */
const CONTAINER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const loaded = import(workerData.entry);
parentPort.on('message', async ({ id, event, context }) => {
  try {
    const handler = (await loaded)[workerData.exportName];
    if (typeof handler !== 'function') throw new Error('the bundle exports no ' + workerData.exportName);
    const deadline = Date.now() + context.timeoutMs;
    const result = await handler(event, { ...context, getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) });
    parentPort.postMessage({ id, ok: true, result });
  } catch (error) {
    parentPort.postMessage({ id, ok: false, error: { errorType: error?.name ?? 'Error', errorMessage: String(error?.message ?? error) } });
  }
});
`;

type Reply = { id: string; ok: true; result: unknown } | { id: string; ok: false; error: { errorType: string; errorMessage: string } };

/** An invocation that failed as Lambda reports it (`errorType`), including a timeout. */
export class InvocationError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * One Lambda instance of a function, from the synthesized bundle: a worker thread with the function's own
 * environment (the template's variables plus the local endpoints and its own access key), its own module
 * state and the template's memory as its heap limit. Invocations past the template's timeout fail with
 * `Task timed out` and the container is replaced, as Lambda does. The runtime starts one per concurrent
 * slot (runtime.ts), so no two concurrent writers share clients, pacer or caches.
 */
export class FunctionContainer {
  private worker: Worker | undefined;
  private readonly pending = new Map<string, { resolve: (r: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor(
    readonly fn: ArtifactFunction,
    private readonly env: Record<string, string>,
  ) {}

  private start(): Worker {
    const worker = new Worker(CONTAINER_SOURCE, {
      eval: true,
      env: this.env,
      workerData: { entry: pathToFileURL(this.fn.entry).href, exportName: this.fn.exportName },
      resourceLimits: { maxOldGenerationSizeMb: this.fn.memoryMb },
    });
    worker.on('message', (reply: Reply) => {
      const call = this.pending.get(reply.id);
      if (!call) return;
      this.pending.delete(reply.id);
      clearTimeout(call.timer);
      if (reply.ok) call.resolve(reply.result);
      else call.reject(new InvocationError(reply.error.errorType, reply.error.errorMessage));
    });
    worker.on('error', (error) => this.failAll(new InvocationError('Runtime.ExitError', error.message)));
    worker.unref();
    return worker;
  }

  private failAll(error: Error): void {
    for (const call of this.pending.values()) {
      clearTimeout(call.timer);
      call.reject(error);
    }
    this.pending.clear();
    void this.worker?.terminate();
    this.worker = undefined;
  }

  invoke(event: unknown): Promise<unknown> {
    const worker = (this.worker ??= this.start());
    const id = randomUUID();
    const timeoutMs = this.fn.timeoutSeconds * 1000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.failAll(new InvocationError('Sandbox.Timedout', `Task timed out after ${this.fn.timeoutSeconds}.00 seconds`)),
        timeoutMs,
      );
      this.pending.set(id, { resolve, reject, timer });
      worker.postMessage({
        id,
        event,
        context: {
          functionName: this.fn.name,
          functionVersion: '$LATEST',
          invokedFunctionArn: `arn:aws:lambda:${this.env.AWS_REGION}:local:function:${this.fn.name}`,
          memoryLimitInMB: String(this.fn.memoryMb),
          awsRequestId: id,
          logGroupName: `/aws/lambda/${this.fn.name}`,
          logStreamName: 'local',
          callbackWaitsForEmptyEventLoop: true,
          timeoutMs,
        },
      });
    });
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
    this.worker = undefined;
  }
}
