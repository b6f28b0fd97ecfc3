import { lastValueFrom, mergeMap, type Observable, timer, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isRxllmError, RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { RequestContext } from '../../src/core/context';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { cache } from '../../src/middleware/cache';
import { limit } from '../../src/middleware/limit';
import { sseTransport } from '../../src/transport/sse';
import { finishEvent } from '../../src/testing/events';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { type LocalServer, startEventStream, startLocalServer, textChunk } from '../helpers/localServer';
import { createTestScheduler } from '../helpers/marbles';
import { waitFor } from '../helpers/waitFor';

const values = { f: finishEvent('stop') };
const answer = (ms: number) => ({ marbles: `${ms}ms (f|)`, values });
const req = (model: string): LlmRequest => ({ model, messages: [{ role: 'user', content: `q ${model}` }] });
/** Subscribes to `source` `ms` after the test starts. */
const at = (ms: number, source: Observable<LlmEvent>) => timer(ms).pipe(mergeMap(() => source));

describe('limit', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('sends at most `concurrency` requests at once; the others wait without opening anything', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100), c: answer(100), d: answer(100) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const aSubs = '   ^ 99ms !           ';
      const bSubs = '   ^ 99ms !           ';
      const cSubs = '   100ms ^ 99ms !     ';
      const dSubs = '   100ms ^ 99ms !     ';
      const first = '   100ms (f|)         ';
      const second = '  200ms (f|)         ';

      const llm = withMiddleware(upstream, limit({ concurrency: 2 }));

      expectObservable(llm(req('a'))).toBe(first, values);
      expectObservable(llm(req('b'))).toBe(first, values);
      expectObservable(llm(req('c'))).toBe(second, values);
      expectObservable(llm(req('d'))).toBe(second, values);
      expectSubscriptions(upstream.subscriptionsTo('a')).toBe(aSubs);
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe(bSubs);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe(cSubs);
      expectSubscriptions(upstream.subscriptionsTo('d')).toBe(dSubs);
    });
    expect(upstream.peakInFlight).toBe(2);
  });

  it('runs a higher lane first, whatever the arrival order, and FIFO within a lane', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100), c: answer(100), d: answer(100) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const bSubs = '   300ms ^ 99ms !  '; // background, arrived first among the waiters: runs last
      const cSubs = '   100ms ^ 99ms !  ';
      const dSubs = '   200ms ^ 99ms !  ';

      const llm = withMiddleware(upstream, limit({ concurrency: 1 }));

      expectObservable(llm(req('a'), { lane: 'interactive' })).toBe('100ms (f|)', values);
      expectObservable(at(5, llm(req('b'), { lane: 'background' }))).toBe('400ms (f|)', values);
      expectObservable(at(10, llm(req('c'), { lane: 'interactive' }))).toBe('200ms (f|)', values);
      expectObservable(at(20, llm(req('d')))).toBe('300ms (f|)', values); // no lane: the default, interactive
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe(bSubs);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe(cSubs);
      expectSubscriptions(upstream.subscriptionsTo('d')).toBe(dSubs);
    });
  });

  it('does not starve a low lane: once it has waited agingMs it gets one slot in four', () => {
    // A new interactive request every 50 ms, each taking 100 ms, on one slot: interactive work alone would
    // keep the slot busy forever. The background request (arrives at 1) ages one lane after 250 ms.
    const upstream = scriptedTransport((request) => answer(request.model === 'bg' ? 10 : 100));
    const limiter = limit({ concurrency: 1, agingMs: 250 });
    const llm = withMiddleware(upstream, limiter);
    testScheduler.run(({ expectObservable }) => {
      for (let i = 0; i < 20; i++) expectObservable(at(i * 50, llm(req(`i${i}`), { lane: 'interactive' })));
      expectObservable(at(1, llm(req('bg'), { lane: 'background' })));
    });
    const started = upstream.requests.map((r) => `${r.model}@${r.subscribedAt}`);
    // From 300 the background request has waited 250 ms: of the next four slots, it gets the fourth.
    // Without anti-starvation it would start after all 20.
    expect(started.slice(0, 7)).toEqual(['i0@0', 'i1@100', 'i2@200', 'i3@300', 'i4@400', 'i5@500', 'bg@600']);
    expect(upstream.peakInFlight).toBe(1);
    expect(limiter.stats().lanes['background']!.wait).toMatchObject({ count: 1, max: 599 });
  });

  it('reserve: background holds only the unreserved slots, so an interactive request starts at once', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100), c: answer(100), d: answer(100) });
    const limiter = limit({ concurrency: 2, reserve: { interactive: 1 } });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const aSubs = '   ^ 99ms !          ';
      const bSubs = '   110ms ^ 99ms !    '; // background may hold 1 slot only: not at 0, and after d
      const cSubs = '   10ms ^ 99ms !     '; // the reserved slot: no wait
      const dSubs = '   100ms ^ 99ms !    '; // both slots busy: waits for one, then goes before b

      const llm = withMiddleware(upstream, limiter);

      expectObservable(llm(req('a'), { lane: 'background' })).toBe('100ms (f|)', values);
      expectObservable(llm(req('b'), { lane: 'background' })).toBe('210ms (f|)', values);
      expectObservable(at(10, llm(req('c'), { lane: 'interactive' }))).toBe('110ms (f|)', values);
      expectObservable(at(20, llm(req('d'), { lane: 'interactive' }))).toBe('200ms (f|)', values);
      expectSubscriptions(upstream.subscriptionsTo('a')).toBe(aSubs);
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe(bSubs);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe(cSubs);
      expectSubscriptions(upstream.subscriptionsTo('d')).toBe(dSubs);
    });
    expect(limiter.stats().lanes).toMatchObject({
      interactive: { slots: 2, inFlight: 0, peakInFlight: 2, started: 2 },
      background: { slots: 1, inFlight: 0, peakInFlight: 1, started: 2 },
    });
  });

  it('without a reserve the same interactive request waits for a background one to finish', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100), c: answer(100) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(upstream, limit({ concurrency: 2 }));
      expectObservable(llm(req('a'), { lane: 'background' }));
      expectObservable(llm(req('b'), { lane: 'background' }));
      expectObservable(at(10, llm(req('c'), { lane: 'interactive' }))).toBe('200ms (f|)', values);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe('100ms ^ 99ms !');
    });
  });

  it('adds up the reserves of the lanes above a lane', () => {
    // concurrency 4: interactive may use all 4 slots, normal and background together 3, background alone 1.
    const upstream = scriptedTransport(() => answer(100));
    const limiter = limit({ concurrency: 4, lanes: ['interactive', 'normal', 'background'], reserve: { interactive: 1, normal: 2 } });
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, limiter);
      for (const name of ['b1', 'b2']) expectObservable(llm(req(name), { lane: 'background' }));
      for (const name of ['n1', 'n2', 'n3']) expectObservable(at(10, llm(req(name), { lane: 'normal' })));
      for (const name of ['i1', 'i2']) expectObservable(at(20, llm(req(name), { lane: 'interactive' })));
    });
    expect(upstream.requests.map((r) => `${r.model}@${r.subscribedAt}`)).toEqual([
      'b1@0', // b2 waits: background holds its 1 slot
      'n1@10',
      'n2@10', // n3 waits: normal and background hold 3
      'i1@20', // i2 waits: all 4 busy
      'i2@100', // b1 ends: the highest lane first
      'n3@110', // n1 and n2 end: normal first, then background has its slot again
      'b2@110',
    ]);
    expect(Object.values(limiter.stats().lanes).map((lane) => lane.slots)).toEqual([4, 3, 1]);
  });

  it('a starving lower lane keeps its one-in-four share, within the slots its reserve leaves it', () => {
    // concurrency 2, reserve 1: background may hold one slot. Ten interactive requests at 0 (100 ms each) keep both
    // slots busy; two background ones (250 ms each) wait from 1 and are starving from 51.
    const upstream = scriptedTransport((request) => answer(request.model.startsWith('bg') ? 250 : 100));
    const limiter = limit({ concurrency: 2, reserve: { interactive: 1 }, agingMs: 50 });
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, limiter);
      for (let i = 0; i < 10; i++) expectObservable(llm(req(`i${i}`), { lane: 'interactive' }));
      expectObservable(at(1, llm(req('bg0'), { lane: 'background' })));
      expectObservable(at(1, llm(req('bg1'), { lane: 'background' })));
    });
    const started = upstream.requests.map((r) => `${r.model}@${r.subscribedAt}`);
    expect(started).toEqual([
      'i0@0',
      'i1@0',
      'i2@100',
      'i3@100',
      'i4@200',
      'bg0@200', // the fourth dispatch with a starving background request waiting
      'i5@300', // background holds its one slot: the slots freed at 300 and 400 go to interactive work
      'i6@400',
      'i7@450', // the share resumes once bg0 has left its slot: three to interactive, then bg1
      'i8@500',
      'i9@550',
      'bg1@600',
    ]);
    expect(limiter.stats().lanes['background']).toMatchObject({ peakInFlight: 1, started: 2 });
  });

  it('a request cancelled while queued leaves the queue at once and is never sent', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100), c: answer(100) });
    const limiter = limit({ concurrency: 1 });
    const queuedAt: number[] = [];
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const bUnsub = '   ^ 49ms !         ';
      const cSubs = '    100ms ^ 99ms !   ';

      const llm = withMiddleware(upstream, limiter);

      expectObservable(llm(req('a'))).toBe('100ms (f|)', values);
      expectObservable(llm(req('b')), bUnsub).toBe('');
      expectObservable(llm(req('c'))).toBe('200ms (f|)', values);
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe([]);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe(cSubs);
      testScheduler.schedule(() => queuedAt.push(limiter.stats().queued), 49);
      testScheduler.schedule(() => queuedAt.push(limiter.stats().queued), 50);
    });
    expect(queuedAt).toEqual([2, 1]);
    expect(limiter.stats().lanes['interactive']).toMatchObject({ started: 2, cancelledWhileQueued: 1, queued: 0 });
  });

  it('unsubscribing a running request aborts it and gives its slot to the next waiter', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const aUnsub = '   ^ 29ms !         ';
      const aSubs = '    ^ 29ms !         ';
      const bSubs = '    30ms ^ 99ms !    ';

      const llm = withMiddleware(upstream, limit({ concurrency: 1 }));

      expectObservable(llm(req('a')), aUnsub).toBe('');
      expectObservable(llm(req('b'))).toBe('130ms (f|)', values);
      expectSubscriptions(upstream.subscriptionsTo('a')).toBe(aSubs);
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe(bSubs);
    });
  });

  it('passes an upstream error through and frees the slot', () => {
    const upstream = scriptedTransport({ a: [{ at: 40, error: 'server' }], b: answer(100) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(upstream, limit({ concurrency: 1 }));

      expectObservable(llm(req('a'))).toBe('40ms #', undefined, expect.objectContaining({ code: 'server' }));
      expectObservable(llm(req('b'))).toBe('140ms (f|)', values);
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe('40ms ^ 99ms !');
    });
    expect(upstream.requests[0]!.outcome).toBe('errored');
  });

  it('rejects with `overloaded` when the queue is full, without touching the queue or the upstream', () => {
    const upstream = scriptedTransport({ a: answer(100), b: answer(100), c: answer(100) });
    const limiter = limit({ concurrency: 1, maxQueued: 1 });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(upstream, limiter);

      expectObservable(llm(req('a'))).toBe('100ms (f|)', values);
      expectObservable(llm(req('b'), { lane: 'background' })).toBe('200ms (f|)', values);
      expectObservable(at(10, llm(req('c')))).toBe(
        '10ms #',
        undefined,
        new RxllmError(
          'overloaded',
          'limit(): the queue is full (1 waiting, 1 of 1 in flight); request rejected before sending. Retry later, shed load, or raise maxQueued / concurrency.',
        ),
      );
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe([]);
    });
    const stats = limiter.stats();
    expect(stats).toMatchObject({ inFlight: 0, queued: 0, peakQueued: 1 });
    expect(stats.lanes['interactive']).toMatchObject({ started: 1, rejected: 1 });
    expect(stats.lanes['background']).toMatchObject({ started: 1, rejected: 0, wait: expect.objectContaining({ count: 1, max: 100 }) });
  });

  it('reads the lane from the context and sends the request and its context on unchanged', () => {
    const upstream = scriptedTransport({ a: answer(10), b: answer(10) });
    const seen: [LlmRequest, RequestContext | undefined][] = [];
    const spy: Transport = (request, context) => {
      seen.push([request, context]);
      return upstream(request);
    };
    const limiter = limit({ concurrency: 1, lanes: ['hi', 'lo'], defaultLane: 'lo' });
    const context: RequestContext = { lane: 'hi', step: 'summary', attributes: { tenant: 'acme' }, deadline: 500 };
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(spy, limiter);
      expectObservable(llm(req('a'))).toBe('10ms (f|)', values);
      expectObservable(llm(req('b'), context)).toBe('20ms (f|)', values);
    });
    expect(seen).toEqual([
      [req('a'), undefined],
      [req('b'), context],
    ]);
    expect(seen[1]![1]).toBe(context);
    expect(limiter.stats().lanes).toMatchObject({ hi: { started: 1 }, lo: { started: 1 } });
  });

  it('fails a request naming an unknown lane with invalid-request, at subscribe, sending nothing', () => {
    const upstream = scriptedTransport({ a: answer(10) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(upstream, limit({ concurrency: 1 }));
      expectObservable(llm(req('a'), { lane: 'urgent' })).toBe(
        '#',
        undefined,
        new RxllmError(
          'invalid-request',
          'limit(): unknown lane "urgent"; this limiter has lanes "interactive", "background". Fix the context\'s lane (llm(request, { lane })), or add the lane to limit({ lanes }).',
        ),
      );
      expectSubscriptions(upstream.subscriptions).toBe([]);
    });
  });

  it('keeps one budget across every transport it wraps, and per-subscription state apart', () => {
    const one = scriptedTransport({ a: answer(100) });
    const two = scriptedTransport({ a: answer(100) });
    const limiter = limit({ concurrency: 1 });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const request$ = withMiddleware(one, limiter)(req('a'));
      expectObservable(request$).toBe('100ms (f|)', values);
      expectObservable(request$).toBe('200ms (f|)', values); // the same observable, subscribed twice: two requests
      expectObservable(withMiddleware(two, limiter)(req('a'))).toBe('300ms (f|)', values);
      expectSubscriptions(one.subscriptions).toBe(['^ 99ms !', '100ms ^ 99ms !']);
      expectSubscriptions(two.subscriptions).toBe('200ms ^ 99ms !');
    });
  });

  it.each([
    [{ concurrency: 0 }, 'concurrency'],
    [{ concurrency: 1.5 }, 'concurrency'],
    [{ concurrency: 2, maxQueued: -1 }, 'maxQueued'],
    [{ concurrency: 2, lanes: [] }, 'lanes'],
    [{ concurrency: 2, lanes: ['a', 'a'] }, 'lanes'],
    [{ concurrency: 2, defaultLane: 'nope' }, 'defaultLane'],
    [{ concurrency: 2, agingMs: 0 }, 'agingMs'],
    [{ concurrency: 2, reserve: { urgent: 1 } }, 'reserve.urgent'],
    [{ concurrency: 2, reserve: { background: 1 } }, 'reserve.background'],
    [{ concurrency: 2, reserve: { interactive: 2 } }, 'reserve'],
    [{ concurrency: 4, lanes: ['a', 'b', 'c'], reserve: { a: 2, b: 2 } }, 'reserve'],
    [{ concurrency: 2, reserve: { interactive: 0.5 } }, 'reserve.interactive'],
    [{ concurrency: 2, lane: 'x' }, ''],
    [{ concurrency: 2, store: { take: () => undefined } }, 'store'],
    [{ concurrency: 2, storePoll: { minMs: 50, maxMs: 10 } }, 'storePoll'],
    [{ concurrency: 2, storePoll: { minMs: -1 } }, 'storePoll.minMs'],
  ])('rejects bad options %j with invalid-config', (config, path) => {
    let error: unknown;
    try {
      limit(config as never);
    } catch (thrown) {
      error = thrown;
    }
    expect(isRxllmError(error) && error.code).toBe('invalid-config');
    expect((error as RxllmError).path).toBe(path || undefined);
  });
});

describe('a request in a lane, through limit() and cache(), to a real local server', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer((_request, response) => {
      startEventStream(response);
      response.end(`${textChunk('Positive')}${textChunk('', 'stop')}data: [DONE]\n\n`);
    });
  });
  afterAll(() => server.close());

  it('sends no lane in the body, and the same request from another lane is a cache hit (one upstream request)', async () => {
    const answers = cache();
    const limiter = limit({ concurrency: 2, reserve: { interactive: 1 } });
    // cache() above limit(): a hit takes no slot. Both read the context; neither changes the request.
    const llm = withMiddleware(sseTransport({ baseURL: server.baseURL }), answers, limiter);
    const classify: LlmRequest = {
      model: 'gpt-4o-mini',
      temperature: 0,
      messages: [
        { role: 'system', content: 'Classify the sentiment as positive or negative.' },
        { role: 'user', content: 'Review: works great' },
      ],
    };

    const fromBackground = await lastValueFrom(llm(classify, { lane: 'background', step: 'classify' }).pipe(toArray()));
    const fromInteractive = await lastValueFrom(llm(classify, { lane: 'interactive' }).pipe(toArray()));

    expect(server.requests).toHaveLength(1);
    const seen = server.requests[0]!;
    const body = JSON.parse(seen.body) as Record<string, unknown>;
    // Exactly the request, as the transport words it: no lane field, and no other context on the wire either.
    expect(body).toEqual({ ...classify, stream: true, stream_options: { include_usage: true } });
    expect(seen.body).not.toMatch(/lane|background|classify"/);
    expect(JSON.stringify(seen.headers)).not.toMatch(/lane|background/);

    expect(fromInteractive).toEqual(fromBackground);
    expect(fromBackground.map((event) => event.type)).toEqual(['text', 'finish']);
    expect(answers.stats()).toMatchObject({ hits: 1, misses: 1, stored: 1 });
    // The miss went through limit() in its lane; the hit never reached it.
    expect(limiter.stats().lanes).toMatchObject({ background: { started: 1 }, interactive: { started: 0 } });
  });
});

describe('limit({ store }) with a store of our own (its answers are Promises, so on real time)', () => {
  /** A store with `free` slots, counting its asks; `down` makes every ask reject as an unreachable backend would. */
  function countingStore(free: number) {
    const store = {
      free,
      asks: 0,
      down: false,
      acquire: (max: number) => {
        store.asks++;
        expect(max).toBe(2); // asked for the limit's concurrency
        if (store.down) return Promise.reject(new Error('backend unreachable'));
        if (store.free === 0) return Promise.resolve(undefined);
        store.free--;
        return Promise.resolve({ release: () => void store.free++ });
      },
    };
    return store;
  }
  const upstream = scriptedTransport(() => ({ marbles: '20ms (f|)', values }));

  it('starts a request only with a slot from the store; a full store is asked again after a backoff; every slot is given back', async () => {
    const store = countingStore(1); // another instance holds the other slot
    const limiter = limit({ concurrency: 2, store, storePoll: { minMs: 5, maxMs: 10 } });
    const llm = withMiddleware(upstream, limiter);
    await Promise.all(['a', 'b', 'c'].map((model) => lastValueFrom(llm(req(model)).pipe(toArray()))));
    expect(upstream.peakInFlight).toBe(1); // the store's one free slot, though the limit allows 2 here
    expect(limiter.stats().storeRefusals).toBeGreaterThan(0);
    expect(store.asks).toBeGreaterThan(3);
    expect(store.free).toBe(1);
  });

  it('a store that cannot answer never fails a request: it starts on the in-process count, counted in storeFallbacks', async () => {
    const store = countingStore(5);
    store.down = true;
    const limiter = limit({ concurrency: 2, store });
    const llm = withMiddleware(upstream, limiter);
    const answers = await Promise.all(['a', 'b', 'c', 'd'].map((model) => lastValueFrom(llm(req(model)).pipe(toArray()))));
    expect(answers.every((events) => events.length === 1)).toBe(true);
    expect(upstream.peakInFlight).toBe(2); // the in-process count still holds
    expect(limiter.stats()).toMatchObject({ storeFallbacks: 4, storeRefusals: 0, inFlight: 0 });
    store.down = false;
    await lastValueFrom(llm(req('e')).pipe(toArray()));
    expect(limiter.stats().storeFallbacks).toBe(4); // asked the store again, and it answered
    await waitFor(() => store.free >= 5, "request e's slot given back to the store");
    expect(store.free).toBe(5);
  });
});
