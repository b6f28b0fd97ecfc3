import { defer, mergeMap, type Observable, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { rateLimit } from '../../src/middleware/rateLimit';
import { finishEvent, usageEvent } from '../../src/testing/events';
import { scriptedTransport } from '../../src/testing/scriptedTransport';
import { createTestScheduler } from '../helpers/marbles';

const values = { f: finishEvent('stop') };
const answer = (ms: number) => ({ marbles: `${ms}ms (f|)`, values });
const req = (model: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({ model, messages: [{ role: 'user', content: `q ${model}` }], ...extra });
/** Subscribes to `source` `ms` after the test starts. */
const at = (ms: number, source: Observable<LlmEvent>) => timer(ms).pipe(mergeMap(() => source));

/** An upstream that reports `headers` through the context's onHeaders as its response starts, then answers after 10 ms. */
function withHeaders(testScheduler: TestScheduler, headers: Record<string, string>): Transport & { sentAt: Record<string, number> } {
  const sentAt: Record<string, number> = {};
  const transport = (request: LlmRequest, context?: RequestContext): Observable<LlmEvent> =>
    defer(() => {
      sentAt[request.model] = testScheduler.now();
      context?.onHeaders?.(200, headers);
      return timer(10).pipe(mergeMap(() => [finishEvent('stop')]));
    });
  return Object.assign(transport, { sentAt });
}

describe('rateLimit', () => {
  let testScheduler: TestScheduler;
  beforeEach(() => {
    testScheduler = createTestScheduler();
  });

  it('sends at once while the request bucket holds, then one request per 60000/rpm ms', () => {
    const upstream = scriptedTransport({ a: answer(10), b: answer(10), c: answer(10), d: answer(10) });
    testScheduler.run(({ expectObservable, expectSubscriptions }) => {
      const paced = rateLimit({ requestsPerMinute: 2 });
      const llm = withMiddleware(upstream, paced);
      expectObservable(llm(req('a'))).toBe('10ms (f|)', values);
      expectObservable(llm(req('b'))).toBe('10ms (f|)', values);
      expectObservable(llm(req('c'))).toBe('30010ms (f|)', values);
      expectObservable(llm(req('d'))).toBe('60010ms (f|)', values);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe('30000ms ^ 9ms !');
      expectSubscriptions(upstream.subscriptionsTo('d')).toBe('60000ms ^ 9ms !');
    });
  });

  it('paces by estimated tokens too: the prompt estimate plus max_tokens, refilled continuously', () => {
    const upstream = scriptedTransport({ a: answer(10), b: answer(10), c: answer(10) });
    testScheduler.run(({ expectSubscriptions }) => {
      const paced = rateLimit({ requestsPerMinute: 1000, tokensPerMinute: 1000, estimateTokens: (request) => request.max_tokens ?? 0 });
      const llm = withMiddleware(upstream, paced);
      llm(req('a', { max_tokens: 600 })).subscribe();
      llm(req('b', { max_tokens: 600 })).subscribe(); // 400 left: 200 more take 12 s at 1000 a minute
      at(5, llm(req('c', { max_tokens: 5000 }))).subscribe(); // larger than the bucket: waits for a full one
      expectSubscriptions(upstream.subscriptionsTo('a')).toBe('^ 9ms !');
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe('12000ms ^ 9ms !');
      // After b the bucket is empty at 12 s; full (1000) at 72 s.
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe('72000ms ^ 9ms !');
    });
  });

  it('estimates a request by default as a quarter of its messages JSON plus max_completion_tokens or max_tokens', () => {
    const upstream = scriptedTransport({ a: answer(10), b: answer(10) });
    testScheduler.run(({ expectSubscriptions }) => {
      const paced = rateLimit({ requestsPerMinute: 1000, tokensPerMinute: 120 });
      const llm = withMiddleware(upstream, paced);
      // messages as JSON: [{"role":"user","content":"xxxx…"}] is 31 + 369 = 400 characters: 100 tokens, + 20.
      const long = (model: string): LlmRequest => ({ model, messages: [{ role: 'user', content: 'x'.repeat(369) }], max_completion_tokens: 20 });
      llm(long('a')).subscribe();
      llm(long('b')).subscribe(); // the bucket (120) is empty: 120 tokens at 2 per second is 60 s
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe('60000ms ^ 9ms !');
    });
  });

  describe('corrects its token estimate from the usage the response reports', () => {
    // 6000 tokens a minute: 1 token refills every 10 ms, so every level below is a whole number. The estimate is
    // max_tokens; a's answer ends at 10 ms with its usage (`actual` tokens); b asks for 3000 at 20 ms.
    const tokens = (actual: number) => ({ f: finishEvent('stop'), u: usageEvent({ prompt_tokens: actual, completion_tokens: 0 }) });
    /** Runs a (estimated `aEstimate`, answering by `aScript`) at 0 and b (3000) at 20 ms; checks when b goes upstream. */
    function paceAThenB(aEstimate: number, aScript: { marbles: string; values: Record<string, LlmEvent> }, bSent: string, unsubscribeAAt?: number) {
      const upstream = scriptedTransport({ a: aScript, b: answer(10) });
      const virtual = createTestScheduler(); // a clock of its own: each call starts at 0
      return virtual.run(({ expectSubscriptions }) => {
        const paced = rateLimit({ requestsPerMinute: 1000, tokensPerMinute: 6000, estimateTokens: (request) => request.max_tokens ?? 0 });
        const llm = withMiddleware(upstream, paced);
        const a = llm(req('a', { max_tokens: aEstimate })).subscribe({ error: () => undefined });
        if (unsubscribeAAt !== undefined) virtual.schedule(() => a.unsubscribe(), unsubscribeAAt);
        at(20, llm(req('b', { max_tokens: 3000 }))).subscribe();
        expectSubscriptions(upstream.subscriptionsTo('b')).toBe(bSent);
        return paced;
      }).stats();
    }

    it('refunds an estimate that was high: the next request waits less (here not at all)', () => {
      // Estimated 6000 (the whole bucket), used 1000: 5000 back at 10 ms, so b (3000) goes at once at 20 ms.
      expect(paceAThenB(6000, { marbles: '10ms (fu|)', values: tokens(1000) }, '20ms ^ 9ms !')).toMatchObject({ sent: 2, paced: 0, corrected: 1 });
      // The estimate was right: b waits for 2998 tokens (2 refilled by 20 ms), 29980 ms.
      paceAThenB(6000, { marbles: '10ms (fu|)', values: tokens(6000) }, '30000ms ^ 9ms !');
    });

    it('charges an estimate that was low: the next request waits more', () => {
      // Estimated 3000 and b would fit at once; used 6000: 3000 more at 10 ms empties the bucket, b waits 29980 ms.
      paceAThenB(3000, { marbles: '10ms (fu|)', values: tokens(3000) }, '20ms ^ 9ms !');
      expect(paceAThenB(3000, { marbles: '10ms (fu|)', values: tokens(6000) }, '30000ms ^ 9ms !')).toMatchObject({ sent: 2, paced: 1, corrected: 1 });
    });

    it('never charges below an empty bucket', () => {
      // Used 9000 of an estimated 3000: 6000 more would be 3000 in debt; the bucket stops at empty (1 token refilled
      // at 10 ms is gone too), so b waits for 2999 tokens from 20 ms, not 5999.
      paceAThenB(3000, { marbles: '10ms (fu|)', values: tokens(9000) }, '30010ms ^ 9ms !');
    });

    it('keeps the estimate charged for a request that errors or is unsubscribed before its usage', () => {
      // The provider counted the prompt of both: nothing is refunded, b waits as if a had used its estimate.
      expect(paceAThenB(6000, { marbles: '10ms #', values: tokens(1000) }, '30000ms ^ 9ms !')).toMatchObject({ sent: 2, corrected: 0 });
      expect(paceAThenB(6000, { marbles: '10ms f 50ms (u|)', values: tokens(1000) }, '30000ms ^ 9ms !', 30)).toMatchObject({ sent: 2, corrected: 0 });
    });

    it('keeps the estimate charged when the reported usage is 0 tokens (a server that fills in zeros, not a refund of everything)', () => {
      expect(paceAThenB(6000, { marbles: '10ms (fu|)', values: tokens(0) }, '30000ms ^ 9ms !')).toMatchObject({ sent: 2, corrected: 0 });
    });
  });

  it('tightens from x-ratelimit-* headers: a provider that reports none left holds requests until its reset', () => {
    testScheduler.run(() => {
      const upstream = withHeaders(testScheduler, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '6s', 'x-ratelimit-limit-requests': '100' });
      const seen: number[] = [];
      const paced = rateLimit({ requestsPerMinute: 100 });
      const llm = withMiddleware(upstream, paced);
      llm(req('a'), { onHeaders: (status) => seen.push(status) }).subscribe();
      at(1, llm(req('b'))).subscribe();
      testScheduler.flush();
      expect(upstream.sentAt).toEqual({ a: 0, b: 6000 }); // the bucket alone would have sent b at once
      expect(seen).toEqual([200]); // the caller's own onHeaders still hears
      expect(paced.stats()).toMatchObject({ sent: 2, paced: 1, observed: 2, wait: expect.objectContaining({ count: 2 }) });
    });
  });

  it('tightens the token bucket to the remaining tokens the provider reports, and never loosens it', () => {
    testScheduler.run(() => {
      const upstream = withHeaders(testScheduler, { 'x-ratelimit-remaining-tokens': '100', 'x-ratelimit-reset-tokens': '6m0s', 'x-ratelimit-remaining-requests': '5000' });
      const paced = rateLimit({ requestsPerMinute: 100, tokensPerMinute: 6000, estimateTokens: () => 400 });
      const llm = withMiddleware(upstream, paced);
      llm(req('a')).subscribe(); // 5600 left here, but the provider says 100: b needs 300 more, 3 s at 100 a second
      at(1, llm(req('b'))).subscribe();
      testScheduler.flush();
      expect(upstream.sentAt).toEqual({ a: 0, b: 3000 });
    });
  });

  it('unsubscribe while waiting cancels the wait: nothing is sent, nothing taken', () => {
    const upstream = scriptedTransport({ a: answer(10), b: answer(10), c: answer(10) });
    testScheduler.run(({ expectSubscriptions }) => {
      const paced = rateLimit({ requestsPerMinute: 1 });
      const llm = withMiddleware(upstream, paced);
      llm(req('a')).subscribe();
      const waiting = llm(req('b')).subscribe();
      testScheduler.schedule(() => waiting.unsubscribe(), 1000);
      llm(req('c')).subscribe();
      expectSubscriptions(upstream.subscriptionsTo('b')).toBe([]);
      expectSubscriptions(upstream.subscriptionsTo('c')).toBe('60000ms ^ 9ms !');
    });
  });

  it('rejects bad options with invalid-config', () => {
    for (const config of [
      {},
      { requestsPerMinute: 0 },
      { requestsPerMinute: -5 },
      { tokensPerMinute: 1000 },
      { requestsPerMinute: 10, limiter: { take: () => 0, observe: () => undefined } },
      { limiter: {} },
      { requestsPerMinute: 10, estimateTokens: 5 },
      { requestsPerMinute: 10, unknown: 1 },
    ]) {
      expect(() => rateLimit(config as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
  });
});
