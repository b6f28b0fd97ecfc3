import type { SchedulerLike } from 'rxjs';
import type { LlmRequest } from './request.js';
import { withFields } from '../internal/withFields.js';

/**
 * What travels beside a request and is not part of it. Middleware reads it instead of taking
 * per-step options or hiding fields in the request body. It never reaches the provider and never
 * changes a cache or de-dup key (the `scope` attribute aside, by design: it separates tenants).
 *
 * Every field is optional, and so is the context itself: a plain `(request) => Observable`
 * is still a {@link Transport}. Middleware passes the context on unchanged unless its job is to
 * change it (a pipeline narrows the deadline, for instance).
 *
 * @example
 * ```ts
 * llm(request, { step: 'summary', lane: 'background', attributes: { tenant: 'acme' } })
 * ```
 */
export interface RequestContext {
  /** The pipeline step the request belongs to (set by `step()`): the key of per-step statistics, timeouts, hedging and routing. */
  readonly step?: string;
  /** The priority lane for `limit()` and `batch()` (`'interactive'`, `'background'`, ...). */
  readonly lane?: string;
  /**
   * String key/values for metrics labels and OpenTelemetry attributes. The `scope` attribute,
   * when set, also separates cache and de-dup keys (a tenant or credential scope).
   */
  readonly attributes?: Readonly<Record<string, string>>;
  /**
   * The absolute time, on the scheduler's clock (`scheduler.now()`), by which the whole request
   * (retries and hedges included) must end. `retry()` starts no attempt that cannot end in time,
   * `hedge()` sends no backup past it, `timeouts()` fires at the earlier of its own limit and it.
   */
  readonly deadline?: number;
  /**
   * Told which model or candidate actually answered, when middleware (`fallback()`, `route()`)
   * sent the request somewhere other than `request.model`. Not part of the stream, so a cached
   * answer never replays another run's report.
   */
  readonly onServed?: (served: Served) => void;
  /**
   * Told when the response headers of an HTTP request arrived (before any of its body), with the
   * status and the readable headers (credentials left out, as in `RxllmError.headers`). Called by
   * `sseTransport` and `openaiTransport` once per HTTP request (so once per attempt under `retry()`
   * or `hedge()`), for an error status too; `timeouts()` sets it to stop its `headers` clock.
   * Not part of the stream, so a cached answer never replays it. A transport that does not report
   * headers (the simulated one, a user's own) never calls it.
   */
  readonly onHeaders?: (status: number, headers: Readonly<Record<string, string>>) => void;
}

/** Which model answered a request, and which middleware chose it. */
export interface Served {
  /** The model that answered. */
  readonly model: string;
  /** The middleware that chose it (`'fallback'`, `'route'`). */
  readonly by: string;
  /** The candidate's name, when the middleware names its candidates. */
  readonly candidate?: string;
}

/** The key per-step middleware groups a request under: the context's step, else the request's model. */
export function stepOf(request: LlmRequest, context: RequestContext | undefined): string {
  return context?.step ?? request.model;
}

/**
 * Milliseconds left before the context's deadline on `scheduler`'s clock (may be zero or
 * negative once it has passed), or `Infinity` without a deadline.
 */
export function timeLeft(context: RequestContext | undefined, scheduler: SchedulerLike): number {
  return context?.deadline === undefined ? Infinity : context.deadline - scheduler.now();
}

/**
 * The context with a deadline no later than `scheduler.now() + withinMs` (an earlier deadline
 * the context already has is kept). `withinMs` of `undefined` or `Infinity` leaves it as it is.
 */
export function withDeadline(context: RequestContext | undefined, withinMs: number | undefined, scheduler: SchedulerLike): RequestContext | undefined {
  if (withinMs === undefined || withinMs === Infinity) return context;
  const deadline = scheduler.now() + withinMs;
  if (context?.deadline !== undefined && context.deadline <= deadline) return context;
  return withFields(context, { deadline });
}
