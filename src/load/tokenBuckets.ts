import type { ProviderLimits, RateCost } from './RateLimiter.js';

/*
 * The bucket arithmetic of the in-process rate limiter. The Redis limiter does the same in Lua
 * (src/redis/redisRateLimiter.ts): a change here is a change there.
 */

/** Requests and tokens per minute; `undefined` tokens means no token budget. */
export interface BucketRates {
  readonly requestsPerMinute: number;
  readonly tokensPerMinute: number | undefined;
}

/** The buckets' state: levels, when they were last refilled, and the provider's holds. */
export interface BucketState {
  requests: number;
  tokens: number;
  at: number;
  holdRequestsUntil: number;
  holdTokensUntil: number;
}

export function fullBuckets(rates: BucketRates, now: number): BucketState {
  return { requests: rates.requestsPerMinute, tokens: rates.tokensPerMinute ?? 0, at: now, holdRequestsUntil: 0, holdTokensUntil: 0 };
}

function refill(state: BucketState, rates: BucketRates, now: number): void {
  const elapsed = Math.max(0, now - state.at);
  state.requests = Math.min(rates.requestsPerMinute, state.requests + (elapsed * rates.requestsPerMinute) / 60_000);
  if (rates.tokensPerMinute !== undefined) state.tokens = Math.min(rates.tokensPerMinute, state.tokens + (elapsed * rates.tokensPerMinute) / 60_000);
  state.at = Math.max(state.at, now);
}

/**
 * Takes `cost` at `now` if both buckets hold it (0), else the milliseconds until they will (nothing taken).
 * A cost larger than a bucket counts as the whole bucket, so it waits for a full bucket rather than forever.
 */
export function takeFromBuckets(state: BucketState, rates: BucketRates, cost: RateCost, now: number): number {
  refill(state, rates, now);
  const requests = Math.min(cost.requests, rates.requestsPerMinute);
  const tokens = rates.tokensPerMinute === undefined ? 0 : Math.min(cost.tokens, rates.tokensPerMinute);
  let wait = Math.max(state.holdRequestsUntil - now, ((requests - state.requests) * 60_000) / rates.requestsPerMinute);
  if (rates.tokensPerMinute !== undefined) wait = Math.max(wait, state.holdTokensUntil - now, ((tokens - state.tokens) * 60_000) / rates.tokensPerMinute);
  if (wait > 0) return Math.ceil(wait);
  state.requests -= requests;
  state.tokens -= tokens;
  return 0;
}

/**
 * Charges the token bucket the difference between a request's actual tokens and what `takeFromBuckets` took for
 * `cost` (its estimate, at most a whole bucket): a refund when the estimate was high, more when it was low. The
 * level stays between empty and a minute's budget, the bounds every other change keeps (a take never waits for
 * more than a full bucket, so no request's tokens set the budget back by more than a minute): an extra charge can
 * at most empty the bucket, and the provider's `x-ratelimit-remaining-tokens` tightens it further when it must.
 */
export function correctTokens(state: BucketState, rates: BucketRates, cost: RateCost, actualTokens: number, now: number): void {
  if (rates.tokensPerMinute === undefined || !(actualTokens >= 0)) return;
  refill(state, rates, now);
  const charged = Math.min(Math.max(0, cost.tokens), rates.tokensPerMinute);
  state.tokens = Math.min(rates.tokensPerMinute, Math.max(0, state.tokens - (actualTokens - charged)));
}

/** Lowers the buckets to what the provider says remains; holds a bucket the provider says is empty until its reset. */
export function observeLimits(state: BucketState, rates: BucketRates, limits: ProviderLimits, now: number): void {
  refill(state, rates, now);
  if (limits.remainingRequests !== undefined) {
    state.requests = Math.min(state.requests, limits.remainingRequests);
    if (limits.remainingRequests <= 0 && limits.resetRequestsMs !== undefined) state.holdRequestsUntil = Math.max(state.holdRequestsUntil, now + limits.resetRequestsMs);
  }
  if (limits.remainingTokens !== undefined && rates.tokensPerMinute !== undefined) {
    state.tokens = Math.min(state.tokens, limits.remainingTokens);
    if (limits.remainingTokens <= 0 && limits.resetTokensMs !== undefined) state.holdTokensUntil = Math.max(state.holdTokensUntil, now + limits.resetTokensMs);
  }
}
