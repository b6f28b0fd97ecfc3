import { defer, finalize, type Observable, ReplaySubject, share, tap } from 'rxjs';

/**
 * Shares one running observable per key among everyone who asks while it runs.
 * The one single-flight of rxllm: the core of `dedupe()`, and of `cache()`,
 * whose flight is a lookup followed, on a miss, by the upstream call.
 */
export interface InFlightRegistry {
  /**
   * An observable that, on subscribe, joins the running observable for `key`,
   * or starts one with `start()` if none is running.
   *
   * A joiner first receives every value emitted so far, then the live rest.
   * The source is subscribed once per run; it is unsubscribed only when the
   * last subscriber leaves. An error reaches every current subscriber. The
   * entry leaves the registry the moment its run completes, errors or loses
   * its last subscriber, so the next subscriber starts a fresh run.
   *
   * Cold: nothing starts before subscribe. Hot while running: subscribers
   * share one run, reference-counted.
   */
  join<T>(key: string, start: () => Observable<T>): Observable<T>;
  /** True while a run for `key` is in flight. */
  has(key: string): boolean;
  /** How many runs are in flight. */
  readonly size: number;
}

/**
 * A new, empty {@link InFlightRegistry}.
 *
 * ```text
 * start():  --a--b--|
 * caller 1: --a--b--|        (starts the run)
 * caller 2: ----ab--|        (joins at frame 4: replay of a, then live)
 * upstream: ^-------!        (one subscription)
 * ```
 *
 * Memory: each run keeps every value it emitted, so a late joiner can replay
 * them; that is one answer per key in flight, freed when the run ends.
 *
 * @example
 * ```ts
 * const registry = createInFlightRegistry();
 * const shared$ = registry.join(requestKey(request, scope), () => transport(request));
 * ```
 */
export function createInFlightRegistry(): InFlightRegistry {
  const inFlight = new Map<string, Observable<unknown>>();

  function join<T>(key: string, start: () => Observable<T>): Observable<T> {
    return defer(() => {
      const existing = inFlight.get(key) as Observable<T> | undefined;
      if (existing) return existing;
      // Only remove our own entry: a newer run may already sit under the same key.
      const leave = () => {
        if (inFlight.get(key) === shared) inFlight.delete(key);
      };
      const shared: Observable<T> = defer(start).pipe(
        // Leave on complete/error *before* subscribers are told, so one that
        // re-subscribes from its complete or error handler (repeat, retry)
        // starts a fresh run instead of joining the one that just ended.
        tap({ complete: leave, error: leave }),
        finalize(leave),
        share({
          connector: () => new ReplaySubject<T>(), // late joiners get every value so far
          resetOnError: true, // a failure is not kept: the next caller starts fresh
          resetOnComplete: true, // done means gone; keeping finished answers is cache()'s job, with bounds
          resetOnRefCountZero: true, // last subscriber leaves => source unsubscribed => request aborted
        }),
      );
      inFlight.set(key, shared);
      return shared;
    });
  }

  return {
    join,
    has: (key) => inFlight.has(key),
    get size() {
      return inFlight.size;
    },
  };
}
