import { firstValueFrom, lastValueFrom, Observable, of, Subject, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { CacheEntry, CacheStore } from '../../src/cache/CacheStore';
import { memoryCacheStore } from '../../src/cache/memoryCacheStore';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware } from '../../src/core/transport';
import { cache, type CacheMiddleware } from '../../src/middleware/cache';
import { dedupe } from '../../src/middleware/dedupe';
import { type SimulatorServer, startSimulatorServer } from '../../src/node/simulatorServer';
import { finishEvent, reasoningEvent, refusalEvent, textEvent, toolCallEvent, usageEvent } from '../../src/testing/events';
import { sseTransport } from '../../src/transport/sse';
import { createTestScheduler } from '../helpers/marbles';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'Summarize: rxjs' }], temperature: 0 };
const other: LlmRequest = { ...request, messages: [{ role: 'user', content: 'Summarize: zod' }] };
const values = {
  a: textEvent('Hel'),
  b: textEvent('lo'),
  u: usageEvent({ prompt_tokens: 5, completion_tokens: 2 }),
  f: finishEvent('stop'),
  e: finishEvent('error'),
  x: textEvent('second choice', { choice: 1 }),
  g: finishEvent('stop', { choice: 1 }),
};

/** The subscription marble of a run that lasts the whole diagram: `--a|` gives `^--!`. */
function wholeRun(diagram: string): string {
  return `^${'-'.repeat(diagram.length - 2)}!`;
}

/** The events a hit of `request` replays (synchronously, from a synchronous store). */
function hitOf(llm: (request: LlmRequest) => Observable<LlmEvent>): LlmEvent[] {
  const events: LlmEvent[] = [];
  llm(request).subscribe((event) => events.push(event));
  return events;
}

/** A memory store that also records every call made to it. */
function spyStore(): CacheStore & { calls: string[] } {
  const inner = memoryCacheStore();
  const calls: string[] = [];
  return {
    calls,
    get: (key) => {
      calls.push('get');
      return inner.get(key);
    },
    set: (key, entry, ttl) => {
      calls.push('set');
      return inner.set(key, entry, ttl);
    },
    delete: (key) => {
      calls.push('delete');
      return inner.delete(key);
    },
    stats: () => inner.stats(),
  };
}

describe('cache', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('stores a complete answer and replays it instantly, with no upstream call, on a repeat', () => {
    const answers = cache({ scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--uf|     ', values);
      const upstreamSubs = '    ^---------!     ';
      const first = '           --a--b--uf|     ';
      const repeat = '          14ms ^          ';
      const replayed = '        14ms (abuf|)    ';

      const llm = answers(() => upstream);

      expectObservable(llm(request)).toBe(first, values);
      expectObservable(llm(request), repeat).toBe(replayed, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(answers.stats()).toMatchObject({ hits: 1, misses: 1, stored: 1, entries: 1, evictions: 0 });
    expect(answers.stats().bytes).toBe(JSON.stringify([values.a, values.b, values.u, values.f]).length);
  });

  it('replays at a pace on the scheduler when replayInterval is set', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-b-f|                ', values);
      const upstreamSubs = '    ^-----!                ';
      const repeat = '          7ms ^                  ';
      const replayed = '        7ms a 9ms b 9ms (f|)   ';

      const llm = cache({ replayInterval: 10, scheduler: testScheduler })(() => upstream);

      expectObservable(llm(request)).toBe('-a-b-f|', values);
      expectObservable(llm(request), repeat).toBe(replayed, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  describe('never stores an answer that is not complete and successful', () => {
    const cases: Record<string, { upstream: string; unsubscribe?: string; request?: LlmRequest }> = {
      'an error mid-stream': { upstream: '--a--#' },
      'a stream that completes without a finish event (partial)': { upstream: '--a--|' },
      'a cancelled stream (the caller unsubscribed)': { upstream: '--a--b--f|', unsubscribe: '^---!' },
      'a finish reason of "error"': { upstream: '--a--e|' },
      'n: 2 with only choice 0 finished': { upstream: '--a-x-f|', request: { ...request, n: 2 } },
      'a choice that streamed content but never finished': { upstream: '--a-x-f|' },
    };

    it.each(Object.entries(cases))('%s', (_name, { upstream: diagram, unsubscribe, request: asked = request }) => {
      const answers = cache({ scheduler: testScheduler });
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold(diagram, values, new Error('boom'));
        const later = '20ms ^';

        // The second request goes upstream again: nothing was served from the store.
        const upstreamSubs = [unsubscribe ?? wholeRun(diagram), `20ms ${wholeRun(diagram)}`];

        const llm = answers(() => upstream);

        expectObservable(llm(asked), unsubscribe).toBe(unsubscribe ? '--a-' : diagram, values, new Error('boom'));
        expectObservable(llm(asked), later).toBe(`20ms ${diagram}`, values, new Error('boom'));
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
      // Only the second, uncancelled run of the cancelled case completes whole and is stored.
      const stored = unsubscribe ? 1 : 0;
      expect(answers.stats()).toMatchObject({ hits: 0, misses: 2, stored, entries: stored });
    });
  });

  it('stores an n: 2 answer once both choices finished', () => {
    const answers = cache({ scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-x-f-g|     ', values);
      const upstreamSubs = '    ^-------!     ';

      const llm = answers(() => upstream);

      expectObservable(llm({ ...request, n: 2 })).toBe('-a-x-f-g|', values);
      expectObservable(llm({ ...request, n: 2 }), '10ms ^').toBe('10ms (axfg|)', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('serves an answer until its TTL passes (scheduler time), then asks upstream again', () => {
    const answers = cache({ ttl: 100, scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-f|       ', values);
      const upstreamSubs = ['   ^---!       ', '104ms ^---!'];
      // Stored at frame 4, so it expires at 104: frame 103 hits, frame 104 misses.
      const justBefore = '      103ms ^     ';
      const hit = '             103ms (af|) ';
      const atExpiry = '        104ms ^     ';
      const miss = '            104ms -a-f| ';

      const llm = answers(() => upstream);

      expectObservable(llm(request)).toBe('-a-f|', values);
      expectObservable(llm(request), justBefore).toBe(hit, values);
      expectObservable(llm(request), atExpiry).toBe(miss, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(answers.stats()).toMatchObject({ hits: 1, misses: 2, stored: 2 });
  });

  it('bounds the built-in store by entries, counting evictions', () => {
    const answers = cache({ maxEntries: 1, scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-f|            ', values);
      // The first answer is evicted by the second, so the third request goes upstream.
      const upstreamSubs = ['   ^---!            ', '6ms ^---!', '12ms ^---!'];

      const llm = answers(() => upstream);

      expectObservable(llm(request)).toBe('-a-f|', values);
      expectObservable(llm(other), '6ms ^').toBe('6ms -a-f|', values);
      expectObservable(llm(request), '12ms ^').toBe('12ms -a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(answers.stats()).toMatchObject({ hits: 0, misses: 3, stored: 3, entries: 1, evictions: 2 });
  });

  it('bounds the built-in store by bytes', () => {
    const answers = cache({ maxBytes: 200, scheduler: testScheduler });
    const long = textEvent('x'.repeat(100)); // ~175 bytes with its finish event: two don't fit in 200
    testScheduler.run(({ cold, expectObservable }) => {
      const llm = answers(() => cold('-l-f|', { l: long, f: values.f }));
      expectObservable(llm(request)).toBe('-l-f|', { l: long, f: values.f });
      expectObservable(llm(other)).toBe('-l-f|', { l: long, f: values.f });
    });
    expect(answers.stats()).toMatchObject({ entries: 1, evictions: 1 });
    expect(answers.stats().bytes).toBeLessThanOrEqual(200);
  });

  it('single flight: concurrent identical requests share one lookup, one upstream call and one write', () => {
    const store = spyStore();
    const answers = cache({ store, scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^--------!';
      const late = '            ---^      ';
      const expectedLate = '    ---a-b--f|';

      const llm = answers(() => upstream);

      expectObservable(llm(request)).toBe('--a--b--f|', values);
      expectObservable(llm(request), late).toBe(expectedLate, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(store.calls).toEqual(['get', 'set']);
    expect(answers.stats()).toMatchObject({ hits: 0, misses: 1, joined: 1, stored: 1 });
  });

  it('single flight with an async store: a request arriving during the lookup joins it', async () => {
    const inner = new Map<string, CacheEntry>();
    const gets: string[] = [];
    const asyncStore: CacheStore = {
      get: async (key) => (gets.push(key), inner.get(key)),
      set: async (key, entry) => void inner.set(key, entry),
      delete: async (key) => void inner.delete(key),
    };
    let upstreamCalls = 0;
    const answers = cache({ store: asyncStore });
    const llm = answers(() => (upstreamCalls++, of(textEvent('Hi'), finishEvent('stop'))));
    const both = await Promise.all([firstValueFrom(llm(request).pipe(toArray())), firstValueFrom(llm(request).pipe(toArray()))]);
    expect(both).toEqual([
      [textEvent('Hi'), finishEvent('stop')],
      [textEvent('Hi'), finishEvent('stop')],
    ]);
    expect(gets).toHaveLength(1);
    expect(upstreamCalls).toBe(1);
    expect(answers.stats()).toMatchObject({ misses: 1, joined: 1, stored: 1 });
  });

  it('with an async store, a caller that leaves during the lookup sends nothing upstream, and a transport that throws after the lookup errors the caller', async () => {
    const asyncStore: CacheStore = { get: async () => undefined, set: async () => undefined, delete: async () => undefined };
    let upstreamCalls = 0;
    const llm = cache({ store: asyncStore })(() => (upstreamCalls++, of(textEvent('Hi'), finishEvent('stop'))));
    llm(request).subscribe().unsubscribe();
    await new Promise((resolve) => setImmediate(resolve));
    expect(upstreamCalls).toBe(0);

    const throwing = cache({ store: asyncStore })(() => {
      throw new Error('no stream');
    });
    await expect(firstValueFrom(throwing(request))).rejects.toThrow('no stream');
  });

  it('unsubscribing every caller aborts the upstream and stores nothing', () => {
    const answers = cache({ scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^----!    ';

      const llm = answers(() => upstream);

      expectObservable(llm(request), '^--!').toBe('--a', values);
      expectObservable(llm(request), '^----!').toBe('--a--', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(answers.stats()).toMatchObject({ stored: 0, entries: 0 });
  });

  describe('with dedupe(), in either order, one upstream call and one write', () => {
    it.each([
      ['dedupe() first', 'dedupe-first'],
      ['cache() first', 'cache-first'],
    ])('%s', (_name, order) => {
      const store = spyStore();
      const answers = cache({ store, scheduler: testScheduler });
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const upstream = cold('   --a--b-----f|  ', values);
        const upstreamSubs = '    ^-----------!  ';
        const joinAt3 = '         ---^           ';
        const expectedAt3 = '     ---a-b-----f|  ';
        const joinAt6 = '         ------^        ';
        const expectedAt6 = '     ------(ab)-f|  ';
        const repeatAt15 = '      15ms ^         ';
        const replayed = '        15ms (abf|)    ';

        const llm =
          order === 'dedupe-first' ? withMiddleware(() => upstream, dedupe(), answers) : withMiddleware(() => upstream, answers, dedupe());

        expectObservable(llm(request)).toBe('--a--b-----f|', values);
        expectObservable(llm(request), joinAt3).toBe(expectedAt3, values);
        expectObservable(llm(request), joinAt6).toBe(expectedAt6, values);
        expectObservable(llm(request), repeatAt15).toBe(replayed, values);
        expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
      });
      expect(store.calls.filter((call) => call === 'set')).toEqual(['set']);
      // Either order: one lookup for the concurrent group (cache() shares its lookup too), one for the later repeat.
      expect(store.calls.filter((call) => call === 'get')).toHaveLength(2);
      expect(answers.stats()).toMatchObject({ hits: 1, misses: 1, stored: 1, joined: order === 'dedupe-first' ? 0 : 2 });
    });
  });

  it("keeps the context's scope attributes apart, also in a store two cache()s share", () => {
    const store = memoryCacheStore();
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-f|', values);
      const upstreamSubs = ['   ^---!', '6ms ^---!'];

      const one = cache({ store, scheduler: testScheduler })(() => upstream);
      const two = cache({ store, scheduler: testScheduler })(() => upstream);

      expectObservable(one(request, { attributes: { scope: 'acme' } })).toBe('-a-f|', values);
      expectObservable(two(request, { attributes: { scope: 'globex' } }), '6ms ^').toBe('6ms -a-f|', values);
      expectObservable(two(request, { attributes: { scope: 'acme' } }), '12ms ^').toBe('12ms (af|)', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(store.stats().entries).toBe(2);
  });

  it('ignores the rest of the context in its key: another lane, step or attribute is a hit, and the miss goes upstream with its context', () => {
    const contexts: (RequestContext | undefined)[] = [];
    const answers = cache({ scheduler: testScheduler });
    const first: RequestContext = { lane: 'interactive', step: 'summary', attributes: { user: 'u1' }, deadline: 50 };
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-f|', values);
      const llm = answers((_request, context) => (contexts.push(context), upstream));

      expectObservable(llm(request, first)).toBe('-a-f|', values);
      expectObservable(llm(request, { lane: 'background', step: 'other', attributes: { user: 'u2' } }), '6ms ^').toBe('6ms (af|)', values);
      expectObservable(llm(request), '7ms ^').toBe('7ms (af|)', values);
      expectSubscriptions(upstream.subscriptions).toBe('^---!');
    });
    expect(contexts).toEqual([first]);
    expect(contexts[0]).toBe(first);
    expect(answers.stats()).toMatchObject({ hits: 2, misses: 1 });
  });

  describe('store, delete and clear', () => {
    it('uses the store it was given, and makes the built-in one reachable', () => {
      const store = memoryCacheStore();
      expect(cache({ store }).store).toBe(store);
      const answers = cache({ maxEntries: 3 });
      answers(() => of(textEvent('Hi'), finishEvent('stop')))(request).subscribe();
      expect(answers.store.stats?.()).toMatchObject({ entries: 1 });
    });

    it('delete(request, context) forgets one answer, under the same key as a lookup (scope included)', async () => {
      let upstreamCalls = 0;
      const answers = cache();
      const llm = answers(() => (upstreamCalls++, of(textEvent('Hi'), finishEvent('stop'))));
      const ask = (asked: LlmRequest, context?: RequestContext) => firstValueFrom(llm(asked, context).pipe(toArray()));
      const acme: RequestContext = { lane: 'background', attributes: { scope: 'acme' } };

      await ask(request, acme);
      await ask(request);
      await ask(other, acme);
      expect(upstreamCalls).toBe(3);

      await answers.delete(request, { attributes: { scope: 'acme' } }); // another lane: the same key
      await ask(request);
      await ask(other, acme);
      expect(upstreamCalls).toBe(3); // the unscoped answer and the other request's are still there
      await ask(request, acme);
      expect(upstreamCalls).toBe(4);
      await expect(answers.delete({ model: 'm', messages: [] } as never)).rejects.toMatchObject({ code: 'invalid-request' });
    });

    it('clear() forgets every answer', async () => {
      let upstreamCalls = 0;
      const answers = cache();
      const llm = answers(() => (upstreamCalls++, of(textEvent('Hi'), finishEvent('stop'))));
      await firstValueFrom(llm(request).pipe(toArray()));
      await firstValueFrom(llm(other).pipe(toArray()));
      await answers.clear();
      expect(answers.stats()).toMatchObject({ entries: 0 });
      await firstValueFrom(llm(request).pipe(toArray()));
      await firstValueFrom(llm(other).pipe(toArray()));
      expect(upstreamCalls).toBe(4);
    });

    it('does not store an answer that was in flight when delete() or clear() ran, but still gives it to its callers', () => {
      for (const forget of [(answers: CacheMiddleware) => answers.delete(request), (answers: CacheMiddleware) => answers.clear()]) {
        testScheduler = createTestScheduler();
        const answers = cache({ scheduler: testScheduler });
        testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
          const upstream = cold('   --a--f|', values);
          const llm = answers(() => upstream);
          expectObservable(llm(request)).toBe('--a--f|', values);
          testScheduler.schedule(() => void forget(answers), 3);
          expectObservable(llm(request), '10ms ^').toBe('10ms --a--f|', values);
          expectSubscriptions(upstream.subscriptions).toBe(['^-----!', '10ms ^-----!']);
        });
        expect(answers.stats()).toMatchObject({ misses: 2, stored: 1 });
      }
    });

    it("clear() rejects with invalid-config when the store has no clear(), and still forgets this cache's pending writes", async () => {
      const store: CacheStore = { get: () => undefined, set: () => new Promise<void>(() => undefined), delete: () => undefined };
      let upstreamCalls = 0;
      const answers = cache({ store });
      const llm = answers(() => (upstreamCalls++, of(textEvent('Hi'), finishEvent('stop'))));
      await firstValueFrom(llm(request).pipe(toArray())); // its write never ends: served from the pending write
      await firstValueFrom(llm(request).pipe(toArray()));
      expect(upstreamCalls).toBe(1);
      await expect(answers.clear()).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringContaining('no clear()') });
      await firstValueFrom(llm(request).pipe(toArray()));
      expect(upstreamCalls).toBe(2);
    });

    it("delete() rejects with the store's error", async () => {
      const store: CacheStore = { get: () => undefined, set: () => undefined, delete: () => Promise.reject(new Error('store down')) };
      await expect(cache({ store }).delete(request)).rejects.toThrow('store down');
    });
  });

  it('caches sampled requests by default, and never with sampled: "bypass"', () => {
    const sampled: LlmRequest = { ...request, temperature: 0.9 };
    const sharing = cache({ scheduler: testScheduler });
    const bypassing = cache({ sampled: 'bypass', scheduler: testScheduler });
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const shared = cold('     -a-f|', values);
      const sharedSubs = '      ^---!';
      const bypassed = cold('   -a-f|', values);
      const bypassedSubs = ['   ^---!', '6ms ^---!'];
      const later = '6ms ^';

      const viaSharing = sharing(() => shared);
      const viaBypassing = bypassing(() => bypassed);

      expectObservable(viaSharing(sampled)).toBe('-a-f|', values);
      expectObservable(viaSharing(sampled), later).toBe('6ms (af|)', values);
      expectObservable(viaBypassing(sampled)).toBe('-a-f|', values);
      expectObservable(viaBypassing(sampled), later).toBe('6ms -a-f|', values);
      expectSubscriptions(shared.subscriptions).toBe(sharedSubs);
      expectSubscriptions(bypassed.subscriptions).toBe(bypassedSubs);
    });
    expect(bypassing.stats()).toMatchObject({ bypassed: 2, stored: 0 });
  });

  it('hands out frozen events on a hit, so one consumer cannot change what the next one sees', () => {
    const llm = cache()(() => of(textEvent('Hi'), finishEvent('stop')));
    llm(request).subscribe();
    const hit: LlmEvent[] = [];
    llm(request).subscribe((event) => hit.push(event));
    expect(hit).toEqual([textEvent('Hi'), finishEvent('stop')]);
    expect(Object.isFrozen(hit[0])).toBe(true);
    expect(() => {
      (hit[0] as { text: string }).text = 'changed';
    }).toThrow(TypeError);
  });

  it('stores exactly the answer streamed: equal frozen copies, bytes = the length of its JSON, later changes to the streamed events not seen', () => {
    // Every kind of event, escapes, a second choice, an event with a field of its own: the stored copy and its
    // byte count must be what a JSON round trip gives (the store may serialise it).
    const streamed: LlmEvent[] = [
      textEvent('say "hi"\\ \n\u0001 \ud83d\ude00 lone \ud800 é'),
      reasoningEvent('why', { choice: 1 }),
      refusalEvent(''),
      toolCallEvent({ callIndex: 0, id: 'call_1', name: 'f', arguments: '{"a":' }),
      toolCallEvent({ callIndex: 0, arguments: '1}' }),
      { ...textEvent('extra'), logprob: -0.5 } as LlmEvent,
      finishEvent('stop', { choice: 1 }),
      finishEvent('tool_calls'),
      usageEvent({ prompt_tokens: 5, completion_tokens: 7 }),
    ];
    const expected = JSON.parse(JSON.stringify(streamed)) as LlmEvent[];
    const store = memoryCacheStore();
    const llm = cache({ store })(() => of(...streamed));
    const seen: LlmEvent[] = [];
    llm(request).subscribe((event) => seen.push(event));
    expect(seen).toEqual(streamed);
    // The caller changes its own objects afterwards: the stored answer is a copy.
    (streamed[0] as { text: string }).text = 'changed';
    (streamed[8] as { usage: { completion_tokens: number } }).usage.completion_tokens = 0;

    expect(store.stats().entries).toBe(1);
    const stored = hitOf(llm);
    expect(stored).toEqual(expected);
    expect(store.stats().bytes).toBe(JSON.stringify(expected).length);
    for (const event of stored) expect(Object.isFrozen(event)).toBe(true);
    expect(Object.isFrozen((stored[8] as { usage: object }).usage)).toBe(true);
  });

  it('stores a 2,000-token answer whole, byte count included, and never a partial one', () => {
    const answer = [...Array.from({ length: 2000 }, (_, i) => textEvent(` w${i}`)), finishEvent('length'), usageEvent({ prompt_tokens: 5, completion_tokens: 2000 })];
    const store = memoryCacheStore();
    const answers = cache({ store });
    const partial = new Subject<LlmEvent>();
    // A partial stream of the same request (an error after 1,999 events) stores nothing.
    answers(() => partial)(request).subscribe({ error: () => undefined });
    for (const event of answer.slice(0, 1999)) partial.next(event);
    partial.error(new Error('cut'));
    expect(store.stats().entries).toBe(0);
    const llm = answers(() => of(...answer));
    llm(request).subscribe();
    expect(hitOf(llm)).toEqual(answer);
    expect(store.stats()).toMatchObject({ entries: 1, bytes: JSON.stringify(answer).length });
  });

  it('leaves the events a miss streamed to its caller unfrozen', () => {
    const llm = cache()(() => of(textEvent('Hi'), finishEvent('stop')));
    const streamed: LlmEvent[] = [];
    llm(request).subscribe((event) => streamed.push(event));
    expect(Object.isFrozen(streamed[0])).toBe(false);
  });

  it('works with an async (Promise) store, like Redis', async () => {
    const inner = new Map<string, CacheEntry>();
    const calls: string[] = [];
    const asyncStore: CacheStore = {
      get: async (key) => (calls.push('get'), inner.get(key)),
      set: async (key, entry) => {
        calls.push('set');
        inner.set(key, entry);
      },
      delete: async (key) => {
        inner.delete(key);
      },
    };
    let upstreamCalls = 0;
    const answers = cache({ store: asyncStore });
    const llm = answers(() => {
      upstreamCalls++;
      return of(textEvent('Hi'), finishEvent('stop'));
    });

    expect(await firstValueFrom(llm(request).pipe(toArray()))).toEqual([textEvent('Hi'), finishEvent('stop')]);
    expect(await firstValueFrom(llm(request).pipe(toArray()))).toEqual([textEvent('Hi'), finishEvent('stop')]);
    expect(upstreamCalls).toBe(1);
    expect(calls).toEqual(['get', 'set', 'get']);
    expect(answers.stats()).toEqual({ hits: 1, misses: 1, joined: 0, bypassed: 0, stored: 1, storeErrors: 0 });
  });

  it('cache() first with an async store: concurrent callers still make one upstream call and one write', async () => {
    const inner = new Map<string, CacheEntry>();
    let sets = 0;
    const asyncStore: CacheStore = {
      get: async (key) => inner.get(key),
      set: async (key, entry) => {
        sets++;
        inner.set(key, entry);
      },
      delete: async () => undefined,
    };
    let upstreamCalls = 0;
    const release = new Subject<LlmEvent>();
    const llm = withMiddleware(
      () => {
        upstreamCalls++;
        return release;
      },
      cache({ store: asyncStore }),
      dedupe(),
    );
    const answers = Promise.all(Array.from({ length: 5 }, () => firstValueFrom(llm(request).pipe(toArray()))));
    await new Promise((resolve) => setImmediate(resolve));
    release.next(textEvent('Hi'));
    release.next(finishEvent('stop'));
    release.complete();
    expect(await answers).toEqual(Array.from({ length: 5 }, () => [textEvent('Hi'), finishEvent('stop')]));
    expect(upstreamCalls).toBe(1);
    expect(sets).toBe(1);
  });

  it('answers a repeat from memory while an async store is still writing', async () => {
    let finishWrite: () => void = () => undefined;
    const asyncStore: CacheStore = {
      get: async () => undefined,
      set: () => new Promise<void>((resolve) => (finishWrite = resolve)),
      delete: async () => undefined,
    };
    let upstreamCalls = 0;
    const answers = cache({ store: asyncStore });
    const llm = answers(() => {
      upstreamCalls++;
      return of(textEvent('Hi'), finishEvent('stop'));
    });
    await firstValueFrom(llm(request).pipe(toArray()));
    expect(await firstValueFrom(llm(request).pipe(toArray()))).toEqual([textEvent('Hi'), finishEvent('stop')]);
    expect(upstreamCalls).toBe(1);
    finishWrite();
    await new Promise((resolve) => setImmediate(resolve));
    expect(answers.stats()).toMatchObject({ hits: 1, stored: 1 });
  });

  it('a failing store never fails a request: lookups become misses, failed writes are counted', async () => {
    const broken: CacheStore = {
      get: () => Promise.reject(new Error('store down')),
      set: () => {
        throw new Error('store down');
      },
      delete: () => Promise.reject(new Error('store down')),
    };
    const answers = cache({ store: broken });
    const llm = answers(() => of(textEvent('Hi'), finishEvent('stop')));
    expect(await firstValueFrom(llm(request).pipe(toArray()))).toEqual([textEvent('Hi'), finishEvent('stop')]);
    expect(await firstValueFrom(llm(request).pipe(toArray()))).toEqual([textEvent('Hi'), finishEvent('stop')]);
    expect(answers.stats()).toMatchObject({ hits: 0, misses: 2, stored: 0, storeErrors: 4 });
  });

  it('does not serve an expired entry from a store that kept it, and deletes it', () => {
    const store = spyStore();
    testScheduler.run(({ cold, expectObservable }) => {
      const llm = cache({ ttl: 10, store, scheduler: testScheduler })(() => cold('-a-f|', values));
      expectObservable(llm(request)).toBe('-a-f|', values);
      expectObservable(llm(request), '14ms ^').toBe('14ms -a-f|', values);
    });
    expect(store.calls).toEqual(['get', 'set', 'get', 'delete', 'set']);
  });

  it('is cold: nothing is looked up or sent before subscribe', () => {
    const store = spyStore();
    let upstreamCalls = 0;
    const llm = cache({ store })(() => {
      upstreamCalls++;
      return new Observable<LlmEvent>();
    });
    llm(request);
    expect(store.calls).toEqual([]);
    expect(upstreamCalls).toBe(0);
  });

  it('rejects bad options with invalid-config', () => {
    const invalid = expect.objectContaining({ code: 'invalid-config' });
    expect(() => cache({ ttl: 0 })).toThrow(invalid);
    expect(() => cache({ ttl: -5 })).toThrow(/ttl/);
    expect(() => cache({ replayInterval: -1 })).toThrow(/replayInterval/);
    expect(() => cache({ store: {} as never })).toThrow(/CacheStore/);
    expect(() => cache({ store: memoryCacheStore(), maxEntries: 5 })).toThrow(/bound it yourself/);
    expect(() => cache({ sampled: 'never' as never })).toThrow(invalid);
    expect(() => cache({ ttls: 5 } as never)).toThrow(/ttls/);
    // The scope comes from the request context's scope attribute now.
    expect(() => cache({ scope: 'acme' } as never)).toThrow(/scope/);
    // cache() runs timers on its scheduler (the replay pace), so a clock with only now() is not enough.
    expect(() => cache({ scheduler: { now: () => 0 } as never })).toThrow(/SchedulerLike/);
  });
});

describe('cache against the simulator server, over real sockets', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    server = await startSimulatorServer({ seed: 3 });
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers a repeat from memory: one HTTP request, the same events', async () => {
    const llm = withMiddleware(
      sseTransport({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=50,tokens=30,tps=1000,tail_p=0' } }),
      dedupe(),
      cache(),
    );
    const asked: LlmRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Extract 5 keywords: rxjs streams' }], temperature: 0 };

    const streamed = await lastValueFrom(llm(asked).pipe(toArray()));
    const replayed = await lastValueFrom(llm(asked).pipe(toArray()));

    expect(server.stats()).toMatchObject({ requests: 1, completed: 1 });
    expect(replayed).toEqual(streamed);
    expect(streamed.at(-1)?.type === 'finish' || streamed.at(-1)?.type === 'usage').toBe(true);
  });
});
