/** What one request costs a {@link RateLimiter}. */
export interface RateCost {
  /** Requests: 1 per request. */
  readonly requests: number;
  /** Estimated tokens: the prompt's estimate plus the most the answer may use (`max_tokens`). */
  readonly tokens: number;
}

/**
 * What a provider said about its limits in a response's headers (`x-ratelimit-remaining-requests`,
 * `x-ratelimit-reset-requests`, and the same for `-tokens`: OpenAI's names, also sent by Azure OpenAI and
 * several compatible servers). A field the response did not carry is left out.
 */
export interface ProviderLimits {
  /** Requests the provider will still accept in its current window. */
  readonly remainingRequests?: number;
  /** Milliseconds until the provider's request budget is whole again. */
  readonly resetRequestsMs?: number;
  /** Tokens the provider will still accept in its current window. */
  readonly remainingTokens?: number;
  /** Milliseconds until the provider's token budget is whole again. */
  readonly resetTokensMs?: number;
}

/**
 * The budgets {@link rateLimit} paces requests by: token buckets of requests per minute and tokens per minute.
 * `memoryRateLimiter` keeps them in the process; `redisRateLimiter` (`rxllm/redis`) in Redis, shared by every
 * instance that uses the same key prefix.
 */
export interface RateLimiter {
  /**
   * Takes `cost` from the buckets if they hold it: returns (or resolves to) 0 when taken, else the milliseconds
   * after which it may be (nothing is taken then; `rateLimit()` asks again after that wait). Never rejects: a
   * shared limiter whose backend is unreachable answers from an in-process bucket instead.
   */
  take(cost: RateCost): number | Promise<number>;
  /**
   * Tightens the buckets from what the provider reported: a bucket never holds more than the provider says
   * remains, and while the provider reports none left nothing is taken until its reset. Never loosens them.
   */
  observe(limits: ProviderLimits): void;
  /**
   * Corrects the token bucket once a request's actual token count is known (its `usage` event): charges
   * `actualTokens` minus what was taken for `cost` (the estimate, counted as at most a whole bucket, as `take`
   * counts it): a refund when the estimate was high, an extra charge when it was low. The level stays within
   * the bucket's bounds: never above a minute's budget, never below empty. `cost` is the very object given to
   * the `take` that returned 0 (a shared limiter uses it to correct the budget that took it). Without a token
   * budget it does nothing. Never throws; a shared limiter writes it in the background. Optional: a limiter
   * without it keeps every estimate as charged.
   */
  correct?(cost: RateCost, actualTokens: number): void;
}
