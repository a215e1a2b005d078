import '../integration/quiet-env.ts';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BUDGET_CAUSE, gateOutcome, RateLimitedError, RetryLaterError, TenantParkedError } from '../../shared/domain/errors.ts';
import { holdFromError } from '../../shared/flows/tenant-holds.ts';
import { recordingTelemetry } from '../../shared/adapters/memory/recording-telemetry.ts';
import { sleep } from '../../shared/clients/http.ts';
import type { AuditEntry, AuditLog, TenantHold, TenantHolds } from '../../shared/ports/index.ts';

function fakes(nowMs: number) {
  const entries: AuditEntry[] = [];
  let parked: string | undefined;
  let gateUntil: number | undefined;
  const audit: AuditLog = {
    record: async (e) => void entries.push(e),
    recordAll: async (es) => void entries.push(...es),
    history: async () => [],
    byTenant: async () => [],
    erase: async () => 0,
  };
  const holds: TenantHolds = {
    current: async (): Promise<TenantHold | undefined> =>
      parked ? { kind: 'parked', reason: parked, since: '' } : gateUntil ? { kind: 'budget', untilMs: gateUntil, reason: '' } : undefined,
    park: async (_t, reason) => {
      if (parked) return false;
      parked = reason;
      return true;
    },
    unpark: async () => {
      parked = undefined;
    },
    closeBudgetGate: async (_t, untilMs) => {
      gateUntil = untilMs;
    },
    hold: async () => true,
    held: async () => [],
    heldRecord: async () => [],
    release: async () => undefined,
  };
  const telemetry = recordingTelemetry();
  return { deps: { audit, holds, clock: { now: () => nowMs, sleep }, telemetry }, entries, gate: () => gateUntil, telemetry };
}

describe('tenant holds', () => {
  test('invalid_grant parks the tenant, audited once however many writers report it', async () => {
    const f = fakes(0);
    for (let i = 0; i < 3; i++)
      assert.equal((await holdFromError(f.deps, 'acme', 'organization', new TenantParkedError('acme', 'invalid_grant')))?.kind, 'parked');
    assert.equal(f.entries.length, 1);
    assert.equal(f.telemetry.count('tenant-parked'), 1, 'counted once, with the audit entry');
    assert.equal(f.entries[0]?.action, 'failed');
    assert.match(f.entries[0]?.reason ?? '', /tenant parked/u);
  });

  test('a spent daily budget closes the gate until the reset Pipedrive names', async () => {
    const f = fakes(1_000_000);
    const hold = await holdFromError(f.deps, 'acme', 'person', new RateLimitedError('429', 7200, true));
    assert.deepEqual(hold && { kind: hold.kind, until: hold.kind === 'budget' && hold.untilMs }, {
      kind: 'budget',
      until: 1_000_000 + 7_200_000,
    });
    assert.equal(f.entries[0]?.action, 'deferred');
    assert.deepEqual(f.telemetry.events, [{ kind: 'budget-gate-closed', tenantId: 'acme' }], 'the alarm counts the closed gate');
  });

  test("a burst 429 or any other error is the record's own: only a daily-budget 429 closes the gate", async () => {
    const f = fakes(0);
    assert.equal(await holdFromError(f.deps, 'acme', 'organization', new RateLimitedError('429', 2)), undefined);
    assert.equal(await holdFromError(f.deps, 'acme', 'organization', new RetryLaterError('503')), undefined);
    assert.equal(f.gate(), undefined);
    assert.equal(
      (await holdFromError(f.deps, 'acme', 'organization', new RateLimitedError('429s keep coming', 3_600, true)))?.kind,
      'budget',
    );
    assert.equal(f.gate(), 3_600_000);
  });

  test('a gate SQS can wait for is a delayed resend to the reset plus jitter; one further away is held, never looped', () => {
    const now = 5_000;
    for (let i = 0; i < 50; i++) {
      const wait = gateOutcome(now + 600_000, now);
      assert.ok(wait.retryInSeconds! >= 600 && wait.retryInSeconds! < 630, String(wait.retryInSeconds));
      assert.equal(wait.hold, undefined);
    }
    for (const hours of [1, 12, 20]) {
      const far = gateOutcome(now + hours * 3_600_000, now);
      assert.deepEqual([far.hold, far.retryInSeconds], [BUDGET_CAUSE, undefined], `${hours} h away`);
    }
    assert.ok(gateOutcome(now - 1, now).retryInSeconds! >= 1, 'a gate just opened still defers a little, never 0');
  });
});
