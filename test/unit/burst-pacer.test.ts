import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BurstPacer } from '../../shared/clients/burst-pacer.ts';

const headers = (remaining: number, reset: number) => ({
  'x-ratelimit-limit': '100',
  'x-ratelimit-remaining': String(remaining),
  'x-ratelimit-reset': String(reset),
});

describe('BurstPacer', () => {
  test('goes at once while it knows nothing, and while the window has room', async () => {
    let now = 1_000;
    const pacer = new BurstPacer(() => now);
    assert.equal(pacer.waitMs(), 0);
    await pacer.beforeCall(false);
    // Alone in the window: its share of the room is all of it (not a fraction rounded at random).
    pacer.observe(headers(99, 2), now);
    now += 10;
    assert.equal(pacer.waitMs(), 0);
    assert.equal(pacer.last.burstLimit, 100);
  });

  test('knowing nothing fresh of the window, sends two probes and holds the rest until an answer says there is room', async () => {
    let now = 1_000;
    const pacer = new BurstPacer(() => now);
    await pacer.beforeCall(false);
    await pacer.beforeCall(false);
    assert.ok(pacer.waitMs() > 0, 'a third call waits for an answer');
    now += 250;
    pacer.observe(headers(98, 1), 1_000);
    assert.equal(pacer.waitMs(), 0, 'the answer shows the window empty but for our two');
    now += 2_500;
    assert.equal(pacer.waitMs(), 0, 'the figures went stale and our calls left the window: probes again');
  });

  test('a probe never answered (not sent after all, or lost) stops holding the others once it has left the window', async () => {
    let now = 1_000;
    const pacer = new BurstPacer(() => now);
    await pacer.beforeCall(false);
    await pacer.beforeCall(false);
    now += 1_999;
    assert.ok(pacer.waitMs() > 0);
    now += 2;
    assert.equal(pacer.waitMs(), 0);
  });

  test('counts its own calls sent since the answer it read: the window is full before any answer says so', async () => {
    let now = 1_000;
    const pacer = new BurstPacer(() => now);
    const limit10 = (remaining: number) => ({ ...headers(remaining, 2), 'x-ratelimit-limit': '10' });
    await pacer.beforeCall(false); // 1 000
    now = 1_001;
    await pacer.beforeCall(false); // 1 001
    now = 1_100;
    pacer.observe(limit10(9), 1_000); // alone in the window: 9 left when our first was served
    for (let i = 0; i < 5; i++) {
      assert.equal(pacer.waitMs(), 0, `9 left, ${i + 1} sent since: room beyond the 3 kept for others`);
      await pacer.beforeCall(false);
    }
    // 9 left, 6 sent since, 3 kept for others: full. Our oldest (1 000) leaves the window at 3 000,
    // before the reset the header rounds up to whole seconds (3 100).
    assert.equal(pacer.waitMs(), 1_000 + 2_000 + 15 - now);
  });

  test('takes only its share of the room the window has left: other containers, unseen, are as busy as the answer shows', async () => {
    let now = 0;
    // The share's fraction (0.7 of a call) rounds down with this draw.
    const pacer = new BurstPacer(
      () => now,
      undefined,
      () => 0.9,
    );
    await pacer.beforeCall(false);
    pacer.observe(headers(99, 1), 0);
    for (let i = 1; i < 5; i++) {
      now = i * 10;
      await pacer.beforeCall(false); // 10 .. 40
    }
    // Answered as fast as the first (no spread in the answer times: none of ours can have arrived after the fifth).
    now = 40;
    // 50 calls in the window when our fifth was served, five of them ours: about a tenth of the company's traffic.
    pacer.observe(headers(50, 2), 40);
    now = 300;
    const sent: number[] = [];
    while (pacer.waitMs() === 0 && sent.length < 50) {
      await pacer.beforeCall(false);
      sent.push(now);
    }
    // (50 - 3 kept) x 5/50 = 4.7 of the 47 free slots; a lone client reading the same figure would have taken all 47.
    assert.equal(sent.length, 4);
    assert.equal(pacer.waitMs(), 0 + 2_000 + 15 - now, 'then it waits for its own oldest call to leave the window');
  });

  test('its calls sent just before the answered one may have reached Pipedrive after it: off the room, not off freed slots', async () => {
    /** Calls at 9 000, 10 000 and 10 060, the last answered with 97 left (all three ours); answers so far took `trips` ms. */
    async function grantedAfter(trips: number[]): Promise<{ pacer: BurstPacer; granted: number; at: (ms: number) => void }> {
      let now = 0;
      const pacer = new BurstPacer(() => now);
      for (const trip of trips) {
        await pacer.beforeCall(false);
        now += trip;
        pacer.observe(headers(99, 1), now - trip);
      }
      now = 9_000;
      await pacer.beforeCall(false);
      now = 9_240;
      pacer.observe(headers(99, 1), 9_000);
      for (const t of [10_000, 10_060]) {
        now = t;
        await pacer.beforeCall(false);
      }
      now = 10_300;
      pacer.observe(headers(97, 1), 10_060);
      let granted = 0;
      while (pacer.waitMs() === 0 && granted < 200) {
        await pacer.beforeCall(false);
        granted++;
      }
      return { pacer, granted, at: (ms) => void (now = ms) };
    }
    // Answers always 240 ms: the call of 10 000 reached Pipedrive before the one of 10 060. Room: 97 - 3 kept for others.
    assert.equal((await grantedAfter([240, 240])).granted, 94);
    // Answers took 150 to 350 ms: a call can arrive up to 100 ms after one sent with it, so the one of 10 000 may be missing.
    const jittery = await grantedAfter([150, 350]);
    assert.equal(jittery.granted, 93);
    // The slot its own call of 9 000 frees is reused all the same, once that call has surely left the window: answered
    // in 240 ms where the quickest took 150, it reached Pipedrive at most 45 ms later than the next call may.
    jittery.at(11_044);
    assert.ok(jittery.pacer.waitMs() > 0);
    jittery.at(11_045);
    assert.equal(jittery.pacer.waitMs(), 0);
  });

  test('ten containers each entitled to 0.59 of a call take six between them, not none: the window fills to its limit', async () => {
    let taken = 0;
    for (let i = 0; i < 10; i++) {
      let now = 0;
      // Each container draws its own chance; these ten draws spread evenly over [0, 1).
      const pacer = new BurstPacer(
        () => now,
        undefined,
        () => i / 10,
      );
      for (let j = 0; j < 9; j++) {
        await pacer.beforeCall(false);
        pacer.observe(headers(91, 2), 0);
      }
      // 9 left in a window of 100 when ours were served, 9 of the 91 ours: (9 - 3 kept) x 9/91 = 0.59 of a call each.
      pacer.observe(headers(9, 2), 0);
      now = 100;
      if (pacer.waitMs() === 0) taken++;
    }
    assert.equal(taken, 6);
  });

  test('a call of ours that left the window while an answer was on its way back frees a slot that answer did not show', async () => {
    const limit10 = (remaining: number) => ({ ...headers(remaining, 1), 'x-ratelimit-limit': '10' });
    let now = 0;
    const pacer = new BurstPacer(() => now);
    await pacer.beforeCall(false); // sent at 0
    pacer.observe(limit10(9), 0);
    now = 1_900;
    await pacer.beforeCall(false); // sent at 1 900, answered at 2 200
    now = 2_100;
    pacer.waitMs(); // our call of 0 has left the window by now
    now = 2_200;
    // The window was full (2 left, both kept for others) when our call of 1 900 was served, our call of 0 still in it.
    pacer.observe(limit10(2), 1_900);
    assert.equal(pacer.waitMs(), 0, 'the slot our call of 0 held is free');
    await pacer.beforeCall(false);
    assert.ok(pacer.waitMs() > 0, 'and only that one');
  });

  test('when full, waits until its own oldest call leaves the 2 s window, to the millisecond', async () => {
    let now = 10_000;
    const pacer = new BurstPacer(() => now);
    await pacer.beforeCall(false); // sent at 10 000
    now = 11_500;
    await pacer.beforeCall(false); // sent at 11 500
    pacer.observe(headers(0, 1), now); // answer to the second: window full, reset rounded up to 1 s
    now = 11_600;
    assert.equal(pacer.waitMs(), 10_000 + 2_000 + 15 - 11_600);
  });

  test('a call answered slowly frees its slot later than one answered at the quickest: it may have reached Pipedrive late', async () => {
    let now = 10_000;
    const pacer = new BurstPacer(() => now);
    const quick = await pacer.beforeCall(false); // sent at 10 000, answered in 150 ms: the quickest way there
    assert.equal(quick, 10_000, 'the send time its answer is matched by');
    now = 10_150;
    pacer.observe(headers(90, 1), quick);
    now = 10_200;
    const slow = await pacer.beforeCall(false); // sent at 10 200, answered in 350 ms: it may have arrived 100 ms later
    now = 10_550;
    pacer.observe(headers(0, 1), slow); // the window is full
    now = 12_016;
    assert.equal(pacer.waitMs(), 0, 'the quick call has surely left the window: its slot is free');
    await pacer.beforeCall(false);
    assert.equal(pacer.waitMs(), 10_200 + 2_000 + 100 - 12_016, 'the slow one frees its slot 100 ms after a window');
  });

  test('each of its calls that leaves the window frees a slot the last answer did not show: it paces, it does not stall', async () => {
    let now = 0;
    const pacer = new BurstPacer(() => now);
    await pacer.beforeCall(false);
    pacer.observe(headers(99, 2), 0);
    for (let i = 1; i < 5; i++) {
      now = i * 100;
      await pacer.beforeCall(false); // sent at 0, 100, .. 400
    }
    pacer.observe(headers(2, 2), 400); // the answer to the last: the window is full
    now = 500;
    assert.equal(pacer.waitMs(), 0 + 2_000 + 15 - 500, 'full: wait for our call of t=0 to leave');
    now = 2_050;
    // Our call of t=0 has left Pipedrive's window: one slot, though no answer says so yet.
    assert.equal(pacer.waitMs(), 0);
    await pacer.beforeCall(false);
    assert.equal(pacer.waitMs(), 100 + 2_000 + 15 - 2_050, 'that slot taken: wait for the next of ours to leave');
  });

  test('with no call of its own in the window, waits for the reset; an older answer arriving late changes nothing', () => {
    let now = 5_000;
    const pacer = new BurstPacer(() => now);
    pacer.observe(headers(0, 1), now);
    assert.equal(pacer.waitMs(), 1_000);
    pacer.observe(headers(90, 0), now - 500);
    assert.equal(pacer.waitMs(), 1_000);
    now += 2_500;
    assert.equal(pacer.waitMs(), 0, 'a figure older than the window is stale');
  });

  test("is alone in the window when its calls were nearly all the company's and many; two probes alone are not", async () => {
    let now = 0;
    const pacer = new BurstPacer(() => now);
    await pacer.beforeCall(false);
    await pacer.beforeCall(false);
    now = 250;
    pacer.observe(headers(98, 2), 0); // our two probes were all the window held: too few to tell the others are idle
    assert.equal(pacer.alone(), false);
    for (let i = 0; i < 38; i++) await pacer.beforeCall(false);
    now = 500;
    pacer.observe(headers(55, 2), 250); // 45 in the window, 40 ours
    assert.equal(pacer.alone(), true);
    now = 700;
    pacer.observe(headers(30, 2), 450); // 70 in the window, still 40 ours: others are busy
    assert.equal(pacer.alone(), false);
    now = 750;
    pacer.observe(headers(55, 2), 500);
    now = 500 + 2_001;
    assert.equal(pacer.alone(), false, 'figures older than a window say nothing');
  });

  test('keeps to 10 searches per 2 s', async () => {
    // A fake clock that only the pacer's own sleeps move: the test passes two seconds without waiting them.
    let now = 50_000;
    const slept: number[] = [];
    const pacer = new BurstPacer(
      () => now,
      async (ms) => {
        slept.push(ms);
        now += ms;
      },
    );
    await pacer.beforeCall(true);
    pacer.observe(headers(99, 1), now);
    const started = now;
    for (let i = 1; i < 10; i++) await pacer.beforeCall(true);
    assert.ok(now - started < 500, 'ten searches go at once');
    assert.deepEqual(slept, []);
    await pacer.beforeCall(true);
    assert.ok(now - started >= 1_990, 'the eleventh waits for the first to leave the window');
    assert.deepEqual(slept, [2_005], 'in one sleep, until 5 ms after the first search left the window');
  });
});
