import type { RequestContext } from '../core/context.js';

// Internal to the pipeline layer: not exported from any entry point.

// Contexts whose runner reads only the final value (a `value()` view). A mark beside the context,
// not a field in it: nothing below the step (middleware, transports) ever sees it.
const marked = new WeakSet<RequestContext>();

/**
 * The context for runs whose caller reads only the final value: a copy of `context` that
 * {@link isFinalValueOnly} recognises. A step run with it asks for one JSON body instead of a
 * stream when its request leaves `stream` unset (the peers' harness, a 3-step pipeline at zero
 * latency: 2.37x the plain-fetch floor's wall time streaming, 1.27x with one JSON body each).
 */
export function finalValueOnly(context: RequestContext | undefined): RequestContext {
  const copy: RequestContext = { ...context };
  marked.add(copy);
  return copy;
}

/** True for a context made by {@link finalValueOnly}. */
export function isFinalValueOnly(context: RequestContext | undefined): boolean {
  return context !== undefined && marked.has(context);
}
