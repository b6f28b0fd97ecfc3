import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { concat, finalize, ignoreElements, map, NEVER, of, Subject, throwError, timer, VirtualTimeScheduler } from 'rxjs';
import { RxllmError } from '../../src/core/errors';
import { startSimulatorServer, type SimulatorServer } from '../../src/node/simulatorServer';
import { toServerSentEvents } from '../../src/node/toServerSentEvents';
import { sseTransport } from '../../src/transport/sse';
import { startLocalServer, type LocalServer } from '../helpers/localServer';
import { waitFor } from '../helpers/waitFor';

let server: LocalServer;
let url: string;
beforeAll(async () => {
  server = await startLocalServer();
  url = server.baseURL.replace(/\/v1$/, '');
});
afterAll(() => server.close());

/** The whole body and the headers of a GET, as a client sees them. */
async function get(path = '/'): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(`${url}${path}`);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** A GET whose body the test reads only when it calls `resume()`; `paused` until then. */
function pausedGet(): Promise<{ response: IncomingMessage; resume(): Promise<string>; ended: Promise<'end' | 'aborted'> }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/`, (response) => {
      response.pause();
      const parts: Buffer[] = [];
      const ended = new Promise<'end' | 'aborted'>((done) => {
        response.on('end', () => done('end'));
        response.on('aborted', () => done('aborted'));
        response.on('error', () => done('aborted'));
      });
      resolve({
        response,
        ended,
        resume: async () => {
          response.on('data', (part: Buffer) => parts.push(part));
          response.resume();
          await ended;
          return Buffer.concat(parts).toString('utf8');
        },
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Counts the writes made while the response said to wait for 'drain': there must be none. */
function countWritesWhileFull(res: ServerResponse): { whileFull: number; sawFull: boolean } {
  const counts = { whileFull: 0, sawFull: false };
  const write = res.write.bind(res) as (chunk: unknown) => boolean;
  (res as { write: (chunk: unknown) => boolean }).write = (chunk) => {
    if (res.writableNeedDrain) counts.whileFull++;
    const ok = write(chunk);
    if (!ok) counts.sawFull = true;
    return ok;
  };
  return counts;
}

interface Frame {
  id?: string;
  event?: string;
  data: string;
}

function frames(body: string): Frame[] {
  return body
    .split('\n\n')
    .filter((block) => block !== '' && !block.startsWith(':'))
    .map((block) => {
      const frame: Frame = { data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(': ');
        const value = rest.join(': ');
        if (field === 'data') data.push(value);
        else if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
      }
      frame.data = data.join('\n');
      return frame;
    });
}

describe('toServerSentEvents', () => {
  it('writes event-stream headers, one event per value with ids, then a done event, and ends', async () => {
    server.handle((_request, res) => void toServerSentEvents(of({ n: 1 }, { n: 2 }), res, { headers: { 'x-run': '7' } }));
    const { status, headers, body } = await get();
    expect(status).toBe(200);
    expect(headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(headers.get('x-accel-buffering')).toBe('no');
    expect(headers.get('x-run')).toBe('7');
    expect(body).toBe('id: 1\ndata: {"n":1}\n\nid: 2\ndata: {"n":2}\n\nid: 3\nevent: done\ndata: {}\n\n');
  });

  it('names events, encodes with the given encoder (a data line per line), and sends retry first', async () => {
    server.handle(
      (_request, res) =>
        void toServerSentEvents(of('one\ntwo', 'three'), res, { encode: (text) => text, event: (text) => (text.includes('\n') ? 'multi' : undefined), retryMs: 2500 }),
    );
    const { body } = await get();
    expect(body).toBe('retry: 2500\n\nid: 1\nevent: multi\ndata: one\ndata: two\n\nid: 2\ndata: three\n\nid: 3\nevent: done\ndata: {}\n\n');
  });

  it('writes keep-alive comments after keepAliveMs without a write, timed on the scheduler', async () => {
    // Virtual time: a value at 1500 ms and completion at 3200 ms, keep-alive every 1000 ms of silence.
    const scheduler = new VirtualTimeScheduler();
    const source = concat(timer(1500, scheduler).pipe(map(() => 'x')), timer(1700, scheduler).pipe(ignoreElements()));
    server.handle((_request, res) => {
      toServerSentEvents(source, res, { keepAliveMs: 1000, scheduler });
      scheduler.flush();
    });
    const { body } = await get();
    //                 1000 ms           1500 ms                2500 ms           3200 ms
    expect(body).toBe(': keep-alive\n\nid: 1\ndata: "x"\n\n: keep-alive\n\nid: 2\nevent: done\ndata: {}\n\n');
    expect(scheduler.now()).toBe(3200);
  });

  describe('on a source error, writes an error event and ends', () => {
    it('an RxllmError: code, message, status and retryAfterMs, nothing else', async () => {
      const error = new RxllmError('rate-limited', '429 slow down', { status: 429, retryAfterMs: 2000, raw: '{"internal":"secret"}', requestId: 'req_1' });
      server.handle((_request, res) => void toServerSentEvents(concat(of(1), throwError(() => error)), res));
      const { body } = await get();
      expect(frames(body)).toEqual([
        { id: '1', data: '1' },
        { id: '2', event: 'error', data: '{"code":"rate-limited","message":"429 slow down","status":429,"retryAfterMs":2000}' },
      ]);
    });

    it('any other error: a generic payload, so internal messages stay on the server', async () => {
      server.handle((_request, res) => void toServerSentEvents(throwError(() => new Error('password=hunter2')), res));
      const { body } = await get();
      expect(frames(body)).toEqual([{ id: '1', event: 'error', data: '{"code":"server","message":"The stream failed on the server."}' }]);
    });

    it('errorPayload chooses the payload; one that throws falls back to the default', async () => {
      server.handle(
        (_request, res) =>
          void toServerSentEvents(throwError(() => new Error('quota')), res, { errorPayload: (e) => ({ code: 'overloaded', message: (e as Error).message }) }),
      );
      expect(frames((await get()).body)).toEqual([{ id: '1', event: 'error', data: '{"code":"overloaded","message":"quota"}' }]);
      server.handle(
        (_request, res) =>
          void toServerSentEvents(throwError(() => new Error('x')), res, {
            errorPayload: () => {
              throw new Error('bad payload function');
            },
          }),
      );
      expect(frames((await get()).body)).toEqual([{ id: '1', event: 'error', data: '{"code":"server","message":"The stream failed on the server."}' }]);
    });

    it('an encoder that throws, or a reserved event name, errors the stream the same way', async () => {
      let unsubscribed = false;
      server.handle(
        (_request, res) =>
          void toServerSentEvents(
            concat(of(1, 2), NEVER).pipe(finalize(() => (unsubscribed = true))),
            res,
            {
              encode: (n) => {
                if (n === 2) throw new RxllmError('invalid-output', 'cannot encode 2');
                return String(n);
              },
            },
          ),
      );
      // Ids stay consecutive (the value that failed to encode takes none), so a resumed stream has no gap.
      expect(frames((await get()).body)).toEqual([
        { id: '1', data: '1' },
        { id: '2', event: 'error', data: '{"code":"invalid-output","message":"cannot encode 2"}' },
      ]);
      expect(unsubscribed).toBe(true);

      server.handle((_request, res) => void toServerSentEvents(of(1), res, { event: () => 'done' }));
      const [error] = frames((await get()).body);
      expect(error).toMatchObject({ event: 'error' });
      expect(JSON.parse(error!.data)).toMatchObject({ code: 'invalid-config', message: expect.stringContaining('"done" is reserved') });
    });
  });

  it('rejects bad options and a response whose headers were sent, with invalid-config', async () => {
    const outcomes: unknown[] = [];
    server.handle((_request, res) => {
      for (const config of [{ keepAliveMs: 0 }, { keepAliveMs: Number.NaN }, { retryMs: -1 }, { maxBufferedBytes: 0 }, { whenSlow: 'drop' as never }, { encode: 'json' as never }]) {
        try {
          toServerSentEvents(of(1), res, config);
          outcomes.push('accepted');
        } catch (error) {
          outcomes.push((error as RxllmError).code);
        }
      }
      res.writeHead(200).flushHeaders();
      try {
        toServerSentEvents(of(1), res);
      } catch (error) {
        outcomes.push((error as RxllmError).message);
      }
      res.end();
    });
    await get();
    expect(outcomes).toEqual([...Array(6).fill('invalid-config'), expect.stringContaining('headers were already sent')]);
  });

  it('unsubscribing the returned subscription stops the source and ends the response without a done event', async () => {
    let unsubscribed = false;
    server.handle((_request, res) => {
      const subscription = toServerSentEvents(concat(of('a'), NEVER).pipe(finalize(() => (unsubscribed = true))), res);
      setTimeout(() => subscription.unsubscribe(), 20);
    });
    const { body } = await get();
    expect(body).toBe('id: 1\ndata: "a"\n\n');
    expect(unsubscribed).toBe(true);
  });

  describe('backpressure: nothing is written while res.write() says to wait for drain', () => {
    const big = 'x'.repeat(32 * 1024);

    it("whenSlow 'buffer': queues up to maxBufferedBytes, then drops the connection and unsubscribes the source", async () => {
      const source = new Subject<string>();
      let unsubscribed = false;
      let counts = { whileFull: 0, sawFull: false };
      let emitted = 0;
      server.handle((_request, res) => {
        counts = countWritesWhileFull(res);
        toServerSentEvents(source.pipe(finalize(() => (unsubscribed = true))), res, { maxBufferedBytes: 256 * 1024, keepAliveMs: false });
      });
      const client = await pausedGet();
      // The client reads nothing: feed the source until the server gives up (or 64 MiB, which would be a failure).
      while (!unsubscribed && emitted < 2048) {
        for (let i = 0; i < 16; i++) source.next(`${emitted++}${big}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(unsubscribed).toBe(true);
      expect(counts.sawFull).toBe(true);
      expect(counts.whileFull).toBe(0);
      expect(await client.ended).toBe('aborted');
      expect(source.observed).toBe(false);
    });

    it("whenSlow 'latest': keeps only the newest value while the client is behind; ids show the gap", async () => {
      const source = new Subject<string>();
      let counts = { whileFull: 0, sawFull: false };
      let response!: ServerResponse;
      server.handle((_request, res) => {
        response = res;
        counts = countWritesWhileFull(res);
        toServerSentEvents(source, res, { whenSlow: 'latest', keepAliveMs: false });
      });
      const client = await pausedGet();
      let emitted = 0;
      // Fill the socket, then send 50 more values, then complete: all while the client reads nothing.
      while (!response.writableNeedDrain && emitted < 2048) {
        for (let i = 0; i < 16; i++) source.next(`${++emitted}:${big}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      for (let i = 0; i < 50; i++) source.next(`${++emitted}:${big}`);
      source.complete();
      const received = frames(await client.resume());

      expect(counts.sawFull).toBe(true);
      expect(counts.whileFull).toBe(0);
      const values = received.filter((frame) => frame.event === undefined).map((frame) => Number(JSON.parse(frame.data).split(':')[0]));
      const ids = received.map((frame) => Number(frame.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(values.at(-1)).toBe(emitted); // the newest value always arrives
      expect(values.length).toBeLessThan(emitted); // the ones in between were replaced
      expect(received.at(-1)).toEqual({ id: String(emitted + 1), event: 'done', data: '{}' });
    });
  });

  describe('when the client disconnects', () => {
    let simulator: SimulatorServer;
    beforeAll(async () => {
      // A long answer (500 tokens at 100/s) that is surely mid-stream when the client leaves.
      simulator = await startSimulatorServer({ profiles: { long: { ttftMs: 5, tokensPerSecond: 100, jitter: 0, outputTokens: 500 } }, seed: 3 });
    });
    afterAll(() => simulator.close());

    it('the subscription ends and the upstream request is aborted (the simulator counts the abort)', async () => {
      const transport = sseTransport({ baseURL: simulator.baseURL });
      let unsubscribed = false;
      server.handle(
        (_request, res) =>
          void toServerSentEvents(
            transport({ model: 'long', messages: [{ role: 'user', content: 'Tell me a long story' }] }).pipe(finalize(() => (unsubscribed = true))),
            res,
          ),
      );
      const controller = new AbortController();
      const response = await fetch(`${url}/`, { signal: controller.signal });
      const reader = response.body!.getReader();
      const first = await reader.read();
      expect(new TextDecoder().decode(first.value)).toMatch(/^id: 1\ndata: \{"type":"text"/);
      expect(simulator.stats()).toMatchObject({ inFlight: 1, aborts: 0 });

      controller.abort();
      await waitFor(() => simulator.stats().aborts === 1 && simulator.stats().inFlight === 0, 'the simulator counting the abort, nothing left in flight');
      expect(unsubscribed).toBe(true);
      expect(simulator.stats()).toMatchObject({ requests: 1, completed: 0, aborts: 1, inFlight: 0 });
    });
  });
});
