import type { Observable } from 'rxjs';
import type { LlmEvent } from './events.js';
import type { LlmRequest } from './request.js';

/**
 * Sends one chat request and streams its events.
 *
 * The contract every transport keeps: cold (nothing is sent before subscribe),
 * one request per subscription, unsubscribe aborts the request, errors are
 * {@link RxllmError}s, completion follows the last `finish` event.
 */
export type Transport = (request: LlmRequest) => Observable<LlmEvent>;

/** Wraps a transport with one concern (de-dup, cache, retry, ...). */
export type Middleware = (next: Transport) => Transport;

/**
 * Applies middleware to a transport. The first middleware listed is the
 * outermost: it sees each request first and each event last.
 *
 * @example
 * ```ts
 * const llm = withMiddleware(sseTransport({ baseURL }), dedupe(), retry());
 * ```
 */
export function withMiddleware(transport: Transport, ...middleware: Middleware[]): Transport {
  return middleware.reduceRight<Transport>((next, wrap) => wrap(next), transport);
}
