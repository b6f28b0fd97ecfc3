import { EMPTY } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import type { LatencySource } from '../../src/middleware/latencySource';
import { measure } from '../../src/middleware/measure';
import { route, type RouteDecision } from '../../src/middleware/route';
import { finishEvent, textEvent } from '../../src/testing/events';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { createTestScheduler } from '../helpers/marbles';

const ask = (model: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const values: Record<string, LlmEvent> = { a: textEvent('Hi'), f: finishEvent('stop') };

/** A latency source with fixed p95s (and enough samples) for the named models. */
const fixedLatency = (p95: Record<string, number>): LatencySource => ({
  count: (q = {}) => (q.model !== undefined && q.model in p95 ? 100 : 0),
  percentile: (q) => (q.model === undefined ? undefined : p95[q.model]),
});

describe('route', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('serves a tier named in `model` by rewriting the model, and unsubscribe aborts the request', () => {
    const sent: string[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  50ms a 9ms (f|)', values);
      const upstreamSubs = '   ^ 29ms !';
      const next: Transport = (r) => (sent.push(r.model), upstream);

      const llm = withMiddleware(next, route({ tiers: { fast: ['gpt-4o-mini'], quality: ['gpt-4.1'] } }));
      expectObservable(llm(ask('fast')), '^ 29ms !').toBe('');
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(sent).toEqual(['gpt-4o-mini']);
  });

  it('raises a fast tier to the quality floor, walks up past empty tiers, and fails when nothing is above', () => {
    const decisions: RouteDecision[] = [];
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold('a|', values);
      const llm = withMiddleware(
        () => upstream,
        route({
          tiers: { ultra_fast: ['nano'], balanced: ['gpt-4o'] },
          qualityFloor: (r) => (r.response_format?.type === 'json_schema' ? 'fast' : undefined),
          onDecision: (d) => decisions.push(d),
        }),
      );
      const structured = ask('ultra_fast', { response_format: { type: 'json_schema', json_schema: { name: 'x' } } });
      expectObservable(llm(ask('ultra_fast'))).toBe('a|', values);
      expectObservable(llm(structured)).toBe('a|', values);
      expectObservable(llm(ask('quality'))).toBe(
        '#',
        undefined,
        new RxllmError('invalid-request', 'route(): no candidates at tier "quality" or above; add some to `tiers`, or lower the quality floor.'),
      );
    });
    expect(decisions.map((d) => [d.requested, d.floor, d.tier, d.model])).toEqual([
      ['ultra_fast', undefined, 'ultra_fast', 'nano'],
      ['ultra_fast', 'fast', 'balanced', 'gpt-4o'],
    ]);
  });

  it('picks the candidate with the lowest observed TTFT, explores now and then, and says why', () => {
    const decisions: RouteDecision[] = [];
    const randoms = [0.5, 0.01, 0.99, 0.5];
    const sent: string[] = [];
    const llm = withMiddleware(
      (r) => (sent.push(r.model), testScheduler.createColdObservable('a|', values)),
      route({
        tiers: { fast: ['east', 'west', 'north'] },
        registry: fixedLatency({ east: 300, west: 200, north: 900 }),
        random: () => randoms.shift()!,
        onDecision: (d) => decisions.push(d),
      }),
    );
    llm(ask('fast')).subscribe();
    llm(ask('fast')).subscribe();
    expect(sent).toEqual(['west', 'north']);
    expect(decisions.map((d) => d.reason)).toEqual(['fastest', 'exploring']);
    expect(decisions[0]!.ttftMs).toEqual({ east: 300, west: 200, north: 900 });
  });

  it('tries a candidate without enough samples first, and with one candidate or no registry takes the first', () => {
    const decisions: RouteDecision[] = [];
    const next: Transport = () => testScheduler.createColdObservable('a|', values);
    withMiddleware(next, route({ tiers: { fast: ['east', 'west'] }, registry: fixedLatency({ east: 300 }), onDecision: (d) => decisions.push(d) }))(ask('fast')).subscribe();
    withMiddleware(next, route({ tiers: { fast: ['east', 'west'] }, onDecision: (d) => decisions.push(d) }))(ask('fast')).subscribe();
    withMiddleware(next, route({ tiers: { quality: ['big'] }, onDecision: (d) => decisions.push(d) }))(ask('quality')).subscribe();
    expect(decisions.map((d) => [d.candidate, d.reason])).toEqual([
      ['west', 'probing'],
      ['east', 'no-data'],
      ['big', 'only-candidate'],
    ]);
  });

  it('probes each candidate minSamples times however slowly samples land, and sends the rest to the fastest known', () => {
    const decisions: RouteDecision[] = [];
    // a answers in 105 frames, b in 55, c in 85; a request every 10 frames, so six probes are out before any lands.
    const answer = (at: number) => [{ at, text: 'x' }, { at, finish: 'stop' as const }];
    testScheduler.run(({ expectSubscriptions }) => {
      const llm = scriptedTransport({ a: answer(105), b: answer(55), c: answer(85) });
      const registry = new LatencyRegistry();
      const routed = withMiddleware(
        llm,
        route({ tiers: { fast: ['a', 'b', 'c'] }, registry, minSamples: 2, explore: 0, onDecision: (d) => decisions.push(d) }),
        measure({ registry }),
      );
      for (let i = 0; i < 16; i++) testScheduler.schedule(() => routed(ask('fast')).subscribe(), i * 10);
      // 60: nothing known, every probe out: the fewest out, ties to the first listed (a). 70: b and c have
      // fewer out than a. 80: b's first sample landed at 75, but with 2 still out it is not probed again.
      expectSubscriptions(llm.subscriptionsTo('a')).toBe(['^ 104ms !', '10ms ^ 104ms !', '60ms ^ 104ms !']);
      expectSubscriptions(llm.subscriptionsTo('c')).toBe(['40ms ^ 84ms !', '50ms ^ 84ms !']);
      expectSubscriptions(llm.subscriptionsTo('b')).toBe([20, 30, 70, 80, 90, 100, 110, 120, 130, 140, 150].map((at) => `${at}ms ^ 54ms !`));
    });
    expect(decisions.map((d) => `${d.candidate} ${d.reason}`)).toEqual([
      ...['a', 'a', 'b', 'b', 'c', 'c'].map((c) => `${c} probing`),
      ...['a', 'b', 'b'].map((c) => `${c} no-data`),
      ...Array.from({ length: 7 }, () => 'b fastest'),
    ]);
    expect(decisions[9]!.ttftMs).toEqual({ a: undefined, b: 55, c: undefined });
    expect(decisions[15]!.ttftMs).toEqual({ a: 105, b: 55, c: 85 });
  });

  it('stops counting a probe when it errors, completes or is unsubscribed, so the next request probes again', () => {
    const decisions: RouteDecision[] = [];
    // east never gets a sample from this source, so only route's own count of requests out holds probes back.
    const source: LatencySource = { count: (q = {}) => (q.model === 'west' ? 100 : 0), percentile: (q) => (q.model === 'west' ? 200 : undefined) };
    const eastAnswers = [[{ at: 30, error: new Error('boom') }], [{ at: 500, text: 'late' }], [{ at: 20, finish: 'stop' as const }], [{ at: 20, finish: 'stop' as const }]];
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = scriptedTransport((r) => (r.model === 'east' ? eastAnswers.shift()! : [{ at: 10, finish: 'stop' }]));
      const routed = withMiddleware(llm, route({ tiers: { fast: ['east', 'west'] }, registry: source, minSamples: 1, onDecision: (d) => decisions.push(d) }));
      routed(ask('fast')); // never subscribed: decides and counts nothing
      const stop = { s: finishEvent('stop') };
      expectObservable(routed(ask('fast')), '^').toBe('30ms #', undefined, new Error('boom'));
      expectObservable(routed(ask('fast')), '10ms ^').toBe('20ms (s|)', stop);
      expectObservable(routed(ask('fast')), '40ms ^ 19ms !').toBe('');
      expectObservable(routed(ask('fast')), '50ms ^').toBe('60ms (s|)', stop);
      expectObservable(routed(ask('fast')), '70ms ^').toBe('90ms (s|)', stop);
      expectObservable(routed(ask('fast')), '80ms ^').toBe('90ms (s|)', stop);
      expectObservable(routed(ask('fast')), '100ms ^').toBe('120ms (s|)', stop);
      expectSubscriptions(llm.subscriptionsTo('east')).toBe(['^ 29ms !', '40ms ^ 19ms !', '70ms ^ 19ms !', '100ms ^ 19ms !']);
      expectSubscriptions(llm.subscriptionsTo('west')).toBe(['10ms ^ 9ms !', '50ms ^ 9ms !', '80ms ^ 9ms !']);
    });
    expect(decisions.map((d) => `${d.candidate} ${d.reason}`)).toEqual([
      'east probing', // errors at 30
      'west fastest', // east's probe is out
      'east probing', // unsubscribed at 60
      'west fastest',
      'east probing', // completes at 90
      'west fastest',
      'east probing',
    ]);
  });

  it('counts a probe as ended before its end reaches downstream, so a request sent from a complete handler probes on', () => {
    const sent: string[] = [];
    testScheduler.run(() => {
      const llm = scriptedTransport({ a: [{ at: 10, text: 'x' }, { at: 10, finish: 'stop' }], b: [{ at: 20, text: 'x' }, { at: 20, finish: 'stop' }] });
      const registry = new LatencyRegistry();
      const routed = withMiddleware(
        llm,
        route({ tiers: { fast: ['a', 'b'] }, registry, minSamples: 2, explore: 0, onDecision: (d) => sent.push(`${d.candidate} ${d.reason}`) }),
        measure({ registry }),
      );
      // Each request is sent from the previous one's complete handler, before that one's teardown has run.
      const send = (left: number): void => void routed(ask('fast')).subscribe({ complete: () => left > 1 && send(left - 1) });
      send(5);
    });
    expect(sent).toEqual(['a probing', 'a probing', 'b probing', 'b probing', 'a fastest']);
  });

  it('ranks a candidate whose samples brought no first token last, and explores it instead of probing it', () => {
    const decisions: RouteDecision[] = [];
    const randoms = [0.5, 0.01, 0.3];
    // west has plenty of samples but every one failed before a token, so it has no percentile.
    const source: LatencySource = { count: () => 100, percentile: (q) => (q.model === 'east' ? 300 : undefined) };
    const llm = withMiddleware(
      () => testScheduler.createColdObservable('a|', values),
      route({ tiers: { fast: ['west', 'east'] }, registry: source, random: () => randoms.shift()!, onDecision: (d) => decisions.push(d) }),
    );
    llm(ask('fast')).subscribe();
    llm(ask('fast')).subscribe();
    expect(decisions.map((d) => `${d.candidate} ${d.reason}`)).toEqual(['east fastest', 'west exploring']);
    expect(decisions[0]!.ttftMs).toEqual({ west: undefined, east: 300 });
  });

  it('compares every candidate at the percentile its fewest samples support, so one slow outlier does not rank a fast candidate last', () => {
    // Nearest-rank percentiles over fixed samples: "a" is fast with one 2 s outlier among its 5 samples,
    // "b" steady at 300 ms over 40. The p95 of 5 samples is their maximum; the p80 is the 4th of 5.
    const samples: Record<string, number[]> = { a: [100, 110, 120, 130, 2000], b: Array.from({ length: 40 }, () => 300) };
    const asked: number[] = [];
    const source: LatencySource = {
      count: (q = {}) => samples[q.model ?? '']?.length ?? 0,
      percentile: (q) => {
        asked.push(q.p);
        const sorted = [...(samples[q.model ?? ''] ?? [])].sort((x, y) => x - y);
        return sorted[Math.ceil((q.p / 100) * sorted.length) - 1];
      },
    };
    const decisions: RouteDecision[] = [];
    const llm = withMiddleware(() => EMPTY, route({ tiers: { fast: ['a', 'b'] }, registry: source, percentile: 95, explore: 0, onDecision: (d) => decisions.push(d) }));
    llm(ask('fast')).subscribe();
    expect(asked).toEqual([80, 80]);
    expect(decisions[0]).toMatchObject({ candidate: 'a', reason: 'fastest', ttftMs: { a: 130, b: 300 } });

    // With 20 samples each the full p95 is used.
    samples['a'] = [...Array.from({ length: 19 }, () => 100), 2000];
    asked.length = 0;
    llm(ask('fast')).subscribe();
    expect(asked).toEqual([95, 95]);
    expect(decisions[1]).toMatchObject({ candidate: 'a', ttftMs: { a: 100, b: 300 } });
  });

  it('sends a request that names no tier as it is, and uses a candidate’s own transport', () => {
    const decisions: RouteDecision[] = [];
    const sent: string[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const viaNext = cold('a|', values);
      const viaAzure = cold('-a|', values);
      const llm = withMiddleware(
        () => viaNext,
        route({
          tiers: { fast: [{ name: 'azure-east', model: 'gpt-4o-mini', transport: (r) => (sent.push(r.model), viaAzure) }] },
          onDecision: (d) => decisions.push(d),
        }),
      );
      expectObservable(llm(ask('gpt-4o'))).toBe('a|', values);
      expectObservable(llm(ask('fast'))).toBe('-a|', values);
      expectSubscriptions(viaNext.subscriptions).toBe('^!');
      expectSubscriptions(viaAzure.subscriptions).toBe('^-!');
    });
    expect(decisions.map((d) => d.reason)).toEqual(['not-routed', 'only-candidate']);
    expect(sent).toEqual(['gpt-4o-mini']);
  });

  it('moves traffic away from a deployment that slows down, measured live', () => {
    const chosen: string[] = [];
    testScheduler.run(() => {
      let eastSlow = false;
      const llm = scriptedTransport((r) => {
        const ttft = r.model === 'east' ? (eastSlow ? 900 : 100) : 200;
        return [{ at: ttft, text: 'x' }, { at: ttft + 1, finish: 'stop' }];
      });
      const registry = new LatencyRegistry({ window: { requests: 20 } });
      const routed = withMiddleware(
        llm,
        route({ tiers: { fast: ['east', 'west'] }, registry, explore: 0, onDecision: (d) => chosen.push(d.candidate) }),
        measure({ registry }),
      );
      for (let i = 0; i < 80; i++) {
        testScheduler.schedule(() => {
          if (i === 40) eastSlow = true;
          routed(ask('fast')).subscribe();
        }, i * 300);
      }
    });
    const phase1 = chosen.slice(10, 40);
    expect(phase1.every((c) => c === 'east')).toBe(true);
    const movedAt = chosen.findIndex((c, i) => i >= 40 && chosen.slice(i).every((later) => later === 'west'));
    expect(movedAt).toBeGreaterThan(40);
    expect(movedAt).toBeLessThan(40 + 10);
  });

  it('learns candidates per step from the context: one route() and one measure() for the whole pipeline', () => {
    const chosen: string[] = [];
    testScheduler.run(() => {
      // east is quicker on the short summary prompts, west on the long drafts.
      const ttft: Record<string, Record<string, number>> = { summary: { east: 100, west: 300 }, draft: { east: 900, west: 400 } };
      const scripted = scriptedTransport((r) => {
        const [step, model] = r.model.split('/') as [string, string];
        const at = ttft[step]![model]!;
        return [{ at, text: 'x' }, { at: at + 1, finish: 'stop' }];
      });
      const byStep: Transport = (r, context) => scripted({ ...r, model: `${context?.step}/${r.model}` });
      const registry = new LatencyRegistry();
      const routed = withMiddleware(
        byStep,
        route({ tiers: { fast: ['east', 'west'] }, registry, minSamples: 2, explore: 0, onDecision: (d) => chosen.push(`${d.candidate} ${d.reason}`) }),
        measure({ registry }),
      );
      for (let i = 0; i < 6; i++) {
        testScheduler.schedule(() => routed(ask('fast'), { step: 'summary' }).subscribe(), i * 1000);
        testScheduler.schedule(() => routed(ask('fast'), { step: 'draft' }).subscribe(), i * 1000 + 500);
      }
    });
    const summary = chosen.filter((_, i) => i % 2 === 0);
    const draft = chosen.filter((_, i) => i % 2 === 1);
    // Each step probes both candidates itself, then keeps to its own fastest.
    expect(summary).toEqual(['east probing', 'east probing', 'west probing', 'west probing', 'east fastest', 'east fastest']);
    expect(draft).toEqual(['east probing', 'east probing', 'west probing', 'west probing', 'west fastest', 'west fastest']);
  });

  it('passes the context to the chosen candidate and tells its onServed who answered, once', () => {
    const contexts: unknown[] = [];
    const served: unknown[] = [];
    testScheduler.run(({ cold, expectObservable }) => {
      const answer = cold('a-(f|)', values);
      const next: Transport = (_r, context) => (contexts.push(context), answer);
      const llm = withMiddleware(next, route({ tiers: { fast: [{ name: 'azure-east', model: 'gpt-4o-mini' }] } }));
      const context = { step: 'summary', onServed: (s: unknown) => served.push(s) };
      expectObservable(llm(ask('fast'), context)).toBe('a-(f|)', values);
      expectObservable(llm(ask('gpt-4o'), context)).toBe('a-(f|)', values); // not routed: not reported
    });
    expect(contexts).toHaveLength(2);
    expect(contexts.every((c) => (c as { step: string }).step === 'summary')).toBe(true);
    expect(served).toEqual([{ model: 'gpt-4o-mini', by: 'route', candidate: 'azure-east' }]);
  });

  it('rejects bad options', () => {
    expect(() => route({ tiers: { fast: ['x'] }, step: 'summary' } as never)).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('the step now comes from the request context') }),
    );
    expect(() => route({ tiers: {} })).toThrow(/at least one tier/);
    expect(() => route({ tiers: { turbo: ['x'] } as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => route({ tiers: { fast: ['x'] }, explore: 2 })).toThrow(/explore/);
  });
});
