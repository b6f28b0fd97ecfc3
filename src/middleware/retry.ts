import { asyncScheduler, Observable, type SchedulerLike, type Subscriber, type Subscription, timer } from 'rxjs';
import * as s from '../internal/check.js';
import { Relay } from '../internal/Relay.js';
import { type RequestContext, timeLeft } from '../core/context.js';
import type { LlmEvent } from '../core/events.js';
import { isRxllmError, RxllmError, type RxllmErrorDetails } from '../core/errors.js';
import type { Middleware } from '../core/transport.js';
import { backoffDelay, type BackoffConfig } from './backoff.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';

/** One retry about to happen, as {@link RetryConfig.onRetry} sees it. */
export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  /** The error that caused it. */
  error: unknown;
  /** How long it waits first, in ms (the server's `retry-after`, or the backoff). */
  delayMs: number;
  /** Where the wait came from. */
  reason: 'retry-after' | 'backoff';
}

/** Options for {@link retry}. */
export interface RetryConfig {
  /** Retries after the first attempt (so at most `maxRetries + 1` requests). @defaultValue 2 */
  maxRetries?: number;
  /** Exponential backoff with jitter, used when the server did not say how long to wait. */
  backoff?: BackoffConfig;
  /**
   * Which errors are worth another attempt. It is asked only while nothing has been emitted.
   * @defaultValue {@link isRetryable}
   */
  retryOn?: (error: unknown, attempt: number) => boolean;
  /**
   * The longest `retry-after` to honour, in ms. A server asking for longer fails the request at
   * once with `rate-limited` and the wait in `retryAfterMs`, rather than sleeping for an hour.
   * @defaultValue 60_000
   */
  maxRetryAfterMs?: number;
  /** Random numbers in [0, 1) for the jitter; pass a seeded one for reproducible waits. @defaultValue Math.random */
  random?: () => number;
  /** Called just before each wait (logging, metrics). A throw fails the request with that error. */
  onRetry?: (info: RetryInfo) => void;
  /**
   * The timers of the waits, and the clock the request context's deadline is read on.
   * @defaultValue asyncScheduler (virtualised by `TestScheduler.run`)
   */
  scheduler?: SchedulerLike;
}

const RETRYABLE_CODES: ReadonlySet<string> = new Set(['rate-limited', 'server', 'connection-refused', 'connection-lost']);
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 409, 429]);
const RETRYABLE_LIMITS: ReadonlySet<string | undefined> = new Set(['headers', 'firstToken']);

/**
 * The default retry rule: openai-node's, and stricter where a retry cannot help. The first row
 * that matches decides:
 *
 * | # | the error | retried? |
 * |---|---|---|
 * | 1 | anything after content was emitted (`tokensEmitted: true`) | never: it would duplicate the answer |
 * | 2 | anything that ran into the request's deadline (`limit: 'deadline'`) | never: no time is left |
 * | 3 | `quota-exceeded` (a 429 with provider code `insufficient_quota`) | never: the plan or credit is used up |
 * | 4 | an error status (≥ 400) with `x-should-retry: true` / `false` (in `error.headers`) | yes / no, as the server says, whatever the status |
 * | 5 | `rate-limited` (429), `server` (5xx), `http` with status 408, 409 or 5xx | yes |
 * | 6 | `connection-refused`, `connection-lost` (reset, cut before any content) | yes: a server that is restarting accepts again |
 * | 7 | `timeout` with `limit: 'headers'` or `'firstToken'` | yes |
 * | 8 | `timeout` with `limit: 'total'` (or none), and everything else: 400, 401, 403, 404, 422, `invalid-request`, `stream-error`, a plain `Error` | no |
 *
 * How long it waits is {@link retry}'s business (`retry-after-ms`, `retry-after` in seconds or as
 * an HTTP date, up to `maxRetryAfterMs`; else backoff).
 *
 * @example
 * ```ts
 * retry({ retryOn: (error) => isRetryable(error) || (isRxllmError(error) && error.code === 'stream-error') })
 * ```
 */
export function isRetryable(error: unknown): boolean {
  if (!isRxllmError(error) || error.tokensEmitted === true || error.limit === 'deadline') return false;
  if (error.code === 'quota-exceeded') return false;
  // Only an error status's header speaks about the error: on a 200 it described the response, not what went wrong in its body.
  const shouldRetry = error.status !== undefined && error.status >= 400 ? error.headers?.['x-should-retry'] : undefined;
  if (shouldRetry === 'true') return true;
  if (shouldRetry === 'false') return false;
  if (error.code === 'timeout') return RETRYABLE_LIMITS.has(error.limit);
  if (RETRYABLE_CODES.has(error.code)) return true;
  return error.code === 'http' && error.status !== undefined && (RETRYABLE_STATUS.has(error.status) || error.status >= 500);
}

/**
 * Middleware: sends a failed request again, but only while nothing has been emitted downstream.
 * Once an event went out, an error passes through with `tokensEmitted: true`: a retry would
 * duplicate or splice the answer.
 *
 * ```text
 * retry({ maxRetries: 2, backoff: { initialMs: 10, jitter: 0 } })
 * upstream (1st):  --#                        # = server error
 * upstream (2nd):            --#              after a 10 ms wait
 * upstream (3rd):                         --a--b|   after a 20 ms wait
 * result:          -----------------------------a--b|
 *
 * upstream:        --a--#                     after a token: no retry
 * result:          --a--#                     # with tokensEmitted: true
 *
 * context { deadline: 25 }: the second wait (20 ms, from 14) would end past it
 * upstream (1st):  --#
 * upstream (2nd):            --#
 * result:          --------------#            the 2nd error, with limit: 'deadline'
 * ```
 *
 * - **Emits** the events of the attempt that succeeds (only one attempt ever emits).
 * - **Completes** with that attempt.
 * - **Errors** with the last attempt's error once `maxRetries` is used up or `retryOn` says no;
 *   at once with `rate-limited` (and `retryAfterMs`) when the server asks to wait longer than
 *   `maxRetryAfterMs`; with `tokensEmitted: true` added when events had been emitted.
 * - **Keeps the deadline** of the request context (`context.deadline`, on the scheduler's clock):
 *   it starts no attempt at or after it, nor one whose wait (backoff or `retry-after`) would end
 *   at or after it. It errors instead with the last attempt's error, its code and fields kept,
 *   `limit: 'deadline'` added and a sentence saying the deadline stopped the retries appended to
 *   its message (an error that is not an {@link RxllmError} passes unchanged). A request already
 *   past its deadline at subscribe errors with `timeout` (`limit: 'deadline'`) and is not sent.
 * - **Waits** the server's `retry-after` / `retry-after-ms` (read by the transports into
 *   `retryAfterMs`) when given, else exponential backoff with jitter; all waits on the scheduler.
 * - **Unsubscribe** aborts the running attempt or cancels the wait.
 * - **Cold**: one chain of attempts per subscription.
 *
 * Put it outside `timeouts()` so a headers or first-token timeout is retried, and retry in one place only
 * (the openai transport already sets the SDK's own retries to 0). `timeouts()` inside it ends an
 * attempt that is still running at the deadline; `retry()` only decides whether to start another.
 * Passes the request context on unchanged to every attempt.
 *
 * @throws {@link RxllmError} `invalid-config` on a bad option.
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), retry({ maxRetries: 3 }), timeouts({ firstToken: 5_000 }));
 * llm(request, { deadline: asyncScheduler.now() + 10_000 }); // no attempt starts after 10 s
 * ```
 */
export function retry(config: RetryConfig = {}): Middleware {
  const {
    maxRetries = 2,
    backoff = {},
    retryOn = isRetryable,
    maxRetryAfterMs = 60_000,
    random = Math.random,
    onRetry,
    scheduler = asyncScheduler,
  } = validateConfig('retry', configSchema, config);

  // When to wait before attempt `attempt + 1`, or a throw: the error to end with.
  const waitBefore = (error: unknown, attempt: number, context: RequestContext | undefined): number => {
    if (!retryOn(error, attempt)) throw error;
    const retryAfterMs = isRxllmError(error) ? error.retryAfterMs : undefined;
    if (retryAfterMs !== undefined && retryAfterMs > maxRetryAfterMs) throw tooLongToWait(error as RxllmError, maxRetryAfterMs);
    const info: RetryInfo =
      retryAfterMs !== undefined
        ? { attempt, error, delayMs: retryAfterMs, reason: 'retry-after' }
        : { attempt, error, delayMs: backoffDelay(attempt, backoff, random), reason: 'backoff' };
    // An attempt that would start at or after the deadline could not answer in time: not sent.
    const left = timeLeft(context, scheduler);
    if (info.delayMs >= left) throw stoppedByDeadline(error, info, left);
    onRetry?.(info);
    return info.delayMs;
  };

  // Written out rather than tap() + retry({ delay }) + catchError(): each of those is a hop every token of the
  // answer passed through. Here the attempt's events go to the caller through one observer.
  return (next) => (request, context) =>
    new Observable<LlmEvent>((subscriber) => {
      if (timeLeft(context, scheduler) <= 0) {
        subscriber.error(pastDeadline());
        return;
      }
      const attempts = next(request, context);
      let retries = 0;
      let attempt: Subscription | undefined;
      let wait: Subscription | undefined;
      // Once an event went out, every error says so: a retry further out must not send the request again.
      const fail = (error: unknown, emitted: boolean) =>
        subscriber.error(emitted && isRxllmError(error) && error.tokensEmitted !== true ? error.with({ tokensEmitted: true }) : error);
      const failed = (error: unknown, emitted: boolean): void => {
        if (emitted || retries >= maxRetries) {
          fail(error, emitted);
          return;
        }
        retries++;
        let delayMs: number;
        try {
          delayMs = waitBefore(error, retries, context);
        } catch (final: unknown) {
          fail(final, false);
          return;
        }
        wait = timer(delayMs, scheduler).subscribe(() => {
          wait = undefined;
          if (!subscriber.closed) start();
        });
      };
      const start = (): void => {
        attempt = attempts.subscribe(new Attempt(subscriber, failed));
      };
      start();
      return () => {
        attempt?.unsubscribe();
        wait?.unsubscribe();
      };
    });
}

function tooLongToWait(error: RxllmError, capMs: number): RxllmError {
  const wait = error.retryAfterMs!;
  return new RxllmError(
    'rate-limited',
    `The server asked to wait ${formatWait(wait)} before retrying, longer than retry()'s cap of ${formatWait(capMs)}; not retrying. Try again later, or raise \`maxRetryAfterMs\`.`,
    {
      cause: error,
      retryAfterMs: wait,
      ...(error.status === undefined ? {} : { status: error.status }),
      ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      ...(error.providerCode === undefined ? {} : { providerCode: error.providerCode }),
      ...(error.headers === undefined ? {} : { headers: error.headers }),
      tokensEmitted: false,
    },
  );
}

function pastDeadline(): RxllmError {
  return new RxllmError(
    'timeout',
    'retry(): the request was past its deadline before the first attempt; not sent. The deadline bounds the whole request, retries included: give the pipeline a later deadline.',
    { limit: 'deadline', tokensEmitted: false },
  );
}

/** The last attempt's error, marked and explained: the deadline, not `maxRetries` or `retryOn`, ended the retries. */
function stoppedByDeadline(error: unknown, info: RetryInfo, leftMs: number): unknown {
  if (!isRxllmError(error)) return error;
  const byServer = info.reason === 'retry-after';
  const wait = byServer ? `the server asked to wait ${formatWait(info.delayMs)}` : `the backoff was ${formatWait(Math.round(info.delayMs))}`;
  const left = leftMs <= 0 ? 'the deadline had passed' : `only ${formatWait(Math.round(leftMs))} were left before the request's deadline`;
  const advice = byServer ? 'Give the pipeline a later deadline.' : 'Give the pipeline a later deadline, or shorten `backoff`.';
  const { name: _name, code: _code, message: _message, ...details } = error.toJSON();
  return new RxllmError(
    error.code,
    `${error.message} retry() stopped before attempt ${info.attempt + 1}: ${wait}, but ${left}. ${advice}`,
    { ...(details as RxllmErrorDetails), cause: error, limit: 'deadline' },
  );
}

function formatWait(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

const configSchema = s.strictObject({
  maxRetries: s.number().int().nonnegative().optional(),
  backoff: s
    .strictObject({
      initialMs: s.number().nonnegative().finite().optional(),
      factor: s.number().min(1).finite().optional(),
      maxMs: s.number().nonnegative().finite().optional(),
      jitter: s.number().min(0).max(1).optional(),
    })
    .optional(),
  retryOn: functionSchema<(error: unknown, attempt: number) => boolean>('a function (error, attempt) => boolean').optional(),
  maxRetryAfterMs: s.number().nonnegative().optional(),
  random: functionSchema<() => number>('a function returning a number in [0, 1)').optional(),
  onRetry: functionSchema<(info: RetryInfo) => void>('a function (info) => void').optional(),
  scheduler: schedulerSchema.optional(),
});

/**
 * One attempt's observer: passes its events on and reports its error, with whether any event went out. A
 * Relay: every token of the answer passes here (see Relay for why not a partial observer).
 */
class Attempt extends Relay<LlmEvent, LlmEvent> {
  private emitted = false;

  constructor(
    destination: Subscriber<LlmEvent>,
    private readonly failed: (error: unknown, emitted: boolean) => void,
  ) {
    super(destination);
  }

  next(event: LlmEvent): void {
    if (this.closed) return;
    this.emitted = true;
    this.destination.next(event);
  }

  override error(error: unknown): void {
    if (this.closed) return;
    this.close();
    this.failed(error, this.emitted);
  }
}
