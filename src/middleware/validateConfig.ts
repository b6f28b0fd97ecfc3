import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from '../core/errors.js';

/** A `SchedulerLike` option (anything with `now()` and `schedule()`). */
export const schedulerSchema = z.custom<SchedulerLike>(
  (value) =>
    typeof (value as SchedulerLike | undefined)?.now === 'function' && typeof (value as SchedulerLike | undefined)?.schedule === 'function',
  'expected a SchedulerLike (asyncScheduler, a TestScheduler)',
);

/** A function option. */
export const functionSchema = <F>(what: string) => z.custom<F>((value) => typeof value === 'function', `expected ${what}`);

/**
 * Validates a middleware's options once, at construction.
 *
 * @throws {@link RxllmError} `invalid-config` naming the middleware and every problem.
 */
export function validateConfig<S extends z.ZodType>(name: string, schema: S, config: unknown): z.output<S> {
  const parsed = schema.safeParse(config);
  if (!parsed.success) {
    throw new RxllmError('invalid-config', `${name}(): invalid options:\n${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
      path: parsed.error.issues[0]?.path.map(String).join('.') ?? '',
    });
  }
  return parsed.data;
}
