import { defer, Observable } from 'rxjs';
import * as s from '../internal/check.js';
import { createInFlightRegistry, type InFlightRegistry } from '../cache/InFlightRegistry.js';
import type { RxllmError } from '../core/errors.js'; // for {@link} in the docs
import type { RequestContext } from '../core/context.js'; // for {@link} in the docs
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { isSampledRequest, requestKey, type RequestScope, scopeOf } from '../core/requestKey.js';
import type { Middleware, Transport } from '../core/transport.js';
import { functionSchema, inFlightRegistrySchema, validateConfig } from '../core/validateConfig.js';

/** Options for {@link dedupe}. */
export interface DedupeConfig {
  /**
   * Your own request key, replacing {@link requestKey}: given the request and
   * the scope of its context (its `scope` attribute, `{}` when unset). Requests with equal keys share
   * one call. Example, to share across end users on purpose (but never across
   * scopes): `(r, scope) => requestKey({ ...r, user: undefined }, scope)`.
   * @defaultValue {@link requestKey}
   */
  key?: (request: LlmRequest, scope: RequestScope) => string;
  /**
   * What to do with sampled requests ({@link isSampledRequest}: temperature
   * above 0, unset, or `n > 1`), whose identical copies would otherwise get
   * different answers. `'share'`: every caller gets the one sample (each alone
   * still sees a valid answer; what is lost is independence between callers).
   * `'bypass'`: each sampled request goes upstream on its own.
   * @defaultValue `'share'`: identical requests in flight at the same moment
   * are nearly always one question asked twice (two components, a double
   * click, a retry storm). Want independent samples? Ask for `n`, or bypass.
   */
  sampled?: 'share' | 'bypass';
  /**
   * Where calls in flight are shared: a registry you made, such as `redisInFlight({ redis, prefix })` from
   * `rxllm/redis`, which shares them across every instance of an app. One registry given here serves every
   * transport this middleware wraps, so give each endpoint or credential its own registry (or prefix).
   * @defaultValue a new in-process registry per wrapped transport
   */
  registry?: InFlightRegistry;
}

/** Counts kept by a {@link dedupe} middleware, over every transport it wraps. */
export interface DedupeStats {
  /** Requests subscribed through it. */
  requests: number;
  /** Requests that started an upstream call. */
  upstream: number;
  /** Requests that joined an upstream call already in flight. */
  joined: number;
  /** Sampled requests sent on their own because `sampled` is `'bypass'`. */
  bypassed: number;
  /** Upstream calls running now. */
  inFlight: number;
}

/** The {@link dedupe} middleware, with its counts. */
export interface DedupeMiddleware extends Middleware {
  /** The counts so far, as a fresh snapshot on each call. */
  stats(): DedupeStats;
}

/**
 * Middleware: identical requests in flight at the same time share one upstream
 * call (in-flight de-duplication, keyed by {@link requestKey}).
 *
 * ```text
 * upstream:         --a--b--f|
 * caller 1:         --a--b--f|      (starts the call)
 * caller 2:         ----ab--f|      (joins at 4 ms: replay of a, then live)
 * upstream subs:    ^--------!      (one request)
 *
 * leaver:           ^--!            (leaves at 3 ms: the call goes on)
 * stayer:           --a--b--f|
 * upstream subs:    ^--------!
 * ```
 *
 * - **Emits** to every caller the same events: a late joiner first gets every
 *   event so far, then the live rest.
 * - **Completes** and **errors** with the shared call: an error reaches every
 *   current caller, and the next identical request starts afresh.
 * - **Unsubscribe**: a caller leaving does not disturb the others; the upstream
 *   request is aborted only when its last caller leaves.
 * - **Hot while in flight**, reference-counted; cold otherwise (nothing is sent
 *   before the first subscribe). A call leaves the registry the moment it ends:
 *   keeping finished answers is {@link cache}'s job.
 * - **Scope**: each transport it wraps gets its own registry, because an
 *   in-flight call belongs to one endpoint and one credential: requests
 *   through different transports never share (unless they are given one
 *   `registry`). Wrap once and reuse the
 *   wrapped transport. Within it, requests share only if their whole content
 *   is equal, `user` and `metadata` included (see {@link requestKey}), and so
 *   is their context's `scope` attribute (a tenant; `{}` when unset). The
 *   rest of the context (step, lane, deadline) changes no key.
 * - **Context**: the shared call goes upstream with its first caller's
 *   context ({@link RequestContext}: step, lane, deadline, `onServed`). A
 *   caller that joins shares the call's outcome; its own `onServed` is not
 *   told, and its deadline does not extend the call.
 * - **Memory**: one answer's events per call in flight, freed when it ends.
 *
 * With {@link cache}, put `dedupe()` first (outermost): identical concurrent
 * requests then collapse before the cache is asked, so a shared store sees one
 * lookup per group. The other order also makes one upstream call.
 *
 * @throws {@link RxllmError} `invalid-config` on unknown or ill-typed options.
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), dedupe());
 * // Both subscribe while the first is streaming: one HTTP request.
 * llm(request).subscribe(renderA);
 * llm(request).subscribe(renderB);
 * ```
 * @see cache
 */
export function dedupe(config: DedupeConfig = {}): DedupeMiddleware {
  const { key, sampled, registry: shared } = validateConfig('dedupe', configSchema, config);
  // The endpoint and credential are structural (every wrapped transport gets its own registry); the tenant is the context's scope.
  const keyOf = key ?? requestKey;
  const counts: DedupeStats = { requests: 0, upstream: 0, joined: 0, bypassed: 0, inFlight: 0 };

  const middleware: Middleware = (next: Transport): Transport => {
    const registry = shared ?? createInFlightRegistry();
    return (request, context) =>
      defer(() => {
        counts.requests++;
        if (sampled === 'bypass' && isSampledRequest(request)) {
          counts.bypassed++;
          return next(request, context);
        }
        const requestId = keyOf(request, scopeOf(context));
        if (registry.has(requestId)) counts.joined++;
        return registry.join(
          requestId,
          // Not finalize(): that is an operator every token passes through; a teardown on the subscriber is not.
          () =>
            new Observable<LlmEvent>((upstream) => {
              counts.upstream++;
              counts.inFlight++;
              upstream.add(() => counts.inFlight--);
              return next(request, context).subscribe(upstream);
            }),
        );
      });
  };
  return Object.assign(middleware, { stats: (): DedupeStats => ({ ...counts }) });
}

const configSchema = s.strictObject({
  key: functionSchema<(request: LlmRequest, scope: RequestScope) => string>('a function (request, scope) => string').optional(),
  sampled: s.oneOf(['share', 'bypass']).default('share'),
  registry: inFlightRegistrySchema<InFlightRegistry>().optional(),
});

