import { forkJoin, lastValueFrom, mergeMap, type Observable, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { isRxllmError, RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { RequestContext } from '../../src/core/context';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { batch } from '../../src/middleware/batch';
import { limit } from '../../src/middleware/limit';
import { type SimulatorServer, startSimulatorServer } from '../../src/node/simulatorServer';
import { text } from '../../src/operators/text';
import { sseTransport } from '../../src/transport/sse';
import { finishEvent, textEvent } from '../../src/testing/events';
import { type Script, type TokenScript } from '../../src/testing/script';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { createTestScheduler } from '../helpers/marbles';

const system = { role: 'system' as const, content: 'Classify the sentiment: positive or negative.' };
const bg = (text: string): LlmRequest => ({ model: 'm', messages: [system, { role: 'user', content: text }], temperature: 0 });
const background: RequestContext = { lane: 'background' };
const interactive = (ms: number): LlmRequest => ({ model: 'm', messages: [{ role: 'user', content: `hold ${ms}` }] });
const at = (ms: number, source: Observable<LlmEvent>) => timer(ms).pipe(mergeMap(() => source));
const said = (text: string, ms: number): TokenScript => [
  { at: ms, text },
  { at: ms, finish: 'stop' },
];
/** The transport, recording the context of every request sent through it. */
function recordingContexts(upstream: Transport): { transport: Transport; contexts: (RequestContext | undefined)[] } {
  const contexts: (RequestContext | undefined)[] = [];
  return {
    contexts,
    transport: (request, context) => {
      contexts.push(context);
      return upstream(request, context);
    },
  };
}
const lastPrompt = (request: LlmRequest) => request.messages.at(-1)!.content as string;
const isPacked = (request: LlmRequest) => request.response_format !== undefined;

/**
 * Interactive requests hold for the ms in their prompt; a lone background prompt answers `alone:<prompt>` at 40;
 * a packed one answers with `packedAnswer(prompts)` at 50.
 */
function upstreamWith(packedAnswer: (prompts: string[]) => Script = (prompts) => said(JSON.stringify({ answers: prompts.map((p) => `packed:${p}`) }), 50)) {
  return scriptedTransport((request) => {
    const prompt = lastPrompt(request);
    if (prompt.startsWith('hold ')) return said('ok', Number(prompt.slice(5)));
    if (!isPacked(request)) return said(`alone:${prompt}`, 40);
    return packedAnswer([...prompt.matchAll(/<prompt \d+>\n(.*)\n<\/prompt/g)].map((m) => m[1]!));
  });
}

const v = {
  f: finishEvent('stop'),
  o: textEvent('ok'),
  p: textEvent('packed:p'),
  q: textEvent('packed:q'),
  r: textEvent('packed:r'),
  P: textEvent('alone:p'),
  Q: textEvent('alone:q'),
};

describe('batch', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('under low load sends a background request at once, unchanged, with its own context', () => {
    const upstream = upstreamWith();
    const { transport, contexts } = recordingContexts(upstream);
    const batcher = batch({ threshold: 1 });
    const context: RequestContext = { lane: 'background', step: 'classify', deadline: 900 };
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(transport, batcher);
      expectObservable(llm(bg('p'), context)).toBe('40ms (Pf|)', v);
      expectSubscriptions(upstream.subscriptions).toBe('^ 39ms !');
    });
    expect(upstream.requests[0]!.request).toEqual({ model: 'm', messages: [system, { role: 'user', content: 'p' }], temperature: 0 });
    expect(contexts[0]).toBe(context);
    expect(batcher.stats()).toMatchObject({ batches: 0, sentAlone: 1 });
  });

  it('under load packs background requests into one request and splits the answer back, each caller its own', () => {
    const upstream = upstreamWith();
    const batcher = batch({ threshold: 1, stepMs: 25 });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const xSubs = '     ^ 999ms !      ';
      const packedSubs = '26ms ^ 49ms !     '; // window 25 ms from the first item (frame 1), answer 50 ms later
      const p = '         76ms (pf|)     ';
      const q = '         76ms (qf|)     ';

      const llm = withMiddleware(upstream, batcher);

      expectObservable(llm(interactive(1000))).toBe('1000ms (of|)', v); // load 1: at the threshold
      expectObservable(at(1, llm(bg('p'), background))).toBe(p, v);
      expectObservable(at(3, llm(bg('q'), background))).toBe(q, v);
      expectSubscriptions(upstream.subscriptions).toBe([xSubs, packedSubs]);
    });
    expect(upstream.requests).toHaveLength(2);
    const packed = upstream.requests[1]!.request;
    expect(packed.messages[0]).toEqual(system);
    expect(lastPrompt(packed)).toContain('<prompt 1>\np\n</prompt 1>\n\n<prompt 2>\nq\n</prompt 2>');
    expect(JSON.stringify(packed)).not.toContain('background');
    expect(batcher.stats()).toMatchObject({ batches: 1, batchedItems: 2, sentAlone: 0, passedThrough: 1 });
  });

  it('grows the window with load and shrinks it as load falls', () => {
    const sentAt = (finishFirstAt: number) => {
      const upstream = upstreamWith();
      testScheduler = createTestScheduler();
      testScheduler.run(({ expectObservable }) => {
        const llm = withMiddleware(upstream, batch({ threshold: 1, stepMs: 25, maxWaitMs: 1000 }));
        expectObservable(llm(interactive(finishFirstAt)));
        expectObservable(llm(interactive(2000)));
        expectObservable(llm(interactive(2000))); // load 3: window 75 ms
        expectObservable(llm(bg('p'), background));
        expectObservable(llm(bg('q'), background));
      });
      return upstream.requests.find((r) => isPacked(r.request))?.subscribedAt;
    };
    expect(sentAt(2000)).toBe(75); // load stays 3
    expect(sentAt(30)).toBe(50); // load falls to 2 at 30: the window becomes 50 ms
    expect(sentAt(60)).toBe(60); // at 60 the 50 ms window has already passed: sent at once
  });

  it('caps the window at maxWaitMs and sends a full batch at once', () => {
    const upstream = upstreamWith();
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, batch({ threshold: 0, stepMs: 100, maxWaitMs: 30, maxBatchSize: 3 }));
      for (const prompt of ['a', 'b', 'c', 'd']) expectObservable(at(prompt === 'd' ? 5 : 0, llm(bg(prompt), background)));
    });
    expect(upstream.requests.map((r) => [r.subscribedAt, isPacked(r.request) ? 'packed' : lastPrompt(r.request)])).toEqual([
      [0, 'packed'], // a, b, c: full
      [35, 'd'], // d alone: opened at 5, window capped at 30, a batch of one goes out as the original
    ]);
  });

  it('removes a caller that unsubscribes from a batch not yet sent; a batch left with one goes out as the original', () => {
    const upstream = upstreamWith();
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(upstream, batch({ threshold: 0, stepMs: 50 }));
      expectObservable(llm(bg('p'), background)).toBe('90ms (Pf|)', v); // sent alone at 50, answered 40 ms later
      expectObservable(llm(bg('q'), background), '^ 9ms !').toBe('');
      expectSubscriptions(upstream.subscriptions).toBe('50ms ^ 39ms !');
    });
    expect(lastPrompt(upstream.requests[0]!.request)).toBe('p');
  });

  it('aborts a sent packed request only when its last caller leaves', () => {
    const upstream = upstreamWith();
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const llm = withMiddleware(upstream, batch({ threshold: 0, stepMs: 10 }));
      expectObservable(llm(bg('p'), background), '^ 19ms !').toBe('');
      expectObservable(llm(bg('q'), background), '^ 29ms !').toBe('');
      expectObservable(llm(bg('r'), background)).toBe('60ms (rf|)', v);
      expectObservable(at(100, llm(bg('p'), background)), '^ 119ms !').toBe('');
      expectObservable(at(100, llm(bg('q'), background)), '^ 119ms !').toBe('');
      expectSubscriptions(upstream.subscriptions).toBe(['10ms ^ 49ms !', '110ms ^ 9ms !']);
    });
  });

  it('falls back to each request alone when the packed answer is invalid, has the wrong count or is cut short', () => {
    const bad: Script[] = [
      said('not json', 50),
      said(JSON.stringify({ answers: ['only one'] }), 50),
      [{ at: 50, text: JSON.stringify({ answers: ['x', 'y'] }) }, { at: 50, finish: 'length' }],
    ];
    for (const script of bad) {
      const upstream = upstreamWith(() => script);
      const batcher = batch({ threshold: 0, stepMs: 10 });
      testScheduler = createTestScheduler();
      testScheduler.run(({ expectObservable, expectSubscriptions }) => {
        const llm = withMiddleware(upstream, batcher);
        expectObservable(llm(bg('p'), background)).toBe('100ms (Pf|)', v);
        expectObservable(llm(bg('q'), background)).toBe('100ms (Qf|)', v);
        expectSubscriptions(upstream.subscriptions).toBe(['10ms ^ 49ms !', '60ms ^ 39ms !', '60ms ^ 39ms !']);
      });
      expect(batcher.stats()).toMatchObject({ batches: 1, batchedItems: 0, fallbacks: 2 });
    }
  });

  it("sends the packed request's error to each of its callers", () => {
    const upstream = upstreamWith(() => [{ at: 20, error: 'rate-limited', details: { retryAfterMs: 1000 } }]);
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, batch({ threshold: 0, stepMs: 10 }));
      const error = expect.objectContaining({ code: 'rate-limited', retryAfterMs: 1000 });
      expectObservable(llm(bg('p'), background)).toBe('30ms #', undefined, error);
      expectObservable(llm(bg('q'), background)).toBe('30ms #', undefined, error);
    });
    expect(upstream.requests).toHaveLength(1);
  });

  it('passes through what cannot be packed: other lanes, tools, JSON formats, other system prompts', () => {
    const upstream = upstreamWith();
    const batcher = batch({ threshold: 0, stepMs: 10 });
    const withTools: LlmRequest = { ...bg('t'), tools: [{ type: 'function', function: { name: 'f' } }] };
    const otherSystem: LlmRequest = { ...bg('s'), messages: [{ role: 'system', content: 'Other.' }, { role: 'user', content: 's' }] };
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, batcher);
      for (const request of [withTools, bg('p'), otherSystem]) expectObservable(llm(request, background));
      expectObservable(llm(interactive(5), { lane: 'interactive' }));
    });
    expect(upstream.requests.map((r) => [r.subscribedAt, lastPrompt(r.request)])).toEqual([
      [0, 't'],
      [0, 'hold 5'],
      // Each waits alone in its own batch (the system prompts differ) for a window that follows the load
      // (stepMs × (load + 1) with threshold 0): p at 20 (t in flight once hold 5 ended), s at 30 (t and p in flight).
      [20, 'p'],
      [30, 's'],
    ]);
    expect(batcher.stats()).toMatchObject({ passedThrough: 2, batches: 0, sentAlone: 2 });
  });

  it('counts extra load from `load()`', () => {
    const upstream = upstreamWith();
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, batch({ threshold: 5, stepMs: 10, load: () => 5 }));
      expectObservable(llm(bg('p'), background));
      expectObservable(llm(bg('q'), background));
    });
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]).toMatchObject({ subscribedAt: 10 });
  });

  it('packs only requests of the same lane, step and scope attribute', () => {
    const upstream = upstreamWith();
    const batcher = batch({ threshold: 0, stepMs: 10, lanes: ['background', 'bulk'] });
    const contexts: RequestContext[] = [
      { lane: 'background', step: 'classify', attributes: { scope: 'acme', run: '1' } },
      { lane: 'background', step: 'classify', attributes: { scope: 'acme', run: '2' } }, // packed with the first: only a non-scope attribute differs
      { lane: 'bulk', step: 'classify', attributes: { scope: 'acme' } },
      { lane: 'background', step: 'tag', attributes: { scope: 'acme' } },
      { lane: 'background', step: 'classify', attributes: { scope: 'globex' } },
    ];
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(upstream, batcher);
      contexts.forEach((context, index) => expectObservable(llm(bg(`p${index}`), context)));
    });
    expect(upstream.requests.map((r) => (isPacked(r.request) ? 'packed' : lastPrompt(r.request)))).toEqual(['packed', 'p2', 'p3', 'p4']);
    expect(batcher.stats()).toMatchObject({ batches: 1, batchedItems: 2, sentAlone: 3 });
  });

  it("gives a packed request its items' lane, step and shared attributes, the latest deadline, and an onServed that tells each item", () => {
    const upstream = upstreamWith();
    const { transport, contexts } = recordingContexts(upstream);
    const told: string[] = [];
    const item = (run: string, deadline: number): RequestContext => ({
      lane: 'background',
      step: 'classify',
      attributes: { scope: 'acme', run },
      deadline,
      onServed: ({ model }) => told.push(`${run}:${model}`),
    });
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(transport, batch({ threshold: 0, stepMs: 10 }));
      expectObservable(llm(bg('p'), item('1', 500)));
      expectObservable(llm(bg('q'), item('2', 800)));
    });
    expect(contexts).toHaveLength(1);
    const packed = contexts[0]!;
    expect(packed).toEqual({ lane: 'background', step: 'classify', attributes: { scope: 'acme' }, deadline: 800, onServed: expect.any(Function) });
    packed.onServed!({ model: 'm', by: 'fallback' });
    expect(told).toEqual(['1:m', '2:m']);
  });

  it('gives a packed request no deadline when one of its items has none', () => {
    const upstream = upstreamWith();
    const { transport, contexts } = recordingContexts(upstream);
    testScheduler.run(({ expectObservable }) => {
      const llm = withMiddleware(transport, batch({ threshold: 0, stepMs: 10 }));
      expectObservable(llm(bg('p'), { lane: 'background', deadline: 500 }));
      expectObservable(llm(bg('q'), background));
    });
    expect(contexts).toEqual([{ lane: 'background' }]);
  });

  it.each([[{ threshold: -1 }, 'threshold'], [{ maxBatchSize: 1 }, 'maxBatchSize'], [{ stepMs: 0 }, 'stepMs'], [{ size: 3 }, undefined]])(
    'rejects bad options %j with invalid-config',
    (config, path) => {
      let error: unknown;
      try {
        batch(config as never);
      } catch (thrown) {
        error = thrown;
      }
      expect(isRxllmError(error) && error.code).toBe('invalid-config');
      expect((error as RxllmError).path).toBe(path);
    },
  );
});

describe('batch on the simulator server', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    server = await startSimulatorServer({ seed: 3 });
  });
  afterAll(() => server.close());

  it('answers 12 background classifications with 3 packed upstream calls while an interactive request holds the load', async () => {
    const limiter = limit({ concurrency: 2 });
    const llm = withMiddleware(
      sseTransport({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=30,tps=2000,tail_p=0' } }),
      batch({ threshold: 1, stepMs: 50, maxBatchSize: 4 }),
      limiter,
    );
    server.resetStats();
    const reviews = Array.from({ length: 12 }, (_, i) => `Review ${i}: ${i % 2 ? 'I love it' : 'Broken on arrival'}`);
    const [held, labels] = await lastValueFrom(
      forkJoin([llm({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hi' }] }).pipe(text()), forkJoin(reviews.map((r) => llm(bg(r), background).pipe(text())))]),
    );
    expect(typeof held).toBe('string');
    expect(labels).toHaveLength(12);
    for (const label of labels) expect(typeof label).toBe('string');
    const stats = server.stats();
    expect(stats).toMatchObject({ requests: 4, completed: 4, failed: 0, aborts: 0 });
    expect(stats.peakInFlight).toBeLessThanOrEqual(2);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});
