import type { FaultAction as PipedriveFault } from '../simulators/pipedrive/index.ts';
import type { FaultAction as QadFault } from '../simulators/qad/index.ts';

export const FAULT_KINDS = [
  'http5xx',
  'timeout',
  'connectionReset',
  'status429',
  'slowResponse',
  'lostResponse',
  'duplicateDelivery',
] as const;

/** Under chaos, Pipedrive's search finds a new record only this long after its create. */
export const CHAOS_SEARCH_LAG_MS = 5_000;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** How long an injected timeout holds the answer: longer than the functions' HTTP timeout in the local run. */
export const CHAOS_HTTP_TIMEOUT_MS = 1_500;

/**
 * Seeded fault injection for `npm start -- --chaos` and the fault suite: 5xx pages, timeouts,
 * connection resets, 429 bursts, slow answers, writes whose answer is lost (the crash between an
 * outside write and our key-map write), and duplicate deliveries processed at the same time.
 * Every injected fault is counted by kind for the report.
 */
export class Chaos {
  readonly injected: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  private state: number;

  constructor(
    seed: number,
    private readonly rate: number,
  ) {
    this.state = seed >>> 0 || 1;
  }

  /** mulberry32: the same seed injects the same faults in the same order. */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  private pick(isWrite: boolean): FaultKind | undefined {
    const r = this.random() / this.rate;
    if (r >= 1) return undefined;
    const kinds: FaultKind[] = [
      'http5xx',
      'timeout',
      'connectionReset',
      'status429',
      'slowResponse',
      ...(isWrite ? (['lostResponse', 'lostResponse'] as const) : []),
    ];
    const kind = kinds[Math.floor(r * kinds.length)]!;
    this.injected[kind]++;
    return kind;
  }

  private action(kind: FaultKind | undefined, page: string): PipedriveFault | QadFault | undefined {
    switch (kind) {
      case 'http5xx':
        return { status: 503, body: page, headers: { 'content-type': 'text/html' } };
      case 'timeout':
        return { kind: 'delay', ms: CHAOS_HTTP_TIMEOUT_MS + 500 };
      case 'connectionReset':
        return { kind: 'reset' };
      case 'status429':
        return {
          status: 429,
          body: '{"success":false,"error":"Request over limit","errorCode":429}',
          headers: { 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1' },
        };
      case 'slowResponse':
        return { kind: 'delay', ms: 300 };
      case 'lostResponse':
        return { kind: 'lose-response' };
      default:
        return undefined;
    }
  }

  pipedriveHook = (req: { method: string; path: string }): PipedriveFault | undefined =>
    this.action(this.pick(req.method !== 'GET'), '<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>') as
      PipedriveFault | undefined;

  qadHook = (req: { method: string; path: string }): QadFault | undefined => {
    // Logins stay up: a refused login is a configuration error, not a fault to ride out.
    if (req.path === '/oauth/token') return undefined;
    return this.action(this.pick(req.method !== 'GET'), '<html><body>Bad Gateway</body></html>') as QadFault | undefined;
  };

  /** Should this batch be handed to two writers at once, as SQS may deliver a message twice? */
  duplicateDelivery(): boolean {
    if (this.random() >= this.rate * 2) return false;
    this.injected.duplicateDelivery++;
    return true;
  }
}
