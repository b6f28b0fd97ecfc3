import type { SchedulerLike } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from './errors.js';

/** A `SchedulerLike` option (anything with `now()` and `schedule()`). */
export const schedulerSchema = z.custom<SchedulerLike>(
  (value) =>
    typeof (value as SchedulerLike | undefined)?.now === 'function' && typeof (value as SchedulerLike | undefined)?.schedule === 'function',
  'expected a SchedulerLike (asyncScheduler, a TestScheduler)',
);

/** A clock option, for what only reads the time: anything with `now()` (a scheduler, or a test clock). */
export const clockSchema = z.custom<SchedulerLike>(
  (value) => typeof (value as SchedulerLike | undefined)?.now === 'function',
  'expected a SchedulerLike (anything with now())',
);

/** A function option. */
export const functionSchema = <F>(what: string) => z.custom<F>((value) => typeof value === 'function', `expected ${what}`);

/**
 * Validates the options of an rxllm function once, at construction (middleware, stores, registries).
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
