import { createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { asyncScheduler, concat, delay, lastValueFrom, Observable, of, type SchedulerLike, throwError, toArray } from 'rxjs';
import { memoryCacheStore } from '../../src/cache/memoryCacheStore';
import type { LlmEvent } from '../../src/core/events';
import { type LlmRequest, parseRequest } from '../../src/core/request';
import { requestKey } from '../../src/core/requestKey';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { cache } from '../../src/middleware/cache';
import { redisCacheStore } from '../../src/redis/redisCacheStore';
import { startSimulatorServer } from '../../src/node/simulatorServer';
import { finishEvent, textEvent, usageEvent } from '../../src/testing/events';
import { sseTransport } from '../../src/transport/sse';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'Summarize: rxjs' }], temperature: 0 };
const answer: LlmEvent[] = [textEvent('Hel'), textEvent('lo ✓'), usageEvent({ prompt_tokens: 5, completion_tokens: 2 }), finishEvent('stop')];

/** An upstream that streams `events` a few ms apart (then `tail`, e.g. an error), counting its calls. */
function upstream(events: readonly LlmEvent[], tail: Observable<never> = of()): Transport & { calls: number } {
  const transport = Object.assign(
    (): Observable<LlmEvent> =>
      new Observable<LlmEvent>((subscriber) => {
        transport.calls++;
        return concat(...events.map((event) => of(event).pipe(delay(2))), tail).subscribe(subscriber);
      }),
    { calls: 0 },
  );
  return transport;
}

const other: LlmRequest = { ...request, messages: [{ role: 'user', content: 'Summarize: zod' }] };
const run = (transport: Transport, asked: LlmRequest = request) => lastValueFrom(transport(asked).pipe(toArray()));

describeWithRedis('redisCacheStore (against a real redis-server)', () => {
  const server = useRedisServer({ prefix: 'cache' });
  const { client, prefix: newPrefix } = server;
  const keys = async (redis: Redis, pattern = '*') => (await redis.keys(pattern)).sort();
  // cache() writes in the background: wait (bounded) until `count` keys are under `prefix`, so a loaded machine
  // makes no test flaky.
  const written = (redis: Redis, prefix: string, count: number): Promise<number> =>
    waitFor(async () => (await redis.keys(`${prefix}*`)).length >= count, `${count} key(s) written under ${prefix}`);
  /** Waits until `answers` has stored `count` answers: its store's SET was answered (cache() writes in the background). */
  const stored = (answers: { stats(): { stored: number } }, count: number): Promise<number> =>
    waitFor(() => answers.stats().stored === count, `${count} answer(s) stored`);

  it('shares answers between two app instances: a miss on A goes upstream, the same request on B is a hit with the same events', async () => {
    const prefix = newPrefix();
    const model = upstream(answer);
    const [redisA, redisB] = [client(), client()];
    const cacheA = cache({ ttl: 60_000, store: redisCacheStore({ timeout: 5_000, redis: redisA, prefix, maxEntryBytes: 64 * 1024 }) });
    const cacheB = cache({ ttl: 60_000, store: redisCacheStore({ timeout: 5_000, redis: redisB, prefix, maxEntryBytes: 64 * 1024 }) });
    const appA = withMiddleware(model, cacheA);
    const appB = withMiddleware(model, cacheB);

    expect(await run(appA)).toEqual(answer);
    await written(redisA, prefix, 1);
    const fromB = await run(appB);

    expect(model.calls).toBe(1);
    expect(fromB).toEqual(answer);
    expect(fromB.every((event) => Object.isFrozen(event))).toBe(true); // as the memory store hands them out
    expect(cacheA.stats()).toMatchObject({ misses: 1, hits: 0, stored: 1, storeErrors: 0 });
    expect(cacheB.stats()).toMatchObject({ misses: 0, hits: 1, storeErrors: 0 });

    // Replays exactly like the memory store, paced too.
    const memory = withMiddleware(upstream(answer), cache({ store: memoryCacheStore() }));
    await run(memory);
    expect(fromB).toEqual(await run(memory));
    const pacedB = withMiddleware(model, cache({ replayInterval: 5, store: redisCacheStore({ timeout: 5_000, redis: redisB, prefix, maxEntryBytes: 64 * 1024 }) }));
    expect(await run(pacedB)).toEqual(answer);
    expect(model.calls).toBe(1);

    // One key per answer, as documented: <prefix><request key>, a string of the events' JSON, expiring by PX.
    const key = `${prefix}${requestKey(parseRequest(request), {})}`;
    expect(await keys(redisA, `${prefix}*`)).toEqual([key]);
    expect(await redisA.type(key)).toBe('string');
    const pttl = await redisA.pttl(key);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    expect(JSON.parse((await redisA.get(key))!)).toEqual({ v: 1, ttl: 60_000, bytes: JSON.stringify(answer).length, events: answer });
  });

  it('lets Redis expire entries: after the TTL the next instance misses; the store ttl caps cache()’s', async () => {
    const prefix = newPrefix();
    const model = upstream(answer);
    const redis = client();
    const answers = cache({ ttl: 300, store: redisCacheStore({ timeout: 5_000, redis, prefix, maxEntryBytes: 64 * 1024 }) });
    const app = withMiddleware(model, answers);
    await run(app);
    // Stored (the SET PX was answered): waiting for the key itself could miss it, if a slow poll came after expiry.
    await stored(answers, 1);
    await waitFor(async () => (await keys(redis, `${prefix}*`)).length === 0, 'Redis expiring the entry after its 300 ms TTL');
    const other = withMiddleware(model, cache({ ttl: 300, store: redisCacheStore({ timeout: 5_000, redis: client(), prefix, maxEntryBytes: 64 * 1024 }) }));
    await run(other);
    expect(model.calls).toBe(2);

    const capped = newPrefix();
    // A store TTL of 5 s under cache()'s 60 s: long enough to be read back however slow the machine is.
    const cappedAnswers = cache({ ttl: 60_000, store: redisCacheStore({ timeout: 5_000, redis, prefix: capped, ttl: 5_000, maxEntryBytes: 64 * 1024 }) });
    await run(withMiddleware(upstream(answer), cappedAnswers));
    await stored(cappedAnswers, 1);
    const [key] = await keys(redis, `${capped}*`);
    const pttl = await redis.pttl(key!);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
  });

  it('serves an entry on an instance whose clock runs an hour ahead: expiry comes from Redis (PTTL), not the writer’s clock', async () => {
    const prefix = newPrefix();
    const model = upstream(answer);
    const ahead: SchedulerLike = { now: () => asyncScheduler.now() + 3_600_000, schedule: asyncScheduler.schedule.bind(asyncScheduler) };
    const redisB = client();
    const appA = withMiddleware(model, cache({ ttl: 60_000, store: redisCacheStore({ timeout: 5_000, redis: client(), prefix, maxEntryBytes: 64 * 1024 }) }));
    const cacheB = cache({ ttl: 60_000, scheduler: ahead, store: redisCacheStore({ timeout: 5_000, redis: redisB, prefix, maxEntryBytes: 64 * 1024, scheduler: ahead }) });
    await run(appA);
    await written(redisB, prefix, 1);
    expect(await run(withMiddleware(model, cacheB))).toEqual(answer);
    expect(model.calls).toBe(1);
    expect(cacheB.stats()).toMatchObject({ hits: 1 });
  });

  it('never stores a failed, partial or error-finished stream', async () => {
    const prefix = newPrefix();
    const redis = client();
    const store = redisCacheStore({ timeout: 5_000, redis, prefix, maxEntryBytes: 64 * 1024 });
    const failing = withMiddleware(upstream([textEvent('Hel')], throwError(() => new Error('reset'))), cache({ store }));
    await expect(run(failing)).rejects.toThrow('reset');
    await run(withMiddleware(upstream([textEvent('Hel'), textEvent('lo')]), cache({ store }))); // no finish
    await run(withMiddleware(upstream([textEvent('Hel'), finishEvent('error')]), cache({ store })));
    // A barrier: a whole answer through the same store (the same connection) is stored after them, so a write
    // of any of the three above, sent when it ended, would have landed before it.
    const whole = cache({ store });
    await run(withMiddleware(upstream(answer), whole), other);
    await stored(whole, 1);
    expect(await keys(redis, `${prefix}*`)).toEqual([`${prefix}${requestKey(parseRequest(other), {})}`]);
  });

  it('does not store an answer over maxEntryBytes, and counts it', async () => {
    const prefix = newPrefix();
    const redis = client();
    const store = redisCacheStore({ timeout: 5_000, redis, prefix, maxEntryBytes: 100 });
    const long = [textEvent('x'.repeat(200)), finishEvent('stop')];
    const model = upstream(long);
    const app = withMiddleware(model, cache({ store }));
    expect(await run(app)).toEqual(long); // still answered
    // The store's decision not to write it: counted (in the background, when the answer ended).
    await waitFor(() => store.stats().tooLarge === 1, 'the store counting the answer too large');
    expect(await keys(redis, `${prefix}*`)).toEqual([]);
    expect(store.stats()).toEqual({ tooLarge: 1, errors: 0 });
    await run(app);
    expect(model.calls).toBe(2);
  });

  it('clear() removes only the keys under its prefix (glob characters in the prefix included)', async () => {
    const redis = client();
    const prefix = `${newPrefix()}[a]*:`;
    const store = redisCacheStore({ timeout: 5_000, redis, prefix, maxEntryBytes: 64 * 1024 });
    const answers = cache({ store });
    await run(withMiddleware(upstream(answer), answers));
    await written(redis, prefix.replace(/[[\]*]/g, (c) => `\\${c}`), 1);
    const bystanders = [`${prefix.slice(0, -4)}a:x`, `${prefix.slice(0, -1)}`, 'app:session:1', `x${prefix}y`];
    for (const key of bystanders) await redis.set(key, 'keep');
    for (let index = 0; index < 1200; index++) await redis.set(`${prefix}${index}`, 'cached'); // several SCAN rounds
    await answers.clear();
    expect(await keys(redis, `${prefix.replace(/[[\]*]/g, (c) => `\\${c}`)}*`)).toEqual([]);
    for (const key of bystanders) expect(await redis.get(key)).toBe('keep');
  });

  it('a Redis that goes away never fails a request: lookups miss (at once after the first: connection-lost), onError hears once, sharing resumes when it is back', async () => {
    const prefix = newPrefix();
    const [redisA, redisB] = [client(), client()];
    const heard: string[] = [];
    const storeA = redisCacheStore({ timeout: 5_000, redis: redisA, prefix, maxEntryBytes: 64 * 1024, onError: (error) => heard.push(error.code) });
    const model = upstream(answer);
    const cacheA = cache({ store: storeA });
    const appA = withMiddleware(model, cacheA);
    const appB = withMiddleware(model, cache({ store: redisCacheStore({ timeout: 5_000, redis: redisB, prefix, maxEntryBytes: 64 * 1024, onError: () => undefined }) }));

    await server.stop();
    try {
      await waitFor(() => redisA.status !== 'ready', 'the client noticing that Redis stopped');
      // The first call of the outage may wait up to `timeout` (the client may be between reconnects); none after it.
      expect(await run(appA)).toEqual(answer);
      expect(await run(appA, other)).toEqual(answer);
      // Failed at once: `connection-lost`, not `timeout`, which a call that waited for the timeout would be (the
      // guard's timer rejects it first). A wall-time bound said the same, at the mercy of the machine's load.
      await expect(storeA.get('k')).rejects.toMatchObject({ code: 'connection-lost' });
      expect(model.calls).toBe(2);
      expect(cacheA.stats()).toMatchObject({ misses: 2, hits: 0 });
      expect(cacheA.stats().storeErrors).toBeGreaterThanOrEqual(2);
      expect(storeA.stats().errors).toBeGreaterThanOrEqual(3);
      expect(heard).toHaveLength(1); // once per outage: connection-lost, or timeout if the first call caught a reconnect
    } finally {
      await server.restart();
    }
    await Promise.all([redisA, redisB].map((redis) => (redis.status === 'ready' ? undefined : new Promise((resolve) => redis.once('ready', resolve)))));
    await run(appA);
    await written(redisB, prefix, 1);
    expect(await run(appB)).toEqual(answer);
    expect(model.calls).toBe(3); // B's was a hit: sharing resumed
  }, 20_000);

  it('a Redis that stalls fails a call after `timeout` (code timeout); cache() goes upstream', async () => {
    const prefix = newPrefix();
    const redis = client();
    const store = redisCacheStore({ redis, prefix, maxEntryBytes: 64 * 1024, timeout: 50, onError: () => undefined });
    const model = upstream(answer);
    const answers = cache({ store });
    await client().call('CLIENT', 'PAUSE', '5000', 'ALL');
    // The event "the pause ended": a PING sent during the pause is answered only then.
    const pauseEnded = client()
      .ping()
      .then(() => 'the pause ended' as const);
    await expect(store.get('k')).rejects.toMatchObject({ code: 'timeout' });
    const answered = run(withMiddleware(model, answers)).then((events) => ({ events }));
    // Did not wait for the pause to end: the answer came first.
    const first = await Promise.race([answered, pauseEnded]);
    expect(first).toEqual({ events: answer });
    expect(answers.stats()).toMatchObject({ misses: 1, storeErrors: 1 });
    await pauseEnded; // the next tests find Redis answering
  });

  it('a server that accepts and never answers: the first call fails after `timeout`, the next ones at once until the client is ready', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      const heard: string[] = [];
      const store = redisCacheStore({ redis, prefix: newPrefix(), maxEntryBytes: 1024, timeout: 400, onError: (error) => heard.push(error.code) });
      const started = Date.now();
      await expect(store.get('k')).rejects.toMatchObject({ code: 'timeout' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(385);
      expect(redis.status).not.toBe('ready'); // connected, its ready check unanswered: ioredis would queue commands
      // Neither waits for the 400 ms timeout: each fails with `connection-lost`, where a call that waited would
      // fail with `timeout` (the guard's timer rejects it first; nothing answers here). A wall-time bound said the
      // same, at the mercy of the machine's load.
      await expect(store.get('k')).rejects.toMatchObject({ code: 'connection-lost' });
      await expect(store.set('k', { events: answer, storedAt: 0, expiresAt: 1, bytes: 1 }, 1000)).rejects.toMatchObject({ code: 'connection-lost' });
      expect(heard).toEqual(['timeout']);
      expect(store.stats()).toEqual({ tooLarge: 0, errors: 3 });
    } finally {
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('writes no secret and no request to Redis, and keeps scopes (tenants) apart across instances', async () => {
    const simulator = await startSimulatorServer({ seed: 3 });
    try {
      const apiKey = 'sk-test-do-not-store-4242';
      const prefix = newPrefix();
      const redis = client();
      const instanceA = withMiddleware(sseTransport({ baseURL: simulator.baseURL, apiKey }), cache({ store: redisCacheStore({ timeout: 5_000, redis, prefix, maxEntryBytes: 64 * 1024 }) }));
      const instanceB = withMiddleware(sseTransport({ baseURL: simulator.baseURL, apiKey }), cache({ store: redisCacheStore({ timeout: 5_000, redis: client(), prefix, maxEntryBytes: 64 * 1024 }) }));
      const tenant = (scope: string) => ({ attributes: { scope } });
      await lastValueFrom(instanceA(request, tenant('acme')).pipe(toArray()));
      await written(redis, prefix, 1);
      await lastValueFrom(instanceB(request, tenant('globex')).pipe(toArray())); // another tenant: a miss
      await lastValueFrom(instanceB(request, tenant('acme')).pipe(toArray())); // same tenant: a hit
      expect(simulator.stats().requests).toBe(2);
      await written(redis, prefix, 2);
      const all = await keys(redis);
      expect(all.filter((key) => key.startsWith(prefix))).toHaveLength(2);
      for (const key of all) {
        const value = (await redis.type(key)) === 'string' ? ((await redis.get(key)) ?? '') : '';
        expect(`${key} ${value}`).not.toContain(apiKey);
        // The request is not stored (the simulated answer may echo words of the prompt, so its fields are looked for).
        expect(`${key} ${value}`).not.toMatch(/"messages"|"role"|"model"|authorization|Bearer/i);
      }
    } finally {
      await simulator.close();
    }
  });

  it('never closes the client it was given, and rejects bad options with invalid-config', async () => {
    const redis = client();
    const store = redisCacheStore({ timeout: 5_000, redis, prefix: newPrefix(), maxEntryBytes: 1024 });
    await store.clear();
    expect(redis.status).toBe('ready');
    const bad: unknown[] = [
      {},
      { redis: {}, prefix: 'p:', maxEntryBytes: 1 },
      { redis: 'redis://127.0.0.1', prefix: 'p:', maxEntryBytes: 1 },
      { redis, prefix: '', maxEntryBytes: 1 },
      { redis, prefix: 'p:', maxEntryBytes: 1, ttl: -5 },
      { redis, prefix: 'p:' },
      { redis, prefix: 'p:', maxEntryBytes: 1, colour: 'red' },
    ];
    for (const config of bad) {
      expect(() => redisCacheStore(config as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
  });
});
