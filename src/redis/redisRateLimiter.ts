import type { Cluster, Redis } from 'ioredis';
import { asyncScheduler, type SchedulerLike } from 'rxjs';
import * as s from '../internal/check.js';
import { RxllmError } from '../core/errors.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { memoryRateLimiter } from '../load/memoryRateLimiter.js';
import type { ProviderLimits, RateCost, RateLimiter } from '../load/RateLimiter.js';
import { guardedCalls, luaScript } from './guardedCalls.js';
import { redisOrClusterSchema } from './redisClientSchema.js';

/** Options for {@link redisRateLimiter}. */
export interface RedisRateLimiterConfig {
  /** A connected (or connecting) ioredis client the app already has: `new Redis(url)`. Never closed by the limiter. */
  redis: Redis | Cluster;
  /**
   * Start of the one key the limiter writes, e.g. `'myapp:llm:openai:'`. One budget per prefix: give every
   * instance that calls the same provider account the same prefix (and the same rates).
   */
  prefix: string;
  /** The provider's requests-per-minute limit (or a little under it), for the whole fleet. */
  requestsPerMinute: number;
  /** The provider's tokens-per-minute limit, for the whole fleet; omit it to pace by requests only. */
  tokensPerMinute?: number;
  /**
   * While Redis is unreachable each instance paces on its own, at these rates times `fallbackShare`: give
   * 1 / (number of instances) to keep the fleet within the provider's limits during an outage.
   * @defaultValue 1
   */
  fallbackShare?: number;
  /** Most milliseconds a call may take before it counts as failed (the in-process buckets answer). @defaultValue 500 */
  timeout?: number;
  /** Called once when the limiter starts failing, and not again until a call has succeeded. @defaultValue `console.warn` of the message */
  onError?: (error: RxllmError) => void;
  /** Clock of `timeout` and of the in-process fallback buckets: give the same as `rateLimit({ scheduler })`. @defaultValue `asyncScheduler` */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link redisRateLimiter} (this instance only). */
export interface RedisRateLimiterStats {
  /** Takes answered by Redis. */
  shared: number;
  /** Takes answered by the in-process buckets because Redis could not answer. */
  fallbacks: number;
  /** Calls that failed: Redis unreachable, a timeout, a command error. */
  errors: number;
}

/** A {@link rxllm!RateLimiter | RateLimiter} in Redis, with its own counts. */
export interface RedisRateLimiter extends RateLimiter {
  /** Corrects a taken estimate by the actual tokens: see {@link rxllm!RateLimiter | RateLimiter}.correct. Written in the background, one script call. */
  correct(cost: RateCost, actualTokens: number): void;
  /** This limiter object's counts. */
  stats(): RedisRateLimiterStats;
}

/**
 * A provider's rate limits shared by every instance of an app, for {@link rxllm!rateLimit | rateLimit}:
 * `rateLimit({ limiter: redisRateLimiter({ redis, prefix, requestsPerMinute: 500, tokensPerMinute: 200_000 }) })`
 * paces the whole fleet to 500 requests and 200k tokens a minute, where in-process buckets would allow that much
 * per instance.
 *
 * Two token buckets (requests, tokens) in one Redis hash, refilled continuously and updated atomically by a Lua
 * script on Redis's clock (`TIME`): each take refills, checks both, and takes both or neither, in one round trip.
 * Tightening from the provider's headers (`rateLimit()` reads them) runs a second script: a bucket is lowered to
 * what the provider says remains, and held until its reset while it says none does. Correcting a request's
 * estimate from its reported usage (`correct`, called by `rateLimit()`) runs a third, in one round trip: the
 * difference between actual and estimated tokens is refunded to, or charged to, the token bucket, which stays
 * between empty and full. A correction goes to the buckets that took the estimate: Redis's, or the in-process
 * ones when an outage answered the take.
 *
 * **Keys written** (one per prefix):
 *
 * | key | type | fields | expiry |
 * |---|---|---|---|
 * | `<prefix>buckets` | hash | `r`, `t` (levels), `at` (last refill, ms on Redis's clock), `hr`, `ht` (holds until, ms) | `PEXPIRE` 60 s past the latest hold after each write: a bucket untouched for a minute is full anyway |
 *
 * No request data, key or header value is stored: only numbers.
 *
 * - **Faults never fail or block a request**: while Redis is unreachable or slow (`timeout`), takes are
 *   answered by in-process buckets (at the rates × `fallbackShare`), counted in `fallbacks`; `onError` hears
 *   of the first failure of an outage; the next take asks Redis again, so sharing resumes when it returns.
 *   Tightenings go to both.
 * - The client is the app's: the limiter never connects, disconnects or quits it. Redis Cluster: one key, so one
 *   hash slot.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a missing or wrong client, an empty prefix, a
 * rate that is not a positive number, a `fallbackShare` outside (0, 1], a `timeout` that is not a positive integer.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { rateLimit, retry, sseTransport, withMiddleware } from 'rxllm';
 * import { redisRateLimiter } from 'rxllm/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const limiter = redisRateLimiter({ redis, prefix: 'myapp:openai:', requestsPerMinute: 500, tokensPerMinute: 200_000, fallbackShare: 1 / 3 });
 * const llm = withMiddleware(sseTransport({ baseURL, apiKey }), retry(), rateLimit({ limiter }));
 * ```
 * @see rateLimit
 */
export function redisRateLimiter(config: RedisRateLimiterConfig): RedisRateLimiter {
  const options = validateConfig('redisRateLimiter', configSchema, config);
  const { redis, prefix, requestsPerMinute, tokensPerMinute, fallbackShare, timeout, scheduler } = options;
  const key = `${prefix}buckets`;
  const calls = guardedCalls(
    'redisRateLimiter',
    redis,
    timeout,
    scheduler,
    options.onError ?? ((error: RxllmError) => console.warn(error.message)),
    'Requests are paced by this instance\'s in-process buckets meanwhile.',
  );
  const take = luaScript(redis, TAKE);
  const observe = luaScript(redis, OBSERVE);
  const correct = luaScript(redis, CORRECT);
  // Which buckets took each admitted cost (the object rateLimit() passes to take and then to correct): a
  // correction goes to the budget that was charged, Redis's or, during an outage, the in-process one.
  const takenBy = new WeakMap<RateCost, 'shared' | 'local'>();
  const local = memoryRateLimiter({
    requestsPerMinute: requestsPerMinute * fallbackShare,
    tokensPerMinute: tokensPerMinute === undefined ? undefined : tokensPerMinute * fallbackShare,
    scheduler,
  });
  // -1: no token budget (Lua has no undefined in ARGV).
  const rates = [requestsPerMinute, tokensPerMinute ?? -1];
  const counts = { shared: 0, fallbacks: 0 };

  return {
    take: (cost: RateCost) =>
      calls.run('take', () => take([key], [...rates, cost.requests, cost.tokens])).then(
        (wait) => {
          counts.shared++;
          if (Number(wait) === 0) takenBy.set(cost, 'shared');
          return Number(wait);
        },
        () => {
          counts.fallbacks++;
          const wait = local.take(cost);
          if (wait === 0) takenBy.set(cost, 'local');
          return wait;
        },
      ),
    observe: (limits: ProviderLimits) => {
      local.observe(limits);
      const args = [limits.remainingRequests, limits.resetRequestsMs, limits.remainingTokens, limits.resetTokensMs].map((value) => (value === undefined ? -1 : value));
      calls.run('tighten', () => observe([key], [...rates, ...args])).catch(() => undefined); // counted; the local buckets have it
    },
    correct: (cost: RateCost, actualTokens: number) => {
      const where = takenBy.get(cost);
      takenBy.delete(cost);
      if (tokensPerMinute === undefined || where === undefined || !(actualTokens >= 0)) return;
      if (where === 'local') return local.correct(cost, actualTokens);
      // One round trip; lost when Redis is away (counted in errors): the shared bucket then keeps the estimate.
      calls.run('correct', () => correct([key], [...rates, cost.tokens, actualTokens])).catch(() => undefined);
    },
    stats: () => ({ ...counts, errors: calls.errors }),
  };
}

/*
 * The bucket arithmetic of src/load/tokenBuckets.ts, in Lua (a change there is a change here). Both scripts
 * start by refilling the buckets to Redis's TIME.
 */
const REFILL = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'r', 't', 'at', 'hr', 'ht')
local elapsed = math.max(0, now - (tonumber(s[3]) or now))
local r = math.min(rpm, (tonumber(s[1]) or rpm) + elapsed * rpm / 60000)
local t = 0
if tpm >= 0 then t = math.min(tpm, (tonumber(s[2]) or tpm) + elapsed * tpm / 60000) end
local hr, ht = tonumber(s[4]) or 0, tonumber(s[5]) or 0
local function save()
  redis.call('HSET', KEYS[1], 'r', tostring(r), 't', tostring(t), 'at', now, 'hr', hr, 'ht', ht)
  redis.call('PEXPIRE', KEYS[1], math.max(hr, ht, now) - now + 60000)
end
`;

/** KEYS[1] the hash; ARGV: rpm, tpm (-1: none), request cost, token cost. 0 when taken, else ms to wait. */
const TAKE = `${REFILL}
local cr = math.min(tonumber(ARGV[3]), rpm)
local ct = 0
if tpm >= 0 then ct = math.min(tonumber(ARGV[4]), tpm) end
local wait = math.max(hr - now, (cr - r) * 60000 / rpm)
if tpm >= 0 then wait = math.max(wait, ht - now, (ct - t) * 60000 / tpm) end
if wait > 0 then
  save()
  return math.ceil(wait)
end
r = r - cr
t = t - ct
save()
return 0
`;

/** KEYS[1] the hash; ARGV: rpm, tpm, remaining requests, reset requests ms, remaining tokens, reset tokens ms (-1: not reported). */
const OBSERVE = `${REFILL}
local rr, rrs, rt, rts = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if rr >= 0 then
  r = math.min(r, rr)
  if rr == 0 and rrs >= 0 then hr = math.max(hr, now + rrs) end
end
if rt >= 0 and tpm >= 0 then
  t = math.min(t, rt)
  if rt == 0 and rts >= 0 then ht = math.max(ht, now + rts) end
end
save()
return 1
`;

/**
 * KEYS[1] the hash; ARGV: rpm, tpm (-1: none), the estimate taken, the actual tokens. Charges the difference to the
 * token bucket (the estimate counted as at most a whole bucket, as TAKE counts it), kept between empty and full:
 * tokenBuckets.ts's correctTokens.
 */
const CORRECT = `${REFILL}
if tpm >= 0 then
  local charged = math.min(math.max(0, tonumber(ARGV[3])), tpm)
  t = math.min(tpm, math.max(0, t - (tonumber(ARGV[4]) - charged)))
end
save()
return 1
`;

const positive = s.number().positive();
const configSchema = s.strictObject({
  redis: redisOrClusterSchema(['evalsha', 'eval']),
  prefix: s.string().min(1, 'a non-empty key prefix, such as "myapp:openai:"'),
  requestsPerMinute: positive,
  tokensPerMinute: positive.optional(),
  fallbackShare: positive.max(1).default(1),
  timeout: s.number().int().positive().default(500),
  onError: functionSchema<(error: RxllmError) => void>('a function (error) => void').optional(),
  scheduler: schedulerSchema.default(() => asyncScheduler),
});
