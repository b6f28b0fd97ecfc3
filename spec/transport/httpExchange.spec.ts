import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { config, lastValueFrom, NEVER, Observable, of, toArray } from 'rxjs';
import { openaiTransport } from '../../src/openai/openaiTransport';
import { embeddingsClient } from '../../src/transport/embeddings';
import { fromServerSentEvents } from '../../src/transport/fromServerSentEvents';
import { httpExchange, startDirectExchange, startExchange, type DirectExchange } from '../../src/transport/httpExchange';
import { sseTransport } from '../../src/transport/sse';
import { chatRequest } from '../helpers/transportContract';
import { waitFor } from '../helpers/waitFor';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const unreachable = (cause: unknown) => ({ unreachable: cause });
const okResponse = () => new Response('ok');

describe('httpExchange', () => {
  it('is cold: sends on subscribe, once per subscription, each with a signal of its own', async () => {
    const signals: AbortSignal[] = [];
    const exchange$ = httpExchange(
      (signal) => {
        signals.push(signal);
        return Promise.resolve(okResponse());
      },
      unreachable,
      (response) => of(response.status),
    );
    expect(signals).toHaveLength(0);

    expect(await lastValueFrom(exchange$)).toBe(200);
    expect(await lastValueFrom(exchange$)).toBe(200);

    expect(signals).toHaveLength(2);
    expect(signals[0]).not.toBe(signals[1]);
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false]); // finished: nothing aborted
  });

  it('unsubscribing aborts its own request, and reads nothing of a response that arrives afterwards', async () => {
    let respond!: (response: Response) => void;
    const signals: AbortSignal[] = [];
    let cancelled = false;
    let reads = 0;
    const exchange$ = httpExchange(
      (signal) => {
        signals.push(signal);
        return new Promise<Response>((resolve) => (respond = resolve));
      },
      unreachable,
      () => {
        reads++;
        return NEVER;
      },
    );

    const kept = exchange$.subscribe();
    exchange$.subscribe().unsubscribe();
    expect(signals.map((signal) => signal.aborted)).toEqual([false, true]);

    const body = new ReadableStream({ cancel: () => void (cancelled = true) });
    respond(new Response(body)); // the second subscription's send resolves late
    await waitFor(() => cancelled, "the late response's body cancelled");

    expect(reads).toBe(0);
    expect(cancelled).toBe(true);
    kept.unsubscribe();
    expect(signals[0]!.aborted).toBe(true);
  });

  it('a send that throws, synchronously or not, errors with unreachable(cause)', async () => {
    const thrown = new TypeError('fetch is broken');
    const sync$ = httpExchange(
      () => {
        throw thrown;
      },
      unreachable,
      () => of(1),
    );
    const async$ = httpExchange(() => Promise.reject(thrown), unreachable, () => of(1));

    await expect(lastValueFrom(sync$)).rejects.toEqual({ unreachable: thrown });
    await expect(lastValueFrom(async$)).rejects.toEqual({ unreachable: thrown });
  });

  it('a send that throws synchronously errors after subscribe returns, as a rejection does', async () => {
    const errors: unknown[] = [];
    httpExchange(
      () => {
        throw new TypeError('fetch is broken');
      },
      unreachable,
      () => of(1),
    ).subscribe({ error: (error: unknown) => errors.push(error) });

    expect(errors).toEqual([]);
    await waitFor(() => errors.length > 0, 'the error after subscribe returned');
    expect(errors).toHaveLength(1);
  });

  it('a read that throws instead of returning an Observable errors, and aborts the request', async () => {
    let signal!: AbortSignal;
    const broken = new Error('read is broken');
    const exchange$ = httpExchange(
      (s) => {
        signal = s;
        return Promise.resolve(okResponse());
      },
      unreachable,
      () => {
        throw broken;
      },
    );

    await expect(lastValueFrom(exchange$)).rejects.toBe(broken);
    expect(signal.aborted).toBe(true);
  });

  it('sends no notification to a subscriber that left, whatever the request does afterwards', async () => {
    const stopped: unknown[] = [];
    const previous = config.onStoppedNotification;
    config.onStoppedNotification = (notification) => stopped.push(notification);
    try {
      // A fetch that rejects with the abort (as fetch does), and one whose response comes anyway.
      const rejecting$ = httpExchange(
        (signal) => new Promise<Response>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
        unreachable,
        () => of(1),
      );
      const late$ = httpExchange(
        () => pause(5).then(okResponse),
        unreachable,
        () => new Observable<number>((subscriber) => subscriber.error(new Error('would be late'))),
      );
      rejecting$.subscribe({ error: () => undefined }).unsubscribe();
      late$.subscribe({ error: () => undefined }).unsubscribe();
      // A quiet period before a negative check: the late response (5 ms) and RxJS's 0 ms timer for a stopped notification come before it ends.
      await pause(30);

      expect(stopped).toEqual([]);
    } finally {
      config.onStoppedNotification = previous;
    }
  });
});

describe('startExchange', () => {
  it('runs an exchange for a subscriber already subscribed, and its returned teardown aborts the request', async () => {
    const signals: AbortSignal[] = [];
    const exchange = {
      send: (signal: AbortSignal) => {
        signals.push(signal);
        return Promise.resolve(okResponse());
      },
      unreachable,
      read: (response: Response) => of(response.status),
    };
    const done$ = new Observable<number>((subscriber) => startExchange(subscriber, exchange));
    expect(await lastValueFrom(done$.pipe(toArray()))).toEqual([200]);
    expect(signals[0]!.aborted).toBe(false);

    const pending$ = new Observable<number>((subscriber) =>
      startExchange(subscriber, { ...exchange, send: (signal: AbortSignal) => (signals.push(signal), new Promise<Response>(() => undefined)) }),
    );
    pending$.subscribe().unsubscribe();
    expect(signals[1]!.aborted).toBe(true);
  });
});

describe('startDirectExchange', () => {
  // A reader that emits the status into the caller's subscriber and completes it, telling the
  // exchange it finished when `finish` says so.
  const direct = (signals: AbortSignal[], finish: boolean, send?: () => Promise<Response>): DirectExchange<number> => ({
    send: (signal) => {
      signals.push(signal);
      return send ? send() : Promise.resolve(okResponse());
    },
    unreachable,
    readInto: (response, subscriber, end) => {
      subscriber.next(response.status);
      if (finish) end.finished = true;
      subscriber.complete();
    },
  });

  it("delivers into the caller's subscriber; an answer the reader finished is not aborted, any other close aborts", async () => {
    const signals: AbortSignal[] = [];
    const finished$ = new Observable<number>((subscriber) => startDirectExchange(subscriber, direct(signals, true)));
    expect(await lastValueFrom(finished$.pipe(toArray()))).toEqual([200]);
    expect(signals[0]!.aborted).toBe(false);

    // The flag is what keeps the request: completing without it aborts (the flag is set before
    // complete() because RxJS runs the subscriber's teardowns inside it).
    const unflagged$ = new Observable<number>((subscriber) => startDirectExchange(subscriber, direct(signals, false)));
    expect(await lastValueFrom(unflagged$.pipe(toArray()))).toEqual([200]);
    expect(signals[1]!.aborted).toBe(true);
  });

  it('unsubscribing before the response aborts, reads nothing of a late response and cancels its body', async () => {
    let respond!: (response: Response) => void;
    const signals: AbortSignal[] = [];
    let cancelled = false;
    const exchange = direct(signals, true, () => new Promise<Response>((resolve) => (respond = resolve)));
    let reads = 0;
    const readInto = exchange.readInto;
    exchange.readInto = (...args) => (reads++, readInto(...args));
    const exchange$ = new Observable<number>((subscriber) => startDirectExchange(subscriber, exchange));

    exchange$.subscribe().unsubscribe();
    expect(signals[0]!.aborted).toBe(true);
    respond(new Response(new ReadableStream({ cancel: () => void (cancelled = true) })));
    await waitFor(() => cancelled, "the late response's body cancelled");
    expect(reads).toBe(0);
    expect(cancelled).toBe(true);
  });

  it('unsubscribing while reading aborts, and runs the teardown readInto returned', async () => {
    const signals: AbortSignal[] = [];
    let tornDown = 0;
    let reads = 0;
    const reading: DirectExchange<number> = { ...direct(signals, true), readInto: () => (reads++, () => void tornDown++) };
    const values: number[] = [];
    const subscription = new Observable<number>((subscriber) => startDirectExchange(subscriber, reading)).subscribe((value) => values.push(value));
    await waitFor(() => reads === 1, 'the response handed to readInto');
    expect([signals[0]!.aborted, tornDown]).toEqual([false, 0]);
    subscription.unsubscribe();
    expect([signals[0]!.aborted, tornDown]).toEqual([true, 1]);
  });

  it('a send that throws synchronously errors with unreachable(cause) after subscribe returns; a readInto that throws errors and aborts', async () => {
    const signals: AbortSignal[] = [];
    const cause = new Error('refused');
    const errors: unknown[] = [];
    new Observable<number>((subscriber) =>
      startDirectExchange(subscriber, {
        ...direct(signals, true),
        send: () => {
          throw cause;
        },
      }),
    ).subscribe({ error: (error: unknown) => errors.push(error) });
    expect(errors).toEqual([]);
    await waitFor(() => errors.length > 0, 'the error after subscribe returned');
    expect(errors).toEqual([{ unreachable: cause }]);

    const thrown = new Error('bad body');
    const reading: DirectExchange<number> = {
      ...direct(signals, true),
      readInto: () => {
        throw thrown;
      },
    };
    await expect(lastValueFrom(new Observable<number>((subscriber) => startDirectExchange(subscriber, reading)))).rejects.toBe(thrown);
    expect(signals[0]!.aborted).toBe(true);
  });
});

describe('sseTransport on startDirectExchange', () => {
  // A fetch that answers at once with `body`, keeping each request's signal.
  const answering = (signals: AbortSignal[], body: ConstructorParameters<typeof Response>[0], contentType: string): typeof fetch =>
    (async (_url: unknown, init?: RequestInit) => {
      signals.push(init!.signal!);
      return new Response(body, { headers: { 'content-type': contentType } });
    }) as typeof fetch;
  const chunk = 'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\n';

  it('does not abort a finished answer, streamed or one JSON body, and aborts one unsubscribed mid-stream', async () => {
    const signals: AbortSignal[] = [];
    const streamed = sseTransport({ baseURL: 'http://127.0.0.1:1/v1', fetch: answering(signals, `${chunk}data: [DONE]\n\n`, 'text/event-stream') });
    await lastValueFrom(streamed(chatRequest).pipe(toArray()));
    const json = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }] });
    const whole = sseTransport({ baseURL: 'http://127.0.0.1:1/v1', fetch: answering(signals, json, 'application/json') });
    await lastValueFrom(whole({ ...chatRequest, stream: false }).pipe(toArray()));
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false]);

    // A stream that never ends: unsubscribed after its first event.
    const endless = new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode(chunk)) });
    const open = sseTransport({ baseURL: 'http://127.0.0.1:1/v1', fetch: answering(signals, endless, 'text/event-stream') });
    const first = await new Promise<string>((resolve) => {
      const subscription = open(chatRequest).subscribe((event) => {
        subscription.unsubscribe();
        resolve(event.type);
      });
    });
    expect(first).toBe('text');
    expect(signals[2]!.aborted).toBe(true);
  });
});

describe('the clients built on the exchange lifecycle (httpExchange, startDirectExchange)', () => {
  // A keep-alive server of its own for each test (fetch pools connections by origin), counting the
  // connections its requests came on.
  let server: Server;
  let origin: string;
  let requests: number;
  let connections: number;
  beforeEach(async () => {
    requests = 0;
    connections = 0;
    server = createServer((request, response) => {
      requests++;
      request.resume();
      request.on('end', () => {
        if (request.url === '/v1/embeddings') {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }] }));
          return;
        }
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        if (request.url === '/events') response.write('data: 1\n\nevent: done\ndata: {}\n\n');
        else response.write('data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n');
        // The body ends a moment after the answer's last event: a client that aborted at the
        // answer's end would lose the connection.
        setTimeout(() => response.end(), 5);
      });
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const clients: [string, () => Observable<unknown>][] = [
    ['sseTransport', () => sseTransport({ baseURL: `${origin}/v1` })(chatRequest)],
    ['openaiTransport', () => openaiTransport(new OpenAI({ baseURL: `${origin}/v1`, apiKey: 'sk-test' }))(chatRequest)],
    ['embeddingsClient', () => embeddingsClient({ baseURL: `${origin}/v1` })(['x'], 'm')],
    ['fromServerSentEvents', () => fromServerSentEvents(`${origin}/events`)],
  ];

  it.each(clients)('%s reads a finished answer to its end, so the next request reuses the connection', async (_name, call) => {
    await lastValueFrom(call().pipe(toArray()));
    // The client reads the body's end (5 ms after the answer) inside fetch's connection pool, which no event outside it shows: a fixed wait.
    await pause(50);
    await lastValueFrom(call().pipe(toArray()));

    expect(requests).toBe(2);
    expect(connections).toBe(1);
  });
});
