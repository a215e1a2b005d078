import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** One service's answer time: uniform within mean ± jitter, in ms. */
export interface Latency {
  meanMs: number;
  jitterMs: number;
}

/** What the local run's remote services take to answer, per service. */
export interface LatencyModel {
  pipedrive: Latency;
  qad: Latency;
  dynamo: Latency;
  sqs: Latency;
}

export const LATENCY_PRESETS = {
  /** Everything answers at once: the fast tests. */
  off: undefined,
  /** What a Lambda in us-east-1 sees (issue 19): Pipedrive's API across the Atlantic, a cloud ERP, AWS in the region. */
  realistic: {
    pipedrive: { meanMs: 250, jitterMs: 100 },
    qad: { meanMs: 150, jitterMs: 50 },
    dynamo: { meanMs: 8, jitterMs: 2 },
    sqs: { meanMs: 8, jitterMs: 2 },
  },
} as const satisfies Record<string, LatencyModel | undefined>;
export type LatencyPreset = keyof typeof LATENCY_PRESETS;

/** One draw of the latency, never below 0. */
export function drawLatency(latency: Latency, random: () => number = Math.random): number {
  return Math.max(0, latency.meanMs + (2 * random() - 1) * latency.jitterMs);
}

/**
 * Makes a node:http server answer as a remote one would: half of each draw before the request is
 * handled (the way there: the server sees it late, as Pipedrive's rate window does) and half before
 * the answer reaches the client (the way back). Wraps the server's own request listeners.
 */
export function delayRequests(server: Server, latency: Latency | undefined, random: () => number = Math.random): void {
  if (!latency || (latency.meanMs <= 0 && latency.jitterMs <= 0)) return;
  const listeners = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const total = drawLatency(latency, random);
    const end = res.end.bind(res) as (...args: unknown[]) => void;
    // The way back: the answer is complete on the server and reaches the client this much later.
    res.end = ((...args: unknown[]) => {
      setTimeout(() => end(...args), total / 2);
      return res;
    }) as typeof res.end;
    setTimeout(() => {
      for (const listener of listeners) listener(req, res);
    }, total / 2);
  });
}
