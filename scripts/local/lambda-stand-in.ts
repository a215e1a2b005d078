import { AsyncLocalStorage } from 'node:async_hooks';

export interface InvocationStats {
  invocations: number;
  /** Summed handler time (wall clock, in this one process: an upper bound of Lambda's billed duration). */
  ms: number;
}

/**
 * What the Lambda service does for the local run, as far as counting goes: each handler call is one
 * invocation of the named function, timed, and run inside an async context that names the function,
 * so whatever it calls (Pipedrive, DynamoDB, SQS) can be attributed to it.
 */
export class LambdaStandIn {
  private readonly context = new AsyncLocalStorage<string>();
  private stats: Record<string, InvocationStats> = {};

  wrap<E, R>(name: string, handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
    return async (event) => {
      const started = performance.now();
      try {
        return await this.context.run(name, () => handler(event));
      } finally {
        const s = (this.stats[name] ??= { invocations: 0, ms: 0 });
        s.invocations++;
        s.ms += performance.now() - started;
      }
    };
  }

  /** The function whose invocation is running here, if any. */
  current(): string | undefined {
    return this.context.getStore();
  }

  invocations(): Record<string, InvocationStats> {
    return structuredClone(this.stats);
  }

  reset(): void {
    this.stats = {};
  }
}
