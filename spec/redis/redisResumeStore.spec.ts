/*
 * redisResumeStore against a real redis-server: two app instances (two HTTP servers, each with its own ioredis
 * client and store, sharing one Redis) serve one resumable answer; a connection dropped mid-answer on A is
 * resumed on B with no repeat and no gap, and the model runs once. Finished streams replay, expire, and Redis
 * going away never fails a stream.
 */
import type { Redis } from 'ioredis';
import { lastValueFrom, map, toArray } from 'rxjs';
import type { RxllmError } from '../../src/core/errors';
import { redisResumeStore, type RedisResumeStore, type RedisResumeStoreConfig } from '../../src/redis/redisResumeStore';
import { fromServerSentEvents } from '../../src/transport/fromServerSentEvents';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { ANSWER_TEXT, ANSWER_TOKENS, getText, parseFrames, type ResumableApp, startResumableApp } from '../helpers/resumableApp';
import { waitFor, within } from '../helpers/waitFor';

/** A fetch that sends the first request to `first` and every later one to `then`: a load balancer that moves the client. */
function movingFetch(first: ResumableApp, then: ResumableApp): typeof fetch & { calls: string[] } {
  const calls: string[] = [];
  const routed = (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const moved = `${(calls.length === 0 ? first : then).url}${url.pathname}${url.search}`;
    calls.push(moved);
    return fetch(moved, init);
  };
  return Object.assign(routed as typeof fetch, { calls });
}

describeWithRedis('redisResumeStore (against a real redis-server)', () => {
  const server = useRedisServer({ prefix: 'resume' });
  const { client, prefix: newPrefix } = server;
  const apps: ResumableApp[] = [];
  server.onClose(() => Promise.all(apps.map((started) => started.close())));
  let streams = 0;
  const newStreamId = () => `msg-${++streams}`;
  const store = (redis: Redis, prefix: string, options: Partial<RedisResumeStoreConfig> = {}): RedisResumeStore =>
    redisResumeStore({ redis, prefix, timeout: 5_000, onError: () => undefined, ...options });
  const app = async (...args: Parameters<typeof startResumableApp>): Promise<ResumableApp> => {
    const started = await startResumableApp(...args);
    apps.push(started);
    return started;
  };
  /** Connections Redis has open now. */
  const connections = async (redis: Redis): Promise<number> => (String(await redis.client('LIST')).match(/^id=/gm) ?? []).length;
  /**
   * Waits until the one stream under `prefix` holds the whole answer and its end entry: the store appends in the
   * background, so the HTTP response can end before its last append has landed.
   */
  const appended = (redis: Redis, prefix: string) =>
    waitFor(async () => {
      const [events, ...more] = await redis.keys(`${prefix}*:events`);
      return events !== undefined && more.length === 0 && (await redis.xlen(events)) === ANSWER_TOKENS.length + 1;
    }, `the whole answer and its end appended under ${prefix}`);

  it('A drops the connection mid-answer; the reconnect lands on B, which follows the live rest from Redis: the same text, one model run, XREAD on a connection of its own', async () => {
    const prefix = newPrefix();
    const [redisA, redisB] = [client(), client()];
    // 100 ms a token: A is still answering (for 1.7 s) when the client, dropped after 7, reconnects to B.
    const a = await app({ store: store(redisA, prefix), dropAfter: 7, tokenMs: 100 });
    const b = await app({ store: store(redisB, prefix, { blockMs: 200 }) });
    const duplicate = jest.spyOn(redisB, 'duplicate');
    const call = jest.spyOn(redisB, 'call');
    const baseline = await connections(redisA);

    const fetch = movingFetch(a, b);
    const streamId = newStreamId();
    const tokens = await lastValueFrom(
      fromServerSentEvents<{ text: string }>(`${a.url}/answers/${streamId}`, { fetch, reconnect: { delayMs: 10 } }).pipe(
        map(({ text }) => text),
        toArray(),
      ),
    );

    expect(tokens.join('')).toBe(ANSWER_TEXT);
    expect(tokens).toEqual(ANSWER_TOKENS); // each token once, in order
    expect(fetch.calls).toHaveLength(2);
    expect(b.lastEventIds).toEqual(['7']);
    expect([a.runs, b.runs]).toEqual([1, 0]); // B never re-ran the model
    // B followed live (A was still answering): one duplicate connection for the blocking read, none on the app's client.
    expect(duplicate).toHaveBeenCalledTimes(1);
    expect(call.mock.calls.filter(([command]) => String(command).toUpperCase() === 'XREAD')).toEqual([]);
    await waitFor(async () => (await connections(redisA)) === baseline, "B's duplicate connection closed"); // and it was closed

    // What Redis holds: the claim and the events (one stream entry per event, ids 0-1 … 0-25), both expiring.
    const keys = (await redisA.keys(`${prefix}*`)).sort();
    expect(keys).toEqual([expect.stringMatching(new RegExp(`^${prefix}\\{[0-9a-f]{64}\\}:claim$`)), expect.stringMatching(new RegExp(`^${prefix}\\{[0-9a-f]{64}\\}:events$`))]);
    const [claim, events] = keys as [string, string];
    expect([await redisA.type(claim), await redisA.type(events)]).toEqual(['string', 'stream']);
    expect(await redisA.xlen(events)).toBe(ANSWER_TOKENS.length + 1);
    const entries = await redisA.xrange(events, '-', '+');
    expect(entries.map(([id]) => id)).toEqual(Array.from({ length: 25 }, (_, i) => `0-${i + 1}`));
    expect(entries.at(-1)![1]).toEqual(['e', 'done', 'd', '{}']);
    for (const key of keys) {
      const pttl = await redisA.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(300_000);
    }
    // No app data in a key: the stream id is hashed.
    expect(keys.join(' ')).not.toContain(streamId);
  });

  it('a finished stream replays on any instance from any id, without a second connection', async () => {
    const prefix = newPrefix();
    const [redisA, redisB] = [client(), client()];
    const a = await app({ store: store(redisA, prefix), tokenMs: 1 });
    const b = await app({ store: store(redisB, prefix) });
    const streamId = newStreamId();
    const whole = parseFrames((await getText(`${a.url}/answers/${streamId}`)).body);
    expect(whole).toHaveLength(25);
    await appended(redisA, prefix);
    const duplicate = jest.spyOn(redisB, 'duplicate');
    const replay = parseFrames((await getText(`${b.url}/answers/${streamId}`, { 'last-event-id': '19' })).body);
    expect(replay).toEqual(whole.slice(19));
    const fromStart = parseFrames((await getText(`${b.url}/answers/${streamId}?lastEventId=0`)).body);
    expect(fromStart).toEqual(whole);
    // A client that saw `done` and reconnects anyway (an EventSource left open) gets an empty stream at once, not a wait.
    expect(parseFrames((await getText(`${b.url}/answers/${streamId}`, { 'last-event-id': '25' })).body)).toEqual([]);
    expect(duplicate).not.toHaveBeenCalled();
    expect([a.runs, b.runs]).toEqual([1, 0]);
  });

  it('expires: a finished stream is replayable for ttl, then gone (the keys and the replay), and the id may run again', async () => {
    const prefix = newPrefix();
    const redis = client();
    // A TTL of 2 s: the replay below comes well within it however slow the machine; then Redis expires the keys.
    const a = await app({ store: store(redis, prefix, { ttl: 2_000 }), tokenMs: 1 });
    const streamId = newStreamId();
    await getText(`${a.url}/answers/${streamId}`);
    await appended(redis, prefix);
    expect(parseFrames((await getText(`${a.url}/answers/${streamId}`, { 'last-event-id': '23' })).body).map((frame) => frame.id)).toEqual(['24', '25']);
    await waitFor(async () => (await redis.keys(`${prefix}*`)).length === 0, 'Redis expiring the keys after the TTL');
    const gone = parseFrames((await getText(`${a.url}/answers/${streamId}`, { 'last-event-id': '23' })).body);
    expect(gone).toHaveLength(1);
    expect(JSON.parse(gone[0]!.data)).toMatchObject({ code: 'incomplete-stream' });
    expect(a.runs).toBe(1);
    await getText(`${a.url}/answers/${streamId}`);
    expect(a.runs).toBe(2);
  });

  it('a reader of a stream whose instance died (no more events, no end) ends with incomplete-stream once the keys expire', async () => {
    const prefix = newPrefix();
    // A TTL of 1.5 s: the reader reads the two events before the keys expire, however slow the machine.
    const writer = store(client(), prefix, { ttl: 1_500 });
    const reader = store(client(), prefix, { ttl: 1_500, blockMs: 100 });
    expect(await writer.claim('orphan')).toBe(true);
    expect(await writer.claim('orphan')).toBe(false);
    await writer.append('orphan', [
      { id: 1, data: 'a' },
      { id: 2, event: 'token', data: 'b' },
    ]);
    const seen: unknown[] = [];
    // Bounded: a reader that never noticed the expiry would wait forever.
    const error = await within(
      new Promise<RxllmError>((resolve) => reader.read('orphan', 0).subscribe({ next: (event) => seen.push(event), error: resolve })),
      'the reader ending once the keys expired',
    );
    expect(seen).toEqual([
      { id: 1, data: 'a' },
      { id: 2, event: 'token', data: 'b' },
    ]);
    expect(error).toMatchObject({ code: 'incomplete-stream' });
    expect(error.message).toContain('expired before its end');
  });

  it('Redis down: the answer still streams in full (without resume), the outage is reported once and counted; with Redis back, streams are resumable again', async () => {
    const prefix = newPrefix();
    const redis = client();
    const reports: RxllmError[] = [];
    const resumeStore = redisResumeStore({ redis, prefix, onError: (error) => reports.push(error) });
    const a = await app({ store: resumeStore, tokenMs: 1 });
    await redis.ping();

    await server.stop();
    for (let i = 0; i < 2; i++) {
      const tokens = await lastValueFrom(fromServerSentEvents<{ text: string }>(`${a.url}/answers/${newStreamId()}`, { reconnect: false }).pipe(map(({ text }) => text), toArray()));
      expect(tokens.join('')).toBe(ANSWER_TEXT);
    }
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ code: expect.stringMatching(/connection-lost|timeout/) as string });
    expect(resumeStore.stats()).toMatchObject({ unresumable: 2 });
    expect(resumeStore.stats().errors).toBeGreaterThanOrEqual(2);

    await server.restart();
    await waitFor(() => redis.status === 'ready', 'the client reconnecting after the restart');
    const streamId = newStreamId();
    await getText(`${a.url}/answers/${streamId}`);
    await appended(redis, prefix);
    expect(parseFrames((await getText(`${a.url}/answers/${streamId}`, { 'last-event-id': '24' })).body)).toEqual([{ id: '25', event: 'done', data: '{}' }]);
    expect(resumeStore.stats().unresumable).toBe(2);
  });

  it('bad options → invalid-config at construction', () => {
    const redis = client();
    for (const config of [{}, { redis: {}, prefix: 'p:' }, { redis, prefix: '' }, { redis, prefix: 'p:', ttl: -1 }, { redis, prefix: 'p:', blockMs: 0 }, { redis, prefix: 'p:', extra: 1 }]) {
      expect(() => redisResumeStore(config as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
  });
});
