import { Observable, type Subscription } from 'rxjs';
import type { LlmEvent } from '../core/events.js';
import { eventsFromResponse } from './eventsFromResponse.js';

/**
 * The events of one HTTP request: `send` starts it with an abort signal, the response is
 * decoded by {@link eventsFromResponse}, and a request that fails before any response becomes
 * `failure(cause)`. The one place the transports keep their request lifecycle:
 *
 * - Cold: `send` is called on subscribe, once per subscription.
 * - Unsubscribe (or an error) aborts the request. A finished answer is not aborted: its body's
 *   end is still read, so `fetch` can reuse the connection for the next request.
 */
export function requestEvents(send: (signal: AbortSignal) => Promise<Response>, failure: (cause: unknown) => unknown): Observable<LlmEvent> {
  return new Observable<LlmEvent>((subscriber) => {
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
        inner = eventsFromResponse(response).subscribe({
          next: (event) => subscriber.next(event),
          error: (error: unknown) => subscriber.error(error),
          complete: () => {
            finished = true;
            subscriber.complete();
          },
        });
      },
      (cause: unknown) => {
        if (!controller.signal.aborted) subscriber.error(failure(cause));
      },
    );
    return () => {
      inner?.unsubscribe();
      if (!finished) controller.abort();
    };
  });
}
