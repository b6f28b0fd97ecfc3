import type { EventSourceMessage } from '../../src/transport/fromEventStream';
import { readEventStream, type EventStreamSink } from '../../src/transport/readEventStream';
import { chunkedResponse } from '../helpers/chunkedFetch';
import { within } from '../helpers/waitFor';

const bytes = (text: string) => new TextEncoder().encode(text);
const bodyOf = (...chunks: string[]) => chunkedResponse(chunks.map(bytes)).body!;

/** A sink that records what it is told, and closes itself after `closeAfter` messages. */
function recorder(closeAfter = Infinity): EventStreamSink & { seen: unknown[]; messages: EventSourceMessage[]; ended: Promise<void> } {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const sink = {
    seen: [] as unknown[],
    /** Every message as the sink was given it (its fields, `unterminated` included). */
    messages: [] as EventSourceMessage[],
    closed: false,
    ended,
    next(message: EventSourceMessage) {
      sink.messages.push(message);
      sink.seen.push(message.data);
      if (sink.seen.length >= closeAfter) {
        sink.closed = true;
        end();
      }
    },
    error(error: unknown) {
      sink.seen.push(['error', (error as Error).message]);
      sink.closed = true;
      end();
    },
    complete() {
      sink.seen.push('complete');
      sink.closed = true;
      end();
    },
  };
  return sink;
}

describe('readEventStream', () => {
  it('calls the sink once per event, the events split anywhere across reads, then completes it', async () => {
    const sink = recorder();
    readEventStream(bodyOf('data: o', 'ne\n\ndata: two\n', '\n'), sink);
    await sink.ended;
    expect(sink.seen).toEqual(['one', 'two', 'complete']);
  });

  it('delivers nothing more once the sink is closed, within the same read or after it', async () => {
    const sink = recorder(1);
    const reads = ['data: one\n\ndata: two\n\n', 'data: three\n\n'];
    let cancelled!: () => void;
    const readPastTheClose = new Promise<void>((resolve) => (cancelled = resolve));
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const read = reads.shift();
          if (read === undefined) controller.close();
          else controller.enqueue(bytes(read));
        },
        cancel: () => cancelled(),
      },
      { highWaterMark: 0 },
    );
    readEventStream(body, sink);
    await sink.ended;
    // The read after the close brings more data, so the reader cancels the body there: nothing can be delivered after that.
    await within(readPastTheClose, 'the body cancelled at the read after the sink closed');
    expect(sink.seen).toEqual(['one']);
  });

  it('delivers the events of one read in order, llama.cpp’s `error:` field among them, each whole and unmarked', async () => {
    const sink = recorder();
    readEventStream(bodyOf('data: one\n\nerror: bad\n\ndata: two\n\n'), sink);
    await sink.ended;
    expect(sink.seen).toEqual(['one', 'bad', 'two', 'complete']);
    expect(sink.messages.map((message) => [message.event, message.unterminated])).toEqual([
      [undefined, undefined],
      ['error', undefined],
      [undefined, undefined],
    ]);
  });

  it('marks unterminated only the event the body ends inside, not the earlier events of the same read', async () => {
    const sink = recorder();
    readEventStream(bodyOf('data: one\n\ndata: [DONE]'), sink);
    await sink.ended;
    expect(sink.messages.map((message) => [message.data, message.unterminated])).toEqual([
      ['one', undefined],
      ['[DONE]', true],
    ]);
  });

  it('passes a failing body’s error to the sink', async () => {
    const sink = recorder();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(bytes('data: one\n\n'));
        else controller.error(new Error('socket hang up'));
      },
    });
    readEventStream(body, sink);
    await sink.ended;
    expect(sink.seen).toEqual(['one', ['error', 'socket hang up']]);
  });
});
