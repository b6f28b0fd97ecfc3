import type { SchedulerLike } from 'rxjs';
import * as s from '../internal/check.js';
import { RxllmError } from './errors.js';
import type { Transport } from './transport.js';

/*
 * The one set of option schemas every rxllm constructor validates with (middleware, stores,
 * registries, step/parallel/graph, the prefetcher), so an option means and is checked the same
 * everywhere: whatever schedules timers takes a `schedulerSchema`, whatever only reads the time a
 * `clockSchema`. The schemas are rxllm's own small checker (src/internal/check.ts), not zod: zod
 * is the users' optional peer, and importing rxllm must not load it.
 */

/**
 * A `SchedulerLike` option, for what schedules timers (anything with `now()` and `schedule()`:
 * `asyncScheduler`, a `TestScheduler`, a zone-aware scheduler).
 */
export const schedulerSchema = s.custom<SchedulerLike>(
  (value) =>
    typeof (value as SchedulerLike | undefined)?.now === 'function' && typeof (value as SchedulerLike | undefined)?.schedule === 'function',
  'expected a SchedulerLike (asyncScheduler, a TestScheduler)',
);

/** A clock option, for what only reads the time: anything with `now()` (a scheduler, or a test clock). */
export const clockSchema = s.custom<SchedulerLike>(
  (value) => typeof (value as SchedulerLike | undefined)?.now === 'function',
  'expected a SchedulerLike (anything with now())',
);

/** A {@link Transport} option: a function `(request, context?) => Observable<LlmEvent>`. */
export const transportSchema = s.custom<Transport>(
  (value) => typeof value === 'function',
  'expected a Transport, a function (request, context?) => Observable<LlmEvent>, such as sseTransport(...)',
);

/**
 * A latency-source option (what `hedge()` and `route()` read percentiles from): any object with
 * `percentile()` and `count()` methods, a `LatencyRegistry` or a shared store. Generic so core
 * need not import the metrics layer: `latencySourceSchema<LatencySource>()`.
 */
export const latencySourceSchema = <L>() =>
  s.custom<L>(
    (value) =>
      typeof (value as { percentile?: unknown } | undefined)?.percentile === 'function' &&
      typeof (value as { count?: unknown } | undefined)?.count === 'function',
    'expected a latency source (a LatencyRegistry, or any object with percentile() and count())',
  );

/**
 * An in-flight registry option (what `dedupe()` and `cache()` share calls in flight through): any object with
 * `join()` and `has()` methods, such as `redisInFlight()`. Generic so core need not
 * import the cache layer: `inFlightRegistrySchema<InFlightRegistry>()`.
 */
export const inFlightRegistrySchema = <R>() =>
  s.custom<R>(
    (value) => typeof (value as { join?: unknown } | undefined)?.join === 'function' && typeof (value as { has?: unknown } | undefined)?.has === 'function',
    'expected an in-flight registry (redisInFlight() from rxllm/redis, or any object with join() and has())',
  );

/** A function option. */
export const functionSchema = <F>(what: string) => s.custom<F>((value) => typeof value === 'function', `expected ${what}`);

/**
 * Validates the options of an rxllm function once, at construction (middleware, stores, registries,
 * pipelines). `name` is the function (`'retry'`, shown as `retry()`) or the call when its first
 * argument helps (`'step("summary")'`, shown as is).
 *
 * @throws {@link RxllmError} `invalid-config` naming the function and every problem.
 */
export function validateConfig<S extends s.Schema<unknown>>(name: string, schema: S, config: unknown): s.Infer<S> {
  const parsed = schema.safeParse(config);
  if (!parsed.success) {
    const call = name.endsWith(')') ? name : `${name}()`;
    const path = parsed.error.issues[0]?.path.map(String).join('.');
    throw new RxllmError('invalid-config', `${call}: invalid options:\n${s.prettify(parsed.error.issues)}`, {
      cause: parsed.error,
      // No `path` for a problem with the options as a whole (an unknown option): there is no field to point at.
      ...(path ? { path } : {}),
    });
  }
  return parsed.data as s.Infer<S>;
}
