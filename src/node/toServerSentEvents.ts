import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Observable, Subscription } from 'rxjs';
import type { ResumeStore } from '../cache/ResumeStore.js'; // for {@link} in the docs
import { RxllmError } from '../core/errors.js';
import { resumableEvents } from './resumableEvents.js';
import {
  encodeServerSentEvents,
  eventStreamHeaders,
  pumpEvents,
  type ServerSentEventsResume,
  validateServerSentEventsConfig,
  type ToServerSentEventsConfig,
} from './serverSentEventsPump.js';

export type { ServerSentEventsResume, ToServerSentEventsConfig } from './serverSentEventsPump.js';

/**
 * Streams an Observable to a Node HTTP response as Server-Sent Events (`text/event-stream`):
 * LLM events, pipeline snapshots, or your own values. Works with `node:http`, Express, Fastify
 * (`reply.raw`), Koa (`ctx.res`). For fetch-style servers see {@link toServerSentEventsResponse}.
 *
 * ```text
 * source:  ----a-------b----------|
 * wire:    ----1:a-----2:b--------3:done, end        (id: n, data: JSON, a blank line)
 * source:  ----a-------#
 * wire:    ----1:a-----2:error, end                   data: {"code":…,"message":…}
 * idle:    ----a---------------: keep-alive----…      after keepAliveMs without a write
 * ```
 *
 * - Writes the headers at once (200, `content-type: text/event-stream; charset=utf-8`,
 *   `cache-control: no-cache, no-transform`, `x-accel-buffering: no`, plus `headers`), then one
 *   event per value: `id: <n>` (1, 2, …), `event: <name>` if `event` names one, and the
 *   encoded value as `data:` lines.
 * - On completion writes `event: done` (data `{}`) and ends the response; on error writes
 *   `event: error` with a {@link ServerSentErrorPayload} (`{ code, message, status?, retryAfterMs? }`)
 *   and ends it. `fromServerSentEvents` reads both; with a browser `EventSource`, close it on
 *   `done`, or it reconnects and runs the request again.
 * - Keep-alive comments (`: keep-alive`) after `keepAliveMs` without a write, timed on `scheduler`.
 * - Backpressure: when `res.write()` returns false nothing more is written until `drain`; values
 *   arriving meanwhile are queued (`whenSlow: 'buffer'`, bounded by `maxBufferedBytes`, past which
 *   the connection is dropped and the source unsubscribed) or replaced by the newest
 *   (`whenSlow: 'latest'`).
 * - When the client disconnects, the source is unsubscribed: every request under it is aborted
 *   (except with `resume`, below).
 *
 * **Resumable streams** (`resume: { store, streamId }`): every event is also kept in a
 * {@link ResumeStore} under the app's stream id (`memoryResumeStore()` for one instance,
 * `redisResumeStore()` from `rxllm/redis` for many), so a client whose connection drops can come
 * back, to this instance or any other sharing the store, and miss nothing:
 *
 * ```text
 * instance A, GET /answers/42:            id:1 id:2 id:3 ✂ (connection dropped; A's source runs on, appending)
 * instance B, GET /answers/42
 *   Last-Event-ID: 3:                                      id:4 id:5 … id:9 done  (from the store, then live)
 * ```
 *
 * - Who runs the source: the first request for a stream id claims it (atomically, across every
 *   instance) and runs `source`, appending each event to the store. That run continues to its end
 *   when its client leaves, so a reconnect can follow it; only the returned subscription stops it
 *   (the stored stream then ends with an `error` event). A request with `Last-Event-ID` (header,
 *   or `?lastEventId=` for clients that cannot set headers, or `resume.lastEventId`) never runs
 *   `source`: it reads the events after that id from the store, then the live rest, and ends after
 *   the `done` or `error` event: no repeat, no gap. A request without one for a stream id that is
 *   claimed already (a second tab, an `EventSource` that saw no id yet) reads from the start.
 * - The store failing never fails the answer: a failed claim streams without resume (the redis
 *   store logs once per outage and counts it); a failed append stops the appends (a reconnect then
 *   ends with an `error` event rather than a gap); a reconnect for a stream the store does not hold
 *   (expired, unknown) or a malformed `Last-Event-ID` gets one `error` event without an id
 *   (`incomplete-stream`, `bad-request`).
 * - A browser `EventSource` reconnects by itself (after the `retry:` wait; set `retryMs`) and sends
 *   `Last-Event-ID`; close it on `done`. `fromServerSentEvents` reconnects and resumes the same way.
 *
 * Subscribes to `source` at once (a hot sink for a cold source: one subscription per call).
 * Returns that subscription: unsubscribing it stops the source and ends the response without a
 * `done` event, so the client sees an incomplete stream.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for bad options (a `resume` without a store, or
 * with an empty `streamId`), or when the response's headers were already sent.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { toServerSentEvents } from 'rxllm/node';
 * createServer((req, res) => {
 *   toServerSentEvents(analysis.run(textOf(req)), res, { whenSlow: 'latest' });
 * }).listen(3000);
 *
 * // Resumable, on every instance: GET /answers/:id, the first request runs the model
 * const store = redisResumeStore({ redis, prefix: 'myapp:resume:' }); // from rxllm/redis
 * toServerSentEvents(answer$(id), res, { resume: { store, streamId: id }, retryMs: 1000 });
 * ```
 */
export function toServerSentEvents<T>(source: Observable<T>, res: ServerResponse, config: ToServerSentEventsConfig<T> = {}): Subscription {
  validateServerSentEventsConfig(config as ToServerSentEventsConfig<never>, 'toServerSentEvents()');
  if (res.headersSent) {
    throw new RxllmError('invalid-config', 'toServerSentEvents(): the response headers were already sent; call it before writing anything to the response.');
  }
  res.writeHead(200, eventStreamHeaders(config.headers));
  res.flushHeaders();
  // Tokens are small writes: send each at once rather than let Nagle's algorithm hold them back.
  res.socket?.setNoDelay(true);

  // With resume, the source's run outlives this client (see resumableEvents); the returned
  // subscription stops both.
  const run = new Subscription();
  const events = config.resume ? resumableEvents(source, config, config.resume, lastEventIdOf(res, config.resume), run) : encodeServerSentEvents(source, config);
  const pump = pumpEvents(events, {
    write: (frame) => res.write(frame),
    end: () => res.end(),
    abort: () => res.destroy(),
  }, config as ToServerSentEventsConfig<never>);
  const onDrain = () => pump.drain();
  // 'close' comes when the client goes away (and after a normal end, when there is nothing left to stop).
  const onClose = () => pump.close();
  res.on('drain', onDrain);
  res.on('close', onClose);
  // A write racing a reset socket reports an error here; the close that follows stops the pump.
  res.on('error', onClose);
  pump.subscription.add(() => {
    res.off('drain', onDrain);
    if (!res.writableEnded && !res.destroyed) res.end();
  });
  if (!config.resume) return pump.subscription;
  const both = new Subscription();
  both.add(pump.subscription);
  both.add(run);
  return both;
}

/** `resume.lastEventId`, else the `Last-Event-ID` header, else the `lastEventId` query parameter. */
function lastEventIdOf(res: ServerResponse, resume: ServerSentEventsResume): string | undefined {
  if (resume.lastEventId !== undefined) return resume.lastEventId ?? undefined;
  const req = res.req as IncomingMessage | undefined;
  const header = req?.headers['last-event-id'];
  if (typeof header === 'string') return header.trim();
  const url = req?.url;
  if (url === undefined || !url.includes('lastEventId=')) return undefined;
  return new URL(url, 'http://localhost').searchParams.get('lastEventId') ?? undefined;
}
