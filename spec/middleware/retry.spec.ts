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
import { expectNotSentPastDeadline, timeoutErrors } from '../helpers/timeLimits';

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
    ['connection-refused', err('connection-refused', { tokensEmitted: false })],
    ['connection-lost', err('connection-lost', { tokensEmitted: false })],
    ['a headers timeout', err('timeout', { tokensEmitted: false, limit: 'headers' })],
    ['a first-token timeout', err('timeout', { tokensEmitted: false, limit: 'firstToken' })],
    ['a 400 with x-should-retry: true', err('bad-request', { status: 400, headers: { 'x-should-retry': 'true' } })],
    ['a 409 with x-should-retry: true', err('http', { status: 409, headers: { 'x-should-retry': 'true' } })],
    ['a connection lost mid-body of a 200 that said x-should-retry: false (it spoke of the 200)', err('connection-lost', { status: 200, tokensEmitted: false, headers: { 'x-should-retry': 'false' } })],
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
    ['a timeout at the deadline', err('timeout', { tokensEmitted: false, limit: 'deadline' })],
    ['a total timeout before the first token', err('timeout', { tokensEmitted: false, limit: 'total' })],
    ['a timeout that names no limit', err('timeout', { tokensEmitted: false })],
    ['quota-exceeded', err('quota-exceeded', { status: 429, providerCode: 'insufficient_quota' })],
    ['quota-exceeded even with x-should-retry: true', err('quota-exceeded', { status: 429, headers: { 'x-should-retry': 'true' } })],
    ['a 500 with x-should-retry: false', err('server', { status: 500, headers: { 'x-should-retry': 'false' } })],
    ['a 429 with x-should-retry: false', err('rate-limited', { status: 429, headers: { 'x-should-retry': 'false' } })],
    ['x-should-retry: true after tokens', err('server', { tokensEmitted: true, headers: { 'x-should-retry': 'true' } })],
    ['a stream-error', err('stream-error', { status: 200 })],
    ['a stream-error in a 200 that said x-should-retry: true', err('stream-error', { status: 200, headers: { 'x-should-retry': 'true' } })],
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

  it('retries a headers timeout from timeouts() inside it, but a total timeout before the first token is final', () => {
    testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
      const silent = cold<LlmEvent>('  -', values);
      const ok = cold<LlmEvent>('      20ms a|', values);
      const headersLlm = withMiddleware(attempts(silent, ok), retry(noJitter), timeouts({ headers: 50 }));
      expectObservable(headersLlm(request)).toBe('80ms a|', values); // 50 + 10 backoff + 20
      expectSubscriptions(ok.subscriptions).toBe('60ms ^ 20ms !');

      const stalled = cold<LlmEvent>('-', values);
      const totalLlm = withMiddleware(() => stalled, retry(noJitter), timeouts({ total: 50 }));
      expectObservable(totalLlm(request)).toBe('50ms #', undefined, timeoutErrors.total(50));
      expectSubscriptions(stalled.subscriptions).toBe('^ 49ms !');
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

  describe('with a deadline in the request context', () => {
    const stopped = (error: RxllmError, sentence: string) =>
      new RxllmError(error.code, `${error.message} ${sentence}`, { ...error.toJSON(), cause: error, limit: 'deadline' } as RxllmErrorDetails);

    it('does not start an attempt whose backoff wait would end past the deadline: the last error, marked', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold<LlmEvent>('   --#', undefined, err('server', { status: 500 }));
        const firstSubs = '    ^-!';
        const second = cold<LlmEvent>('  --#', undefined, err('server', { status: 503 }));
        const secondSubs = '   12ms ^-!'; // failed at 2, waited 10; the next wait (20 ms from 14) would end at 34
        const third = cold<LlmEvent>('   a|', values);
        const expected = '     14ms #';

        const llm = withMiddleware(attempts(first, second, third), retry({ maxRetries: 2, ...noJitter }));
        expectObservable(llm(request, { deadline: 25 })).toBe(
          expected,
          undefined,
          stopped(err('server', { status: 503 }), "retry() stopped before attempt 3: the backoff was 20 ms, but only 11 ms were left before the request's deadline. Give the pipeline a later deadline, or shorten `backoff`."),
        );
        expectSubscriptions(first.subscriptions).toBe(firstSubs);
        expectSubscriptions(second.subscriptions).toBe(secondSubs);
        expectSubscriptions(third.subscriptions).toBe([]);
      });
    });

    it('never starts an attempt at or after the deadline', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const failing = cold<LlmEvent>('  --#', undefined, err('server'));
        const atDeadline = cold<LlmEvent>('  a|', values);
        const justBefore = cold<LlmEvent>('  a|', values);

        // The wait ends at 12: with the deadline at 12 the attempt is not started, with 13 it is.
        const llm = (next: Observable<LlmEvent>) => withMiddleware(attempts(failing, next), retry({ maxRetries: 1, ...noJitter }));
        expectObservable(llm(atDeadline)(request, { deadline: 12 })).toBe(
          '2ms #',
          undefined,
          stopped(err('server'), "retry() stopped before attempt 2: the backoff was 10 ms, but only 10 ms were left before the request's deadline. Give the pipeline a later deadline, or shorten `backoff`."),
        );
        expectObservable(llm(justBefore)(request, { deadline: 13 })).toBe('12ms a|', values);
        expectSubscriptions(atDeadline.subscriptions).toBe([]);
        expectSubscriptions(justBefore.subscriptions).toBe('12ms ^!');
      });
    });

    it('does not wait a Retry-After longer than the time left', () => {
      const seen: RetryInfo[] = [];
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const limited = cold<LlmEvent>('   -#', undefined, err('rate-limited', { status: 429, retryAfterMs: 1500, requestId: 'req_1' }));
        const ok = cold<LlmEvent>('        a|', values);

        const llm = withMiddleware(attempts(limited, ok), retry({ ...noJitter, onRetry: (info) => seen.push(info) }));
        expectObservable(llm(request, { deadline: 1000 })).toBe(
          '-#',
          undefined,
          stopped(
            err('rate-limited', { status: 429, retryAfterMs: 1500, requestId: 'req_1' }),
            "retry() stopped before attempt 2: the server asked to wait 1.5 s, but only 999 ms were left before the request's deadline. Give the pipeline a later deadline.",
          ),
        );
        expectSubscriptions(ok.subscriptions).toBe([]);
      });
      expect(seen).toEqual([]);
    });

    it('sends nothing when the request is already past its deadline at subscribe', () => {
      testScheduler.run((helpers) =>
        expectNotSentPastDeadline(
          helpers,
          retry(noJitter),
          request,
          {},
          new RxllmError(
            'timeout',
            'retry(): the request was past its deadline before the first attempt; not sent. The deadline bounds the whole request, retries included: give the pipeline a later deadline.',
            { limit: 'deadline', tokensEmitted: false },
          ),
        ),
      );
    });

    it('with timeouts() inside: a retry gets only the time left, and the deadline ends it without another attempt', () => {
      const contexts: unknown[] = [];
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const stalled = cold<LlmEvent>('   -', values);
        const stalledSubs = '    ^ 99ms !            '; // first-token limit at 100
        const slow = cold<LlmEvent>('      60ms a|', values);
        const slowSubs = '       110ms ^ 39ms !      '; // retried after 10 ms; 40 ms left, cut at the deadline (150)
        const expected = '       150ms #';

        const transport = attempts(stalled, slow, slow);
        const llm = withMiddleware((r, context) => (contexts.push(context), transport()), retry(noJitter), timeouts({ firstToken: 100 }));
        expectObservable(llm(request, { step: 'draft', deadline: 150 })).toBe(expected, undefined, timeoutErrors.deadline(40));
        expectSubscriptions(stalled.subscriptions).toBe(stalledSubs);
        expectSubscriptions(slow.subscriptions).toBe(slowSubs);
      });
      // Every attempt was sent with the caller's context.
      expect(contexts).toEqual([
        { step: 'draft', deadline: 150 },
        { step: 'draft', deadline: 150 },
      ]);
    });

    it('passes an error that is not an RxllmError unchanged when the deadline stops it', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const failing = cold<LlmEvent>('  -#', undefined, new TypeError('boom'));
        const llm = withMiddleware(() => failing, retry({ ...noJitter, retryOn: () => true }));
        expectObservable(llm(request, { deadline: 5 })).toBe('-#', undefined, new TypeError('boom'));
      });
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
