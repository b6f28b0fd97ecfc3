import { asyncScheduler, defer, Observable, retry, type SchedulerLike, throwError, timer } from 'rxjs';
import { RxllmError, type RxllmErrorCode } from '../core/errors.js';
import { fromEventStream, type EventSourceMessage } from './fromEventStream.js';
import { fetchOf, withHeaders } from './httpEndpoint.js';
import { httpExchange } from './httpExchange.js';
import { describeCause, failedResponse, responseText, unreachable } from './httpError.js';

/** Options for {@link fromServerSentEvents}. */
export interface FromServerSentEventsConfig<T> {
  /** The HTTP method. @defaultValue `"POST"` when there is a `body`, else `"GET"` */
  method?: string;
  /** Extra request headers (`authorization`, ...). `accept: text/event-stream` is always sent. */
  headers?: Record<string, string>;
  /**
   * The request body: a string is sent as it is; anything else is sent as JSON
   * (with `content-type: application/json` unless `headers` set one).
   */
  body?: unknown;
  /** The fetch to use. @defaultValue `globalThis.fetch` */
  fetch?: typeof fetch;
  /**
   * Turns one event into the value to emit. A throw becomes a `malformed-event` error.
   * @defaultValue `JSON.parse(message.data)`
   */
  parse?: (message: EventSourceMessage) => T;
  /**
   * The event that ends the stream successfully, as `toServerSentEvents` sends it. A body that
   * ends without it is an `incomplete-stream` error: the server stopped early or a proxy cut the
   * connection. `null` for servers that send no end event: the end of the body completes.
   * @defaultValue `"done"`
   */
  endEvent?: string | null;
  /**
   * Reconnecting after a dropped connection, as `EventSource` does: when the connection fails or
   * the body ends before the end event, the request is sent again with `Last-Event-ID: <the last
   * id received>`, and the stream goes on from the next event, so each event is emitted once. Only
   * a stream whose events carry ids is resumed (a server without ids could only start over); a
   * server that answers the reconnect from its first event again (it does not resume) ends the
   * stream with `incomplete-stream` instead of repeating events. `false`: never reconnect.
   * A `Response` source is never reconnected.
   * @defaultValue `{ attempts: 3, delayMs: 1000, maxDelayMs: 30000 }`
   */
  reconnect?: false | ServerSentEventsReconnect;
}

/** How {@link fromServerSentEvents} reconnects (its `reconnect` option). */
export interface ServerSentEventsReconnect {
  /** Most reconnects in a row without an event between them; then the last error goes through. @defaultValue 3 */
  attempts?: number;
  /** Wait before each reconnect, in milliseconds, unless the server sent `retry:`. @defaultValue 1000 */
  delayMs?: number;
  /** Longest wait a server's `retry:` can ask for, in milliseconds. @defaultValue 30000 */
  maxDelayMs?: number;
  /** Clock for the wait. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/**
 * What an `event: error` carries: the shape `toServerSentEvents` (in `rxllm/node`) writes when
 * its source errors. `code` is the server-side {@link RxllmErrorCode} (`"server"` for an error
 * that was not an rxllm one).
 *
 * ```text
 * id: 42
 * event: error
 * data: {"code":"rate-limited","message":"429 Rate limit reached ...","status":429,"retryAfterMs":2000}
 * ```
 */
export interface ServerSentErrorPayload {
  /** The error's code on the server: the client raises `stream-error` with it in `providerCode`. */
  code: RxllmErrorCode;
  /** The error's message, as the server wrote it. */
  message: string;
  /** The upstream HTTP status, when the error came from one. */
  status?: number;
  /** How long the upstream asked to wait before retrying, in milliseconds. */
  retryAfterMs?: number;
}

/**
 * Reads a `text/event-stream` endpoint as an Observable, over `fetch` and eventsource-parser, in
 * browsers and Node 18+. The client side of `toServerSentEvents` (in `rxllm/node`), and usable
 * with any Server-Sent Events endpoint, including POST ones that `EventSource` cannot call.
 *
 * ```text
 * server:  id:1 data:{..}   id:2 data:{..}   event:done
 * result:  ------a---------------b---------------|
 * server:  id:1 data:{..}   event:error data:{"code":"server",..}
 * result:  ------a---------------#             stream-error, providerCode "server"
 * ```
 *
 * - Emits one value per event (`JSON.parse(data)` unless `parse` says otherwise); comments
 *   (`: keep-alive`) are skipped.
 * - Completes on the `done` event (see `endEvent`). The rest of the body is still read when it ends
 *   at once, so the connection can serve the next request; a body that goes on is cancelled.
 * - Errors with a typed {@link RxllmError}: an HTTP error status → `auth`, `bad-request`,
 *   `rate-limited`, `quota-exceeded`, `server` or `http` (with `status`, `retryAfterMs` and the
 *   readable response `headers`); a 200 that is not an
 *   event stream → `malformed-event`; an `event: error` → `stream-error` with the server's code
 *   as `providerCode` (see {@link ServerSentErrorPayload}); an event `parse` rejects →
 *   `malformed-event`; the body ending before `done` → `incomplete-stream`; nothing listening
 *   at the URL → `connection-refused`; the network failing otherwise → `connection-lost`.
 *   `tokensEmitted` says whether values were emitted before the error.
 * - Reconnects by itself (see `reconnect`): a connection that drops after events with ids is
 *   opened again with `Last-Event-ID` (after the server's `retry:` wait, else `delayMs`), up to
 *   `attempts` times in a row, and the subscriber sees each event once. `toServerSentEvents` with
 *   `resume` (in `rxllm/node`) serves such a reconnect on any instance.
 * - Cold for a URL: each subscription sends its own request. A `Response` (from your own fetch)
 *   can be read once: a second subscription errors with `invalid-config`.
 * - Unsubscribe aborts the request (or cancels the `Response` body) and any pending reconnect, which closes the connection:
 *   a server using `toServerSentEvents` then stops, and aborts everything upstream of it.
 *
 * @example
 * ```ts
 * import { fromServerSentEvents } from 'rxllm';
 * fromServerSentEvents<{ text: string }>('/api/answer', { body: { question } })
 *   .subscribe({ next: ({ text }) => render(text), error: (e) => showError(e.code, e.message) });
 * ```
 */
export function fromServerSentEvents<T = unknown>(source: string | URL | Response, config: FromServerSentEventsConfig<T> = {}): Observable<T> {
  const parse = config.parse ?? ((message: EventSourceMessage) => JSON.parse(message.data) as T);
  const endEvent = config.endEvent === undefined ? 'done' : config.endEvent;
  if (source instanceof Response) {
    return defer(() => {
      if (source.bodyUsed) {
        throw new RxllmError(
          'invalid-config',
          'fromServerSentEvents(response): this Response was already read. A Response can be read once; pass the URL for a source you can subscribe to again.',
        );
      }
      return eventsOf(source, source.url || 'the response', parse, endEvent, { emitted: false });
    });
  }

  const fetch = fetchOf('fromServerSentEvents', config.fetch);
  const reconnect = reconnectOptions(config.reconnect);
  const url = String(source);
  return defer(() => {
    // Per subscription: what the reconnects resume from.
    const track: Track = { emitted: false };
    const attempt = defer(() => {
      const init = requestInit(config, track.lastEventId);
      track.resumedFrom = track.lastEventId;
      return httpExchange(
        (signal) => fetch(url, { ...init, signal }),
        (cause) => unreachable(url, cause),
        (response) => eventsOf(response, url, parse, endEvent, track),
      );
    });
    if (!reconnect) return attempt;
    return attempt.pipe(
      retry({
        count: reconnect.attempts,
        // An event received counts as progress: the next drop starts a fresh count.
        resetOnSuccess: true,
        delay: (error: unknown) => {
          if (!resumable(error, track)) return throwError(() => error);
          const wait = Math.min(track.retryMs ?? reconnect.delayMs, reconnect.maxDelayMs);
          return timer(wait, reconnect.scheduler);
        },
      }),
    );
  });
}

/** What one subscription knows across its reconnects. */
interface Track {
  /** Whether any value was emitted (for `tokensEmitted`). */
  emitted: boolean;
  /** The id of the last event received (the SSE "last event ID"). */
  lastEventId?: string;
  /** The `Last-Event-ID` the current request was sent with. */
  resumedFrom?: string;
  /** The server's `retry:`, in milliseconds. */
  retryMs?: number;
  /** Set when the server answered a reconnect from the start instead of resuming: no more reconnects. */
  notResumed?: true;
}

/** A dropped connection of a stream with ids, which a reconnect can resume. */
function resumable(error: unknown, track: Track): boolean {
  if (track.lastEventId === undefined || track.notResumed || !(error instanceof RxllmError)) return false;
  // `server`: a 5xx while reconnecting (an instance going away behind a load balancer).
  return error.code === 'connection-lost' || error.code === 'incomplete-stream' || (error.code === 'server' && track.resumedFrom !== undefined);
}

function reconnectOptions(option: FromServerSentEventsConfig<unknown>['reconnect']): Required<ServerSentEventsReconnect> | undefined {
  if (option === false) return undefined;
  const fail = (message: string) => new RxllmError('invalid-config', `fromServerSentEvents(): ${message}`, { path: 'reconnect' });
  if (option !== undefined && (typeof option !== 'object' || option === null)) throw fail('reconnect must be false or { attempts?, delayMs?, maxDelayMs?, scheduler? }.');
  const { attempts = 3, delayMs = 1000, maxDelayMs = 30_000, scheduler = asyncScheduler } = option ?? {};
  if (!(Number.isInteger(attempts) && attempts >= 0)) throw fail(`reconnect.attempts must be a non-negative integer, got ${String(attempts)}.`);
  for (const [name, value] of [['delayMs', delayMs], ['maxDelayMs', maxDelayMs]] as const) {
    if (!(Number.isFinite(value) && value >= 0)) throw fail(`reconnect.${name} must be a non-negative number of milliseconds, got ${String(value)}.`);
  }
  if (typeof scheduler?.now !== 'function' || typeof scheduler.schedule !== 'function') throw fail('reconnect.scheduler must be a SchedulerLike (asyncScheduler, a TestScheduler).');
  return { attempts, delayMs, maxDelayMs, scheduler };
}

function requestInit(config: FromServerSentEventsConfig<unknown>, lastEventId: string | undefined): RequestInit {
  const defaults: Record<string, string> = { accept: 'text/event-stream' };
  let body: string | undefined;
  if (config.body !== undefined) {
    body = typeof config.body === 'string' ? config.body : JSON.stringify(config.body);
    if (typeof config.body !== 'string') defaults['content-type'] = 'application/json';
  }
  const method = config.method ?? (body === undefined ? 'GET' : 'POST');
  const headers = withHeaders(defaults, config.headers);
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  return { method, headers, ...(body === undefined ? {} : { body }) };
}

/** The values of one response, under the protocol described on {@link fromServerSentEvents}. */
function eventsOf<T>(response: Response, url: string, parse: (message: EventSourceMessage) => T, endEvent: string | null, track: Track): Observable<T> {
  if (!response.ok) return failedResponse(response);
  const status = response.status;
  const contentType = response.headers.get('content-type') ?? '';
  const body = response.body;
  if (!body || !contentType.includes('text/event-stream')) {
    return defer(async () => {
      const text = await responseText(response);
      throw new RxllmError('malformed-event', `Expected an event stream from ${url}, got ${contentType || 'no content-type'}: ${text.slice(0, 200) || '(empty body)'}`, {
        status,
        raw: text.slice(0, 2000),
        tokensEmitted: track.emitted,
      });
    });
  }

  return new Observable<T>((subscriber) => {
    let checked = track.resumedFrom === undefined;
    return fromEventStream(body, { onRetry: (ms) => (track.retryMs = ms) }).subscribe({
      next: (message) => {
        const emitted = track.emitted;
        if (message.id !== undefined && !message.unterminated) {
          if (!checked) {
            checked = true;
            if (!resumesAfter(message.id, track.resumedFrom!)) {
              track.notResumed = true;
              subscriber.error(
                new RxllmError(
                  'incomplete-stream',
                  `The connection to ${url} dropped, and the server answered the reconnect from event ${JSON.stringify(message.id)} instead of the one after ${JSON.stringify(track.resumedFrom)}: it does not resume streams, so the rest is lost. Ask again (or serve it with toServerSentEvents' resume option).`,
                  { status, tokensEmitted: emitted },
                ),
              );
              return;
            }
          }
          track.lastEventId = message.id;
        }
        if (message.unterminated) {
          subscriber.error(
            new RxllmError('incomplete-stream', `The event stream from ${url} ended in the middle of an event: the server or a proxy cut it. Retry the request.`, {
              status,
              raw: message.data.slice(0, 2000),
              tokensEmitted: emitted,
            }),
          );
          return;
        }
        if (message.event === 'error') {
          subscriber.error(serverError(message.data, status, emitted));
          return;
        }
        if (endEvent !== null && message.event === endEvent) {
          subscriber.complete();
          return;
        }
        let value: T;
        try {
          value = parse(message);
        } catch (cause) {
          subscriber.error(
            new RxllmError('malformed-event', `An event from ${url} could not be read: ${describeCause(cause)}.`, {
              cause,
              status,
              raw: message.data.slice(0, 2000),
              tokensEmitted: emitted,
            }),
          );
          return;
        }
        track.emitted = true;
        subscriber.next(value);
      },
      error: (cause: unknown) => subscriber.error(lost(cause, status, track.emitted)),
      complete: () => {
        if (endEvent === null) subscriber.complete();
        else {
          subscriber.error(
            new RxllmError(
              'incomplete-stream',
              `The event stream from ${url} ended without its "${endEvent}" event: the server stopped early or a proxy cut the connection. ` +
                `Retry the request (or, for a server that sends no end event, pass endEvent: null).`,
              { status, tokensEmitted: track.emitted },
            ),
          );
        }
      },
    });
  });
}

/** Whether `id` comes after `previous`: compared as numbers when both are, else only told apart. */
function resumesAfter(id: string, previous: string): boolean {
  const [next, last] = [Number(id), Number(previous)];
  if (id.trim() !== '' && previous.trim() !== '' && Number.isFinite(next) && Number.isFinite(last)) return next > last;
  return id !== previous;
}

/** The `stream-error` for an `event: error`, keeping the server's code, status and wait. */
function serverError(data: string, status: number, emitted: boolean): RxllmError {
  let payload: Partial<ServerSentErrorPayload> = {};
  try {
    const parsed: unknown = JSON.parse(data);
    if (typeof parsed === 'object' && parsed !== null) payload = parsed as Partial<ServerSentErrorPayload>;
  } catch {
    // Not JSON: the data itself is the message.
  }
  const message = typeof payload.message === 'string' ? payload.message : data.trim() || 'no message';
  return new RxllmError('stream-error', `The server reported an error mid-stream: ${message}`, {
    status: typeof payload.status === 'number' ? payload.status : status,
    ...(typeof payload.code === 'string' ? { providerCode: payload.code } : {}),
    ...(typeof payload.retryAfterMs === 'number' ? { retryAfterMs: payload.retryAfterMs } : {}),
    raw: data.slice(0, 2000),
    tokensEmitted: emitted,
  });
}

function lost(cause: unknown, status: number, emitted: boolean): RxllmError {
  return new RxllmError('connection-lost', `The connection was lost while reading the event stream: ${describeCause(cause)}. Retry the request.`, {
    cause,
    status,
    tokensEmitted: emitted,
  });
}
