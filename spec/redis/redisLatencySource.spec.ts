import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import type { Redis } from 'ioredis';
import { EMPTY, type Observable, type SchedulerLike, VirtualAction, VirtualTimeScheduler } from 'rxjs';
import { isRxllmError, type RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import type { LatencyRecord } from '../../src/metrics/LatencyRecord';
import { route, type RouteDecision } from '../../src/middleware/route';
import { redisLatencySource, type RedisLatencySource, type RedisLatencySourceConfig } from '../../src/redis/redisLatencySource';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';
import { sha256 } from '../../src/internal/sha256';

/** Where the source's keys of `prefix` start: the prefix, `latency:` and its hash tag (one Cluster slot per prefix). */
const tagged = (prefix: string) => `${prefix}latency:{${sha256(prefix).slice(0, 8)}}:`;


/** A finished request of `step` on `model` whose first token came after `ttft` ms (or that was cancelled before one). */
function sample(step: string, model: string, ttft: number, outcome: 'ok' | 'cancelled' = 'ok'): LatencyRecord {
  return {
    step,
    model,
    start: 0,
    ...(outcome === 'ok' ? { firstToken: ttft } : {}),
    end: ttft + 10,
    outcome,
    outputTokens: outcome === 'ok' ? 5 : 0,
    outputTokensFrom: 'counted',
    finishReasons: outcome === 'ok' ? ['stop'] : [],
  };
}

const feed = (registry: LatencyRegistry, records: LatencyRecord[]) => records.forEach((record) => registry.record(record));
const times = (n: number, make: (i: number) => LatencyRecord) => Array.from({ length: n }, (_, i) => make(i));

/**
 * A round trip of `source` that starts now, so it reads what other instances published before this call:
 * refresh() joins a round trip already in flight (the one a source starts at construction, say), which may have
 * read the fleet before another instance's publish landed; the second refresh() starts after that one ended.
 */
async function readAfterNow(source: RedisLatencySource): Promise<void> {
  await source.refresh();
  await source.refresh();
}


describeWithRedis('redisLatencySource (against a real redis-server)', () => {
  const server = useRedisServer({ prefix: 'lat' });
  const { client, clients, prefix: newPrefix } = server;
  const sources: RedisLatencySource[] = [];
  /**
   * An instance: its own client, registry and source. The timer is slow unless asked otherwise: tests call
   * refresh(). A round trip's timeout of 5 s unless asked otherwise (the default, the interval capped at 1 s, is
   * what a loaded machine's first round trip on a fresh client can take: it failed, and B read no fleet figures).
   */
  const instance = (prefix: string, options: Partial<RedisLatencySourceConfig> = {}) => {
    const registry = new LatencyRegistry({ window: { ms: 60_000 } });
    const errors: RxllmError[] = [];
    const redis = client();
    const source = redisLatencySource({ redis, prefix, registry, publishInterval: 60_000, timeout: 5_000, onError: (e) => errors.push(e), ...options });
    sources.push(source);
    return { registry, source, errors, redis };
  };

  afterEach(async () => {
    await Promise.all(sources.splice(0).map((source) => source.close()));
  });

  it('adds up the fleet: B reads A\'s window merged with its own, the same figures one registry with every sample would give', async () => {
    const prefix = newPrefix();
    const a = instance(prefix);
    const b = instance(prefix);
    const fromA = [...times(40, (i) => sample('answer', 'x', 100 + i * 10)), ...times(5, (i) => sample('answer', 'x', 300 + i, 'cancelled'))];
    const fromB = times(20, (i) => sample('answer', 'x', 50 + i * 20));
    feed(a.registry, fromA);
    feed(b.registry, fromB);
    await a.source.refresh();
    await readAfterNow(b.source);

    const all = new LatencyRegistry();
    feed(all, [...fromA, ...fromB]);
    for (const query of [{ step: 'answer', model: 'x' }, { step: 'answer' }, { model: 'x' }, {}]) {
      expect(b.source.count(query)).toBe(65);
      for (const p of [50, 90, 95, 99]) expect(b.source.percentile({ ...query, p })).toBe(all.percentile({ ...query, p }));
    }
    // B's own figures stay its own: the registry is not written to.
    expect(b.registry.count()).toBe(20);
    // Another key, or another metric, has no fleet figures here: this instance's answer.
    expect(b.source.count({ step: 'other' })).toBe(0);
    expect(b.source.percentile({ step: 'answer', p: 50, metric: 'total' })).toBe(b.registry.percentile({ step: 'answer', p: 50, metric: 'total' }));
    // One publish at least: the start-up round and refresh() may be one round trip or two, depending on timing.
    expect(b.source.stats()).toMatchObject({ errors: 0, fallbacks: 0, sharing: true, instances: 1 });
    expect(b.source.stats().publishes).toBeGreaterThanOrEqual(1);
  });

  it('a read follows this instance\'s own samples at once: new records, and samples leaving its window', async () => {
    const prefix = newPrefix();
    const a = instance(prefix);
    let now = 0;
    const registry = new LatencyRegistry({ window: { ms: 1_000, slices: 2 }, scheduler: { now: () => now } as SchedulerLike });
    const b = instance(prefix, { registry });
    feed(a.registry, times(20, (i) => sample('answer', 'x', 100 + i)));
    await a.source.refresh();
    await readAfterNow(b.source);
    const query = { step: 'answer', model: 'x', p: 95 };
    expect(b.source.percentile(query)).toBe(118);
    expect(b.source.percentile(query)).toBe(118); // the cached merge

    feed(registry, times(20, () => sample('answer', 'x', 500)));
    expect(b.source.percentile(query)).toBe(500);
    expect(b.source.count(query)).toBe(40);
    expect(b.source.percentile({ step: 'answer', p: 95 })).toBe(500);

    now = 5_000; // B's own samples leave its window; A's published figures stay until the next round trip
    expect(b.source.count(query)).toBe(20);
    expect(b.source.percentile(query)).toBe(118);
  });

  it('writes exactly the keys it documents, with their types and expiry, and no request content', async () => {
    const prefix = newPrefix();
    const a = instance(prefix, { instanceId: 'pod-a', ttl: 90_000 });
    feed(a.registry, times(3, (i) => sample('summary', 'gpt-4o-mini', 200 + i)));
    await a.source.refresh();
    const redis = clients[0]!;

    expect((await redis.keys(`${prefix}*`)).sort()).toEqual([`${tagged(prefix)}instance:pod-a`, `${tagged(prefix)}instances`]);
    expect(await redis.type(`${tagged(prefix)}instances`)).toBe('set');
    expect(await redis.smembers(`${tagged(prefix)}instances`)).toEqual(['pod-a']);
    expect(await redis.type(`${tagged(prefix)}instance:pod-a`)).toBe('string');
    for (const key of await redis.keys(`${prefix}*`)) {
      const pttl = await redis.pttl(key);
      expect(pttl).toBeGreaterThan(80_000);
      expect(pttl).toBeLessThanOrEqual(90_000);
    }
    const value = JSON.parse((await redis.get(`${tagged(prefix)}instance:pod-a`))!) as { v: number; s: unknown[][] };
    expect(value.v).toBe(1);
    expect(value.s).toEqual([['summary', 'gpt-4o-mini', 3, expect.stringMatching(/^[A-Za-z0-9+/]+=*$/), '']]);
  });

  it('a deployment that slows down, seen by instance A, is avoided by instance B\'s route() within two publish intervals', async () => {
    const interval = 200;
    const prefix = newPrefix();
    // The publish timers run on a clock the test moves, one interval at a time, waiting after each step until
    // both instances' round trips of that step are done: "within two intervals" is then counted in intervals, as
    // the sources' timers count them, and a loaded machine (slow timers, slow round trips) cannot stretch it.
    // The round trips' timeouts run on the same clock: they never fire, as the clock only moves once they are done.
    const clock = new VirtualTimeScheduler(VirtualAction, Infinity);
    const a = instance(prefix, { publishInterval: interval, timeout: 2_000, scheduler: clock });
    const b = instance(prefix, { publishInterval: interval, timeout: 2_000, scheduler: clock });
    /** Moves the clock to `frame` (the timers due run), then waits until A and B have each finished a round trip. */
    const step = async (frame: number): Promise<void> => {
      const [fromA, fromB] = [a.source.stats().publishes, b.source.stats().publishes];
      clock.maxFrames = frame;
      clock.flush();
      await waitFor(() => a.source.stats().publishes > fromA && b.source.stats().publishes > fromB, `A's and B's round trips at ${frame} ms`, 15_000);
    };
    // A knows both deployments: x is the faster. B has no samples of its own.
    feed(a.registry, [...times(20, () => sample('answer', 'x', 100)), ...times(20, () => sample('answer', 'y', 200))]);
    const decisions: RouteDecision[] = [];
    const routed = route({ tiers: { fast: ['x', 'y'] }, registry: b.source, explore: 0, onDecision: (d) => decisions.push(d) })(
      (): Observable<LlmEvent> => EMPTY,
    );
    const request: LlmRequest = { model: 'fast', messages: [{ role: 'user', content: 'hi' }] };
    const chosen = () => {
      routed(request, { step: 'answer' }).subscribe();
      return decisions.at(-1)!;
    };
    await step(0); // the first round trips, at construction
    await step(interval); // B's second one starts after A's first has published
    expect(chosen()).toMatchObject({ candidate: 'x', reason: 'fastest', ttftMs: { x: 100, y: 200 } });
    expect(b.registry.count()).toBe(0);

    // x slows down, as A sees it. A publishes it at its next tick; B may have read before that publish landed
    // (the two run at the same tick), so it reads it at the tick after: two intervals.
    feed(a.registry, times(200, () => sample('answer', 'x', 900)));
    expect(chosen().candidate).toBe('x');
    await step(2 * interval);
    await step(3 * interval);
    expect(chosen()).toMatchObject({ candidate: 'y', reason: 'fastest' });
    expect(chosen().ttftMs['x']).toBeGreaterThan(800);
  });

  it('Redis going away mid-run: falls back to the local figures, logs once, counts it, and shares again when Redis returns', async () => {
    const prefix = newPrefix();
    const a = instance(prefix);
    const b = instance(prefix);
    feed(a.registry, times(10, () => sample('answer', 'x', 100)));
    feed(b.registry, times(4, () => sample('answer', 'x', 300)));
    await a.source.refresh();
    await readAfterNow(b.source);
    expect(b.source.count({ step: 'answer' })).toBe(14);

    await server.stop();
    await b.source.refresh();
    await b.source.refresh();
    await b.source.refresh();
    // Nothing failed for the reader: the figures are B's own.
    expect(b.source.count({ step: 'answer' })).toBe(4);
    expect(b.source.percentile({ step: 'answer', p: 50 })).toBe(300);
    expect(b.errors).toHaveLength(1);
    expect(isRxllmError(b.errors[0]) && ['connection-lost', 'timeout'].includes(b.errors[0].code)).toBe(true);
    expect(b.source.stats()).toMatchObject({ errors: 3, fallbacks: 1, sharing: false, instances: 0 });

    await server.restart();
    // This test's own clients (clients[0] and [1] are the file's first test's): a round trip on a client not yet
    // reconnected fails at once, by design, and would count as an error here.
    await waitFor(() => a.redis.status === 'ready' && b.redis.status === 'ready', "A's and B's clients reconnect", 15_000);
    await a.source.refresh(); // the restarted Redis is empty: A publishes again
    await readAfterNow(b.source);
    expect(b.source.count({ step: 'answer' })).toBe(14);
    expect(b.source.stats()).toMatchObject({ errors: 3, fallbacks: 1, sharing: true, instances: 1 });
    expect(b.errors).toHaveLength(1);
  }, 20_000);

  it('Redis down at start: answers locally from the first read, logs once, and starts sharing when Redis comes up', async () => {
    const prefix = newPrefix();
    const a = instance(prefix);
    feed(a.registry, times(10, () => sample('answer', 'x', 100)));
    await a.source.refresh();
    await server.stop();

    const b = instance(prefix, { timeout: 200 });
    feed(b.registry, times(3, () => sample('answer', 'x', 300)));
    expect(b.source.count({ step: 'answer' })).toBe(3); // synchronous, before any round trip
    await b.source.refresh();
    await b.source.refresh();
    expect(b.errors).toHaveLength(1);
    expect(b.source.stats()).toMatchObject({ fallbacks: 1, sharing: false });
    expect(b.source.percentile({ step: 'answer', p: 95 })).toBe(300);

    await server.restart();
    await waitFor(() => clients.every((redis) => redis.status === 'ready' || redis.status === 'end'), 'the clients reconnect', 15_000);
    await a.source.refresh();
    await readAfterNow(b.source);
    expect(b.source.count({ step: 'answer' })).toBe(13);
    expect(b.source.stats()).toMatchObject({ fallbacks: 1, sharing: true });
  }, 20_000);

  it('close() stops the timer and removes this instance from the fleet at once', async () => {
    const prefix = newPrefix();
    // A's timer runs on a clock the test moves: "stopped" is then checked over ten intervals of the timer's own
    // time (was: 100 ms of wall time, which a loaded machine's slow timers need not fill).
    const clock = new VirtualTimeScheduler(VirtualAction, Infinity);
    const a = instance(prefix, { publishInterval: 20, timeout: 2_000, instanceId: 'a', scheduler: clock });
    const b = instance(prefix);
    feed(a.registry, times(5, () => sample('answer', 'x', 100)));
    for (const frame of [0, 20]) {
      const before = a.source.stats().publishes;
      clock.maxFrames = frame;
      clock.flush();
      await waitFor(() => a.source.stats().publishes > before, `A publishing on its timer at ${frame} ms`, 15_000);
    }
    await readAfterNow(b.source);
    expect(b.source.count()).toBe(5);

    await a.source.close();
    const published = a.source.stats().publishes;
    const redis = clients[1]!;
    expect(await redis.exists(`${tagged(prefix)}instance:a`)).toBe(0);
    expect(await redis.sismember(`${tagged(prefix)}instances`, 'a')).toBe(0);
    expect(clock.actions).toEqual([]); // nothing left scheduled on A's clock: its timer is stopped
    clock.maxFrames = 220;
    clock.flush(); // ten more intervals: a timer still running would start a round trip in each
    // A barrier: a PING on A's connection is answered after any round trip the timer sent on it, and setImmediate
    // runs after the promise chain that would count it.
    await a.redis.ping();
    await new Promise((resolve) => setImmediate(resolve));
    expect(a.source.stats().publishes).toBe(published);
    await readAfterNow(b.source);
    expect(b.source.count()).toBe(0);
    expect(a.source.count()).toBe(5); // a closed source still answers, from its own registry
  });

  it('an instance that stops publishing drops out after ttl; a value that is not one of ours is skipped and counted', async () => {
    const prefix = newPrefix();
    const a = instance(prefix, { instanceId: 'a' });
    const b = instance(prefix);
    feed(a.registry, times(5, () => sample('answer', 'x', 100)));
    await a.source.refresh();
    await b.source.refresh(); // B's start-up round trip is over: the next refresh() is one round trip of its own
    const redis = clients[1]!;
    await redis.set(`${tagged(prefix)}instance:intruder`, 'not json', 'PX', 60_000);
    await redis.sadd(`${tagged(prefix)}instances`, 'intruder');
    await b.source.refresh(); // one round trip, after the intruder was written: one malformed value
    expect(b.source.count()).toBe(5);
    expect(b.source.stats()).toMatchObject({ malformed: 1, instances: 1, errors: 0 });

    // A "crashed" instance: an entry no timer renews (A's figures under another id). A itself leaves.
    const ghost = `${tagged(prefix)}instance:ghost`;
    await redis.set(ghost, (await redis.get(`${tagged(prefix)}instance:a`))!, 'PX', 60_000);
    await redis.sadd(`${tagged(prefix)}instances`, 'ghost');
    await a.source.close();
    await readAfterNow(b.source);
    expect(b.source.count()).toBe(5); // the ghost's copy, until it expires
    await redis.pexpire(ghost, 1); // its ttl runs out (set long above, so no slow step could outlive it early)
    await waitFor(async () => (await redis.exists(ghost)) === 0, 'the ghost entry expired');
    await readAfterNow(b.source);
    expect(b.source.count()).toBe(0);
    expect(await redis.smembers(`${tagged(prefix)}instances`)).not.toContain('ghost'); // the read removes expired members
  });

  it('bad options are invalid-config at construction', () => {
    const registry = new LatencyRegistry();
    const redis = client();
    const bad: unknown[] = [
      {},
      { redis: {}, prefix: 'p:', registry },
      { redis, prefix: '', registry },
      { redis, prefix: 'p:' },
      { redis, prefix: 'p:', registry: { percentile: () => 1, count: () => 1 } },
      { redis, prefix: 'p:', registry, publishInterval: -5 },
      { redis, prefix: 'p:', registry, ttl: -1 },
      { redis, prefix: 'p:', registry, publishInterval: 1_000, ttl: 1_000 },
      { redis, prefix: 'p:', registry, timeout: 0 },
      { redis, prefix: 'p:', registry, instanceId: 'has spaces' },
      { redis, prefix: 'app{1}:', registry }, // the source adds the hash tag itself
      { redis, prefix: 'p:', registry, window: { ms: 1 } },
    ];
    for (const options of bad) {
      expect(() => redisLatencySource(options as RedisLatencySourceConfig)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    }
    let thrown: unknown;
    try {
      redisLatencySource({ redis, prefix: 'p:', registry, publishInterval: 1_000, ttl: 1_000 });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as Error).message).toMatchInlineSnapshot(`
"redisLatencySource(): invalid options:
✖ \`ttl\` must be longer than \`publishInterval\`, or an instance would drop out of the fleet between two publishes
  → at ttl"
`);
  });

  it('never keeps a process alive: a script that creates a source and never closes it exits', async () => {
    const root = resolve(__dirname, '..', '..');
    const script = `
      const { Redis } = require('ioredis');
      const { LatencyRegistry } = require('./src/metrics/LatencyRegistry');
      const { redisLatencySource } = require('./src/redis/redisLatencySource');
      const redis = new Redis(${JSON.stringify(server.url)});
      redis.once('ready', () => {
        const source = redisLatencySource({ redis, prefix: 'unref:', registry: new LatencyRegistry(), publishInterval: 1000 });
        // The timer stays set (never closed); only the client, which the app owns, is closed.
        source.refresh().then(() => { console.log('published', source.stats().publishes); redis.disconnect(); });
      });
    `;
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((done) =>
      execFile(process.execPath, ['-r', 'ts-node/register', '-e', script], { cwd: root, timeout: 40_000, env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true' } }, (error, out) =>
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: out }),
      ),
    );
    expect(code).toBe(0);
    expect(stdout).toMatch(/published 1/);
  }, 60_000);
});
