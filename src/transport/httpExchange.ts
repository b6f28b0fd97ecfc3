import { Observable, type Subscriber } from 'rxjs';
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
  return new Observable<T>((subscriber) => {
    const exchange = new ExchangeRelay(subscriber, new AbortController());
    // Through a Promise so a `send` that throws synchronously still becomes a typed error.
    // The callbacks below are the only holders of `send`, `unreachable` and `read` (and, through
    // them, of the caller's request and body), and are let go once the response or the failure
    // arrives: a streaming answer keeps only the relay, not what it sent.
    new Promise<Response>((resolve) => resolve(send(exchange.signal))).then(
      (response) => {
        if (exchange.closed) {
          response.body?.cancel().catch(() => undefined);
          return;
        }
        try {
          // The relay is the response's subscriber: unsubscribing it tears the reading down. A
          // subscriber that leaves from inside a synchronous emission closes it before `subscribe`
          // returns, and RxJS then runs the reading's teardown at once.
          read(response).subscribe(exchange);
        } catch (error) {
          exchange.error(error);
        }
      },
      (cause: unknown) => {
        if (!exchange.closed) exchange.error(unreachable(cause));
      },
    );
    return exchange;
  });
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
