import { lastValueFrom, Observable, toArray } from 'rxjs';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { rateLimit } from '../../src/middleware/rateLimit';
import { redisRateLimiter } from '../../src/redis/redisRateLimiter';
import { finishEvent, usageEvent } from '../../src/testing/events';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 };
const cost = (tokens = 0) => ({ requests: 1, tokens });
/**
 * Milliseconds since the call, read when asked. The buckets refill on Redis's clock while a test runs, so a wait
 * the script computes is the ideal wait less the refill of the time that passed; a bound of `ideal - elapsed()`
 * (elapsed measured around the takes) holds however slow the machine, where a fixed margin does not.
 */
const stopwatch = () => {
  const started = performance.now();
  return () => Math.ceil(performance.now() - started) + 1; // +1: Redis's clock is read in whole milliseconds
};

describeWithRedis('redisRateLimiter (against a real redis-server)', () => {
  const server = useRedisServer({ prefix: 'rate' });
  const { client, prefix: newPrefix } = server;

  it('two instances take from one request bucket: the fleet gets requestsPerMinute, then a wait of 60000/rpm', async () => {
    const prefix = newPrefix();
    const a = redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 3 });
    const b = redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 3 });
    const elapsed = stopwatch();
    expect([await a.take(cost()), await b.take(cost()), await a.take(cost())]).toEqual([0, 0, 0]);
    const wait = await b.take(cost());
    expect(wait).toBeGreaterThanOrEqual(20_000 - elapsed()); // one request refills in 20 s
    expect(wait).toBeLessThanOrEqual(20_000);
    expect(a.stats()).toMatchObject({ shared: 2, fallbacks: 0, errors: 0 });
  });

  it('takes requests and tokens together or not at all; a cost larger than the bucket waits for a full bucket', async () => {
    const prefix = newPrefix();
    const limiter = redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 100, tokensPerMinute: 6000 });
    const elapsed = stopwatch();
    expect(await limiter.take(cost(5000))).toBe(0);
    const wait = await limiter.take(cost(2000)); // 1000 left: 1000 more at 100 a second
    expect(wait).toBeGreaterThanOrEqual(10_000 - 10 * elapsed()); // less the refill meanwhile (0.1 a ms)
    expect(wait).toBeLessThanOrEqual(10_000);
    expect(await limiter.take(cost(1000))).toBe(0); // the refused take took nothing: 1000 still there
    const whole = await limiter.take(cost(1_000_000));
    expect(whole).toBeGreaterThanOrEqual(60_000 - 10 * elapsed()); // counted as the whole bucket (6000), not forever
    expect(whole).toBeLessThanOrEqual(60_000);
  });

  it('tightens from what the provider reports, for every instance: remaining lowers the bucket, none remaining holds it until the reset', async () => {
    const prefix = newPrefix();
    const redis = client();
    const a = redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 600, tokensPerMinute: 60_000 });
    const b = redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 600, tokensPerMinute: 60_000 });
    const field = async (name: string) => Number((await redis.hget(`${prefix}buckets`, name)) ?? NaN);
    let elapsed = stopwatch();
    a.observe({ remainingTokens: 50, resetTokensMs: 360_000 });
    // The tightening is written in the background: the bucket's token level is in Redis.
    await waitFor(async () => (await field('t')) <= 50 + elapsed(), "A's tightening of the token bucket in Redis");
    const wait = await b.take(cost(1050)); // 50 (+ the refill meanwhile) left: 1000 more at 1000 a second
    expect(wait).toBeGreaterThanOrEqual(1_000 - elapsed());
    expect(wait).toBeLessThanOrEqual(1_000);
    elapsed = stopwatch();
    a.observe({ remainingRequests: 0, resetRequestsMs: 2_000 });
    await waitFor(async () => (await field('hr')) > 0, "A's hold of the request bucket in Redis");
    const held = await b.take(cost());
    expect(held).toBeGreaterThanOrEqual(2_000 - elapsed());
    expect(held).toBeLessThanOrEqual(2_000);
  });

  it("corrects a taken estimate from the actual tokens for every instance, in one script call each: a refund when high, more when low, never below empty", async () => {
    const prefix = newPrefix();
    const redis = client();
    const a = redisRateLimiter({ timeout: 5_000, redis, prefix, requestsPerMinute: 600, tokensPerMinute: 6000 });
    const b = redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 600, tokensPerMinute: 6000 });
    /** Script calls the server has run (EVALSHA, and EVAL on a first NOSCRIPT). */
    const scriptCalls = async (): Promise<number> => {
      const stats = await redis.info('commandstats');
      return [...stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)].reduce((sum, [, calls]) => sum + Number(calls), 0);
    };
    /** Runs `correction` and waits (bounded) until Redis has run its script call(s): corrections are written in the background. */
    const corrected = async (correction: () => void, calls = 1): Promise<void> => {
      const before = await scriptCalls();
      correction();
      await waitFor(async () => (await scriptCalls()) - before >= calls, 'the correction reaching Redis');
      expect((await scriptCalls()) - before).toBe(calls); // one round trip per correction
    };
    const elapsed = stopwatch();
    const first = cost(100);
    expect(await a.take(first)).toBe(0);
    await corrected(() => a.correct(first, 100), 2); // the script's first run: EVALSHA, NOSCRIPT, EVAL
    const high = cost(5000);
    expect(await a.take(high)).toBe(0); // ~900 left
    await corrected(() => a.correct(high, 500)); // 4500 back: ~5400
    const next = cost(5000);
    expect(await b.take(next)).toBe(0); // b sees the refund: fits at once (~400 left)
    await corrected(() => b.correct(next, 5500)); // 500 more: ~0 (an instant's refill)
    const wait = await a.take(cost(600));
    // 600 from empty at 100 a second (6000 - 100 - 500 - 5500 taken in all: empty, plus the refill meanwhile).
    expect(wait).toBeGreaterThanOrEqual(6_000 - 10 * elapsed());
    expect(wait).toBeLessThanOrEqual(6_000);
    const none = cost(0);
    expect(await b.take(none)).toBe(0);
    await corrected(() => b.correct(none, 1_000_000)); // far more than estimated: the bucket stops at empty, no debt
    const level = Number(await redis.hget(`${prefix}buckets`, 't'));
    expect(level).toBeGreaterThanOrEqual(0);
    expect(level).toBeLessThan(50);
    const before = await scriptCalls();
    b.correct(none, 0); // corrected already (once per take), and a cost this limiter never took: no call
    a.correct(next, 0);
    // A barrier: a take on each limiter's connection, one script call each, answered after anything the two
    // corrections above would have sent on those connections.
    await Promise.all([a.take(cost()), b.take(cost())]);
    expect((await scriptCalls()) - before).toBe(2);
  });

  it('writes one hash of numbers under the prefix, with an expiry', async () => {
    const prefix = newPrefix();
    const redis = client();
    const limiter = redisRateLimiter({ timeout: 5_000, redis, prefix, requestsPerMinute: 10, tokensPerMinute: 1000 });
    await limiter.take(cost(10));
    expect(await redis.keys(`${prefix}*`)).toEqual([`${prefix}buckets`]);
    const fields = await redis.hgetall(`${prefix}buckets`);
    expect(Object.keys(fields).sort()).toEqual(['at', 'hr', 'ht', 'r', 't']);
    expect(Object.values(fields).every((value) => Number.isFinite(Number(value)))).toBe(true);
    expect(Number(fields['r'])).toBeCloseTo(9, 0);
    expect(Number(fields['t'])).toBeCloseTo(990, 0);
    const pttl = await redis.pttl(`${prefix}buckets`);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('rateLimit({ limiter }) paces requests over Redis and tightens from the response headers', async () => {
    const prefix = newPrefix();
    const sent: number[] = [];
    const upstream: Transport = (_request, context?: RequestContext) =>
      new Observable<LlmEvent>((subscriber) => {
        sent.push(Date.now());
        context?.onHeaders?.(200, { 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '300ms' });
        subscriber.next(finishEvent('stop'));
        subscriber.complete();
      });
    const paced = rateLimit({ limiter: redisRateLimiter({ timeout: 5_000, redis: client(), prefix, requestsPerMinute: 6000 }) });
    const llm = withMiddleware(upstream, paced);
    await lastValueFrom(llm(request).pipe(toArray()));
    // The tightening is written in the background: the request bucket's hold is in Redis.
    const redis = client();
    await waitFor(async () => Number((await redis.hget(`${prefix}buckets`, 'hr')) ?? 0) > 0, 'the hold from the response headers in Redis');
    await lastValueFrom(llm(request).pipe(toArray()));
    expect(sent[1]! - sent[0]!).toBeGreaterThanOrEqual(250); // held until the provider's reset, not 10 ms
    expect(paced.stats()).toMatchObject({ sent: 2, paced: 1, observed: 2 });
  });

  it('rateLimit({ limiter }) corrects the estimate in Redis from the usage the response reports', async () => {
    const prefix = newPrefix();
    const redis = client();
    const upstream: Transport = () =>
      new Observable<LlmEvent>((subscriber) => {
        subscriber.next(finishEvent('stop'));
        subscriber.next(usageEvent({ prompt_tokens: 300, completion_tokens: 700 }));
        subscriber.complete();
      });
    const paced = rateLimit({ limiter: redisRateLimiter({ timeout: 5_000, redis, prefix, requestsPerMinute: 600, tokensPerMinute: 60_000 }), estimateTokens: () => 20_000 });
    await lastValueFrom(withMiddleware(upstream, paced)(request).pipe(toArray()));
    const level = async () => Number(await redis.hget(`${prefix}buckets`, 't'));
    await waitFor(async () => (await level()) >= 50_000, 'the correction (a refund of 19,000 tokens) reaching Redis');
    expect(await level()).toBeGreaterThanOrEqual(59_000); // 20,000 taken, 19,000 of them refunded (and a little refill)
    expect(paced.stats()).toMatchObject({ sent: 1, corrected: 1 });
  });

  it('a Redis that goes away never fails or blocks a request: in-process buckets at rates × fallbackShare, onError once, shared again when it is back', async () => {
    const prefix = newPrefix();
    const redis = client();
    const heard: string[] = [];
    const limiter = redisRateLimiter({ timeout: 5_000, redis, prefix, requestsPerMinute: 600, fallbackShare: 0.5, onError: (error) => heard.push(error.code) });
    await server.stop();
    try {
      await waitFor(() => redis.status !== 'ready', 'the client noticing that Redis stopped');
      const started = Date.now();
      const waits: number[] = [];
      for (let n = 0; n < 301; n++) waits.push(await limiter.take(cost()));
      // Answered in process, not after a timeout each (301 timeouts of 1 s would be 5 minutes): a bound far from
      // both, so a loaded machine's slow loop does not reach it.
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(waits.slice(0, 300).every((wait) => wait === 0)).toBe(true); // 600 × 0.5
      expect(waits[300]).toBeGreaterThan(0);
      expect(limiter.stats().fallbacks).toBe(301);
      expect(heard).toHaveLength(1);
    } finally {
      await server.restart();
    }
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    expect(await limiter.take(cost())).toBe(0); // a fresh (empty-data) Redis: a full shared bucket
    expect(limiter.stats()).toMatchObject({ shared: 1, fallbacks: 301 });
    expect(await redis.exists(`${prefix}buckets`)).toBe(1);
  }, 20_000);

  it('a take answered in process during an outage is corrected in process, not in Redis', async () => {
    const prefix = newPrefix();
    const redis = client();
    const limiter = redisRateLimiter({ timeout: 5_000, redis, prefix, requestsPerMinute: 600, tokensPerMinute: 6000, fallbackShare: 0.5, onError: () => undefined });
    await server.stop();
    try {
      await waitFor(() => redis.status !== 'ready', 'the client noticing that Redis stopped');
      const taken = cost(3000);
      expect(await limiter.take(taken)).toBe(0); // the in-process bucket (3000 = 6000 × 0.5) is empty now
      expect(await limiter.take(cost(2000))).toBeGreaterThan(0);
      limiter.correct(taken, 1000); // 2000 back, in process
      expect(await limiter.take(cost(2000))).toBe(0);
      expect(limiter.stats()).toMatchObject({ shared: 0, fallbacks: 3 });
    } finally {
      await server.restart();
    }
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    expect(await redis.exists(`${prefix}buckets`)).toBe(0); // nothing was written to Redis for it
  }, 20_000);

  it('rejects bad options with invalid-config', () => {
    const redis = client();
    for (const config of [
      {},
      { redis: {}, prefix: 'p:', requestsPerMinute: 10 },
      { redis, prefix: '', requestsPerMinute: 10 },
      { redis, prefix: 'p:' },
      { redis, prefix: 'p:', requestsPerMinute: -1 },
      { redis, prefix: 'p:', requestsPerMinute: 10, tokensPerMinute: 0 },
      { redis, prefix: 'p:', requestsPerMinute: 10, fallbackShare: 2 },
      { redis, prefix: 'p:', requestsPerMinute: 10, timeout: -1 },
    ]) {
      expect(() => redisRateLimiter(config as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
  });
});
