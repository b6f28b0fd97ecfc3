// The resumable side of toServerSentEvents: who runs the source, what goes to the resume store, and
// how a reconnecting client is served from it. Internal to rxllm/node.
import { catchError, defer, finalize, from, map, type Observable, of, ReplaySubject, type Subscription, switchMap, takeWhile } from 'rxjs';
import { isFinalResumeEvent, type ResumeEvent, type ResumeStore } from '../cache/ResumeStore.js';
import { RxllmError } from '../core/errors.js';
import { encodeServerSentEvents, errorEvent, type ServerSentEventsResume, type ToServerSentEventsConfig, type WireEvent } from './serverSentEventsPump.js';

/**
 * The events to write for one request of a resumable stream.
 *
 * - With `lastEventId`: only reads the store, from after that id (the stream is live somewhere or
 *   finished); never runs the source.
 * - Without: claims the stream id. The first claimant runs the source, appends each event to the
 *   store and writes it; the source runs to its end even if this client leaves (so a reconnect
 *   anywhere can follow it), and is stopped only by `run.unsubscribe()`. A later claimant (a second
 *   tab, or an `EventSource` reconnecting before it saw any id) reads the stream from its start.
 * - The store failing to claim runs the source without resume; failing to append stops the appends
 *   (readers then end with an error rather than see a gap); failing to read ends with an `error` event.
 */
export function resumableEvents<T>(
  source: Observable<T>,
  config: ToServerSentEventsConfig<T>,
  resume: ServerSentEventsResume,
  lastEventId: string | undefined,
  run: Subscription,
): Observable<WireEvent> {
  const { store, streamId } = resume;
  const fail = (error: unknown) => of(errorEvent(config as ToServerSentEventsConfig<never>, error));

  const follow = (afterId: number): Observable<WireEvent> =>
    defer(() => store.read(streamId, afterId)).pipe(
      consecutiveAfter(afterId, streamId),
      // A store that does not complete after the final event still ends the response.
      takeWhile((event) => !isFinalResumeEvent(event), true),
      catchError(fail),
    );

  if (lastEventId !== undefined) {
    if (!/^\d{1,15}$/.test(lastEventId)) {
      return fail(
        new RxllmError('bad-request', `Last-Event-ID ${JSON.stringify(lastEventId.slice(0, 40))} is not an id of this stream (they are 1, 2, 3, …): reconnect with the id of the last event received.`),
      );
    }
    return follow(Number(lastEventId));
  }

  // Events of this instance's run, for this client: replayed from the start, since the run may emit
  // before the client's pump subscribes; dropped once the client has left.
  const toClient = new ReplaySubject<WireEvent>();
  let clientLeft = false;
  const claimed: Promise<boolean | 'unavailable'> = Promise.resolve()
    .then(() => store.claim(streamId))
    .catch(() => 'unavailable' as const);
  void claimed.then((owner) => {
    if (owner === false) return;
    const appender = owner === true ? batchAppender(store, streamId) : undefined;
    const stopped = () => errorEvent(config as ToServerSentEventsConfig<never>, new RxllmError('incomplete-stream', 'The stream was stopped on the server before its end.'));
    if (run.closed) {
      // Stopped while the claim was on its way: send nothing upstream, and end the claimed stream at once.
      appender?.push({ id: 1, ...stopped() });
      toClient.complete();
      return;
    }
    let last: ResumeEvent | undefined;
    run.add(
      encodeServerSentEvents(source, config)
        .pipe(
          finalize(() => {
            // Stopped by the app before its end: end the stored stream too, so readers are not left waiting.
            if (last === undefined || !isFinalResumeEvent(last)) {
              appender?.push({ id: (last?.id ?? 0) + 1, ...stopped() });
            }
          }),
        )
        .subscribe({
          next: (event) => {
            last = event;
            appender?.push(event);
            if (!clientLeft) toClient.next(event);
          },
          complete: () => toClient.complete(),
        }),
    );
  });
  return from(claimed).pipe(
    switchMap((owner) => (owner === false ? follow(0) : toClient)),
    finalize(() => {
      clientLeft = true;
    }),
  );
}

/** Errors unless the events are `afterId + 1`, `afterId + 2`, …: a resumed client must see no gap and no repeat. */
function consecutiveAfter(afterId: number, streamId: string) {
  return (events: Observable<ResumeEvent>): Observable<ResumeEvent> =>
    defer(() => {
      let expected = afterId + 1;
      return events.pipe(
        map((event) => {
          if (event.id !== expected) {
            throw new RxllmError(
              'incomplete-stream',
              `The stored stream ${JSON.stringify(streamId)} has a gap (event ${event.id} where ${expected} was due): some of its events did not reach the resume store. Ask again.`,
            );
          }
          expected++;
          return event;
        }),
      );
    });
}

/**
 * Appends events in order, one batch in flight at a time: events that arrive while a batch is
 * being written go in the next. After the first failure it appends nothing more, so the stored
 * stream ends where it failed rather than going on after a gap.
 */
function batchAppender(store: ResumeStore, streamId: string): { push(event: ResumeEvent): void } {
  let queued: ResumeEvent[] = [];
  let busy = false;
  let failed = false;
  const flush = () => {
    if (busy || failed || queued.length === 0) return;
    busy = true;
    const batch = queued;
    queued = [];
    Promise.resolve()
      .then(() => store.append(streamId, batch))
      .then(
        () => {
          busy = false;
          flush();
        },
        () => {
          // The store reports its own failures (redisResumeStore logs once and counts them).
          failed = true;
          queued = [];
        },
      );
  };
  return {
    push: (event) => {
      if (failed) return;
      queued.push(event);
      flush();
    },
  };
}
