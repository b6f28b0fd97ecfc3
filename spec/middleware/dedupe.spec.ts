import { firstValueFrom, forkJoin, lastValueFrom, mergeMap, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { requestKey } from '../../src/core/requestKey';
import { dedupe } from '../../src/middleware/dedupe';
import { type SimulatorServer, startSimulatorServer } from '../../src/node/simulatorServer';
import { result } from '../../src/operators/result';
import { tokens } from '../../src/operators/tokens';
import { parallel } from '../../src/pipeline/parallel';
import { step } from '../../src/pipeline/step';
import { sseTransport } from '../../src/transport/sse';
import { finishEvent, textEvent } from '../../src/testing/events';
import { createTestScheduler } from '../helpers/marbles';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'Summarize: rxjs' }], temperature: 0 };
const other: LlmRequest = { ...request, messages: [{ role: 'user', content: 'Summarize: zod' }] };
const values = { a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent('stop') };

describe('dedupe', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  /** A transport that answers every request with `upstream`, counting calls. */
  function fakeTransport(upstream: (request: LlmRequest) => Observable<LlmEvent>): Transport & { calls: LlmRequest[] } {
    const calls: LlmRequest[] = [];
    return Object.assign((req: LlmRequest) => {
      calls.push(req);
      return upstream(req);
    }, { calls });
  }

  it('shares one upstream call between identical overlapping requests; a late joiner gets the replay, then live', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^--------!';
      const callerA = hot('     x|        ');
      const expectedA = '       --a--b--f|';
      const callerB = hot('     ----x|    ');
      const expectedB = '       ----ab--f|';

      const llm = dedupe()(() => upstream);

      expectObservable(callerA.pipe(mergeMap(() => llm(request))), undefined).toBe(expectedA, values);
      expectObservable(callerB.pipe(mergeMap(() => llm({ ...request }))), undefined).toBe(expectedB, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('aborts the upstream only when the last caller leaves; an early leaver does not disturb the others', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^------!  ';
      const leaverA = '         ^---!     ';
      const expectedA = '       --a--     ';
      const leaverB = '         ^------!  ';
      const expectedB = '       --a--b--  ';

      const llm = dedupe()(() => upstream);

      expectObservable(llm(request), leaverA).toBe(expectedA, values);
      expectObservable(llm(request), leaverB).toBe(expectedB, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('a caller who stays gets the whole answer after another leaves', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--b--f|', values);
      const upstreamSubs = '    ^--------!';
      const leaver = '          ^--!      ';
      const expectedLeaver = '  --a       ';
      const expectedStayer = '  --a--b--f|';

      const llm = dedupe()(() => upstream);

      expectObservable(llm(request), leaver).toBe(expectedLeaver, values);
      expectObservable(llm(request)).toBe(expectedStayer, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('sends an error to every current caller, and the next identical request starts a fresh call', () => {
    const error = new Error('upstream failed');
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a--#              ', values, error);
      const upstreamSubs = [
        '                       ^----!              ',
        '                       ------^----!        ',
      ];
      const callerA = hot('     x|                  ');
      const expectedA = '       --a--#              ';
      const callerB = hot('     --x|                ');
      const expectedB = '       --a--#              ';
      const callerC = hot('     ------x|            ');
      const expectedC = '       --------a--#        ';

      const llm = dedupe()(() => upstream);
      const send = () => llm(request);

      expectObservable(callerA.pipe(mergeMap(send))).toBe(expectedA, values, error);
      expectObservable(callerB.pipe(mergeMap(send))).toBe(expectedB, values, error);
      expectObservable(callerC.pipe(mergeMap(send))).toBe(expectedC, values, error);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('forgets a finished call: the same request afterwards goes upstream again', () => {
    testScheduler.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   -a-f|        ', values);
      const upstreamSubs = ['   ^---!        ', '     ------^---!  '];
      const callers = hot('     x-----x|     ');
      const expected = '        -a-f---a-f|  ';

      const llm = dedupe()(() => upstream);

      expectObservable(callers.pipe(mergeMap(() => llm(request)))).toBe(expected, values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('does not share different requests', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold('   --a-f|', values);
      const firstSubs = '    ^----!';
      const second = cold('  --b-f|', values);
      const secondSubs = '   ^----!';

      const llm = dedupe()((req) => (req === request ? first : second));

      expectObservable(llm(request)).toBe('--a-f|', values);
      expectObservable(llm(other)).toBe('--b-f|', values);
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
    });
  });

  it('does not share across the transports one dedupe() wraps (each is its own endpoint and credential)', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('  --a-f|', values);
      const upstreamSubs = ['  ^----!', '^----!'];

      const shared = dedupe();
      const viaFirst = shared(() => upstream);
      const viaSecond = shared(() => upstream);

      expectObservable(viaFirst(request)).toBe('--a-f|', values);
      expectObservable(viaSecond(request)).toBe('--a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('shares sampled requests by default (documented), and sends each on its own with sampled: "bypass"', () => {
    const sampled: LlmRequest = { ...request, temperature: 0.8 };
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const shared = cold('     --a-f|', values);
      const sharedSubs = '      ^----!';
      const bypassed = cold('   --b-f|', values);
      const bypassedSubs = ['   ^----!', '^----!'];

      const byDefault = dedupe()(() => shared);
      const bypassing = dedupe({ sampled: 'bypass' })(() => bypassed);

      expectObservable(byDefault(sampled)).toBe('--a-f|', values);
      expectObservable(byDefault(sampled)).toBe('--a-f|', values);
      expectObservable(bypassing(sampled)).toBe('--b-f|', values);
      expectObservable(bypassing(sampled)).toBe('--b-f|', values);
      expectSubscriptions(shared.subscriptions).toBe(sharedSubs);
      expectSubscriptions(bypassed.subscriptions).toBe(bypassedSubs);
    });
  });

  it('with sampled: "bypass" still shares deterministic requests', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a-f|', values);
      const upstreamSubs = '    ^----!';

      const llm = dedupe({ sampled: 'bypass' })(() => upstream);

      expectObservable(llm(request)).toBe('--a-f|', values);
      expectObservable(llm(request)).toBe('--a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('uses a custom key when given one, with the scope of the context', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a-f|', values);
      const upstreamSubs = ['   ^----!', '^----!'];

      // Share across end users deliberately: drop `user` from the key, but keep tenants apart.
      const llm = dedupe({ key: (req, scope) => requestKey({ ...req, user: undefined }, scope) })(() => upstream);
      const acme: RequestContext = { attributes: { scope: 'acme' } };

      expectObservable(llm({ ...request, user: 'alice' }, acme)).toBe('--a-f|', values);
      expectObservable(llm({ ...request, user: 'bob' }, acme)).toBe('--a-f|', values);
      expectObservable(llm({ ...request, user: 'carol' }, { attributes: { scope: 'globex' } })).toBe('--a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it("shares across steps and lanes but never across scopes; the shared call goes with its first caller's context", () => {
    const contexts: (RequestContext | undefined)[] = [];
    const first: RequestContext = { step: 'summary', lane: 'interactive', attributes: { scope: 'acme', run: '1' }, deadline: 100 };
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a-f|', values);
      const upstreamSubs = ['   ^----!', '^----!'];

      const llm = dedupe()((_request, context) => {
        contexts.push(context);
        return upstream;
      });

      expectObservable(llm(request, first)).toBe('--a-f|', values);
      expectObservable(llm(request, { step: 'other', lane: 'background', attributes: { scope: 'acme', run: '2' } })).toBe('--a-f|', values);
      expectObservable(llm(request, { lane: 'background', attributes: { scope: 'globex' } })).toBe('--a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
    expect(contexts).toEqual([first, { lane: 'background', attributes: { scope: 'globex' } }]);
    expect(contexts[0]).toBe(first);
  });

  it('keeps end users apart by default (`user` is part of the key)', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold('   --a-f|', values);
      const upstreamSubs = ['   ^----!', '^----!'];

      const llm = dedupe()(() => upstream);

      expectObservable(llm({ ...request, user: 'alice' })).toBe('--a-f|', values);
      expectObservable(llm({ ...request, user: 'bob' })).toBe('--a-f|', values);
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('is cold: nothing is sent before subscribe', () => {
    const transport = fakeTransport(() => testScheduler.createColdObservable('-f|', values));
    const llm = dedupe()(transport);
    llm(request);
    llm(request);
    expect(transport.calls).toHaveLength(0);
  });

  it('counts requests, upstream calls, joins, bypasses and calls in flight', () => {
    const middleware = dedupe({ sampled: 'bypass' });
    testScheduler.run(({ cold, expectObservable }) => {
      const llm = middleware(() => cold('--a-f|', values));
      expectObservable(llm(request)).toBe('--a-f|', values);
      expectObservable(llm(request)).toBe('--a-f|', values);
      expectObservable(llm(other)).toBe('--a-f|', values);
      expectObservable(llm({ ...request, temperature: 1 })).toBe('--a-f|', values);
    });
    expect(middleware.stats()).toEqual({ requests: 4, upstream: 2, joined: 1, bypassed: 1, inFlight: 0 });

    const running = middleware(() => testScheduler.createColdObservable('--a-f|', values))(request).subscribe();
    expect(middleware.stats().inFlight).toBe(1);
    running.unsubscribe();
    expect(middleware.stats().inFlight).toBe(0);
  });

  it('errors the caller (invalid-request) when a request has no JSON form, and sends nothing', () => {
    const transport = fakeTransport(() => testScheduler.createColdObservable('-f|', values));
    const circular = { ...request } as Record<string, unknown>;
    circular.self = circular;
    const errors: unknown[] = [];
    dedupe()(transport)(circular as LlmRequest).subscribe({ error: (error: unknown) => errors.push(error) });
    expect(errors).toEqual([expect.objectContaining({ code: 'invalid-request' })]);
    expect(transport.calls).toHaveLength(0);
  });

  it('rejects bad options with invalid-config', () => {
    expect(() => dedupe({ sampled: 'sometimes' as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => dedupe({ scope: 'a' } as never)).toThrow(/scope/);
    expect(() => dedupe({ key: 'not a function' as never })).toThrow(/key/);
  });
});

describe('dedupe against the simulator server, over real sockets', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    server = await startSimulatorServer({ seed: 5 });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => server.resetStats());

  // Fast and steady: 100 ms to the first token, 20 tokens at 1,000/s, no heavy tail.
  const transport = () => sseTransport({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=100,tokens=20,tps=1000,tail_p=0' } });
  const ask = (content: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], temperature: 0 });

  it('1,000 concurrent identical requests make exactly one upstream request, and all get the whole answer', async () => {
    const llm = withMiddleware(transport(), dedupe());
    const request = ask('Summarize in one sentence: RxJS makes streams composable.');

    const answers = await Promise.all(Array.from({ length: 1000 }, () => lastValueFrom(llm(request).pipe(result()))));

    expect(server.stats()).toMatchObject({ requests: 1, completed: 1, aborts: 0 });
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    expect(answers[0]!.text.length).toBeGreaterThan(0);
    expect(answers.every((answer) => answer.finishReason === 'stop')).toBe(true);
  });

  it('without dedupe, the same burst (20 requests) makes 20 upstream requests', async () => {
    const llm = transport();
    const request = ask('Summarize in one sentence: RxJS makes streams composable.');
    await Promise.all(Array.from({ length: 20 }, () => lastValueFrom(llm(request).pipe(result()))));
    expect(server.stats()).toMatchObject({ requests: 20, completed: 20 });
  });

  it('aborts the one shared upstream request once the last of many callers has left', async () => {
    const llm = withMiddleware(
      sseTransport({ baseURL: server.baseURL, headers: { 'x-rxllm-sim': 'ttft=20,tokens=200,tps=50,tail_p=0' } }),
      dedupe(),
    );
    const request = ask('Write a long story.');
    const firstTokens = Array.from({ length: 10 }, () => firstValueFrom(llm(request).pipe(tokens())));
    // Each firstValueFrom unsubscribes after its first token; the shared request is then aborted once.
    await Promise.all(firstTokens);
    await waitFor(() => server.stats().aborts === 1, 'the shared request aborted once on the server');
    expect(server.stats()).toMatchObject({ requests: 1, aborts: 1, completed: 0 });
  });

  it('two identical three-step pipelines started together send exactly three requests', async () => {
    const llm = withMiddleware(transport(), dedupe());
    const sentiment = step('sentiment', (text: string) => ask(`Classify the sentiment (positive, negative, neutral): ${text}`), { transport: llm });
    const summary = step('summary', (text: string) => ask(`Summarize in one sentence: ${text}`), { transport: llm });
    const keywords = step('keywords', (text: string) => ask(`Extract 5 keywords: ${text}`), { transport: llm });
    const analysis = parallel({ sentiment, summary, keywords });
    const text = 'The new release is fast, and the docs finally explain cancellation.';

    const [first, second] = await lastValueFrom(forkJoin([analysis.value(text), analysis.value(text)]));

    expect(server.stats()).toMatchObject({ requests: 3, completed: 3 });
    expect(second).toEqual(first);
  });
});
