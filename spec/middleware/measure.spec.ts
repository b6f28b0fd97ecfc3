import { config, type Observable, of, take } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware } from '../../src/core/transport';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import type { LatencyRecord } from '../../src/metrics/LatencyRecord';
import { measure } from '../../src/middleware/measure';
import { finishEvent, reasoningEvent, textEvent, toolCallEvent, usageEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';

const request = (model = 'small', content = 'hi'): LlmRequest => ({ model, messages: [{ role: 'user', content }] });

describe('measure', () => {
  let testScheduler: TestScheduler;
  let registry: LatencyRegistry;
  let records: LatencyRecord[];
  beforeEach(() => {
    testScheduler = createTestScheduler();
    registry = new LatencyRegistry({ scheduler: testScheduler });
    records = [];
    registry.records().subscribe((record) => records.push(record));
  });

  const values = {
    a: textEvent('Hel'),
    b: textEvent('lo'),
    e: textEvent(''),
    r: reasoningEvent('hmm'),
    c: toolCallEvent({ id: 'call_1', name: 'lookup', arguments: '' }),
    u: usageEvent({ prompt_tokens: 7, completion_tokens: 2 }),
    f: finishEvent('stop'),
  };

  it('passes events through unchanged and records TTFT, total, usage tokens and ok at completion', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  --a--b--u--f|', values);
      const upstreamSubs = '   ^-----------!';
      const expected = '       --a--b--u--f|';

      const llm = withMiddleware(() => upstream, measure({ registry, scheduler: testScheduler }));
      expectObservable(llm(request(), { step: 'summary' })).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(records).toEqual([
      {
        step: 'summary',
        model: 'small',
        start: 0,
        firstToken: 2,
        end: 12,
        outcome: 'ok',
        outputTokens: 2,
        outputTokensFrom: 'usage',
        inputTokens: 7,
        finishReasons: ['stop'],
      },
    ]);
    const stats = registry.stats({ step: 'summary' });
    expect(stats).toMatchObject({ requests: 1, ok: 1, outputTokens: 2, inputTokens: 7 });
    expect(stats.ttft).toMatchObject({ count: 1, p50: 2, max: 2 });
    expect(stats.total).toMatchObject({ count: 1, p50: 12 });
    // 2 tokens over the 10 ms from the first token to the end.
    expect(stats.tokensPerSecond).toMatchObject({ count: 1, p50: 200 });
  });

  it('counts content events as tokens when there is no usage, and skips empty deltas for the first token', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold('  -e--r-c-a-b-f|', values);
      const expected = '       -e--r-c-a-b-f|';

      const llm = withMiddleware(() => upstream, measure({ registry }));
      expectObservable(llm(request('big'))).toBe(expected, values);
    });
    expect(records).toEqual([
      expect.objectContaining({ step: 'big', model: 'big', firstToken: 4, end: 13, outputTokens: 4, outputTokensFrom: 'counted' }),
    ]);
    expect(records[0]).not.toHaveProperty('inputTokens');
  });

  it('records an error with its code and TTFT, but keeps it out of total time', () => {
    const error = new RxllmError('connection-lost', 'The connection dropped.');
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  ---a--#', values, error);
      const upstreamSubs = '   ^-----!';
      const expected = '       ---a--#';

      const llm = withMiddleware(() => upstream, measure({ registry }));
      expectObservable(llm(request(), { step: 'draft' })).toBe(expected, values, error);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(records).toEqual([expect.objectContaining({ outcome: 'error', errorCode: 'connection-lost', firstToken: 3, end: 6 })]);
    const stats = registry.stats({ step: 'draft' });
    expect(stats).toMatchObject({ requests: 1, ok: 0, errors: 1, errorCodes: { 'connection-lost': 1 } });
    expect(stats.ttft?.p50).toBe(3);
    expect(stats.total).toBeUndefined();
    expect(stats.tokensPerSecond).toBeUndefined();
  });

  it("records a foreign error as 'unknown'", () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold<LlmEvent>('  --#', undefined, new TypeError('boom'));
      const llm = withMiddleware(() => upstream, measure({ registry }));
      expectObservable(llm(request())).toBe('--#', undefined, new TypeError('boom'));
    });
    expect(records).toEqual([expect.objectContaining({ outcome: 'error', errorCode: 'unknown', end: 2 })]);
    expect(records[0]).not.toHaveProperty('firstToken');
  });

  it('records a transport that throws before returning a stream, and passes the error on', () => {
    const broken = new RxllmError('invalid-config', 'sseTransport(): `baseURL` is required.');
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(() => {
        throw broken;
      }, measure({ registry }));
      expectObservable(llm(request())).toBe('#', undefined, broken);
    });
    expect(records).toEqual([expect.objectContaining({ outcome: 'error', errorCode: 'invalid-config', start: 0, end: 0, outputTokens: 0 })]);
  });

  it('never sees an invalid request: withMiddleware rejects it above, so nothing is recorded and nothing is sent', () => {
    let sent = 0;
    testScheduler.run(({ cold, expectObservable }) => {
      const llm = withMiddleware(() => (sent++, cold('-a-f|', values)), measure({ registry }));
      const invalid = { model: 'small', messages: [] } as unknown as LlmRequest;
      expectObservable(llm(invalid, { step: 'summary' })).toBe('#', undefined, expect.objectContaining({ code: 'invalid-request' }));
    });
    expect(sent).toBe(0);
    expect(records).toEqual([]);
    expect(registry.count()).toBe(0);
  });

  it('records a request abandoned before its end as cancelled, and unsubscribes the upstream', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  --a--b--u--f|', values);
      const upstreamSubs = '   ^----!       ';
      const unsub = '          ^----!       ';
      const expected = '       --a---       ';

      const llm = withMiddleware(() => upstream, measure({ registry }));
      expectObservable(llm(request()), unsub).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(records).toEqual([expect.objectContaining({ outcome: 'cancelled', firstToken: 2, end: 5, outputTokens: 1 })]);
    expect(registry.stats()).toMatchObject({ requests: 1, cancelled: 1 });
  });

  it('records a caller that leaves a synchronous stream early (take(1)) as cancelled, with what it saw', () => {
    const llm = withMiddleware(() => of(values.a, values.b, values.u, values.f), measure({ registry, scheduler: testScheduler }));
    llm(request()).pipe(take(1)).subscribe();
    expect(records).toEqual([expect.objectContaining({ outcome: 'cancelled', firstToken: 0, outputTokens: 1, outputTokensFrom: 'counted', finishReasons: [] })]);
  });

  it('writes the record before the completion reaches the subscriber', () => {
    let seenAtCompletion = -1;
    testScheduler.run(({ cold }) => {
      const llm = withMiddleware(() => cold('-a-f|', values), measure({ registry }));
      llm(request()).subscribe({ complete: () => (seenAtCompletion = registry.count()) });
    });
    expect(seenAtCompletion).toBe(1);
  });

  it('is cold: each subscription is its own measurement', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const upstream = cold('  --a-f|', values);
      const llm = withMiddleware(() => upstream, measure({ registry }));
      const answer = llm(request());
      expectObservable(answer).toBe('--a-f|', values);
      expectObservable(answer).toBe('--a-f|', values);
      expect(records).toEqual([]); // nothing is measured before the virtual clock runs
    });
    expect(records).toHaveLength(2);
  });

  it('gives exact percentiles in virtual time for a known latency script', () => {
    // Request i (1..100) answers after i × 10 ms and streams for 50 ms more.
    const script = (req: LlmRequest): string => `${Number((req.messages[0] as { content: string }).content) * 10}ms a 49ms b 9ms (f|)`;
    testScheduler.run(({ cold }) => {
      const llm = withMiddleware((req) => cold(script(req), values) as Observable<LlmEvent>, measure({ registry }));
      for (let i = 1; i <= 100; i++) llm(request('small', String(i)), { step: 'draft' }).subscribe();
    });
    expect(registry.percentile({ step: 'draft', p: 50 })).toBe(500);
    expect(registry.percentile({ step: 'draft', p: 95 })).toBe(950);
    expect(registry.percentile({ step: 'draft', p: 99 })).toBe(990);
    expect(registry.stats({ step: 'draft' }).ttft).toEqual({ count: 100, mean: 505, min: 10, p50: 500, p95: 950, p99: 990, max: 1000 });
    // Total = TTFT + 60 ms: `a` and `b` take a frame each, and `(f|)` ends at its own frame.
    expect(registry.stats({ step: 'draft' }).total).toMatchObject({ min: 70, p50: 560, p95: 1010, max: 1060 });
  });

  it('keeps steps and models apart, and lets queries cross them', () => {
    testScheduler.run(({ cold }) => {
      const fast = withMiddleware(() => cold('-a-f|', values), measure({ registry }));
      const slow = withMiddleware(() => cold('-----a-f|', values), measure({ registry }));
      fast(request('small'), { step: 'summary' }).subscribe();
      fast(request('big'), { step: 'summary' }).subscribe();
      slow(request('big'), { step: 'keywords' }).subscribe();
    });
    expect(registry.count({ step: 'summary' })).toBe(2);
    expect(registry.count({ model: 'big' })).toBe(2);
    expect(registry.count({ step: 'summary', model: 'big' })).toBe(1);
    expect(registry.percentile({ model: 'big', p: 100 })).toBe(5);
    expect(registry.percentile({ step: 'summary', p: 100 })).toBe(1);
  });

  it('serves every step of a pipeline from one stack: per-step percentiles from the context, the model as fallback', () => {
    // One transport, one measure(): the step's latency depends on the step, as in a real pipeline.
    const script: Record<string, string> = { summary: '30ms a 9ms (f|)', keywords: '10ms a 9ms (f|)', small: '50ms a 9ms (f|)' };
    const contexts: unknown[] = [];
    testScheduler.run(({ cold }) => {
      const llm = withMiddleware((req, context) => {
        contexts.push(context);
        return cold(script[context?.step ?? req.model]!, values);
      }, measure({ registry }));
      for (let i = 0; i < 3; i++) {
        llm(request(), { step: 'summary' }).subscribe();
        llm(request(), { step: 'keywords', attributes: { tenant: 'acme' } }).subscribe();
      }
      llm(request()).subscribe();
    });
    expect(registry.stats({ step: 'summary' }).ttft).toMatchObject({ count: 3, p50: 30, p95: 30, p99: 30 });
    expect(registry.stats({ step: 'keywords' }).ttft).toMatchObject({ count: 3, p50: 10, p95: 10, p99: 10 });
    expect(registry.stats({ step: 'small' }).ttft).toMatchObject({ count: 1, p50: 50 });
    expect(registry.count({ model: 'small' })).toBe(7);
    // The context reaches the transport unchanged, attributes included.
    expect(contexts[1]).toEqual({ step: 'keywords', attributes: { tenant: 'acme' } });
    expect(contexts[6]).toBeUndefined();
  });

  it('rejects bad options at construction', () => {
    expect(() => measure({ registry: {} as LatencyRegistry })).toThrow(
      expect.objectContaining({ code: 'invalid-config', message: expect.stringContaining('expected a LatencyRegistry') }),
    );
    expect(() => measure({ registry, step: 'summary' } as never)).toThrow(
      expect.objectContaining({
        code: 'invalid-config',
        message: expect.stringContaining("the step now comes from the request context: step() sets it, or pass { step } as the transport's second argument"),
      }),
    );
    expect(() => measure({ registry, stpe: 'x' } as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  it('passes the end on and reports the error when the registry throws (any object with record is accepted)', async () => {
    const broken = { record: () => { throw new Error('registry broke'); } } as unknown as LatencyRegistry;
    const reported: unknown[] = [];
    const before = config.onUnhandledError;
    config.onUnhandledError = (error) => reported.push(error);
    try {
      const seen: string[] = [];
      await new Promise<void>((resolve, reject) =>
        withMiddleware(() => of(textEvent('hi'), finishEvent('stop')), measure({ registry: broken }))(request()).subscribe({
          next: (event) => seen.push(event.type),
          error: reject,
          complete: () => {
            seen.push('complete');
            resolve();
          },
        }),
      );
      expect(seen).toEqual(['text', 'finish', 'complete']);
      // Reported on a timer, as RxJS reports an unhandled error.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(reported).toEqual([new Error('registry broke')]);
    } finally {
      config.onUnhandledError = before;
    }
  });
});
