import { createParser, type EventSourceMessage as ParsedMessage } from 'eventsource-parser';

// Internal: the body reader behind fromEventStream and the chat-completions stream of
// eventsFromResponse. Not exported from any entry point (EventSourceMessage is, through fromEventStream).

/** One Server-Sent Event: eventsource-parser's message, plus whether the body ended inside it. */
export interface EventSourceMessage extends ParsedMessage {
  /**
   * True for an event dispatched only because the body ended: no blank line followed it
   * (llama.cpp ends with `data: [DONE]` and none), or only a last bare CR that could still
   * have been the start of a CRLF. The data may be whole, or cut off mid-event.
   */
  unterminated?: true;
}

/**
 * Where {@link readEventStream} delivers: a `Subscriber<EventSourceMessage>` is one, and so is a
 * decoder that turns the messages into something else in the same call (no Observable between
 * them, so no subscriber chain per event).
 */
export interface EventStreamSink {
  readonly closed: boolean;
  next(message: EventSourceMessage): void;
  error(error: unknown): void;
  complete(): void;
}

// How long an unsubscribed stream waits for its body's end before cancelling the reader. The end of a
// finished answer is normally already in the socket buffer; a server that holds the connection open
// after [DONE] costs this long, and a stream cut off by an early unsubscribe is cancelled after it.
const BODY_END_GRACE_MS = 20;

/**
 * Reads a `text/event-stream` body into `sink`, one call per Server-Sent Event (parsed by
 * eventsource-parser: any line ending, events split anywhere across reads, UTF-8 split across
 * reads, a leading BOM). A last event with no blank line after it is still delivered, marked
 * `unterminated`; llama.cpp's non-standard `error:` field is delivered as an `event: error`
 * message; `onRetry` hears each `retry:` field. Calls `sink.complete()` when the body ends and `sink.error(cause)` when the connection
 * fails mid-body; stops delivering once `sink.closed`.
 *
 * Returns the teardown: it cancels the reader, which closes the connection, unless the body turns
 * out to end at once (a sink that stops at `[DONE]` closes just before the body's end is read):
 * reading that end lets `fetch` keep the connection for the next request, where a cancel would
 * destroy it.
 */
export function readEventStream(body: ReadableStream<Uint8Array>, sink: EventStreamSink, onRetry?: (retryMs: number) => void): () => void {
  const reader = body.getReader();
  // TextDecoder removes the BOM and keeps multi-byte characters split across reads whole.
  const decoder = new TextDecoder();
  // The parser's callbacks only queue what it found; `deliver` hands it to the sink once the
  // parser has returned. Why not call the sink from the callback: V8 inlines a callback into the
  // parser's hot loop, so the sink's whole per-token path (decoding, the subscribers) was compiled
  // once more inside the parser, and again after every full GC (docs/performance.md).
  const queued: EventSourceMessage[] = [];
  // The optional field last: a literal that starts with a spread gets a hidden class per call (see withFields).
  const parser = createParser({
    onEvent: (message) => {
      queued.push(message);
    },
    onError: (error) => {
      if (error.type === 'unknown-field' && error.field === 'error') queued.push({ event: 'error', data: error.value ?? '' });
    },
    ...(onRetry ? { onRetry } : {}),
  });
  // One read can hold many events: the ones after the sink closed (say, at [DONE]) go nowhere.
  const deliver = (atEnd: boolean): void => {
    for (let i = 0; i < queued.length && !sink.closed; i++) {
      const message = queued[i]!;
      sink.next(atEnd ? { ...message, unterminated: true } : message);
    }
    queued.length = 0;
  };

  let ended = false;
  const pump = async (): Promise<void> => {
    for (;;) {
      const { value, done } = await reader.read();
      if (sink.closed) {
        // Unsubscribed while this read was pending: more data means nobody wants the rest.
        if (done) ended = true;
        else reader.cancel().catch(() => undefined);
        return;
      }
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      deliver(false);
    }
    const rest = decoder.decode();
    if (rest) {
      parser.feed(rest);
      deliver(false);
    }
    // eventsource-parser drops an event the body ends inside (as the SSE spec says), and
    // holds a trailing CR until it knows whether an LF follows. Ending the line and the event
    // here dispatches what the server did send; the flag tells the reader it was unterminated.
    parser.feed('\n\n');
    deliver(true);
    if (!sink.closed) sink.complete();
  };
  pump().then(
    () => {
      ended = true;
    },
    (error: unknown) => {
      ended = true;
      // After teardown the failure is the cancel or abort itself, and nobody is listening: an
      // error sent now would reach RxJS's `onStoppedNotification` as a leak.
      if (!sink.closed) sink.error(error);
    },
  );

  return () => {
    if (ended) return;
    // The pump's next read is already under way: if the body ends right away it finishes cleanly
    // (the connection stays reusable); otherwise it is cancelled here once the grace has passed.
    const grace = setTimeout(() => {
      if (!ended) reader.cancel().catch(() => undefined);
    }, BODY_END_GRACE_MS);
    (grace as { unref?: () => void }).unref?.();
  };
}
