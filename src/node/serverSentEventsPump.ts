// The part of toServerSentEvents and toServerSentEventsResponse that does not care where the bytes
// go: the wire format, keep-alive comments, event ids, and what to do while the client is slow.
import { asyncScheduler, catchError, defer, endWith, map, type Observable, of, type SchedulerLike, startWith, Subject, Subscription, switchMap, tap, timer } from 'rxjs';
import type { ResumeEvent, ResumeStore } from '../cache/ResumeStore.js';
import { isRxllmError, RxllmError } from '../core/errors.js';
import type { ServerSentErrorPayload } from '../transport/fromServerSentEvents.js';

/** Options for {@link toServerSentEvents} and {@link toServerSentEventsResponse}. */
export interface ToServerSentEventsConfig<T> {
  /** Turns a value into the event's data. Newlines are fine (one `data:` line each). @defaultValue `JSON.stringify` */
  encode?: (value: T) => string;
  /**
   * The event name for a value (`event:` line); `undefined` for none, which clients see as
   * `"message"`. `"error"` and `"done"` are reserved for the end of the stream.
   */
  event?: (value: T) => string | undefined;
  /**
   * A comment (`: keep-alive`) is written after this long without any other write, so proxies
   * and load balancers do not close an idle stream (a model thinking before its first token).
   * `false` for none. @defaultValue 15000
   */
  keepAliveMs?: number | false;
  /** Clock for the keep-alive timer. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
  /** Sent first as `retry:`: how long an `EventSource` waits before reconnecting. Omitted unless set. */
  retryMs?: number;
  /**
   * What to do with values that arrive while the client is not reading fast enough (the socket's
   * buffer is full). `'buffer'`: queue them, up to `maxBufferedBytes`, then drop the connection
   * (and unsubscribe the source). `'latest'`: keep only the newest value (ids show the gap), for
   * sources whose every value replaces the last, like pipeline snapshots from `run()`.
   * @defaultValue 'buffer'
   */
  whenSlow?: 'buffer' | 'latest';
  /** The most bytes queued for a slow client under `whenSlow: 'buffer'`. @defaultValue 1048576 (1 MiB) */
  maxBufferedBytes?: number;
  /**
   * The payload of the `error` event. The default sends an {@link RxllmError}'s `code`,
   * `message`, `status` and `retryAfterMs`, and for any other error only
   * `{ code: 'server', message: 'The stream failed on the server.' }`, so internal messages do
   * not reach the client.
   */
  errorPayload?: (error: unknown) => ServerSentErrorPayload;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /**
   * Makes the stream resumable (`toServerSentEvents` only): every event is kept in `store` under
   * `streamId`, and a request that comes back with `Last-Event-ID`, to this instance or another one
   * sharing the store, gets exactly the events after that id, then the live rest. See
   * {@link ServerSentEventsResume} and `toServerSentEvents` for who runs the source.
   */
  resume?: ServerSentEventsResume;
}

/** The `resume` option of {@link toServerSentEvents}. */
export interface ServerSentEventsResume {
  /** Where the stream's events are kept: `memoryResumeStore()` for one instance, `redisResumeStore()` (rxllm/redis) for many. */
  store: ResumeStore;
  /**
   * The stream's id, chosen by the app and the same on every instance for the same answer: a
   * chat message's id, say (`/answers/:messageId`). A request with a new id runs the source; a
   * request for an id the store holds reads it.
   */
  streamId: string;
  /**
   * Where to resume from, when the app reads it itself. By default the request's `Last-Event-ID`
   * header, else its `lastEventId` query parameter (for clients that cannot set headers), else none.
   * `null`: none, whatever the request says.
   */
  lastEventId?: string | null;
}


/** Where the frames go: a Node response or a web stream. */
export interface FrameSink {
  /** Writes a frame; `false` when the sink is full: wait for `drain()` before writing again. */
  write(frame: Uint8Array): boolean;
  /** Ends the body after what was written. */
  end(): void;
  /** Drops the connection (the client is too slow). */
  abort(): void;
}

/** A running pump: the sink calls `drain()` when it can take more, `close()` when the client left. */
export interface Pump {
  drain(): void;
  close(): void;
  readonly subscription: Subscription;
}

/** The response headers of an event stream. */
export function eventStreamHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return {
    'content-type': 'text/event-stream; charset=utf-8',
    // no-transform: compression proxies would otherwise buffer the stream.
    'cache-control': 'no-cache, no-transform',
    // nginx buffers proxied responses unless told not to.
    'x-accel-buffering': 'no',
    ...extra,
  };
}

/** Checks the options once, before anything is written. */
export function validateServerSentEventsConfig(config: ToServerSentEventsConfig<never>, caller: string): void {
  const fail = (message: string) => new RxllmError('invalid-config', `${caller}: ${message}`);
  const { keepAliveMs, retryMs, maxBufferedBytes, whenSlow } = config;
  if (keepAliveMs !== undefined && keepAliveMs !== false && !(Number.isFinite(keepAliveMs) && keepAliveMs > 0)) {
    throw fail(`keepAliveMs must be a positive number of milliseconds or false, got ${String(keepAliveMs)}.`);
  }
  if (retryMs !== undefined && !(Number.isInteger(retryMs) && retryMs >= 0)) {
    throw fail(`retryMs must be a non-negative integer, got ${String(retryMs)}.`);
  }
  if (maxBufferedBytes !== undefined && !(Number.isFinite(maxBufferedBytes) && maxBufferedBytes > 0)) {
    throw fail(`maxBufferedBytes must be a positive number, got ${String(maxBufferedBytes)}.`);
  }
  if (whenSlow !== undefined && whenSlow !== 'buffer' && whenSlow !== 'latest') {
    throw fail(`whenSlow must be 'buffer' or 'latest', got ${JSON.stringify(whenSlow)}.`);
  }
  for (const name of ['encode', 'event', 'errorPayload'] as const) {
    if (config[name] !== undefined && typeof config[name] !== 'function') throw fail(`${name} must be a function.`);
  }
  const { resume } = config;
  if (resume !== undefined) {
    if (typeof resume !== 'object' || resume === null) throw fail('resume must be an object { store, streamId }.');
    const store = resume.store as Partial<ResumeStore> | undefined;
    if (typeof store !== 'object' || store === null || !(['claim', 'append', 'read'] as const).every((method) => typeof store[method] === 'function')) {
      throw fail('resume.store must be a resume store (memoryResumeStore() from rxllm/node, redisResumeStore() from rxllm/redis): an object with claim(), append() and read().');
    }
    if (typeof resume.streamId !== 'string' || resume.streamId === '' || resume.streamId.length > 512) {
      throw fail(`resume.streamId must be a non-empty string of at most 512 characters (the app's id of this answer, e.g. a chat message id), got ${typeof resume.streamId === 'string' ? JSON.stringify(resume.streamId.slice(0, 40)) : typeof resume.streamId}.`);
    }
    if (resume.lastEventId !== undefined && resume.lastEventId !== null && typeof resume.lastEventId !== 'string') {
      throw fail('resume.lastEventId must be a string, null or left out.');
    }
  }
}

interface Queued {
  frame: Uint8Array;
  /** A value frame may be replaced by a newer one under `whenSlow: 'latest'`. */
  value: boolean;
}

/**
 * Subscribes to `source` and writes it to `sink` as Server-Sent Events: one event per value
 * (with an `id`), then `event: done` on completion or `event: error` on error, then the end.
 */
export function pumpServerSentEvents<T>(source: Observable<T>, sink: FrameSink, config: ToServerSentEventsConfig<T>): Pump {
  return pumpEvents(encodeServerSentEvents(source, config), sink, config);
}

/**
 * The events of `source` as they go on the wire: one per value, ids 1, 2, 3, …, then a final
 * `done` event on completion or an `error` event (the {@link ServerSentErrorPayload}) on error.
 * Never errors: it completes after the final event. Cold: one run of `source` per subscription.
 */
export function encodeServerSentEvents<T>(source: Observable<T>, config: ToServerSentEventsConfig<T>): Observable<ResumeEvent> {
  const encode = config.encode ?? ((value: T) => JSON.stringify(value) ?? 'null');
  const eventName = config.event;
  const errorPayload = config.errorPayload ?? defaultErrorPayload;
  return defer(() => {
    let nextId = 1;
    return source.pipe(
      // Encoding inside `map`, so a throwing encoder or event name errors the stream like any other error.
      map((value): ResumeEvent => wireEvent(nextId, valueEvent(eventName, value), encode(value))),
      tap(() => nextId++),
      endWith(undefined),
      map((event) => event ?? wireEvent(nextId++, 'done', '{}')),
      catchError((error: unknown) => of(wireEvent(nextId++, 'error', JSON.stringify(safePayload(errorPayload, error))))),
    );
  });
}

/** An event on the wire: a {@link ResumeEvent}, or an `error` event without an id. */
export type WireEvent = Omit<ResumeEvent, 'id'> & { readonly id?: number };

/** The `error` event for a failure outside the source (a resume store's): no id, so a client keeps its last one. */
export function errorEvent(config: ToServerSentEventsConfig<never>, error: unknown): WireEvent {
  return { event: 'error', data: JSON.stringify(safePayload(config.errorPayload ?? defaultErrorPayload, error)) };
}

/**
 * Writes `events` to `sink` as frames (with keep-alive comments and the slow-client policy), and
 * ends the body after the final event (`done` or `error`) or when `events` completes or errors.
 */
export function pumpEvents(events: Observable<WireEvent>, sink: FrameSink, config: ToServerSentEventsConfig<never>): Pump {
  const whenSlow = config.whenSlow ?? 'buffer';
  const maxBufferedBytes = config.maxBufferedBytes ?? 1024 * 1024;
  const keepAliveMs = config.keepAliveMs ?? 15_000;
  const scheduler = config.scheduler ?? asyncScheduler;

  const subscription = new Subscription();
  const queue: Queued[] = [];
  let queuedBytes = 0;
  let full = false;
  let ending = false;
  const wrote = new Subject<void>();

  const flush = () => {
    while (!full && queue.length > 0) {
      const item = queue.shift()!;
      queuedBytes -= item.frame.byteLength;
      full = !sink.write(item.frame);
      wrote.next();
    }
    if (ending && queue.length === 0 && !full) {
      sink.end();
      subscription.unsubscribe();
    }
  };

  const push = (text: string, value: boolean) => {
    if (subscription.closed || ending) return;
    const bytes = utf8.encode(text);
    const last = queue.at(-1);
    if (full && value && whenSlow === 'latest' && last?.value) {
      queuedBytes -= last.frame.byteLength;
      queue.pop();
    }
    queue.push({ frame: bytes, value });
    queuedBytes += bytes.byteLength;
    if (full && whenSlow === 'buffer' && queuedBytes > maxBufferedBytes) {
      // The client reads slower than the source produces: stop the source rather than grow without bound.
      queue.length = 0;
      sink.abort();
      subscription.unsubscribe();
      return;
    }
    flush();
  };

  const end = (text: string) => {
    if (subscription.closed || ending) return;
    if (text) push(text, false);
    ending = true;
    flush();
  };

  if (config.retryMs !== undefined) push(`retry: ${config.retryMs}\n\n`, false);
  if (keepAliveMs !== false) {
    subscription.add(
      wrote
        .pipe(
          startWith(undefined),
          switchMap(() => timer(keepAliveMs, keepAliveMs, scheduler)),
        )
        .subscribe(() => {
          // A full socket is not idle: no comment is queued behind the data.
          if (!full) push(': keep-alive\n\n', false);
        }),
    );
  }
  subscription.add(
    events.subscribe({
      next: (event) => (event.event === 'done' || event.event === 'error' ? end(frame(event)) : push(frame(event), true)),
      error: (error: unknown) => end(frame(errorEvent(config, error))),
      complete: () => end(''),
    }),
  );

  return {
    subscription,
    drain: () => {
      full = false;
      flush();
    },
    close: () => subscription.unsubscribe(),
  };
}

const utf8 = new TextEncoder();

function valueEvent<T>(eventName: ((value: T) => string | undefined) | undefined, value: T): string | undefined {
  const name = eventName?.(value);
  if (name === 'error' || name === 'done') {
    throw new RxllmError('invalid-config', `toServerSentEvents: the event name "${name}" is reserved for the end of the stream; name your events otherwise.`);
  }
  return name;
}

/** Checks an event name and builds the event (ids are checked by whoever numbers them). */
function wireEvent(id: number, event: string | undefined, data: string): ResumeEvent {
  if (event !== undefined && (/[\r\n]/.test(event) || event === '')) {
    throw new RxllmError('invalid-config', `toServerSentEvents: an event name must be a non-empty single line, got ${JSON.stringify(event)}.`);
  }
  return event === undefined ? { id, data } : { id, event, data };
}

/** One event, as the SSE wire format wants it: `id` (when it has one), optional `event`, a `data:` line per line, a blank line. */
function frame({ id, event, data }: WireEvent): string {
  const lines = data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`);
  return `${id === undefined ? '' : `id: ${id}\n`}${event === undefined ? '' : `event: ${event}\n`}${lines.join('')}\n`;
}

function safePayload(errorPayload: (error: unknown) => ServerSentErrorPayload, error: unknown): ServerSentErrorPayload {
  try {
    return errorPayload(error);
  } catch {
    return defaultErrorPayload(error);
  }
}

function defaultErrorPayload(error: unknown): ServerSentErrorPayload {
  if (!isRxllmError(error)) return { code: 'server', message: 'The stream failed on the server.' };
  return {
    code: error.code,
    message: error.message,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
  };
}
