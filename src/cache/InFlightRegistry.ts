import { defer, Observable, type Observer, type Subscriber, Subscription } from 'rxjs';

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
 * Cost: a value passes through a run with one array push and one call per
 * caller (no Subject in between).
 *
 * @example
 * ```ts
 * const registry = createInFlightRegistry();
 * const shared$ = registry.join(requestKey(request, scope), () => transport(request));
 * ```
 */
export function createInFlightRegistry(): InFlightRegistry {
  const inFlight = new Map<string, Flight<unknown>>();

  function join<T>(key: string, start: () => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      const existing = inFlight.get(key) as Flight<T> | undefined;
      if (existing) {
        existing.addCaller(subscriber);
        return () => existing.removeCaller(subscriber);
      }
      // Only remove our own entry: a newer run may already sit under the same key.
      const flight: Flight<T> = new Flight<T>(() => {
        if (inFlight.get(key) === flight) inFlight.delete(key);
      });
      inFlight.set(key, flight);
      flight.addCaller(subscriber);
      flight.start(start);
      return () => flight.removeCaller(subscriber);
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

/**
 * One run: the source's subscription, every value it emitted (for late joiners), and the callers now.
 *
 * Written out rather than `share({ connector: () => new ReplaySubject() })`: a streamed answer passes
 * through here once per token (twice with `dedupe()` and `cache()` in one stack), and share's
 * SafeSubscriber, Subject and ReplaySubject hops were a fifth of the stack's CPU per token. Here a token
 * costs a push and a call per caller. The behaviour is share's with every reset on: late joiners get
 * every value so far, then the live rest; the run leaves the registry when it completes or errors
 * (before its callers are told, so one that subscribes again from its handler starts a fresh run) or
 * loses its last caller (then the source is unsubscribed, which aborts the request).
 *
 * The run is itself the source's subscriber (a Subscription and an Observer, which RxJS takes as is, as it
 * takes a Relay: see there for why not a partial observer).
 */
class Flight<T> extends Subscription implements Observer<T> {
  private readonly values: T[] = [];
  private callers: Subscriber<T>[] = [];
  private ended = false;

  constructor(private readonly leave: () => void) {
    super();
  }

  addCaller(caller: Subscriber<T>): void {
    // Replay what was emitted so far (a snapshot: values that arrive meanwhile come live), then join.
    const values = this.values;
    const replayed = values.length;
    this.callers = [...this.callers, caller];
    for (let i = 0; i < replayed && !caller.closed; i++) caller.next(values[i]!);
  }

  removeCaller(caller: Subscriber<T>): void {
    const callers = this.callers;
    const at = callers.indexOf(caller);
    if (at === -1) return;
    // A new array, never spliced in place: a notification loop over the old one goes on unchanged.
    this.callers = callers.length === 1 ? [] : callers.filter((other) => other !== caller);
    if (this.callers.length === 0 && !this.ended) {
      this.ended = true;
      this.leave();
      // Unsubscribes the source (its teardown was added to this subscription).
      this.unsubscribe();
    }
  }

  start(start: () => Observable<T>): void {
    // If every caller leaves while the source is still subscribing (a synchronous source, take(1)), this
    // subscription is closed by then, and RxJS runs the teardown the source returns at once.
    defer(start).subscribe(this);
  }

  next(value: T): void {
    if (this.ended) return; // every caller left during a synchronous run: nobody to tell
    this.values.push(value);
    const callers = this.callers;
    if (callers.length === 1) callers[0]!.next(value);
    else for (let i = 0; i < callers.length; i++) callers[i]!.next(value);
  }

  error(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.leave();
    for (const caller of this.callers) caller.error(error);
    this.unsubscribe();
  }

  complete(): void {
    if (this.ended) return;
    this.ended = true;
    this.leave();
    for (const caller of this.callers) caller.complete();
    this.unsubscribe();
  }
}
