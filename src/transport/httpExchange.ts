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
  return new Observable<T>((subscriber) => {
    const controller = new AbortController();
    let inner: Subscription | undefined;
    let finished = false;
    // Through a Promise so a `send` that throws synchronously still becomes a typed error.
    new Promise<Response>((resolve) => resolve(send(controller.signal))).then(
      (response) => {
        if (subscriber.closed) {
          response.body?.cancel().catch(() => undefined);
          return;
        }
        try {
          inner = read(response).subscribe(
            new ExchangeRelay(subscriber, () => {
              finished = true;
            }),
          );
          // The subscriber may have left from inside a synchronous emission, before `inner` was set.
          if (subscriber.closed) inner.unsubscribe();
        } catch (error) {
          subscriber.error(error);
        }
      },
      (cause: unknown) => {
        if (!subscriber.closed) subscriber.error(unreachable(cause));
      },
    );
    return () => {
      inner?.unsubscribe();
      if (!finished) controller.abort();
    };
  });
}

/** Passes the response's events on, and tells the exchange when they completed. */
class ExchangeRelay<T> extends Relay<T, T> {
  constructor(
    destination: Subscriber<T>,
    private readonly onComplete: () => void,
  ) {
    super(destination);
  }

  next(value: T): void {
    if (!this.closed) this.destination.next(value);
  }

  override complete(): void {
    if (!this.closed) this.onComplete();
    super.complete();
  }
}
