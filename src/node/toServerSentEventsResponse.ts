import type { Observable } from 'rxjs';
import { RxllmError } from '../core/errors.js';
import { eventStreamHeaders, pumpServerSentEvents, validateServerSentEventsConfig, type Pump, type ToServerSentEventsConfig } from './serverSentEventsPump.js';

/**
 * Streams an Observable as a web `Response` of Server-Sent Events, for fetch-style servers
 * (Hono, Next.js route handlers, Bun, Deno, Cloudflare Workers): the same wire format, keep-alive,
 * ids, error and `done` events as {@link toServerSentEvents}. Uses only web APIs (`Response`,
 * `ReadableStream`, `TextEncoder`). Take `.body` for the bare `ReadableStream`.
 *
 * ```text
 * source:  ----a-------b----------|
 * body:    ----1:a-----2:b--------3:done, close
 * ```
 *
 * - The body is pull-driven: nothing is subscribed until it is first read, and a frame is
 *   handed over only when the reader asks for one; values arriving meanwhile are queued or
 *   replaced per `whenSlow` (a queue past `maxBufferedBytes` errors the body and unsubscribes).
 * - Completes the body after `event: done`; after `event: error` on a source error.
 * - Cancelling the body (the client disconnected) unsubscribes the source, aborting every
 *   request under it.
 * - One subscription per Response (a body can be read once).
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for bad options.
 *
 * @example
 * ```ts
 * // Next.js: app/api/analyse/route.ts
 * export async function POST(request: Request) {
 *   const { text } = await request.json();
 *   return toServerSentEventsResponse(analysis.run(text), { whenSlow: 'latest' });
 * }
 * ```
 */
export function toServerSentEventsResponse<T>(source: Observable<T>, config: ToServerSentEventsConfig<T> = {}): Response {
  validateServerSentEventsConfig(config as ToServerSentEventsConfig<never>, 'toServerSentEventsResponse()');
  if (config.resume !== undefined) {
    throw new RxllmError('invalid-config', 'toServerSentEventsResponse(): resume is not supported here yet; use toServerSentEvents(source, res, { resume }) on a Node response.');
  }
  let pump: Pump | undefined;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pump) {
          pump.drain();
          return;
        }
        pump = pumpServerSentEvents(
          source,
          {
            write: (frame) => {
              controller.enqueue(frame);
              return (controller.desiredSize ?? 0) > 0;
            },
            end: () => controller.close(),
            abort: () =>
              controller.error(
                new RxllmError('overloaded', 'The client read the event stream too slowly: more than maxBufferedBytes were queued, so the stream was dropped.'),
              ),
          },
          config,
        );
      },
      cancel() {
        pump?.close();
      },
    },
    // No read-ahead: a frame is produced only for a reader that asked, so the queue above sees a slow client.
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: eventStreamHeaders(config.headers) });
}
