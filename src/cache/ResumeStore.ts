import type { Observable } from 'rxjs';

/**
 * One Server-Sent Event of a resumable stream, as `toServerSentEvents` writes it and a
 * {@link ResumeStore} keeps it: plain data, so a store may serialise it.
 */
export interface ResumeEvent {
  /** The event's `id:`: 1, 2, 3, … within its stream, with no gap. `Last-Event-ID` names one of these. */
  readonly id: number;
  /**
   * The `event:` name; absent for a plain message. `"done"` and `"error"` end a stream: no event
   * follows them.
   */
  readonly event?: string;
  /** The encoded data, as written after `data:` (may hold newlines: one `data:` line each). */
  readonly data: string;
}

/** True for the event that ends a stream (`done` or `error`): nothing follows it. */
export function isFinalResumeEvent(event: ResumeEvent): boolean {
  return event.event === 'done' || event.event === 'error';
}

/**
 * Where `toServerSentEvents({ resume })` keeps the events of each stream, so a client that
 * reconnects with `Last-Event-ID` (to this instance or any other) gets exactly the events after
 * that id, then the live rest. {@link memoryResumeStore} for a single instance; `redisResumeStore`
 * (in `rxllm/redis`) for many.
 *
 * The contract, which `toServerSentEvents` relies on:
 *
 * - `claim(streamId)` is atomic across every instance sharing the store: for a stream id that is
 *   new (or has expired) exactly one caller gets `true` and runs the source; everyone else gets
 *   `false` and reads.
 * - `append(streamId, events)` adds events in order (their ids are consecutive and follow the
 *   previous call's). `toServerSentEvents` calls it one batch at a time, never concurrently for one
 *   stream. A stream lives a bounded time after its last append (the store's `ttl`).
 * - `read(streamId, afterId)` is cold: it emits every stored event whose id is greater than
 *   `afterId`, in order, then each event appended later, as it comes; it completes after the event
 *   that ends the stream (`done` or `error`). It errors with an {@link rxllm!RxllmError | RxllmError}
 *   (`incomplete-stream`) for a stream the store does not hold (never claimed, or expired).
 *   Unsubscribing stops it and frees what it holds (a connection, a timer).
 *
 * A rejected Promise or a throw is a store failure: `toServerSentEvents` streams on without
 * resume (claim, append) or ends the resumed stream with an `error` event (read).
 */
export interface ResumeStore {
  /** `true`: the caller is first and must run the stream; `false`: it exists already, read it. */
  claim(streamId: string): boolean | Promise<boolean>;
  /** Appends `events` (consecutive ids) to the stream, and renews its expiry. */
  append(streamId: string, events: readonly ResumeEvent[]): void | Promise<void>;
  /** The events after `afterId`, then the live rest, until the stream's final event. */
  read(streamId: string, afterId: number): Observable<ResumeEvent>;
}
