import { Observable, type Subscriber, type TeardownLogic } from 'rxjs';
import { Relay } from '../internal/Relay.js';

// Internal: the one HTTP request lifecycle of rxllm's clients (sseTransport, openaiTransport,
// embeddingsClient, fromServerSentEvents). Not exported from any entry point.

/**
 * One HTTP request and what its response is read into, as an Observable:
 *
 * - **Cold**: `send` is called on subscribe, once per subscription, with the signal of an
 *   `AbortController` that belongs to this subscription alone.
 * - **Emits** what `read(response)` emits, and **completes** when it completes.
 * - **Errors** with `read`'s error, or with `unreachable(cause)` when `send` fails (or throws
 *   synchronously) before any response: a refused connection, a DNS failure, an SDK's error.
 * - **Unsubscribe** (and an error) aborts the request, which closes the connection. A finished
 *   exchange is not aborted: whatever of its body `read` left (the end of a stream after `[DONE]`)
 *   is still read, so `fetch` can reuse the connection for the next request. A response that
 *   arrives after unsubscribe has its body cancelled.
 *
 * Nothing is delivered to a closed subscriber: a rejection caused by the abort itself is dropped.
 */
export function httpExchange<T>(
  send: (signal: AbortSignal) => Promise<Response>,
  unreachable: (cause: unknown) => unknown,
  read: (response: Response) => Observable<T>,
): Observable<T> {
  return new Observable<T>((subscriber) => startExchange(subscriber, { send, unreachable, read }));
}

/** What one exchange sends and how it reads the answer: {@link httpExchange}'s three callbacks as one object. */
export interface Exchange<T> {
  /** Sends the request with the exchange's signal; may throw synchronously. */
  send(signal: AbortSignal): Promise<Response>;
  /** The error for a `send` that failed before any response. */
  unreachable(cause: unknown): unknown;
  /** The events of the response. */
  read(response: Response): Observable<T>;
}

/**
 * {@link httpExchange} without its Observable: starts the exchange for `subscriber` (already
 * subscribed). For a client whose own Observable does its per-request work first, so a request is
 * one Observable and one subscribe, not a `defer` around a second one. The exchange behaves exactly
 * as httpExchange's. It is {@link startDirectExchange} with the response read through an
 * Observable: one relay between that Observable and `subscriber`, which tells the exchange the
 * answer finished just before it completes `subscriber`.
 */
export function startExchange<T>(subscriber: Subscriber<T>, exchange: Exchange<T>): void {
  startDirectExchange(subscriber, new ObservableRead(exchange));
}

/** An {@link Exchange} as a {@link DirectExchange}: its `read` Observable subscribed through an {@link ExchangeRelay}. */
class ObservableRead<T> implements DirectExchange<T> {
  constructor(private readonly exchange: Exchange<T>) {}

  send(signal: AbortSignal): Promise<Response> {
    return this.exchange.send(signal);
  }

  unreachable(cause: unknown): unknown {
    return this.exchange.unreachable(cause);
  }

  readInto(response: Response, subscriber: Subscriber<T>, end: ExchangeEnd): TeardownLogic {
    // The relay is the response's subscriber: unsubscribing it (a teardown of `subscriber`) tears
    // the reading down. A subscriber that leaves from inside a synchronous emission closes before
    // `subscribe` returns, and `add` then runs the reading's teardown at once.
    return this.exchange.read(response).subscribe(new ExchangeRelay(subscriber, end));
  }
}

/**
 * What a reader started by {@link startDirectExchange} tells its exchange: it sets `finished` just
 * before it completes the subscriber (before, since RxJS runs the subscriber's teardowns, the
 * exchange's among them, inside `complete()`). A finished exchange is not aborted, so the rest of
 * its body is still read and `fetch` can reuse the connection.
 */
export interface ExchangeEnd {
  finished: boolean;
}

/** {@link Exchange}, for a reader that delivers straight to the caller's subscriber. */
export interface DirectExchange<T> {
  /** Sends the request with the exchange's signal; may throw synchronously. */
  send(signal: AbortSignal): Promise<Response>;
  /** The error for a `send` that failed before any response. */
  unreachable(cause: unknown): unknown;
  /**
   * Starts reading the response into `subscriber` (emitting, then completing or erroring it),
   * sets `end.finished` just before completing it, and returns the reading's teardown. May throw.
   */
  readInto(response: Response, subscriber: Subscriber<T>, end: ExchangeEnd): TeardownLogic;
}

/**
 * {@link startExchange} with no subscriber between the reader and the caller's: the response's
 * events go straight to `subscriber`, where startExchange passes each one through its relay (after
 * a full GC, one more function per token that V8 optimises again per answer). The exchange is a
 * teardown added to `subscriber` instead: it aborts the request when the subscriber closes (an
 * unsubscribe, an error) unless the reader said the answer finished. Behaves as startExchange
 * otherwise: the same cold send, typed errors, late response cancelled, nothing delivered to a
 * closed subscriber.
 */
export function startDirectExchange<T>(subscriber: Subscriber<T>, exchange: DirectExchange<T>): void {
  const request = new ExchangeRequest();
  // Added before sending: an unsubscribe from here on aborts the request.
  subscriber.add(request);
  let sent: Promise<Response>;
  try {
    sent = Promise.resolve(exchange.send(request.signal));
  } catch (error) {
    sent = Promise.reject(error);
  }
  sent.then(
    (response) => {
      if (subscriber.closed) {
        response.body?.cancel().catch(() => undefined);
        return;
      }
      try {
        // Added after the reading started: a reader that closed the subscriber synchronously has
        // its teardown run at once by `add`.
        subscriber.add(exchange.readInto(response, subscriber, request));
      } catch (error) {
        subscriber.error(error);
      }
    },
    (cause: unknown) => {
      if (!subscriber.closed) subscriber.error(exchange.unreachable(cause));
    },
  );
}

/**
 * The request of a {@link startDirectExchange}, as a teardown of its subscriber: aborts the request
 * when the subscriber closes, unless the reader set `finished` first.
 */
class ExchangeRequest implements ExchangeEnd {
  finished = false;
  private readonly controller = new AbortController();

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Run by the subscriber as one of its teardowns (RxJS calls `unsubscribe()` on a teardown object). */
  unsubscribe(): void {
    if (!this.finished) this.controller.abort();
  }
}

/**
 * The subscriber of an {@link ObservableRead}'s response events: passes them on, and marks the
 * exchange finished just before it completes the destination (whose teardowns, the exchange's
 * abort among them, run inside `complete()`).
 */
class ExchangeRelay<T> extends Relay<T, T> {
  constructor(
    destination: Subscriber<T>,
    private readonly end: ExchangeEnd,
  ) {
    super(destination);
  }

  next(value: T): void {
    if (!this.closed) this.destination.next(value);
  }

  override complete(): void {
    if (!this.closed) this.end.finished = true;
    super.complete();
  }
}
