import { config, lastValueFrom, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import { type SimulatorServer, startSimulatorServer } from '../../src/node/simulatorServer';
import { result } from '../../src/operators/result';
import { prefetcher } from '../../src/pipeline/prefetcher';
import { sseTransport } from '../../src/transport/sse';
import { finishEvent, textEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';
import { waitFor } from '../helpers/waitFor';

const followUp: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'Extract 5 keywords' }], temperature: 0 };
const other: LlmRequest = { ...followUp, messages: [{ role: 'user', content: 'Translate it' }] };
const values = { a: textEvent('rx'), b: textEvent('js'), f: finishEvent('stop'), y: textEvent('fresh') };
const boom = new Error('upstream failed');

describe('prefetcher', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  /** Schedules an imperative call (a prefetch) at a virtual frame. */
  const at = (frame: number, work: () => void) => testScheduler.schedule(work, frame);

  it('is hot: prefetch() subscribes upstream at once, with no subscriber', () => {
    testScheduler.run(({ cold, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^--------!';

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('take() while it runs: replays what arrived, then follows live, on the one upstream call', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^--------!';
      const take = '            ---^      ';
      const expected = '        ---a-b--f|';

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp), take).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('take() after it finished: answers at once, and records the whole run as time saved', () => {
    const transport = () => testScheduler.createColdObservable('--a--b--f|', values);
    const ahead = prefetcher({ transport, scheduler: testScheduler });
    testScheduler.run(({ expectObservable }) => {
      ahead.prefetch(followUp);
      expectObservable(ahead.take(followUp), '20ms ^').toBe('20ms (abf|)', values);
    });
    expect(ahead.stats()).toEqual({ started: 1, hits: 1, misses: 0, wasted: 0, latencySavedMs: 9, held: 0 });
  });

  it('counts the time it had been running as saved when taken mid-way', () => {
    const transport = () => testScheduler.createColdObservable('--a--b--f|', values);
    const ahead = prefetcher({ transport, scheduler: testScheduler });
    testScheduler.run(({ expectObservable }) => {
      ahead.prefetch(followUp);
      expectObservable(ahead.take(followUp), '4ms ^').toBe('4ms ab--f|', values);
    });
    expect(ahead.stats()).toMatchObject({ hits: 1, latencySavedMs: 4 });
  });

  it('aborts and frees an untaken prefetch when its TTL passes; a later take sends the request afresh', () => {
    const ahead = { current: undefined as ReturnType<typeof prefetcher> | undefined };
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a 100ms f|      ', values);
      const upstreamSubs = ['   ^ 49ms !          ', '60ms ^ 103ms !'];
      const takeLate = '        60ms ^            ';
      const expected = '        60ms --a 100ms f| ';

      ahead.current = prefetcher({ transport: () => upstream, ttl: 50, scheduler: testScheduler });
      ahead.current.prefetch(followUp);

      expectObservable(ahead.current.take(followUp), takeLate).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(ahead.current!.stats()).toEqual({ started: 1, hits: 0, misses: 1, wasted: 1, latencySavedMs: 0, held: 0 });
  });

  it('frees a finished, untaken prefetch at its TTL too', () => {
    const transport = () => testScheduler.createColdObservable('-a-f|', values);
    const ahead = prefetcher({ transport, ttl: 50, scheduler: testScheduler });
    testScheduler.run(() => {
      ahead.prefetch(followUp);
      at(49, () => expect(ahead.has(followUp)).toBe(true));
      at(50, () => expect(ahead.has(followUp)).toBe(false));
    });
    expect(ahead.stats()).toMatchObject({ wasted: 1, held: 0 });
  });

  it('evicts (and aborts) the oldest prefetch beyond maxEntries', () => {
    testScheduler.run(({ cold, expectSubscriptions }) => {
      const first = cold('    --a 100ms f|', values);
      const firstSubs = '     ^-!         ';
      const second = cold('   --b 100ms f|', values);
      const secondSubs = '    ^ 103ms !   ';
      const third = cold('    --b 100ms f|', values);
      const thirdSubs = '     --^ 103ms ! ';

      const streams = [first, second, third];
      const ahead = prefetcher({ transport: () => streams.shift()!, maxEntries: 2, scheduler: testScheduler });
      ahead.prefetch('first', followUp);
      ahead.prefetch('second', followUp);
      at(2, () => ahead.prefetch('third', followUp));

      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
      expectSubscriptions(third.subscriptions).toBe(thirdSubs);
    });
  });

  it('a taker that unsubscribes aborts the prefetch it took', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^---!     ';
      const take = '            ---^!     ';
      const expected = '        ---a-     ';

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp), take).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('is taken once: a second take of the same request sends it afresh', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-f|      ', values);
      const upstreamSubs = ['   ^---!      ', '5ms ^---!'];

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp), '5ms ^').toBe('5ms (af|)', values);
      expectObservable(ahead.take(followUp), '5ms ^').toBe('5ms -a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('captures a prefetch error (never unhandled), and take() falls through to a normal request', () => {
    const unhandled: unknown[] = [];
    const previous = config.onUnhandledError;
    config.onUnhandledError = (error) => unhandled.push(error);
    try {
      const ahead = { current: undefined as ReturnType<typeof prefetcher> | undefined };
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const failing = cold('    --#      ', values, boom);
        const failingSubs = '     ^-!      ';
        const fresh = cold('      -y-f|    ', values);
        const freshSubs = '       5ms ^---!';
        const streams: Observable<LlmEvent>[] = [failing, fresh];

        ahead.current = prefetcher({ transport: () => streams.shift()!, scheduler: testScheduler });
        ahead.current.prefetch(followUp);

        expectObservable(ahead.current.take(followUp), '5ms ^').toBe('5ms -y-f|', values);
        expectSubscriptions(failing.subscriptions).toBe(failingSubs);
        expectSubscriptions(fresh.subscriptions).toBe(freshSubs);
      });
      expect(unhandled).toEqual([]);
      expect(ahead.current!.stats()).toMatchObject({ hits: 0, misses: 1, wasted: 1 });
    } finally {
      config.onUnhandledError = previous;
    }
  });

  it('falls through when a taken prefetch fails before delivering anything', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('    -----#        ', values, boom);
      const failingSubs = '     ^----!        ';
      const fresh = cold('      -y-f|         ', values);
      const freshSubs = '       -----^---!   ';
      const streams: Observable<LlmEvent>[] = [failing, fresh];

      const ahead = prefetcher({ transport: () => streams.shift()!, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp), '--^').toBe('------y-f|', values);
      expectSubscriptions(failing.subscriptions).toBe(failingSubs);
      expectSubscriptions(fresh.subscriptions).toBe(freshSubs);
    });
  });

  it('passes the error on when a taken prefetch fails after delivering events (resending would repeat text)', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold('    -a---#', values, boom);
      const failingSubs = '     ^----!';

      const ahead = prefetcher({ transport: () => failing, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp), '--^').toBe('--a--#', values, boom);
      expectSubscriptions(failing.subscriptions).toBe(failingSubs);
    });
  });

  it('on timeout before the first event: aborts the prefetch and sends the request afresh', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const stalled = cold('    500ms a-f|             ', values);
      const stalledSubs = '     ^ 109ms !              ';
      const fresh = cold('      -y-f|                  ', values);
      const freshSubs = '       110ms ^---!           ';
      const take = '            10ms ^                 ';
      const expected = '        110ms -y-f|            ';
      const streams: Observable<LlmEvent>[] = [stalled, fresh];

      const ahead = prefetcher({ transport: () => streams.shift()!, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp, { timeout: 100 }), take).toBe(expected, values);
      expectSubscriptions(stalled.subscriptions).toBe(stalledSubs);
      expectSubscriptions(fresh.subscriptions).toBe(freshSubs);
    });
  });

  it('the timeout does not apply once events have arrived', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a 500ms f|', values);
      const upstreamSubs = '    ^ 502ms !  ';

      const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      ahead.prefetch(followUp);

      expectObservable(ahead.take(followUp, { timeout: 1 }), '5ms ^').toBe('5ms a 496ms f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  describe('named keys (as in the article) and request keys', () => {
    it('take(name) answers from prefetch(name, request)', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold('   -a-f|', values);
        const upstreamSubs = '    ^---!';

        const ahead = prefetcher({ transport: () => upstream, scheduler: testScheduler });
        expect(ahead.prefetch('likely_followup_keywords', followUp)).toBe('likely_followup_keywords');

        expectObservable(ahead.take('likely_followup_keywords'), '9ms ^').toBe('9ms (af|)', values);
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
    });

    it('take(name) with nothing held sends options.request, or errors invalid-request without one', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const fresh = cold('      -y-f|', values);
        const freshSubs = '       ^---!';

        const ahead = prefetcher({ transport: () => fresh, scheduler: testScheduler });

        expectObservable(ahead.take('likely_followup_keywords', { request: followUp })).toBe('-y-f|', values);
        expectObservable(ahead.take('never_prefetched')).toBe(
          '#',
          undefined,
          expect.objectContaining({ code: 'invalid-request', message: expect.stringMatching(/never_prefetched.*take\(name, \{ request \}\)/) }),
        );
        expectSubscriptions(fresh.subscriptions).toBe(freshSubs);
      });
    });

    it('take(name) after a failed named prefetch falls through with the request it was given', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const failing = cold('    #', values, boom);
        const failingSubs = '     (^!)';
        const fresh = cold('      -y-f|', values);
        const freshSubs = '       --^---!';
        const streams: Observable<LlmEvent>[] = [failing, fresh];

        const ahead = prefetcher({ transport: () => streams.shift()!, scheduler: testScheduler });
        ahead.prefetch('keywords', followUp);

        expectObservable(ahead.take('keywords'), '--^').toBe('---y-f|', values);
        expectSubscriptions(failing.subscriptions).toBe(failingSubs);
        expectSubscriptions(fresh.subscriptions).toBe(freshSubs);
      });
    });

    it('keeps request keys apart: a different request is a miss', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const prefetched = cold('  -a-f|', values);
        const prefetchedSubs = '   ^---!';
        const fresh = cold('       -y-f|', values);
        const freshSubs = '        ^---!';
        const streams: Observable<LlmEvent>[] = [prefetched, fresh];

        const ahead = prefetcher({ transport: () => streams.shift()!, scheduler: testScheduler });
        ahead.prefetch(followUp);

        expectObservable(ahead.take(other)).toBe('-y-f|', values);
        expectSubscriptions(prefetched.subscriptions).toBe(prefetchedSubs);
        expectSubscriptions(fresh.subscriptions).toBe(freshSubs);
      });
    });
  });

  it('prefetching what is already held does not start it again; a failed one is restarted', () => {
    testScheduler.run(({ cold, expectSubscriptions }) => {
      const running = cold('    --a--f|', values);
      const runningSubs = '     ^-----!';
      const failing = cold('    -#     ', values, boom);
      const failingSubs = '     ^!     ';
      const retried = cold('    -a-f|  ', values);
      const retriedSubs = '     --^---!';
      const byRequest: Record<string, Observable<LlmEvent>[]> = { keep: [running], failing: [failing, retried] };

      const ahead = prefetcher({ transport: (req) => byRequest[req.model]!.shift()!, scheduler: testScheduler });
      ahead.prefetch({ ...followUp, model: 'keep' });
      ahead.prefetch({ ...followUp, model: 'failing' });
      at(2, () => {
        ahead.prefetch({ ...followUp, model: 'keep' });
        ahead.prefetch({ ...followUp, model: 'failing' });
      });

      expectSubscriptions(running.subscriptions).toBe(runningSubs);
      expectSubscriptions(failing.subscriptions).toBe(failingSubs);
      expectSubscriptions(retried.subscriptions).toBe(retriedSubs);
    });
  });

  it('clear() aborts everything held and counts it as wasted', () => {
    const ahead = { current: undefined as ReturnType<typeof prefetcher> | undefined };
    testScheduler.run(({ cold, expectSubscriptions }) => {
      const upstream = cold('   --a--f|', values);
      const upstreamSubs = ['   ^--!   ', '^--!'];

      ahead.current = prefetcher({ transport: () => upstream, scheduler: testScheduler });
      ahead.current.prefetch(followUp);
      ahead.current.prefetch(other);
      at(3, () => ahead.current!.clear());

      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(ahead.current!.stats()).toEqual({ started: 2, hits: 0, misses: 0, wasted: 2, latencySavedMs: 0, held: 0 });
  });

  it('take() is cold: nothing is taken or sent before subscribe', () => {
    const calls: LlmRequest[] = [];
    const transport: Transport = (req) => {
      calls.push(req);
      return testScheduler.createColdObservable('-f|', values);
    };
    const ahead = prefetcher({ transport, scheduler: testScheduler });
    ahead.prefetch(followUp);
    ahead.take(followUp);
    ahead.take(other);
    expect(calls).toEqual([followUp]);
    expect(ahead.has(followUp)).toBe(true);
    ahead.clear();
  });

  describe('request context', () => {
    it('sends a prefetch with the context it was given, by request or by name (the context is not part of the key)', () => {
      const sent: unknown[] = [];
      testScheduler.run(({ cold }) => {
        const transport: Transport = (request, context) => {
          sent.push([request.messages[0]!.content, context]);
          return cold('-a-f|', values);
        };
        const ahead = prefetcher({ transport, scheduler: testScheduler });
        const key = ahead.prefetch(followUp, { step: 'keywords' });
        ahead.prefetch('translation', other, { step: 'translate', lane: 'background' });
        // Held under the same key whatever the context: this one is not started again.
        expect(ahead.prefetch(followUp, { step: 'other' })).toBe(key);
      });
      expect(sent).toEqual([
        ['Extract 5 keywords', { step: 'keywords' }],
        ['Translate it', { step: 'translate', lane: 'background' }],
      ]);
    });

    it('sends a miss with take\'s context, else the held prefetch\'s', () => {
      const sent: unknown[] = [];
      testScheduler.run(({ cold, expectObservable }) => {
        let calls = 0;
        const transport: Transport = (_, context) => {
          sent.push(context);
          return calls++ === 0 ? cold<LlmEvent>('-#', undefined, boom) : cold('-y-f|', values);
        };
        const ahead = prefetcher({ transport, scheduler: testScheduler });
        ahead.prefetch('kw', followUp, { step: 'keywords' });
        // The prefetch failed: the take falls through, with the prefetch's context.
        expectObservable(ahead.take('kw'), '--^').toBe('---y-f|', values);
        expectObservable(ahead.take(other, { context: { step: 'translate' } }), '--^').toBe('---y-f|', values);
      });
      expect(sent).toEqual([{ step: 'keywords' }, { step: 'keywords' }, { step: 'translate' }]);
    });
  });

  it('rejects bad options with invalid-config, and a named prefetch without its request', () => {
    const invalid = expect.objectContaining({ code: 'invalid-config' });
    const transport: Transport = () => testScheduler.createColdObservable('-f|', values);
    expect(() => prefetcher({} as never)).toThrow(/transport/);
    expect(() => prefetcher({ transport, ttl: 0 })).toThrow(invalid);
    expect(() => prefetcher({ transport, maxEntries: 1.5 })).toThrow(/maxEntries/);
    expect(() => prefetcher({ transport, ttls: 5 } as never)).toThrow(/ttls/);
    // TTLs and take timeouts are timers: a clock with only now() is not enough.
    expect(() => prefetcher({ transport, scheduler: { now: () => 0 } as never })).toThrow(/expected a SchedulerLike/);
    expect(() => prefetcher({ transport, key: 'k' as never })).toThrow(/expected a function \(request\) => string/);
    const ahead = prefetcher({ transport, scheduler: testScheduler });
    expect(() => ahead.take(followUp, { timeout: -1 })).toThrow(invalid);
    expect(() => (ahead.prefetch as unknown as (name: string) => string)('named')).toThrow(expect.objectContaining({ code: 'invalid-request' }));
  });
});

describe('prefetcher against the simulator server, over real sockets', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    server = await startSimulatorServer({ seed: 9 });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => server.resetStats());

  const ask = (content: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], temperature: 0 });

  it('an unused prefetch is aborted at its TTL: the server sees the request cancelled', async () => {
    const slow = sseTransport({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=10,tokens=400,tps=100,tail_p=0' } });
    // Long enough for the request to reach the server on a busy machine, well short of the 4 s answer.
    const ahead = prefetcher({ transport: slow, ttl: 1_000 });
    ahead.prefetch('likely_followup_story', ask('Write a long story about streams.'));

    await waitFor(() => server.stats().aborts === 1, 'the server counting the unused prefetch aborted at its TTL');
    expect(server.stats()).toMatchObject({ requests: 1, aborts: 1, completed: 0 });
    expect(ahead.stats()).toMatchObject({ started: 1, wasted: 1, held: 0 });
  });

  it('a finished prefetch is taken at once, without a second request', async () => {
    const fast = sseTransport({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=30,tokens=10,tps=1000,tail_p=0' } });
    const ahead = prefetcher({ transport: fast, ttl: 10_000 });
    const request = ask('Summarize in one sentence: prefetching hides latency.');
    ahead.prefetch(request);
    await waitFor(() => server.stats().completed === 1, 'the server completing the prefetched answer');

    const answer = await lastValueFrom(ahead.take(request).pipe(result()));

    expect(answer.finishReason).toBe('stop');
    expect(answer.text.length).toBeGreaterThan(0);
    expect(server.stats()).toMatchObject({ requests: 1, completed: 1 });
    expect(ahead.stats()).toMatchObject({ hits: 1, misses: 0, held: 0 });
    expect(ahead.stats().latencySavedMs).toBeGreaterThan(0);
  });
});
