/*
 * toServerSentEvents({ resume }) over real sockets, with two app instances (two HTTP servers) sharing one
 * memoryResumeStore: a connection dropped mid-answer is resumed on the other instance with Last-Event-ID,
 * with no repeat and no gap, and the source runs once. The Redis store gets the same treatment in
 * spec/redis/redisResumeStore.spec.ts.
 */
import { defer, lastValueFrom, map, NEVER, of, toArray } from 'rxjs';
import { memoryResumeStore } from '../../src/cache/memoryResumeStore';
import type { ResumeStore } from '../../src/cache/ResumeStore';
import { RxllmError } from '../../src/core/errors';
import { toServerSentEvents } from '../../src/node/toServerSentEvents';
import { toServerSentEventsResponse } from '../../src/node/toServerSentEventsResponse';
import { fromServerSentEvents } from '../../src/transport/fromServerSentEvents';
import { startLocalServer } from '../helpers/localServer';
import { waitFor, within } from '../helpers/waitFor';
import { ANSWER_TEXT, ANSWER_TOKENS, getText, parseFrames, readThenDrop, type ResumableApp, startResumableApp } from '../helpers/resumableApp';

let streams = 0;
const newStreamId = () => `msg-${++streams}`;

/** A fetch that sends the first request to `first` and every later one to `then`: a load balancer that moves the client. */
function movingFetch(first: ResumableApp, then: ResumableApp): typeof fetch & { calls: string[] } {
  const calls: string[] = [];
  const routed = (input: string | URL | Request, init?: RequestInit) => {
    const target = calls.length === 0 ? first : then;
    const url = new URL(String(input));
    const moved = `${target.url}${url.pathname}${url.search}`;
    calls.push(moved);
    return fetch(moved, init);
  };
  return Object.assign(routed as typeof fetch, { calls });
}

describe('toServerSentEvents({ resume }) with a memoryResumeStore shared by two instances', () => {
  let store: ResumeStore;
  let a: ResumableApp;
  let b: ResumableApp;
  beforeEach(async () => {
    store = memoryResumeStore();
    a = await startResumableApp({ store, dropAfter: 7 });
    b = await startResumableApp({ store });
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('the server drops the connection mid-answer; fromServerSentEvents reconnects to the other instance with Last-Event-ID and the text equals the uninterrupted text, the source run once', async () => {
    const fetch = movingFetch(a, b);
    const tokens = await lastValueFrom(
      fromServerSentEvents<{ text: string }>(`${a.url}/answers/${newStreamId()}`, { fetch, reconnect: { delayMs: 10 } }).pipe(
        map(({ text }) => text),
        toArray(),
      ),
    );
    expect(tokens).toEqual(ANSWER_TOKENS);
    expect(tokens.join('')).toBe(ANSWER_TEXT);
    expect(fetch.calls).toHaveLength(2);
    expect(a.lastEventIds).toEqual([undefined]);
    expect(b.lastEventIds).toEqual(['7']); // resumed after the 7th event, which A did deliver
    expect([a.runs, b.runs]).toEqual([1, 0]); // B only read: no second LLM call
  });

  it('a client that drops and comes back with Last-Event-ID gets exactly the events after it, then the live rest: ids 1..n once each', async () => {
    const id = newStreamId();
    const before = await readThenDrop(`${a.url}/answers/${id}`, 5);
    const { body } = await getText(`${b.url}/answers/${id}`, { 'last-event-id': before.at(-1)!.id! });
    const after = parseFrames(body);
    const all = [...before, ...after];
    expect(all.map((frame) => frame.id)).toEqual(Array.from({ length: ANSWER_TOKENS.length + 1 }, (_, i) => String(i + 1)));
    expect(all.filter((frame) => frame.event === undefined).map((frame) => (JSON.parse(frame.data) as { text: string }).text).join('')).toBe(ANSWER_TEXT);
    expect(after.at(-1)).toMatchObject({ event: 'done' });
    expect([a.runs, b.runs]).toEqual([1, 0]);
  });

  it('the owner keeps running after its client left, and a finished stream replays from any id, by header or ?lastEventId=', async () => {
    const id = newStreamId();
    await readThenDrop(`${b.url}/answers/${id}`, 2);
    // The stored stream's final event: the answer finished with nobody connected.
    await within(lastValueFrom(store.read(id, ANSWER_TOKENS.length)), 'the answer finishing in the store with nobody connected');
    const byHeader = parseFrames((await getText(`${a.url}/answers/${id}`, { 'last-event-id': '20' })).body);
    expect(byHeader.map((frame) => frame.id)).toEqual(['21', '22', '23', '24', '25']);
    expect(byHeader.at(-1)).toMatchObject({ id: '25', event: 'done' });
    const byQuery = parseFrames((await getText(`${a.url}/answers/${id}?lastEventId=23`)).body);
    expect(byQuery.map((frame) => frame.id)).toEqual(['24', '25']);
    // No Last-Event-ID for a stream that exists (a second tab; an EventSource that saw no id yet): from the start, not run again.
    const again = parseFrames((await getText(`${a.url}/answers/${id}`)).body);
    expect(again).toHaveLength(25);
    expect([a.runs, b.runs]).toEqual([0, 1]);
  });

  it('a Last-Event-ID for a stream the store does not hold, or one that is not an id, ends with an error event and runs nothing', async () => {
    const unknown = parseFrames((await getText(`${a.url}/answers/${newStreamId()}`, { 'last-event-id': '3' })).body);
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatchObject({ event: 'error' });
    expect(unknown[0]!.id).toBeUndefined(); // no id: the client keeps its last one
    expect(JSON.parse(unknown[0]!.data)).toMatchObject({ code: 'incomplete-stream' });

    const bad = parseFrames((await getText(`${a.url}/answers/${newStreamId()}`, { 'last-event-id': 'abc' })).body);
    expect(JSON.parse(bad[0]!.data)).toMatchObject({ code: 'bad-request' });
    expect(a.runs).toBe(0);
  });
});

describe('toServerSentEvents({ resume }): the returned subscription, options, and a failing store', () => {
  it('unsubscribing the returned subscription stops the source even after its client left, and ends the stored stream with an error event', async () => {
    const store = memoryResumeStore();
    let stop: (() => void) | undefined;
    let running = false;
    const source = defer(() => {
      running = true;
      return NEVER;
    });
    const server = await startLocalServer((_request, res) => {
      const subscription = toServerSentEvents(source, res, { resume: { store, streamId: 'stopped' } });
      stop = () => subscription.unsubscribe();
    });
    const url = server.baseURL.replace(/\/v1$/, '');
    const pending = fetch(url);
    await waitFor(() => running, 'the source running once the claim came back');
    stop!();
    await (await pending).text();
    // The read follows the stored stream live and completes at its final event.
    const events = await within(lastValueFrom(store.read('stopped', 0).pipe(toArray())), 'the stored stream ending');
    expect(events).toEqual([{ id: 1, event: 'error', data: expect.stringContaining('incomplete-stream') as string }]);
    await server.close();
  });

  it('stopped before the claim came back: the source is never subscribed, and the claimed stream ends at once', async () => {
    const store = memoryResumeStore();
    let subscribed = 0;
    const source = defer(() => {
      subscribed++;
      return NEVER;
    });
    const server = await startLocalServer((_request, res) => toServerSentEvents(source, res, { resume: { store, streamId: 'early' } }).unsubscribe());
    await getText(server.baseURL.replace(/\/v1$/, ''));
    // The claim's answer ends the stored stream and, in the same step, would have subscribed: once the final event is in, it is decided.
    const events = await within(lastValueFrom(store.read('early', 0).pipe(toArray())), 'the claimed stream ending');
    expect(subscribed).toBe(0);
    expect(events).toEqual([{ id: 1, event: 'error', data: expect.stringContaining('stopped on the server') as string }]);
    await server.close();
  });

  it('a store whose claim fails streams the answer without resume', async () => {
    const broken: ResumeStore = {
      claim: () => Promise.reject(new Error('down')),
      append: () => {
        throw new Error('never called');
      },
      read: () => NEVER,
    };
    const append = jest.spyOn(broken, 'append');
    const server = await startLocalServer((_request, res) => void toServerSentEvents(of('a', 'b'), res, { resume: { store: broken, streamId: 'x' } }));
    const url = server.baseURL.replace(/\/v1$/, '');
    expect(await lastValueFrom(fromServerSentEvents<string>(url).pipe(toArray()))).toEqual(['a', 'b']);
    expect(append).not.toHaveBeenCalled();
    await server.close();
  });

  it('bad resume options are invalid-config before anything is written; toServerSentEventsResponse does not take resume', async () => {
    const store = memoryResumeStore();
    const server = await startLocalServer();
    const url = server.baseURL.replace(/\/v1$/, '');
    const thrown: unknown[] = [];
    server.handle((_request, res) => {
      for (const resume of [{ streamId: 'x' }, { store: {}, streamId: 'x' }, { store, streamId: '' }, { store, streamId: 7 }, { store, streamId: 'x', lastEventId: 3 }]) {
        try {
          toServerSentEvents(of(1), res, { resume: resume as never });
        } catch (error) {
          thrown.push(error);
        }
      }
      expect(res.headersSent).toBe(false);
      res.end();
    });
    await getText(url);
    expect(thrown).toHaveLength(5);
    for (const error of thrown) expect(error).toMatchObject({ code: 'invalid-config' });
    expect(() => toServerSentEventsResponse(of(1), { resume: { store, streamId: 'x' } })).toThrow(RxllmError);
    await server.close();
  });
});
