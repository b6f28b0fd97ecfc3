import type { RequestContext } from '../core/context.js';

/**
 * The context a run was given, or `undefined`: a run function's second
 * argument is a context only when it is an object, because `switchMap(step.run)`
 * passes the index there (see {@link RunFunction}).
 * @internal
 */
export function runContext(value: unknown): RequestContext | undefined {
  return typeof value === 'object' && value !== null ? (value as RequestContext) : undefined;
}
