import { asyncScheduler, defer, from, type Observable, of, type SchedulerLike, switchMap, tap, timer } from 'rxjs';
import * as s from '../internal/check.js';
import type { RequestContext } from '../core/context.js'; // for {@link} in the docs
import type { RxllmError } from '../core/errors.js'; // for {@link} in the docs
import type { LlmEvent, LlmUsage } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import type { Middleware, Transport } from '../core/transport.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { memoryRateLimiter } from '../load/memoryRateLimiter.js';
import type { RateLimiter } from '../load/RateLimiter.js';
import { rateLimitHeaders } from '../load/rateLimitHeaders.js';
import { LatencyHistogram, type Distribution } from '../metrics/LatencyHistogram.js';
import { withFields } from '../internal/withFields.js';

/**
 * Options for {@link rateLimit}: either the provider's rates (`requestsPerMinute`, optionally `tokensPerMinute`),
 * kept in this process, or a `limiter` that keeps them elsewhere (`redisRateLimiter` from `rxllm/redis`).
 * Validated once, when `rateLimit()` is called.
 */
export interface RateLimitConfig {
  /** The provider's requests-per-minute limit (or a little under it), for in-process buckets. */
  requestsPerMinute?: number;
  /** The provider's tokens-per-minute limit, for in-process buckets; omit it to pace by requests only. */
  tokensPerMinute?: number;
  /** Buckets kept elsewhere (shared by many instances), instead of the rates above. */
  limiter?: RateLimiter;
  /**
   * The tokens a request is expected to cost. @defaultValue a quarter of the characters of its messages as JSON
   * (the prompt's estimate), plus `max_completion_tokens` or `max_tokens` (the most the answer may use; 0 when
   * neither is set, so set one to pace by tokens). Corrected by the response's reported usage when it comes.
   */
  estimateTokens?: (request: LlmRequest) => number;
  /** The clock of the waits (and of in-process buckets). @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** What a {@link rateLimit} middleware measured. */
export interface RateLimitStats {
  /** Requests sent upstream. */
  sent: number;
  /** Of those, the ones that had to wait for the buckets. */
  paced: number;
  /** Responses whose rate-limit headers tightened the buckets. */
  observed: number;
  /** Responses whose `usage` corrected the token estimate they were charged. */
  corrected: number;
  /** Time from subscribe to going upstream (ms) of every request sent; undefined before the first. */
  wait: Distribution | undefined;
}

/** The {@link rateLimit} middleware, with its measurements. */
export interface RateLimitMiddleware extends Middleware {
  /** The measurements so far, as a fresh snapshot on each call. */
  stats(): RateLimitStats;
}

/**
 * Middleware: paces requests to stay within a provider's requests-per-minute and tokens-per-minute limits, so
 * that requests wait here, briefly and cheaply, instead of being sent, refused with 429, and retried.
 *
 * ```text
 * requestsPerMinute 2 (one request every 30 s once the bucket is empty)
 * a (at 0):      upstream a: ^ at 0
 * b (at 0):      upstream b: ^ at 0
 * c (at 0):      upstream c: 30000ms ^       (waits for the bucket)
 * ```
 *
 * - **Buckets**: one of requests, one of tokens, each holding a minute's budget at most and refilled
 *   continuously. A request costs 1 request and its estimated tokens (`estimateTokens`: the prompt plus
 *   `max_tokens`); it goes upstream once both buckets hold its cost, else waits until they will (a timer on
 *   the scheduler) and asks again. A request larger than a bucket waits for a full bucket.
 * - **Corrects its estimate** when the response reports its `usage` (the `usage` event): the token bucket is
 *   charged `total_tokens` minus the estimate it took, a refund when the estimate was high (a short answer under a
 *   large `max_tokens`), an extra charge when it was low (no `max_tokens`: the estimate is the prompt alone). The
 *   level stays between empty and a minute's budget. A request that errors or is unsubscribed before its usage
 *   keeps its estimate charged: the provider has counted its prompt. So does a usage of 0 tokens (a server that
 *   fills in zeros). Counted in `stats().corrected`.
 * - **Tightens itself** from the provider's `x-ratelimit-remaining-requests` / `-tokens` and
 *   `x-ratelimit-reset-requests` / `-tokens` response headers (read through the context's
 *   {@link RequestContext.onHeaders}, which `sseTransport` and `openaiTransport` call): a bucket never holds more
 *   than the provider says remains, and while it says none remains nothing is sent until its reset. It never
 *   loosens them: the configured rates stay the ceiling. A 429 that arrives anyway is `retry()`'s to handle.
 * - **Shared**: with `limiter: redisRateLimiter(...)` every instance takes from the same buckets in Redis.
 * - **Emits** the upstream events unchanged; **completes** and **errors** with the upstream. The request goes
 *   upstream unchanged; its context too, but for `onHeaders`, which it wraps (the caller's own is still called).
 * - **Unsubscribe** while waiting cancels the wait (nothing was taken); while upstream, aborts the request.
 *   Cold per request; one `rateLimit()` is one budget, shared by every request it sees.
 * - Not a queue: waiting requests ask again independently, so a large request may wait behind smaller ones
 *   that fit sooner. Put it below `limit()` (`withMiddleware(t, limit(...), rateLimit(...))`) when the number
 *   waiting must be bounded.
 *
 * @throws {@link RxllmError} `invalid-config` on bad options (no rates and no limiter, both, a rate that is not
 * a positive number).
 *
 * @example
 * ```ts
 * const paced = rateLimit({ requestsPerMinute: 500, tokensPerMinute: 200_000 });
 * const llm = withMiddleware(sseTransport({ baseURL, apiKey }), retry(), paced);
 * paced.stats().wait?.p95; // ms spent waiting for the budget
 * ```
 */
export function rateLimit(config: RateLimitConfig): RateLimitMiddleware {
  const options = validateConfig('rateLimit', configSchema, config);
  const { scheduler } = options;
  const limiter =
    options.limiter ?? memoryRateLimiter({ requestsPerMinute: options.requestsPerMinute!, tokensPerMinute: options.tokensPerMinute, scheduler });
  const estimate = options.estimateTokens ?? estimateTokens;
  const counts = { sent: 0, paced: 0, observed: 0, corrected: 0 };
  const waits = new LatencyHistogram();

  const middleware: Middleware = (next: Transport): Transport => (request, context) =>
    defer(() => {
      const cost = { requests: 1, tokens: Math.max(0, estimate(request)) };
      const subscribedAt = scheduler.now();
      let waited = false;
      // Asks the buckets until they hold the cost; each refusal says how long to wait before asking again.
      const admitted = (): Observable<void> =>
        defer(() => {
          const answer = limiter.take(cost);
          return typeof answer === 'number' ? of(answer) : from(answer);
        }).pipe(
          switchMap((wait) => {
            if (!(wait > 0)) return of(undefined);
            waited = true;
            return timer(wait, scheduler).pipe(switchMap(admitted));
          }),
        );
      const onHeaders = (status: number, headers: Readonly<Record<string, string>>): void => {
        const limits = rateLimitHeaders(headers);
        if (Object.keys(limits).length > 0) {
          counts.observed++;
          limiter.observe(limits);
        }
        context?.onHeaders?.(status, headers);
      };
      return admitted().pipe(
        switchMap((): Observable<LlmEvent> => {
          counts.sent++;
          if (waited) counts.paced++;
          waits.record(scheduler.now() - subscribedAt);
          // The estimate is settled against the provider's count when the response reports it. A request that
          // errors or is unsubscribed before its usage keeps its estimate charged: the provider counted its prompt
          // (and whatever it generated before the abort), and nothing tells how much that was.
          let settled = false;
          return next(request, withFields(context, { onHeaders })).pipe(
            tap((event) => {
              if (event.type !== 'usage' || settled || limiter.correct === undefined) return;
              settled = true;
              const actual = actualTokens(event.usage);
              if (actual === undefined) return;
              counts.corrected++;
              limiter.correct(cost, actual);
            }),
          );
        }),
      );
    });

  return Object.assign(middleware, { stats: (): RateLimitStats => ({ ...counts, wait: waits.summary() }) });
}

/**
 * What the provider counted: `total_tokens`, or the sum of its parts when a server leaves the total out. Undefined
 * for a count of 0 or less: every request has a prompt, so that is a server that fills in zeros rather than
 * counting, and taking it at its word would refund every estimate.
 */
function actualTokens(usage: LlmUsage): number | undefined {
  const total = Number.isFinite(usage.total_tokens) ? usage.total_tokens : (Number(usage.prompt_tokens) || 0) + (Number(usage.completion_tokens) || 0);
  return total > 0 ? total : undefined;
}

/** The default token estimate: the prompt (a quarter of its characters as JSON) plus the answer's ceiling. */
function estimateTokens(request: LlmRequest): number {
  return Math.ceil(JSON.stringify(request.messages).length / 4) + (request.max_completion_tokens ?? request.max_tokens ?? 0);
}

const positive = s.number().positive();
const configSchema = s
  .strictObject({
    requestsPerMinute: positive.optional(),
    tokensPerMinute: positive.optional(),
    limiter: s
      .custom<RateLimiter>(
        (value) => typeof (value as RateLimiter | undefined)?.take === 'function' && typeof (value as RateLimiter | undefined)?.observe === 'function',
        'expected a RateLimiter (take() and observe()), such as redisRateLimiter(...) from rxllm/redis',
      )
      .optional(),
    estimateTokens: functionSchema<(request: LlmRequest) => number>('a function (request) => number').optional(),
    scheduler: schedulerSchema.default(() => asyncScheduler),
  })
  .refine((c) => c.limiter === undefined || (c.requestsPerMinute === undefined && c.tokensPerMinute === undefined), {
    message: 'give either the rates (requestsPerMinute, tokensPerMinute) or a limiter, not both',
    path: ['limiter'],
  })
  .refine((c) => c.limiter !== undefined || c.requestsPerMinute !== undefined, {
    message: 'requestsPerMinute is required without a limiter (e.g. rateLimit({ requestsPerMinute: 500, tokensPerMinute: 200_000 }))',
    path: ['requestsPerMinute'],
  });
