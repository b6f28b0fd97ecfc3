import { Observable, type Subscriber, type Subscription } from 'rxjs';
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
 * subscribed) and returns its teardown. For a client whose own Observable does its per-request
 * work first (sseTransport validates and builds the body), so a request is one Observable and one
 * subscribe, not a `defer` around a second one. The exchange behaves exactly as httpExchange's.
 */
export function startExchange<T>(subscriber: Subscriber<T>, exchange: Exchange<T>): Subscription {
  const relay = new ExchangeRelay(subscriber, new AbortController());
  // A `send` that throws synchronously still becomes a typed error, and still asynchronously (as
  // a rejection would). `send`'s own promise is listened to directly: wrapping it in a second
  // promise cost an allocation and two more microtask turns per request.
  let sent: Promise<Response>;
  try {
    sent = Promise.resolve(exchange.send(relay.signal));
  } catch (error) {
    sent = Promise.reject(error);
  }
  // The callbacks below are the only holders of the exchange (and, through it, of the caller's
  // request and body), and are let go once the response or the failure arrives: a streaming
  // answer keeps only the relay, not what it sent.
  sent.then(
    (response) => {
      if (relay.closed) {
        response.body?.cancel().catch(() => undefined);
        return;
      }
      try {
        // The relay is the response's subscriber: unsubscribing it tears the reading down. A
        // subscriber that leaves from inside a synchronous emission closes it before `subscribe`
        // returns, and RxJS then runs the reading's teardown at once.
        exchange.read(response).subscribe(relay);
      } catch (error) {
        relay.error(error);
      }
    },
    (cause: unknown) => {
      if (!relay.closed) relay.error(exchange.unreachable(cause));
    },
  );
  return relay;
}

/**
 * The state of one exchange, which is also the subscriber of its response's events and the
 * teardown of its subscription: it passes the events on, and aborts the request when it is
 * unsubscribed (or errors) before the events completed.
 */
class ExchangeRelay<T> extends Relay<T, T> {
  private finished = false;

  constructor(
    destination: Subscriber<T>,
    private readonly controller: AbortController,
  ) {
    super(destination);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  next(value: T): void {
    if (!this.closed) this.destination.next(value);
  }

  override complete(): void {
    if (!this.closed) this.finished = true;
    super.complete();
  }

  override unsubscribe(): void {
    if (this.closed) return;
    super.unsubscribe();
    if (!this.finished) this.controller.abort();
  }
}
