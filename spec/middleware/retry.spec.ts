import { defer, lastValueFrom, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { RxllmError, type RxllmErrorCode, type RxllmErrorDetails } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { withMiddleware } from '../../src/core/transport';
import { backoffDelay } from '../../src/middleware/backoff';
import { isRetryable, retry, type RetryInfo } from '../../src/middleware/retry';
import { timeouts } from '../../src/middleware/timeouts';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { text } from '../../src/operators/text';
import { finishEvent, textEvent } from '../../src/testing/events';
import { sseTransport } from '../../src/transport/sse';
import { createTestScheduler } from '../helpers/marbles';

const request: LlmRequest = { model: 'draft', messages: [{ role: 'user', content: 'hi' }] };
const values: Record<string, LlmEvent> = { a: textEvent('Hel'), b: textEvent('lo'), f: finishEvent('stop') };
const err = (code: RxllmErrorCode, details: RxllmErrorDetails = {}) => new RxllmError(code, `${code} failure`, details);
const noJitter = { backoff: { initialMs: 10, jitter: 0 } };

/** A transport that answers the n-th subscription (not call: retry resubscribes) with the n-th observable. */
function attempts(...answers: Observable<LlmEvent>[]) {
  let n = 0;
  return () => defer(() => answers[Math.min(n++, answers.length - 1)]!);
}

describe('retry', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => (testScheduler = createTestScheduler()));

  it('retries a server error with exponential backoff and streams the attempt that succeeds', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const first = cold<LlmEvent>('   --#', undefined, err('server', { status: 500 }));
      const firstSubs = '    ^-!';
      const second = cold<LlmEvent>('  --#', undefined, err('server', { status: 503 }));
      const secondSubs = '   12ms ^-!'; // failed at 2, waited 10
      const third = cold<LlmEvent>('   --a--b--(f|)', values);
      const thirdSubs = '    34ms ^-------!'; // failed at 14, waited 20
      const expected = '     36ms a--b--(f|)';

      const llm = withMiddleware(attempts(first, second, third), retry({ maxRetries: 2, ...noJitter }));
      expectObservable(llm(request)).toBe(expected, values);
      expectSubscriptions(first.subscriptions).toBe(firstSubs);
      expectSubscriptions(second.subscriptions).toBe(secondSubs);
      expectSubscriptions(third.subscriptions).toBe(thirdSubs);
    });
  });

  it('never retries once a token went out: the error passes with tokensEmitted: true', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<LlmEvent>('  --a--#', values, err('connection-lost'));
      const upstreamSubs = '   ^----!';
      const expected = '       --a--#';

      const llm = withMiddleware(() => upstream, retry(noJitter));
      expectObservable(llm(request)).toBe(expected, values, err('connection-lost', { tokensEmitted: true }));
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it('gives up after maxRetries with the last error', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const upstream = cold<LlmEvent>('  -#', undefined, err('server', { status: 502 }));
      const upstreamSubs = ['  ^!', '11ms ^!', '32ms ^!']; // waits 10 then 20
      const expected = '       33ms #';

      expectObservable(withMiddleware(() => upstream, retry({ maxRetries: 2, ...noJitter }))(request)).toBe(
        expected,
        undefined,
        err('server', { status: 502 }),
      );
      expectSubscriptions(upstream.subscriptions).toBe(upstreamSubs);
    });
  });

  it.each([
    ['408', err('http', { status: 408 })],
    ['409', err('http', { status: 409 })],
    ['429', err('rate-limited', { status: 429 })],
    ['500', err('server', { status: 500 })],
    ['504', err('server', { status: 504 })],
    ['connection-lost', err('connection-lost', { tokensEmitted: false })],
    ['timeout before the first token', err('timeout', { tokensEmitted: false })],
  ])('retries %s', (_name, error) => {
    expect(isRetryable(error)).toBe(true);
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold<LlmEvent>('   #', undefined, error);
      const ok = cold<LlmEvent>('        a|', values);
      expectObservable(withMiddleware(attempts(failing, ok), retry(noJitter))(request)).toBe('10ms a|', values);
      expectSubscriptions(ok.subscriptions).toBe('10ms ^!');
    });
  });

  it.each([
    ['400', err('bad-request', { status: 400 })],
    ['401', err('auth', { status: 401 })],
    ['403', err('auth', { status: 403 })],
    ['404', err('bad-request', { status: 404 })],
    ['422', err('bad-request', { status: 422 })],
    ['invalid-request', err('invalid-request')],
    ['a timeout after tokens', err('timeout', { tokensEmitted: true })],
    ['a plain Error', new Error('bug')],
  ])('never retries %s', (_name, error) => {
    expect(isRetryable(error)).toBe(false);
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold<LlmEvent>('   -#', undefined, error);
      expectObservable(withMiddleware(() => failing, retry(noJitter))(request)).toBe('-#', undefined, error);
      expectSubscriptions(failing.subscriptions).toBe('^!');
    });
  });

  it('waits exactly the retryAfterMs the server asked for', () => {
    const seen: RetryInfo[] = [];
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limited = cold<LlmEvent>('   -#', undefined, err('rate-limited', { status: 429, retryAfterMs: 1500 }));
      const ok = cold<LlmEvent>('        a|', values);
      const okSubs = '         1501ms ^!';

      const llm = withMiddleware(attempts(limited, ok), retry({ ...noJitter, onRetry: (info) => seen.push(info) }));
      expectObservable(llm(request)).toBe('1501ms a|', values);
      expectSubscriptions(ok.subscriptions).toBe(okSubs);
    });
    expect(seen).toEqual([{ attempt: 1, error: expect.objectContaining({ code: 'rate-limited' }), delayMs: 1500, reason: 'retry-after' }]);
  });

  it('fails fast with rate-limited when the server asks for a wait over the cap', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const limited = cold<LlmEvent>('   -#', undefined, err('rate-limited', { status: 429, retryAfterMs: 3_600_000, requestId: 'req_1' }));
      const limitedSubs = '    ^!';

      const llm = withMiddleware(() => limited, retry(noJitter));
      expectObservable(llm(request)).toBe(
        '-#',
        undefined,
        new RxllmError(
          'rate-limited',
          "The server asked to wait 3600 s before retrying, longer than retry()'s cap of 60 s; not retrying. Try again later, or raise `maxRetryAfterMs`.",
          { cause: err('rate-limited'), retryAfterMs: 3_600_000, status: 429, requestId: 'req_1', tokensEmitted: false },
        ),
      );
      expectSubscriptions(limited.subscriptions).toBe(limitedSubs);
    });
  });

  it('applies jitter from the injected random source', () => {
    const delays: number[] = [];
    const randoms = [0, 1, 0.5];
    testScheduler.run(({ cold, expectObservable }) => {
      const failing = cold<LlmEvent>('   #', undefined, err('server'));
      const llm = withMiddleware(
        () => failing,
        retry({ maxRetries: 3, backoff: { initialMs: 100, factor: 2, jitter: 0.5 }, random: () => randoms.shift()!, onRetry: (i) => delays.push(i.delayMs) }),
      );
      expectObservable(llm(request)).toBe('500ms #', undefined, err('server'));
    });
    expect(delays).toEqual([100, 100, 300]); // 100×(1−0), 200×(1−0.5), 400×(1−0.25)
    expect(backoffDelay(10, {}, () => 0)).toBe(8000); // capped at maxMs
  });

  it('retries a first-token timeout from timeouts() placed inside it', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const stalled = cold<LlmEvent>('   -', values);
      const stalledSubs = '    ^ 99ms !';
      const ok = cold<LlmEvent>('        20ms a|', values);
      const okSubs = '         110ms ^ 20ms !';

      const llm = withMiddleware(attempts(stalled, ok), retry(noJitter), timeouts({ firstToken: 100 }));
      expectObservable(llm(request)).toBe('130ms a|', values);
      expectSubscriptions(stalled.subscriptions).toBe(stalledSubs);
      expectSubscriptions(ok.subscriptions).toBe(okSubs);
    });
  });

  it('cancels the wait on unsubscribe: no further attempt', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const failing = cold<LlmEvent>('   -#', undefined, err('server'));
      const llm = withMiddleware(() => failing, retry({ backoff: { initialMs: 100, jitter: 0 } }));
      expectObservable(llm(request), '^ 49ms !').toBe('');
      expectSubscriptions(failing.subscriptions).toBe('^!');
    });
  });

  it('lets retryOn widen or narrow the rule, and rejects bad options', () => {
    testScheduler.run(({ cold, expectObservable }) => {
      const streamError = cold<LlmEvent>('#', undefined, err('stream-error'));
      const ok = cold<LlmEvent>('a|', values);
      const llm = withMiddleware(attempts(streamError, ok), retry({ ...noJitter, retryOn: (e) => isRetryable(e) || (e as RxllmError).code === 'stream-error' }));
      expectObservable(llm(request)).toBe('10ms a|', values);
    });
    expect(() => retry({ maxRetries: -1 })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => retry({ backoff: { jitter: 2 } })).toThrow(/jitter/);
  });

  describe('on a real server (simulator)', () => {
    let server: SimulatorServer;
    beforeAll(async () => {
      const fast = { ttftMs: 2, tokensPerSecond: 5000, jitter: 0, outputTokens: 6 };
      server = await startSimulatorServer({
        seed: 5,
        profiles: {
          'r429-ms': { ...fast, faults: [{ type: 'status', status: 429, retryAfterMs: 40, firstRequests: 1 }] },
          'r429-s': { ...fast, faults: [{ type: 'status', status: 429, retryAfterMs: 1000, firstRequests: 1 }] },
          'r500': { ...fast, faults: [{ type: 'status', status: 500, firstRequests: 2 }] },
          'cut-early': { ...fast, faults: [{ type: 'disconnect', afterTokens: 0, firstRequests: 1 }] },
          'cut-mid': { ...fast, faults: [{ type: 'disconnect', afterTokens: 3, firstRequests: 1 }] },
        },
      });
    });
    afterAll(() => server.close());

    // Drops `retry-after-ms`, so only `retry-after` in seconds is left to read.
    const secondsOnly: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      const headers = new Headers(response.headers);
      headers.delete('retry-after-ms');
      return new Response(response.body, { status: response.status, headers });
    };
    const ask = (model: string, fetchImpl?: typeof fetch, onRetry?: (info: RetryInfo) => void) =>
      lastValueFrom(
        withMiddleware(
          sseTransport({ baseURL: server.baseURL, ...(fetchImpl ? { fetch: fetchImpl } : {}) }),
          retry({ backoff: { initialMs: 5 }, ...(onRetry ? { onRetry } : {}) }),
        )({ model, messages: [{ role: 'user', content: 'Tell me a story' }] }).pipe(text()),
      );

    it('honours retry-after-ms on a 429', async () => {
      const waits: number[] = [];
      await expect(ask('r429-ms', undefined, (i) => waits.push(i.delayMs))).resolves.toEqual(expect.any(String));
      expect(waits).toEqual([40]);
    });

    it('honours retry-after in seconds on a 429', async () => {
      const waits: number[] = [];
      await expect(ask('r429-s', secondsOnly, (i) => waits.push(i.delayMs))).resolves.toEqual(expect.any(String));
      expect(waits).toEqual([1000]);
    });

    it('retries 500s with backoff', async () => {
      const before = server.stats().requestsByModel['r500'] ?? 0;
      await expect(ask('r500')).resolves.toEqual(expect.any(String));
      expect(server.stats().requestsByModel['r500']! - before).toBe(3);
    });

    it('retries a disconnect before any token, but not one mid-stream', async () => {
      await expect(ask('cut-early')).resolves.toEqual(expect.any(String));
      await expect(ask('cut-mid')).rejects.toMatchObject({ code: 'connection-lost', tokensEmitted: true });
      expect(server.stats().requestsByModel['cut-mid']).toBe(1);
    });
  });
});
