import { lastValueFrom, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError, type RxllmErrorCode } from '../../src/core/errors';
import type { RequestContext, Served } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware } from '../../src/core/transport';
import { fallback, type FallbackServed, type FallbackSwitch } from '../../src/middleware/fallback';
import { cache } from '../../src/middleware/cache';
import { result } from '../../src/operators/result';
import { timeouts } from '../../src/middleware/timeouts';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { text } from '../../src/operators/text';
import { finishEvent, textEvent } from '../../src/testing/events';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { sseTransport } from '../../src/transport/sse';
import { createTestScheduler } from '../helpers/marbles';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
const values: Record<string, LlmEvent> = { a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent('stop') };
const err = (code: RxllmErrorCode, status?: number) => new RxllmError(code, `${code} failure`, status === undefined ? {} : { status });

describe('fallback', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('moves to the next transport when the current one fails before its first token', () => {
    const switches: FallbackSwitch[] = [];
    const served: (FallbackServed & { at: number })[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold<LlmEvent>('   --#', undefined, err('server', 500));
      const primarySubs = '              ^-!';
      const secondary = cold<LlmEvent>(' ---#', undefined, err('rate-limited', 429));
      const secondarySubs = '            --^--!';
      const tertiary = cold<LlmEvent>('  -a------b-(f|)', values);
      const tertiarySubs = '             -----^---------!';
      // Only the model's events: which candidate answered is reported beside the stream.
      const expected = '                 ------a------b-(f|)';

      const llm = fallback(
        [
          { name: 'primary', transport: () => primary },
          { name: 'secondary', transport: () => secondary },
          { name: 'tertiary', transport: () => tertiary },
        ],
        { onFallback: (info) => switches.push(info), onServed: (info) => served.push({ ...info, at: testScheduler.now() }) },
      );
      expectObservable(llm(request)).toBe(expected, values);
      expectSubscriptions(primary.subscriptions).toBe(primarySubs);
      expectSubscriptions(secondary.subscriptions).toBe(secondarySubs);
      expectSubscriptions(tertiary.subscriptions).toBe(tertiarySubs);
    });
    expect(switches.map(({ from, to }) => `${from}→${to}`)).toEqual(['primary→secondary', 'secondary→tertiary']);
    // Once, when the answer's first event arrives.
    expect(served).toEqual([{ name: 'tertiary', index: 2, model: 'gpt-4o', at: 6 }]);
  });

  it("tells the context's onServed which candidate and model answered, before the first event, and passes the context to each candidate", () => {
    const log: string[] = [];
    const contexts: (RequestContext | undefined)[] = [];
    const context: RequestContext = { step: 'summary', lane: 'background', onServed: (served) => log.push(`served ${JSON.stringify(served)}`) };
    testScheduler.run(({ cold, expectObservable }) => {
      const primary = cold<LlmEvent>('  -#', undefined, err('server', 503));
      const backup = cold<LlmEvent>('   -a-f|', values);
      const llm = fallback([
        { name: 'primary', transport: (_request, given) => (contexts.push(given), primary) },
        { name: 'backup', transport: (_request, given) => (contexts.push(given), backup), model: 'gpt-4o-mini' },
      ]);
      expectObservable(llm(request, context).pipe(tap((event) => log.push(event.type)))).toBe('--a-f|', values);
    });
    expect(log).toEqual([`served ${JSON.stringify({ model: 'gpt-4o-mini', by: 'fallback', candidate: 'backup' } satisfies Served)}`, 'text', 'finish']);
    expect(contexts).toEqual([context, context]);
  });

  it('puts nothing in the stream for cache() to keep: a cached answer replays only the model events and reports no candidate', () => {
    const served: string[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold<LlmEvent>('  -#', undefined, err('server', 503));
      const backup = cold<LlmEvent>('   -a-f|', values);
      const llm = withMiddleware(fallback([() => primary, { name: 'backup', transport: () => backup }]), cache({ scheduler: testScheduler }));
      const onServed = ({ candidate }: Served) => served.push(candidate ?? '?');
      expectObservable(llm(request, { onServed })).toBe('--a-f|', values);
      expectObservable(llm(request, { onServed }), '10ms ^').toBe('10ms (af|)', values);
      expectObservable(llm(request, { onServed }).pipe(result()), '20ms ^').toBe('20ms (r|)', {
        r: { text: 'Hel', refusal: '', reasoning: '', toolCalls: [], finishReason: 'stop' },
      });
      expectSubscriptions(backup.subscriptions).toBe('-^---!');
    });
    expect(served).toEqual(['backup']);
  });

  it('never falls back after a token: the error passes with tokensEmitted: true', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold<LlmEvent>('   -a-----#', values, err('connection-lost'));
      const primarySubs = '              ^------!';
      const backup = cold<LlmEvent>('    a|', values);

      expectObservable(fallback([() => primary, () => backup])(request)).toBe(
        '-a-----#',
        values,
        new RxllmError('connection-lost', 'connection-lost failure', { tokensEmitted: true }),
      );
      expectSubscriptions(primary.subscriptions).toBe(primarySubs);
      expectSubscriptions(backup.subscriptions).toBe([]);
    });
  });

  it('fails with the last error when every candidate fails, and does not fall back on an invalid request', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold<LlmEvent>('  -#', undefined, err('server', 503));
      const b = cold<LlmEvent>('  -#', undefined, err('server', 502));
      const invalid = cold<LlmEvent>('#', undefined, err('invalid-request'));
      const unused = cold<LlmEvent>('a|', values);

      expectObservable(fallback([() => a, () => b])(request)).toBe('--#', undefined, err('server', 502));
      expectObservable(fallback([() => invalid, () => unused])(request)).toBe('#', undefined, err('invalid-request'));
      expectSubscriptions(unused.subscriptions).toBe([]);
    });
  });

  it('lets `on` choose which errors fall back', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const auth = cold<LlmEvent>('   #', undefined, err('auth', 401));
      const backup = cold<LlmEvent>(' a|', values);

      const onlyServerErrors = fallback([() => auth, () => backup], { on: (e) => (e as RxllmError).code === 'server' });
      expectObservable(onlyServerErrors(request)).toBe('#', undefined, err('auth', 401));
      expectSubscriptions(backup.subscriptions).toBe([]);
    });
  });

  it('sends each candidate its own model, and a slow primary wrapped in timeouts fails over', () => {
    testScheduler.run(({ expectObservable }) => {
      const llm = scriptedTransport({
        'gpt-4o': [{ at: 5000, text: 'late' }, { at: 5001, finish: 'stop' }],
        'gpt-4o-mini': [{ at: 300, text: 'quick' }, { at: 310, finish: 'stop' }],
      });
      const served = fallback([
        { name: 'big', transport: withMiddleware(llm, timeouts({ firstToken: 1000 })) },
        { name: 'small', transport: llm, model: 'gpt-4o-mini' },
      ]);
      expectObservable(served(request).pipe(text())).toBe('1310ms (t|)', { t: 'quick' });
      testScheduler.flush();
      expect(llm.requests.map((r) => [r.model, r.outcome])).toEqual([
        ['gpt-4o', 'cancelled'],
        ['gpt-4o-mini', 'completed'],
      ]);
    });
  });

  it('restarts from the first candidate on each subscription, and rejects bad options', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const primary = cold<LlmEvent>('  -#', undefined, err('server'));
      const backup = cold<LlmEvent>('   a---|', values);
      const llm = fallback([() => primary, () => backup]);
      expectObservable(llm(request)).toBe('-a---|', values);
      expectObservable(llm(request)).toBe('-a---|', values);
      expectSubscriptions(primary.subscriptions).toBe(['^!', '^!']);
    });
    expect(() => fallback([])).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => fallback([{ name: '', transport: () => undefined as never }])).toThrow(/invalid options/);
  });

  describe('on a real server (simulator)', () => {
    let server: SimulatorServer;
    beforeAll(async () => {
      server = await startSimulatorServer({
        seed: 9,
        profiles: {
          broken: { ttftMs: 2, faults: [{ type: 'status', status: 500, probability: 1 }] },
          stalled: { ttftMs: 2, faults: [{ type: 'stall', probability: 1 }] },
          healthy: { ttftMs: 2, tokensPerSecond: 5000, jitter: 0, outputTokens: 5 },
        },
      });
    });
    afterAll(() => server.close());

    it('falls past a 500 and a stall before headers to a healthy model, aborting the stalled request', async () => {
      const sse = sseTransport({ baseURL: server.baseURL });
      const served: string[] = [];
      const llm = fallback(
        [
          { name: 'broken', transport: sse, model: 'broken' },
          { name: 'stalled', transport: withMiddleware(sse, timeouts({ firstToken: 50 })), model: 'stalled' },
          { name: 'healthy', transport: sse, model: 'healthy' },
        ],
        { onServed: ({ name }) => served.push(name) },
      );
      const before = server.stats().aborts;
      await expect(lastValueFrom(llm({ model: 'x', messages: [{ role: 'user', content: 'Tell me a story' }] }).pipe(text()))).resolves.toEqual(
        expect.any(String),
      );
      expect(served).toEqual(['healthy']);
      await waitFor(() => server.stats().aborts !== before, "the server counting the stalled request's abort");
      expect(server.stats().aborts).toBe(before + 1);
    });
  });
});
