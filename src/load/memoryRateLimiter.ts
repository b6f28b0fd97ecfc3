import { asyncScheduler, type SchedulerLike } from 'rxjs';
import type { ProviderLimits, RateCost, RateLimiter } from './RateLimiter.js';
import { correctTokens, fullBuckets, observeLimits, takeFromBuckets, type BucketRates } from './tokenBuckets.js';

/** Options for {@link memoryRateLimiter}. */
export interface MemoryRateLimiterConfig extends BucketRates {
  /** The buckets' clock. @defaultValue asyncScheduler */
  readonly scheduler?: SchedulerLike;
}

/** A {@link RateLimiter} whose answers are synchronous. */
export interface MemoryRateLimiter extends RateLimiter {
  take(cost: RateCost): number;
  correct(cost: RateCost, actualTokens: number): void;
}

/**
 * Token buckets in this process: `requestsPerMinute` and (optionally) `tokensPerMinute`, each full at the start
 * and refilled continuously (a full minute's budget per minute); `correct` settles a request's estimate against its
 * actual tokens. Synchronous, so it runs in virtual time.
 * What {@link rateLimit} uses when given rates instead of a limiter, and what `redisRateLimiter` falls back to
 * while Redis is unreachable. Options are validated by its callers.
 */
export function memoryRateLimiter(config: MemoryRateLimiterConfig): MemoryRateLimiter {
  const { scheduler = asyncScheduler } = config;
  const rates: BucketRates = { requestsPerMinute: config.requestsPerMinute, tokensPerMinute: config.tokensPerMinute };
  const state = fullBuckets(rates, scheduler.now());
  return {
    take: (cost: RateCost) => takeFromBuckets(state, rates, cost, scheduler.now()),
    observe: (limits: ProviderLimits) => observeLimits(state, rates, limits, scheduler.now()),
    correct: (cost: RateCost, actualTokens: number) => correctTokens(state, rates, cost, actualTokens, scheduler.now()),
  };
}
