import { defer, type Observable } from 'rxjs';
import type { RequestContext } from './context.js';
import type { LlmEvent } from './events.js';
import { parseRequest, type LlmRequest } from './request.js';

/**
 * Sends one chat request and streams its events. The optional {@link RequestContext} travels
 * beside the request (step name, lane, attributes, deadline) for middleware to read; it is never
 * sent to the provider.
 *
 * The contract every transport keeps: cold (nothing is sent before subscribe),
 * one request per subscription, unsubscribe aborts the request, errors are
 * {@link RxllmError}s, completion follows the last `finish` event.
 */
export type Transport = (request: LlmRequest, context?: RequestContext) => Observable<LlmEvent>;

/** Wraps a transport with one concern (de-dup, cache, retry, ...). */
export type Middleware = (next: Transport) => Transport;

/**
 * Applies middleware to a transport. The first middleware listed is the
 * outermost: it sees each request first and each event last.
 *
 * The stack validates each request once, at its top, before any middleware hashes or
 * counts it: an invalid request errors on subscribe with `invalid-request`, and no
 * middleware (no `retry()`, no `measure()`) and no network sees it. The validated request
 * is marked, so the transport at the bottom does not validate it again.
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), dedupe(), retry());
 * ```
 */
export function withMiddleware(transport: Transport, ...middleware: Middleware[]): Transport {
  if (middleware.length === 0) return transport;
  const stack = middleware.reduceRight<Transport>((next, wrap) => wrap(next), transport);
  return (request, context) => defer(() => stack(parseRequest(request), context));
}
