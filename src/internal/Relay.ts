import { Subscription, type Observer, type Subscriber } from 'rxjs';
import { reportUnhandledError } from './reportUnhandledError.js';

// Internal: not exported from any entry point.

/**
 * The inner observer of a hand-written operator on a per-token path: `source.subscribe(relay)`.
 *
 * Why not a partial observer (`source.subscribe({ next, error, complete })`): RxJS wraps one in a
 * SafeSubscriber, a ConsumerObserver and the closure, three calls per value. An object that is
 * both a Subscription and an Observer is taken by RxJS 7's `subscribe` as the subscriber itself,
 * so a value crosses one method call on a long-lived prototype. That matters where a stream's
 * every token passes (measured in bench/transport-cpu: right after a full collection the wrappers'
 * code runs unoptimized again, and it showed as most of rxllm's cost per token over the floor).
 *
 * Nothing is delivered once closed. An error or completion closes it first (running the source's
 * teardown), then reaches the destination: the reverse of an RxJS Subscriber, which tells its
 * destination and then unsubscribes. So a caller that hears the end, and perhaps subscribes again
 * from its handler, finds the source already torn down (its request aborted or released).
 * A source teardown that throws at that moment is reported as unhandled, and the end still goes on
 * (`close()`). Unsubscribing the Subscription that `subscribe` returns (the relay itself)
 * unsubscribes the source. What a relay's own methods throw reaches the producer that called them
 * (RxJS would catch it in its wrappers and report it as unhandled): a subclass that calls code it
 * does not control catches what that code throws.
 *
 * @example
 * ```ts
 * class Texts extends Relay<LlmEvent, string> {
 *   next(event: LlmEvent): void {
 *     if (!this.closed && event.type === 'text') this.destination.next(event.text);
 *   }
 * }
 * new Observable<string>((subscriber) => events.subscribe(new Texts(subscriber)));
 * ```
 */
export abstract class Relay<I, O> extends Subscription implements Observer<I> {
  constructor(protected readonly destination: Subscriber<O>) {
    super();
  }

  abstract next(value: I): void;

  error(error: unknown): void {
    if (this.closed) return;
    this.close();
    this.destination.error(error);
  }

  complete(): void {
    if (this.closed) return;
    this.close();
    this.destination.complete();
  }

  /**
   * Unsubscribes (running the source's teardown) before the end goes on. A teardown that throws is
   * reported as RxJS reports an unhandled error, and the end still reaches the destination: it must
   * not hang the caller nor break the producer that signalled the end.
   */
  protected close(): void {
    try {
      this.unsubscribe();
    } catch (error: unknown) {
      reportUnhandledError(error);
    }
  }
}
