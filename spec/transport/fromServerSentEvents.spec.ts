import { asyncScheduler, firstValueFrom, lastValueFrom, Observable, of, type SchedulerLike, throwError, toArray } from 'rxjs';
import { RxllmError } from '../../src/core/errors';
import { toServerSentEvents } from '../../src/node/toServerSentEvents';
import { fromServerSentEvents } from '../../src/transport/fromServerSentEvents';
import { startEventStream, startLocalServer, type LocalServer } from '../helpers/localServer';
import { waitFor } from '../helpers/waitFor';

let server: LocalServer;
let url: string;
beforeAll(async () => {
  server = await startLocalServer();
  url = `${server.baseURL.replace(/\/v1$/, '')}/events`;
});
afterAll(() => server.close());

/** Every value and the error (if any) of a run. */
async function outcome<T>(source: Observable<T>): Promise<{ values: T[]; error?: RxllmError; completed: boolean }> {
  const values: T[] = [];
  return new Promise((resolve) => {
    source.subscribe({
      next: (value) => values.push(value),
      error: (error: RxllmError) => resolve({ values, error, completed: false }),
      complete: () => resolve({ values, completed: true }),
    });
  });
}

describe('fromServerSentEvents', () => {
  it('emits the JSON data of each event, skips comments, and completes on the done event', async () => {
    server.handle((_request, res) => {
      startEventStream(res);
      res.end(': keep-alive\n\nid: 1\ndata: {"n":1}\n\n: keep-alive\n\nid: 2\ndata: {"n":2}\n\nid: 3\nevent: done\ndata: {}\n\n');
    });
    expect(await outcome(fromServerSentEvents(url))).toEqual({ values: [{ n: 1 }, { n: 2 }], completed: true });
    const [seen] = server.requests.slice(-1);
    expect(seen).toMatchObject({ method: 'GET', body: '' });
    expect(seen!.headers['accept']).toBe('text/event-stream');
  });

  it('reads what toServerSentEvents writes, values and errors alike', async () => {
    server.handle((_request, res) => void toServerSentEvents(of('a', 'b'), res));
    expect(await lastValueFrom(fromServerSentEvents<string>(url).pipe(toArray()))).toEqual(['a', 'b']);

    const upstream = new RxllmError('rate-limited', '429 Rate limit reached', { status: 429, retryAfterMs: 1500 });
    server.handle((_request, res) => void toServerSentEvents(throwError(() => upstream), res));
    const { error } = await outcome(fromServerSentEvents(url));
    expect(error).toBeInstanceOf(RxllmError);
    expect(error).toMatchObject({ code: 'stream-error', providerCode: 'rate-limited', status: 429, retryAfterMs: 1500, tokensEmitted: false });
    expect(error!.message).toBe('The server reported an error mid-stream: 429 Rate limit reached');
  });

  it('POSTs a JSON body (or a string as it is), with the caller’s headers winning', async () => {
    server.handle((_request, res) => {
      startEventStream(res);
      res.end('event: done\ndata: {}\n\n');
    });
    await lastValueFrom(fromServerSentEvents(url, { body: { text: 'hi' }, headers: { authorization: 'Bearer t' } }), { defaultValue: undefined });
    let seen = server.requests.at(-1)!;
    expect(seen).toMatchObject({ method: 'POST', body: '{"text":"hi"}' });
    expect(seen.headers).toMatchObject({ 'content-type': 'application/json', authorization: 'Bearer t', accept: 'text/event-stream' });

    await lastValueFrom(fromServerSentEvents(url, { method: 'PUT', body: 'raw', headers: { 'Content-Type': 'text/plain' } }), { defaultValue: undefined });
    seen = server.requests.at(-1)!;
    expect(seen).toMatchObject({ method: 'PUT', body: 'raw' });
    expect(seen.headers['content-type']).toBe('text/plain');
  });

  it('parse sees the whole event (name, id, data)', async () => {
    server.handle((_request, res) => {
      startEventStream(res);
      res.end('id: 7\nevent: token\ndata: hel\ndata: lo\n\nevent: done\ndata: {}\n\n');
    });
    const values = await lastValueFrom(fromServerSentEvents(url, { parse: (m) => `${m.event}#${m.id}:${m.data}` }).pipe(toArray()));
    expect(values).toEqual(['token#7:hel\nlo']);
  });

  describe('errors are typed', () => {
    it('an HTTP error status → the code for it, with status and retryAfterMs', async () => {
      server.handle((_request, res) => {
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end('{"error":{"message":"Too many requests","code":"rate_limit"}}');
      });
      const { error } = await outcome(fromServerSentEvents(url));
      expect(error).toMatchObject({ code: 'rate-limited', status: 429, retryAfterMs: 2000, providerCode: 'rate_limit', tokensEmitted: false });

      server.handle((_request, res) => {
        res.writeHead(401);
        res.end('no');
      });
      expect((await outcome(fromServerSentEvents(url))).error).toMatchObject({ code: 'auth', status: 401 });
    });

    it('a 200 that is not an event stream → malformed-event', async () => {
      server.handle((_request, res) => {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<h1>login</h1>');
      });
      const { error } = await outcome(fromServerSentEvents(url));
      expect(error).toMatchObject({ code: 'malformed-event', status: 200, raw: '<h1>login</h1>' });
      expect(error!.message).toContain('Expected an event stream');
    });

    it('an error event → stream-error after the values before it (tokensEmitted); non-JSON data is the message', async () => {
      server.handle((_request, res) => {
        startEventStream(res);
        res.end('data: 1\n\nevent: error\ndata: upstream exploded\n\n');
      });
      const { values, error } = await outcome(fromServerSentEvents(url));
      expect(values).toEqual([1]);
      expect(error).toMatchObject({ code: 'stream-error', message: 'The server reported an error mid-stream: upstream exploded', tokensEmitted: true });
      expect(error!.providerCode).toBeUndefined();
    });

    it('data that is not JSON (or that parse rejects) → malformed-event', async () => {
      server.handle((_request, res) => {
        startEventStream(res);
        res.end('data: {"n":1}\n\ndata: {not json\n\nevent: done\ndata: {}\n\n');
      });
      const { values, error } = await outcome(fromServerSentEvents(url));
      expect(values).toEqual([{ n: 1 }]);
      expect(error).toMatchObject({ code: 'malformed-event', raw: '{not json', tokensEmitted: true });
    });

    it('a body that ends without the done event → incomplete-stream; with endEvent: null it completes', async () => {
      server.handle((_request, res) => {
        startEventStream(res);
        res.end('data: 1\n\n');
      });
      const cut = await outcome(fromServerSentEvents(url));
      expect(cut.values).toEqual([1]);
      expect(cut.error).toMatchObject({ code: 'incomplete-stream', tokensEmitted: true });
      expect(cut.error!.message).toContain('without its "done" event');
      expect(await outcome(fromServerSentEvents(url, { endEvent: null }))).toEqual({ values: [1], completed: true });
    });

    it('a body that ends in the middle of an event → incomplete-stream, even with endEvent: null', async () => {
      server.handle((_request, res) => {
        startEventStream(res);
        res.end('data: 1\n\ndata: {"half":');
      });
      const { values, error } = await outcome(fromServerSentEvents(url, { endEvent: null }));
      expect(values).toEqual([1]);
      expect(error).toMatchObject({ code: 'incomplete-stream', raw: '{"half":' });
    });

    it('a connection reset mid-body → connection-lost; a server that is not listening → connection-refused', async () => {
      server.handle((_request, res) => {
        startEventStream(res);
        res.write('data: 1\n\n', () => setTimeout(() => res.socket?.destroy(), 20));
      });
      const reset = await outcome(fromServerSentEvents(url));
      expect(reset.values).toEqual([1]);
      expect(reset.error).toMatchObject({ code: 'connection-lost', tokensEmitted: true });

      const closed = await startLocalServer();
      const closedUrl = closed.baseURL;
      await closed.close();
      const refused = await outcome(fromServerSentEvents(closedUrl));
      expect(refused.error).toMatchObject({ code: 'connection-refused', tokensEmitted: false });
      expect(refused.error!.message).toContain(`Nothing accepted the connection to ${closedUrl}`);
    });
  });

  it('is cold: nothing is sent before subscribe, one request per subscription', async () => {
    server.handle((_request, res) => {
      startEventStream(res);
      res.end('data: 1\n\nevent: done\ndata: {}\n\n');
    });
    const before = server.requests.length;
    const events$ = fromServerSentEvents(url);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a quiet period before a negative check: time for a stray request to arrive
    expect(server.requests.length).toBe(before);
    await lastValueFrom(events$);
    await lastValueFrom(events$);
    expect(server.requests.length).toBe(before + 2);
  });

  it('unsubscribing aborts the request: the server sees the client leave', async () => {
    server.handle((_request, res) => {
      startEventStream(res);
      res.write('data: 1\n\n');
    });
    expect(await firstValueFrom(fromServerSentEvents(url))).toBe(1);
    const { clientClosedFirst } = await server.requests.at(-1)!.closed;
    expect(clientClosedFirst).toBe(true);
  });

  it('reads a Response the caller fetched, once: a second subscription errors with invalid-config', async () => {
    server.handle((_request, res) => {
      startEventStream(res);
      res.end('data: "x"\n\nevent: done\ndata: {}\n\n');
    });
    const events$ = fromServerSentEvents<string>(await fetch(url));
    expect(await lastValueFrom(events$.pipe(toArray()))).toEqual(['x']);
    const again = await outcome(events$);
    expect(again.error).toMatchObject({ code: 'invalid-config' });
    expect(again.error!.message).toContain('already read');
  });

  it('rejects a missing fetch with invalid-config', () => {
    expect(() => fromServerSentEvents(url, { fetch: 'nope' as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  describe('reconnects a dropped stream with Last-Event-ID', () => {
    /** A server that numbers its events 1..total and cuts the connection of each response after `perConnection` of them. */
    function numbered(total: number, perConnection: number, first = ''): void {
      server.handle((request, res) => {
        startEventStream(res);
        const after = Number(request.headers['last-event-id'] ?? 0);
        const last = Math.min(total, after + perConnection);
        let body = first;
        for (let id = after + 1; id <= last; id++) body += `id: ${id}\ndata: ${id}\n\n`;
        if (last === total) res.end(`${body}id: ${total + 1}\nevent: done\ndata: {}\n\n`);
        else res.write(body, () => setTimeout(() => res.socket?.destroy(), 5));
      });
    }

    it('resumes after each drop: every event once, in order, with the last id received in the header', async () => {
      numbered(9, 4);
      const before = server.requests.length;
      expect(await outcome(fromServerSentEvents<number>(url, { reconnect: { delayMs: 5 } }))).toEqual({ values: [1, 2, 3, 4, 5, 6, 7, 8, 9], completed: true });
      const sent = server.requests.slice(before).map((request) => request.headers['last-event-id']);
      expect(sent).toEqual([undefined, '4', '8']);
    });

    it('honours the server’s retry: (here shorter than delayMs), capped by maxDelayMs', async () => {
      numbered(4, 2, 'retry: 30\n\n');
      const started = Date.now();
      expect((await outcome(fromServerSentEvents<number>(url, { reconnect: { delayMs: 60_000 } }))).values).toEqual([1, 2, 3, 4]);
      expect(Date.now() - started).toBeLessThan(5_000);

      numbered(4, 2, 'retry: 60000\n\n');
      const capped = Date.now();
      expect((await outcome(fromServerSentEvents<number>(url, { reconnect: { maxDelayMs: 20 } }))).values).toEqual([1, 2, 3, 4]);
      expect(Date.now() - capped).toBeLessThan(5_000);
    });

    it('gives up after `attempts` reconnects in a row without an event; an event in between starts the count again', async () => {
      numbered(9, 1); // one event per connection: progress every time, so 9 reconnects with attempts: 1 still finish
      expect((await outcome(fromServerSentEvents<number>(url, { reconnect: { attempts: 1, delayMs: 1 } }))).values).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

      server.handle((request, res) => {
        startEventStream(res);
        // The first response delivers one event; every reconnect is cut before any.
        const body = request.headers['last-event-id'] === undefined ? 'id: 1\ndata: 1\n\n' : ': hi\n\n';
        res.write(body, () => setTimeout(() => res.socket?.destroy(), 5));
      });
      const before = server.requests.length;
      const { values, error } = await outcome(fromServerSentEvents<number>(url, { reconnect: { attempts: 2, delayMs: 1 } }));
      expect(values).toEqual([1]);
      expect(error).toMatchObject({ code: 'connection-lost', tokensEmitted: true });
      expect(server.requests.length - before).toBe(3); // the request, then 2 reconnects
    });

    it('a server that answers the reconnect from the start (it does not resume) ends with incomplete-stream, never a repeat', async () => {
      server.handle((_request, res) => {
        startEventStream(res);
        res.write('id: 1\ndata: 1\n\nid: 2\ndata: 2\n\n', () => setTimeout(() => res.socket?.destroy(), 5));
      });
      const { values, error } = await outcome(fromServerSentEvents<number>(url, { reconnect: { delayMs: 1 } }));
      expect(values).toEqual([1, 2]);
      expect(error).toMatchObject({ code: 'incomplete-stream', tokensEmitted: true });
      expect(error!.message).toContain('does not resume');
    });

    it('with reconnect: false a drop is an error at once; options are checked', async () => {
      numbered(4, 2);
      const before = server.requests.length;
      const { values, error } = await outcome(fromServerSentEvents<number>(url, { reconnect: false }));
      expect(values).toEqual([1, 2]);
      expect(error).toMatchObject({ code: 'connection-lost' });
      expect(server.requests.length - before).toBe(1);
      for (const reconnect of [{ attempts: -1 }, { delayMs: Number.NaN }, { maxDelayMs: -5 }, { scheduler: {} }, 'yes']) {
        expect(() => fromServerSentEvents(url, { reconnect: reconnect as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
      }
    });

    it('unsubscribing while a reconnect waits cancels it: no request is sent', async () => {
      numbered(4, 2);
      const before = server.requests.length;
      const values: number[] = [];
      // The reconnect's delay is a timer on this scheduler: its schedule() is the moment the reconnect starts to wait.
      let reconnectWaiting = false;
      const scheduler: SchedulerLike = {
        now: () => asyncScheduler.now(),
        schedule: (...args: Parameters<typeof asyncScheduler.schedule>) => {
          reconnectWaiting = true;
          return asyncScheduler.schedule(...args);
        },
      };
      const subscription = fromServerSentEvents<number>(url, { reconnect: { delayMs: 300, scheduler } }).subscribe((value) => values.push(value));
      await waitFor(() => reconnectWaiting, 'the reconnect waiting after the drop');
      expect(values).toEqual([1, 2]);
      subscription.unsubscribe();
      // A quiet period before a negative check: it ends after the 300 ms delay would have, when the cancelled reconnect would have sent.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(server.requests.length - before).toBe(1);
    });
  });
});
