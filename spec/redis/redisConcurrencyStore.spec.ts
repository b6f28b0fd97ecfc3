import type { Redis } from 'ioredis';
import { lastValueFrom, Observable, type Subscription, toArray } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { limit } from '../../src/middleware/limit';
import { redisConcurrencyStore } from '../../src/redis/redisConcurrencyStore';
import { finishEvent, textEvent } from '../../src/testing/events';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
/** Waits until the sorted set of `prefix` holds `count` leases: a take or a give-back (sent in the background) has landed. */
const leases = (redis: Redis, prefix: string, count: number) =>
  waitFor(async () => (await redis.zcard(`${prefix}slots`)) === count, `${count} lease(s) in ${prefix}slots`);

/**
 * An upstream shared by several "instances" (limit()s) that counts how many requests it has open at once, across
 * all of them: the figure a global limit must hold. Each request answers after `ms`.
 */
function upstream(ms: number): Transport & { open: number; peak: number; calls: string[] } {
  const transport = Object.assign(
    (asked: LlmRequest): Observable<LlmEvent> =>
      new Observable<LlmEvent>((subscriber) => {
        transport.open++;
        transport.peak = Math.max(transport.peak, transport.open);
        transport.calls.push(String(asked.messages[0]!.content));
        const timer = setTimeout(() => {
          subscriber.next(textEvent('ok'));
          subscriber.next(finishEvent('stop'));
          subscriber.complete();
        }, ms);
        return () => {
          clearTimeout(timer);
          transport.open--;
        };
      }),
    { open: 0, peak: 0, calls: [] as string[] },
  );
  return transport;
}
const ask = (content: string): LlmRequest => ({ ...request, messages: [{ role: 'user', content }] });
const run = (transport: Transport, asked: LlmRequest = request, lane?: string) => lastValueFrom(transport(asked, lane ? { lane } : undefined).pipe(toArray()));

describeWithRedis('redisConcurrencyStore (against a real redis-server)', () => {
  const server = useRedisServer({ prefix: 'slots' });
  const { client, prefix: newPrefix } = server;

  it('hands out at most `limit` slots across store objects, takes a given-back slot again, and writes one sorted set with an expiry', async () => {
    const prefix = newPrefix();
    const redis = client();
    const a = redisConcurrencyStore({ timeout: 1_500, redis, prefix, lease: 5_000 });
    const b = redisConcurrencyStore({ timeout: 1_500, redis: client(), prefix, lease: 5_000 });
    const first = await a.acquire(2);
    const second = await b.acquire(2);
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(await a.acquire(2)).toBeUndefined();
    expect(await b.acquire(2)).toBeUndefined();

    expect(await redis.keys(`${prefix}*`)).toEqual([`${prefix}slots`]);
    expect(await redis.type(`${prefix}slots`)).toBe('zset');
    const pttl = await redis.pttl(`${prefix}slots`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
    // Members are an instance id and a counter, scored by the lease's end on Redis's clock.
    const [seconds] = await redis.time();
    const members = await redis.zrange(`${prefix}slots`, '0', '-1', 'WITHSCORES');
    expect(members[0]).toMatch(/^[0-9a-f-]{36}:\d+$/);
    expect(Number(members[1])).toBeGreaterThan(Number(seconds) * 1000);

    first!.release();
    first!.release(); // a second release is a no-op
    await leases(redis, prefix, 1);
    const third = await b.acquire(2);
    expect(third).toBeDefined();
    expect(a.stats()).toMatchObject({ acquired: 1, refused: 1, held: 0, errors: 0 });
    expect(b.stats()).toMatchObject({ acquired: 2, refused: 1, held: 2 });
    second!.release();
    third!.release();
    expect(b.stats().held).toBe(0);
  });

  it('renews the leases it holds, and the slots of a holder that stops renewing come back after the lease', async () => {
    const prefix = newPrefix();
    const holder = client();
    const redis = client();
    // A lease of 1.5 s, renewed every 500 ms, each renewal bounded at 500 ms: a loaded machine's slow round trip
    // must not cost the live holder its slot (a 300 ms lease with a 100 ms timeout could).
    const alive = redisConcurrencyStore({ redis: client(), prefix, lease: 1_500, timeout: 500, onError: () => undefined });
    const dying = redisConcurrencyStore({ redis: holder, prefix, lease: 1_500, timeout: 500, onError: () => undefined });
    const other = redisConcurrencyStore({ redis: client(), prefix, lease: 1_500, timeout: 500, onError: () => undefined });
    const kept = await alive.acquire(2);
    expect(kept).toBeDefined();
    expect(await dying.acquire(2)).toBeDefined();
    holder.disconnect(); // this holder can no longer renew: as if its process had died
    // Both first leases have ended on Redis's clock (the leases' clock): the dead holder's lapsed, and the live
    // holder's was renewed meanwhile (its score moved past that end).
    const firstEnd = Math.max(...(await redis.zrange(`${prefix}slots`, '0', '-1', 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number));
    const redisNow = async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    };
    await waitFor(async () => (await redisNow()) > firstEnd, "the first leases' end on Redis's clock");
    const reclaimed = await other.acquire(2);
    expect(reclaimed).toBeDefined(); // the dead holder's slot came back
    expect(await other.acquire(2)).toBeUndefined(); // the live holder's did not
    expect(alive.stats()).toMatchObject({ held: 1, restored: 0 });
    kept!.release();
    reclaimed!.release();
  });

  it('limit() across two instances sharing the store: never more than `concurrency` upstream in all, every request answered', async () => {
    const prefix = newPrefix();
    const model = upstream(30);
    const instances = [0, 1].map(() => limit({ concurrency: 3, store: redisConcurrencyStore({ timeout: 1_500, redis: client(), prefix, lease: 5_000 }), storePoll: { minMs: 5, maxMs: 40 } }));
    const apps = instances.map((limiter) => withMiddleware(model, limiter));
    const answers = await Promise.all(apps.flatMap((app, i) => Array.from({ length: 10 }, (_, n) => run(app, ask(`${i}-${n}`)))));
    expect(answers).toHaveLength(20);
    expect(answers.every((events) => events.length === 2)).toBe(true);
    expect(model.peak).toBe(3);
    expect(instances.reduce((sum, limiter) => sum + limiter.stats().storeRefusals, 0)).toBeGreaterThan(0);
    expect(instances.map((limiter) => limiter.stats().inFlight)).toEqual([0, 0]);
    await leases(client(), prefix, 0); // every slot given back
  }, 20_000);

  it("an instance's queue still serves its highest lane first when a shared slot frees", async () => {
    const prefix = newPrefix();
    const model = upstream(40);
    const limiter = limit({ concurrency: 1, store: redisConcurrencyStore({ timeout: 5_000, redis: client(), prefix }), storePoll: { minMs: 5, maxMs: 20 } });
    const app = withMiddleware(model, limiter);
    const all = [run(app, ask('first'), 'background')];
    await waitFor(() => model.calls.length === 1, "'first' upstream, holding the only slot", undefined, 2);
    all.push(run(app, ask('bg'), 'background'), run(app, ask('hi'), 'interactive'));
    await Promise.all(all);
    expect(model.calls).toEqual(['first', 'hi', 'bg']);
  });

  it('unsubscribe while waiting leaves the queue and takes no slot; unsubscribe while upstream gives the slot back', async () => {
    const prefix = newPrefix();
    const redis = client();
    const model = upstream(10_000);
    const other = redisConcurrencyStore({ timeout: 5_000, redis: client(), prefix });
    const held = await other.acquire(1); // another instance holds the only slot
    const limiter = limit({ concurrency: 1, store: redisConcurrencyStore({ timeout: 5_000, redis, prefix }), storePoll: { minMs: 5, maxMs: 20 } });
    const app = withMiddleware(model, limiter);
    let waiting: Subscription | undefined = app(request).subscribe();
    // Queued: its first take was refused (the store counts it), so it waits for a slot.
    await waitFor(() => limiter.stats().queued === 1, 'the request queued behind the held slot');
    expect(limiter.stats()).toMatchObject({ queued: 1, inFlight: 0 });
    waiting.unsubscribe();
    expect(limiter.stats().queued).toBe(0);
    expect(limiter.stats().lanes['interactive']!.cancelledWhileQueued).toBe(1);
    held!.release();
    await leases(redis, prefix, 0);

    waiting = app(request).subscribe();
    await waitFor(() => model.open === 1, 'the next request upstream on the freed slot');
    // Exactly one call: the request that left never went upstream (not before this one, nor after it).
    expect(model.calls).toHaveLength(1);
    expect(await redis.zcard(`${prefix}slots`)).toBe(1);
    waiting.unsubscribe();
    expect(model.open).toBe(0);
    await leases(redis, prefix, 0);
  });

  it('a Redis that goes away never fails a request: limit() falls back to its in-process count, onError hears once, sharing resumes when it is back', async () => {
    const prefix = newPrefix();
    const redis = client();
    const heard: string[] = [];
    const store = redisConcurrencyStore({ timeout: 5_000, redis, prefix, onError: (error) => heard.push(error.code) });
    const model = upstream(20);
    const limiter = limit({ concurrency: 2, store });
    const app = withMiddleware(model, limiter);
    await server.stop();
    try {
      await waitFor(() => redis.status !== 'ready', 'the client noticing that Redis stopped');
      const answers = await Promise.all(Array.from({ length: 6 }, (_, n) => run(app, ask(`down-${n}`))));
      expect(answers.every((events) => events.length === 2)).toBe(true);
      expect(model.peak).toBeLessThanOrEqual(2); // the in-process count still holds
      expect(limiter.stats().storeFallbacks).toBe(6);
      expect(heard).toHaveLength(1);
    } finally {
      await server.restart();
    }
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const before = store.stats().acquired;
    await Promise.all(Array.from({ length: 4 }, (_, n) => run(app, ask(`up-${n}`))));
    expect(store.stats().acquired).toBe(before + 4); // shared again
    expect(limiter.stats().storeFallbacks).toBe(6);
  }, 20_000);

  it('rejects bad options with invalid-config', () => {
    const redis = client();
    for (const config of [
      {},
      { redis: {}, prefix: 'p:' },
      { redis: 'redis://localhost', prefix: 'p:' },
      { redis, prefix: '' },
      { redis, prefix: 'p:', lease: -1 },
      { redis, prefix: 'p:', lease: 1_000, timeout: 500 }, // renewals could not keep up
      { redis, prefix: 'p:', extra: true },
    ]) {
      expect(() => redisConcurrencyStore(config as never)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
    expect(() => limit({ concurrency: 2, store: {} as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});
