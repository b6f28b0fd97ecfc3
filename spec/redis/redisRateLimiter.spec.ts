import { Redis } from 'ioredis';
import { lastValueFrom, Observable, toArray } from 'rxjs';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { rateLimit } from '../../src/middleware/rateLimit';
import { redisRateLimiter } from '../../src/redis/redisRateLimiter';
import { finishEvent } from '../../src/testing/events';
import { describeWithRedis, type RedisServer, startRedisServer } from '../helpers/redisServer';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cost = (tokens = 0) => ({ requests: 1, tokens });

describeWithRedis('redisRateLimiter (against a real redis-server)', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  let prefixes = 0;
  const client = (): Redis => {
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    clients.push(redis);
    return redis;
  };
  const newPrefix = () => `rate${++prefixes}:`;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(clients.map((redis) => redis.quit().catch(() => redis.disconnect())));
    await server?.close();
  });

  it('two instances take from one request bucket: the fleet gets requestsPerMinute, then a wait of 60000/rpm', async () => {
    const prefix = newPrefix();
    const a = redisRateLimiter({ redis: client(), prefix, requestsPerMinute: 3 });
    const b = redisRateLimiter({ redis: client(), prefix, requestsPerMinute: 3 });
    expect([await a.take(cost()), await b.take(cost()), await a.take(cost())]).toEqual([0, 0, 0]);
    const wait = await b.take(cost());
    expect(wait).toBeGreaterThan(19_000); // one request refills in 20 s
    expect(wait).toBeLessThanOrEqual(20_000);
    expect(a.stats()).toMatchObject({ shared: 2, fallbacks: 0, errors: 0 });
  });

  it('takes requests and tokens together or not at all; a cost larger than the bucket waits for a full bucket', async () => {
    const prefix = newPrefix();
    const limiter = redisRateLimiter({ redis: client(), prefix, requestsPerMinute: 100, tokensPerMinute: 6000 });
    expect(await limiter.take(cost(5000))).toBe(0);
    const wait = await limiter.take(cost(2000)); // 1000 left: 1000 more at 100 a second
    expect(wait).toBeGreaterThan(9_900);
    expect(wait).toBeLessThanOrEqual(10_000);
    expect(await limiter.take(cost(1000))).toBe(0); // the refused take took nothing: 1000 still there
    const whole = await limiter.take(cost(1_000_000));
    expect(whole).toBeGreaterThan(59_000); // counted as the whole bucket (6000), not forever
    expect(whole).toBeLessThanOrEqual(60_000);
  });

  it('tightens from what the provider reports, for every instance: remaining lowers the bucket, none remaining holds it until the reset', async () => {
    const prefix = newPrefix();
    const a = redisRateLimiter({ redis: client(), prefix, requestsPerMinute: 600, tokensPerMinute: 60_000 });
    const b = redisRateLimiter({ redis: client(), prefix, requestsPerMinute: 600, tokensPerMinute: 60_000 });
    a.observe({ remainingTokens: 50, resetTokensMs: 360_000 });
    await sleep(50);
    const wait = await b.take(cost(1050)); // 50 (+ a little refill) left: 1000 more at 1000 a second
    expect(wait).toBeGreaterThan(800);
    expect(wait).toBeLessThanOrEqual(1_000);
    a.observe({ remainingRequests: 0, resetRequestsMs: 2_000 });
    await sleep(50);
    const held = await b.take(cost());
    expect(held).toBeGreaterThan(1_800);
    expect(held).toBeLessThanOrEqual(2_000);
  });

  it('writes one hash of numbers under the prefix, with an expiry', async () => {
    const prefix = newPrefix();
    const redis = client();
    const limiter = redisRateLimiter({ redis, prefix, requestsPerMinute: 10, tokensPerMinute: 1000 });
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
    const paced = rateLimit({ limiter: redisRateLimiter({ redis: client(), prefix, requestsPerMinute: 6000 }) });
    const llm = withMiddleware(upstream, paced);
    await lastValueFrom(llm(request).pipe(toArray()));
    await sleep(20); // the tightening is written in the background
    await lastValueFrom(llm(request).pipe(toArray()));
    expect(sent[1]! - sent[0]!).toBeGreaterThanOrEqual(250); // held until the provider's reset, not 10 ms
    expect(paced.stats()).toMatchObject({ sent: 2, paced: 1, observed: 2 });
  });

  it('a Redis that goes away never fails or blocks a request: in-process buckets at rates × fallbackShare, onError once, shared again when it is back', async () => {
    const prefix = newPrefix();
    const redis = client();
    const heard: string[] = [];
    const limiter = redisRateLimiter({ redis, prefix, requestsPerMinute: 600, fallbackShare: 0.5, onError: (error) => heard.push(error.code) });
    await server.stop();
    try {
      await sleep(100);
      const started = Date.now();
      const waits: number[] = [];
      for (let n = 0; n < 301; n++) waits.push(await limiter.take(cost()));
      expect(Date.now() - started).toBeLessThan(3_000); // answered in process, not after a timeout each
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
