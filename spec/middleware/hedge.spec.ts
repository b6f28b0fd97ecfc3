import { defer, filter, lastValueFrom, type Observable, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import { hedge, type HedgeEvent } from '../../src/middleware/hedge';
import { measure } from '../../src/middleware/measure';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { text } from '../../src/operators/text';
import { simulatedTransport } from '../../src/simulator/simulatedTransport';
import { finishEvent, textEvent, usageEvent } from '../../src/testing/events';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { sseTransport } from '../../src/transport/sse';
import { createTestScheduler } from '../helpers/marbles';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
const values: Record<string, LlmEvent> = {
  a: textEvent('Hel'),
  b: textEvent('lo'),
  x: textEvent('Hey'),
  u: usageEvent({ prompt_tokens: 1, completion_tokens: 0 }),
  f: finishEvent('stop'),
};

/** A transport whose n-th call answers with the n-th observable. */
function calls(...answers: Observable<LlmEvent>[]) {
  let n = 0;
  return () => answers[n++]!;
}

describe('hedge', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('sends a backup after the delay; the first to produce a token wins and the loser is unsubscribed at once', () => {
    const seen: HedgeEvent[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const original = cold('  300ms a-b|', values);
      const originalSubs = '   ^ 149ms !  ';
      const backup = cold('    50ms x-b|', values);
      const backupSubs = '     100ms ^ 52ms !';
      const expected = '       150ms x-b|';

      const llm = withMiddleware(calls(original, backup), hedge({ after: 100, onHedge: (e) => seen.push(e) }));
      expectObservable(llm(request)).toBe(expected, values);
      expectSubscriptions(original.subscriptions).toBe(originalSubs);
      expectSubscriptions(backup.subscriptions).toBe(backupSubs);
    });
    expect(seen).toEqual([
      { type: 'started', attempt: 1, afterMs: 100 },
      { type: 'won', attempt: 0 + 1 },
    ]);
  });

  it('keeps the original when it answers first, cancelling the backup', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const original = cold('  120ms a-b|', values);
      const originalSubs = '   ^ 122ms !';
      const backup = cold('    50ms x|', values);
      const backupSubs = '     100ms ^ 19ms !';

      expectObservable(withMiddleware(calls(original, backup), hedge({ after: 100 }))(request)).toBe('120ms a-b|', values);
      expectSubscriptions(original.subscriptions).toBe(originalSubs);
      expectSubscriptions(backup.subscriptions).toBe(backupSubs);
    });
  });

  it('does not hedge a request whose first token comes in time', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const original = cold('  80ms a 99ms b|', values);
      expectObservable(withMiddleware(calls(original), hedge({ after: 100 }))(request)).toBe('80ms a 99ms b|', values);
      expectSubscriptions(original.subscriptions).toBe('^ 180ms !');
    });
  });

  it('counts only content as a token: usage before content is held and passed on with the winner', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const original = cold('  10ms u 189ms a|', values);
      const originalSubs = '   ^ 129ms !';
      const backup = cold('    30ms x|', values);
      const expected = '       130ms x|';

      expectObservable(withMiddleware(calls(original, backup), hedge({ after: 100 }))(request)).toBe(expected, values);
      expectSubscriptions(original.subscriptions).toBe(originalSubs);
    });
  });

  it('sends up to maxHedges backups, one per delay, to the `to` transport', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const original = cold('  1000ms a|', values);
      const first = cold('     1000ms a|', values);
      const second = cold('    10ms x|', values);
      const secondSubs = '     200ms ^ 10ms !';

      const llm = withMiddleware(() => original, hedge({ after: 100, maxHedges: 2, to: calls(first, second), budget: false }));
      expectObservable(llm(request)).toBe('210ms x|', values);
      expectSubscriptions(original.subscriptions).toBe('^ 209ms !');
      expectSubscriptions(first.subscriptions).toBe('100ms ^ 109ms !');
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
    });
  });

  it('waits for the backup when the original fails, and fails only when every attempt failed', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const failing = cold<LlmEvent>('  150ms #', undefined, new RxllmError('server', 'down'));
      const backup = cold('             100ms x|', values);
      expectObservable(withMiddleware(calls(failing, backup), hedge({ after: 100 }))(request)).toBe('200ms x|', values);

      const early = cold<LlmEvent>('    50ms #', undefined, new RxllmError('server', 'down'));
      expectObservable(withMiddleware(calls(early), hedge({ after: 100 }))(request)).toBe('50ms #', undefined, new RxllmError('server', 'down'));
    });
  });

  it('counts a backup whose transport throws as a failed attempt: the original\'s later error still reaches the caller', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const failing = cold<LlmEvent>('150ms #', undefined, new RxllmError('server', 'down'));
      let n = 0;
      const transport: Transport = () => {
        if (n++ === 0) return failing;
        throw new Error('backup transport broke');
      };
      const events: HedgeEvent[] = [];
      // The backup's throw is that attempt's failure; with no attempt left after the original's, the request fails
      // with the last error (before, the thrown backup was never counted off and the caller waited forever).
      expectObservable(withMiddleware(transport, hedge({ after: 100, onHedge: (event) => events.push(event) }))(request)).toBe(
        '150ms #',
        undefined,
        new RxllmError('server', 'down'),
      );
    });
  });

  it('fails at once, with nothing hedged, when the original\'s transport throws', () => {
    const events: HedgeEvent[] = [];
    const transport: Transport = () => {
      throw new Error('transport broke');
    };
    const errors: unknown[] = [];
    withMiddleware(transport, hedge({ after: 100, onHedge: (event) => events.push(event) }))(request).subscribe({ error: (error) => errors.push(error) });
    expect(errors).toEqual([new Error('transport broke')]);
    expect(events).toEqual([]);
  });

  it('stops hedging when the budget is spent: about ratio × requests backups', () => {
    const seen: HedgeEvent[] = [];
    testScheduler.run(() => {
      const llm = withMiddleware(
        scriptedTransport({ m: [{ at: 500, text: 'slow' }, { at: 501, finish: 'stop' }] }),
        hedge({ after: 100, budget: { ratio: 0.1, burst: 1 }, onHedge: (e) => seen.push(e) }),
      );
      for (let i = 0; i < 50; i++) testScheduler.schedule(() => llm(request).subscribe(), i * 1000);
    });
    const started = seen.filter((e) => e.type === 'started').length;
    // 1 from the full bucket, then one per 10 requests (the bucket refills with 0.1 per request).
    expect(started).toBe(5);
    expect(seen.filter((e) => e.type === 'skipped' && e.reason === 'budget')).toHaveLength(45);
  });

  it('never hedges requests marked with side effects', () => {
    const seen: HedgeEvent[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const original = cold('  300ms a|', values);
      const llm = withMiddleware(
        calls(original),
        hedge({ after: 100, sideEffects: (r) => r.tools !== undefined, onHedge: (e) => seen.push(e) }),
      );
      const withTools: LlmRequest = { ...request, tools: [{ type: 'function', function: { name: 'book_flight' } }] };
      expectObservable(llm(withTools)).toBe('300ms a|', values);
      expectSubscriptions(original.subscriptions).toBe('^ 300ms !');
    });
    expect(seen).toEqual([{ type: 'skipped', reason: 'side-effects' }]);
  });

  it("hedges at the registry's live p95 once it has enough samples", () => {
    const seen: HedgeEvent[] = [];
    testScheduler.run(() => {
      const registry = new LatencyRegistry({ scheduler: testScheduler, window: { requests: 100 } });
      // Times to first token 100, 110, ... 290 ms: the p95 is about 280 ms.
      const llm = scriptedTransport((_r, index) => [{ at: index < 20 ? 100 + index * 10 : 1000, text: 'x' }, { at: 1001, finish: 'stop' }]);
      const hedged = withMiddleware(llm, hedge({ after: 'p95', registry, minSamples: 20, budget: false, onHedge: (e) => seen.push(e) }), measure({ registry }));
      for (let i = 0; i < 20; i++) hedged(request).subscribe();
      testScheduler.schedule(() => hedged(request).subscribe(), 2000);
    });
    expect(seen.slice(0, 20)).toEqual(Array(20).fill({ type: 'skipped', reason: 'no-latency-data' }));
    expect(seen[20]).toEqual({ type: 'started', attempt: 1, afterMs: expect.closeTo(280, -1) });
  });

  it('counts a loser cancelled before its first token as "longer than" its run time, so the p95 does not read low', () => {
    const seen: HedgeEvent[] = [];
    let registry!: LatencyRegistry;
    testScheduler.run(() => {
      registry = new LatencyRegistry({ scheduler: testScheduler, window: { requests: 100 } });
      // Ten answers in 100 ms; then two originals stall (5 s) and their backups answer in 100 ms.
      const llm = scriptedTransport((_r, index) => {
        const at = index === 10 || index === 12 ? 5000 : 100;
        return [{ at, text: 'x' }, { at: at + 1, finish: 'stop' }];
      });
      const hedged = withMiddleware(llm, hedge({ after: 'p95', registry, minSamples: 10, budget: false, onHedge: (e) => seen.push(e) }), measure({ registry }));
      for (let i = 0; i < 10; i++) hedged(request).subscribe();
      testScheduler.schedule(() => hedged(request).subscribe(), 1000);
      testScheduler.schedule(() => hedged(request).subscribe(), 2000);
    });
    // The first stalled original was cancelled at 200 ms with no token: 11 exact values of 100 and one
    // of "more than 200". More than 5 % of requests are slower than 100 ms, so the p95 is at least
    // 200; dropping the loser would read it as 100 and hedge too early (and too often) from then on.
    expect(registry.stats()).toMatchObject({ requests: 14, cancelled: 2, ttftCensored: 2, ttft: { count: 12, max: 100 } });
    expect(seen.filter((e) => e.type === 'started')).toEqual([
      { type: 'started', attempt: 1, afterMs: 100 },
      { type: 'started', attempt: 1, afterMs: 200 },
    ]);
  });

  it('hedges each step at its own p95: one hedge() and one measure() for every step, keyed by the context', () => {
    const seen: HedgeEvent[] = [];
    testScheduler.run(() => {
      const registry = new LatencyRegistry({ scheduler: testScheduler, window: { requests: 100 } });
      // summary's first 5 answers come in 100 ms, keywords' in 400 ms; every later request stalls for 1 s.
      const ttft: Record<string, number> = { summary: 100, keywords: 400 };
      const scripted = scriptedTransport((r, index) => {
        const at = index < 10 ? ttft[r.model]! : 1000;
        return [{ at, text: 'x' }, { at: at + 1, finish: 'stop' }];
      });
      // The step picks the script; measure() above sees the request as it was sent.
      const byStep: Transport = (r, context) => scripted({ ...r, model: context?.step ?? r.model });
      const hedged = withMiddleware(byStep, hedge({ after: 'p95', registry, minSamples: 5, budget: false, onHedge: (e) => seen.push(e) }), measure({ registry }));
      for (let i = 0; i < 5; i++) {
        hedged(request, { step: 'summary' }).subscribe();
        hedged(request, { step: 'keywords' }).subscribe();
      }
      testScheduler.schedule(() => hedged(request, { step: 'summary' }).subscribe(), 1000);
      testScheduler.schedule(() => hedged(request, { step: 'keywords' }).subscribe(), 5000);
    });
    expect(seen.slice(0, 10)).toEqual(Array(10).fill({ type: 'skipped', reason: 'no-latency-data' }));
    // Each stalled request is hedged at its own step's p95, not at one threshold for the model.
    expect(seen.filter((e) => e.type === 'started')).toEqual([
      { type: 'started', attempt: 1, afterMs: 100 },
      { type: 'started', attempt: 1, afterMs: 400 },
    ]);
  });

  describe('with a deadline in the request context', () => {
    it('sends no backup that would start at or after the deadline', () => {
      const seen: HedgeEvent[] = [];
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const original = cold('  300ms a-b|', values);
        const originalSubs = '   ^ 302ms !';
        const backup = cold('    50ms x-b|', values);

        const llm = withMiddleware(calls(original, backup), hedge({ after: 100, onHedge: (e) => seen.push(e) }));
        expectObservable(llm(request, { deadline: 100 })).toBe('300ms a-b|', values);
        expectSubscriptions(original.subscriptions).toBe(originalSubs);
        expectSubscriptions(backup.subscriptions).toBe([]);
      });
      expect(seen).toEqual([{ type: 'skipped', reason: 'deadline' }]);
    });

    it('sends a backup that starts before the deadline, but not a second one past it', () => {
      const seen: HedgeEvent[] = [];
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const original = cold('  1000ms a|', values);
        const first = cold('     1000ms a|', values);
        const second = cold('    10ms x|', values);
        const expected = '       1000ms a|';

        const llm = withMiddleware(() => original, hedge({ after: 100, maxHedges: 2, to: calls(first, second), budget: false, onHedge: (e) => seen.push(e) }));
        expectObservable(llm(request, { deadline: 150 })).toBe(expected, values);
        expectSubscriptions(first.subscriptions).toBe('100ms ^ 899ms !');
        expectSubscriptions(second.subscriptions).toBe([]);
      });
      expect(seen).toEqual([
        { type: 'started', attempt: 1, afterMs: 100 },
        { type: 'skipped', reason: 'deadline' },
        { type: 'won', attempt: 0 },
      ]);
    });

    it('passes the context to the original and to the backup', () => {
      const contexts: unknown[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        const original = cold('  300ms a|', values);
        const backup = cold('    50ms x|', values);
        const llm = withMiddleware(
          (_r, context) => (contexts.push(context), original),
          hedge({ after: 100, to: (_r, context) => (contexts.push(context), backup) }),
        );
        expectObservable(llm(request, { step: 'summary', deadline: 1000 })).toBe('150ms x|', values);
      });
      expect(contexts).toEqual([
        { step: 'summary', deadline: 1000 },
        { step: 'summary', deadline: 1000 },
      ]);
    });
  });

  it('rejects bad options', () => {
    expect(() => hedge({ after: 100, step: 'summary' } as never)).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('the step now comes from the request context') }),
    );
    expect(() => hedge({ after: 'p95' })).toThrow(/needs `registry`/);
    expect(() => hedge({ after: 'fast' as never, registry: new LatencyRegistry() })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => hedge({ after: -5 })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  it('holds the extra requests at the hedge point on a heavy-tailed profile (virtual time, 1,500 requests)', () => {
    // The simulator's heavy tail (3 % of first tokens 10× slower), a request every 50 ms, hedged at the
    // live p95 with a budget (10 %) that does not bind. Before losers counted as censored samples the
    // window's p95 read low and 6.5–7.9 % of requests were hedged; bench/hedge.bench.ts runs 10,000.
    const profiles = { tailed: { ttftMs: { median: 300, p95: 450 }, tokensPerSecond: 100, jitter: 0, outputTokens: 10, tail: { probability: 0.03, multiplier: 10 } } };
    const requests = 1500;
    let upstream = 0;
    testScheduler.run(() => {
      const sim = simulatedTransport({ profiles, seed: 1 });
      const counted: Transport = (r) => defer(() => (upstream++, sim(r)));
      const registry = new LatencyRegistry({ scheduler: testScheduler, window: { requests: 500 } });
      const llm = withMiddleware(counted, hedge({ after: 'p95', registry, minSamples: 50, budget: { ratio: 0.1 } }), measure({ registry }));
      for (let i = 0; i < requests; i++) {
        testScheduler.schedule(() => llm({ model: 'tailed', messages: [{ role: 'user', content: 'Tell me a story' }] }).pipe(filter((e) => e.type === 'text'), take(1)).subscribe(), i * 50);
      }
    });
    const extra = (upstream - requests) / requests;
    expect(extra).toBeGreaterThanOrEqual(0.04);
    expect(extra).toBeLessThanOrEqual(0.06);
  }, 120_000);

  describe('on a real server (simulator)', () => {
    let server: SimulatorServer;
    beforeAll(async () => {
      server = await startSimulatorServer({
        seed: 2,
        profiles: { hung: { ttftMs: 2, tokensPerSecond: 5000, jitter: 0, outputTokens: 5, faults: [{ type: 'stall', firstRequests: 1 }] } },
      });
    });
    afterAll(() => server.close());

    it('rescues a request stalled before its headers; the server sees the loser aborted', async () => {
      const before = server.stats().aborts;
      const llm = withMiddleware(sseTransport({ baseURL: server.baseURL }), hedge({ after: 40 }));
      await expect(lastValueFrom(llm({ model: 'hung', messages: [{ role: 'user', content: 'Tell me a story' }] }).pipe(text()))).resolves.toEqual(
        expect.any(String),
      );
      await waitFor(() => server.stats().aborts !== before, "the server counting the losing request's abort");
      expect(server.stats().aborts).toBe(before + 1);
      expect(server.stats().requestsByModel['hung']).toBe(2);
    });
  });
});
