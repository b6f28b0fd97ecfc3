/*
 * Every rxllm/redis factory against a real Redis Cluster: three masters started from Debian's redis-server
 * (spec/helpers/redisCluster.ts), two ioredis `Cluster` clients as two app instances. Each test spreads its keys
 * over several hash slots (several requests, or several prefixes) and checks they landed on more than one master,
 * so a command or script whose keys were in different slots would fail here (CROSSSLOT, or a script reaching a
 * key of another node) and show as errors or fallbacks, which every test also asserts are zero.
 */
import { Cluster } from 'ioredis';
import { concat, delay, from, lastValueFrom, Observable, of, switchMap, take, tap, toArray } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import { type LlmRequest, parseRequest } from '../../src/core/request';
import { requestKey } from '../../src/core/requestKey';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { LatencyRegistry } from '../../src/metrics/LatencyRegistry';
import { cache } from '../../src/middleware/cache';
import { dedupe } from '../../src/middleware/dedupe';
import { redisCacheStore } from '../../src/redis/redisCacheStore';
import { redisConcurrencyStore } from '../../src/redis/redisConcurrencyStore';
import { redisInFlight, type RedisInFlight } from '../../src/redis/redisInFlight';
import { redisLatencySource, type RedisLatencySource } from '../../src/redis/redisLatencySource';
import { redisRateLimiter } from '../../src/redis/redisRateLimiter';
import { redisResumeStore } from '../../src/redis/redisResumeStore';
import { finishEvent, textEvent } from '../../src/testing/events';
import { type RedisCluster, slotRanges, startRedisCluster } from '../helpers/redisCluster';
import { describeWithRedis } from '../helpers/redisServer';
import { waitFor } from '../helpers/waitFor';

const answer: LlmEvent[] = [textEvent('Hel'), textEvent('lo'), textEvent(' world'), finishEvent('stop')];
/** Eight different requests: their keys hash to slots all over the cluster. */
const requests: LlmRequest[] = Array.from({ length: 8 }, (_, i) => ({ model: 'm', messages: [{ role: 'user', content: `Summarize: topic ${i}` }], temperature: 0 }));
const collect = (events$: Observable<LlmEvent>) => lastValueFrom(events$.pipe(toArray()));

/** An upstream that streams `answer` `gap` ms apart (the first event, then the rest once `gate` resolves), counting its calls. */
function upstream(gap = 5, gate: Promise<unknown> = Promise.resolve()): Transport & { calls: number } {
  const transport = Object.assign(
    (): Observable<LlmEvent> =>
      new Observable<LlmEvent>((subscriber) => {
        transport.calls++;
        const [head, ...rest] = answer.map((event) => of(event).pipe(delay(gap)));
        return concat(head!, from(gate).pipe(switchMap(() => concat(...rest)))).subscribe(subscriber);
      }),
    { calls: 0 },
  );
  return transport;
}


describeWithRedis('rxllm/redis on a real Redis Cluster (three masters)', () => {
  let cluster: RedisCluster;
  const clients: Cluster[] = [];
  let prefixes = 0;
  const newPrefix = (what: string) => `c${++prefixes}:${what}:`;
  /** One app instance's client: an ioredis Cluster client of its own. */
  const client = (): Cluster => {
    // A slots refresh bounded at 10 s, not 1: a loaded machine's first CLUSTER SLOTS can take longer.
    const redis = new Cluster(cluster.startupNodes, { slotsRefreshTimeout: 10_000, redisOptions: { maxRetriesPerRequest: 1 } });
    redis.on('error', () => undefined);
    clients.push(redis);
    return redis;
  };
  /** How many keys matching `pattern` each master holds, read on the masters themselves (in slot order). */
  const placement = async (pattern: string): Promise<number[]> => {
    const admin = clients[0]!;
    const masters = admin.nodes('master');
    const counts = await Promise.all(masters.map(async (node) => ({ port: node.options.port!, keys: (await node.keys(pattern)).length })));
    return cluster.nodes.map((node) => counts.find((count) => count.port === node.port)?.keys ?? 0);
  };
  /**
   * Waits until `redises` are ready: a store's guard fails a call at once on a client that is reconnecting, which a
   * Cluster client still learning the slots can be on a loaded machine (a latency round trip then read nothing).
   */
  const ready = (...redises: Cluster[]) => waitFor(() => redises.every((redis) => redis.status === 'ready'), 'the Cluster clients ready');
  const nodesUsed = (counts: number[]) => counts.filter((count) => count > 0).length;
  /**
   * `perNode` new prefixes for each master, whose `<prefix><suffix>` key the master serves (by CLUSTER KEYSLOT):
   * CRC16 puts names that differ in one digit in nearby slots, so numbered prefixes alone could all land on one.
   */
  const prefixesOnEveryNode = async (what: string, suffix: string, perNode = 2): Promise<string[]> => {
    const chosen: string[][] = cluster.nodes.map(() => []);
    for (let i = 0; chosen.some((list) => list.length < perNode); i++) {
      if (i > 1_000) throw new Error('no prefixes found for every node');
      const prefix = `c${++prefixes}:${what}:`;
      const slot = Number(await clients[0]!.cluster('KEYSLOT', `${prefix}${suffix}`));
      const node = slotRanges.findIndex(([from, to]) => slot >= from && slot <= to);
      if (chosen[node]!.length < perNode) chosen[node]!.push(prefix);
    }
    return chosen.flat();
  };

  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    await Promise.all(clients.map((redis) => redis.quit().catch(() => redis.disconnect())));
    await cluster?.close();
  });

  it('the cluster is real: three masters, each serving a third of the slots', async () => {
    const redis = client();
    await waitFor(() => redis.status === 'ready', 'the Cluster client ready');
    expect(redis.nodes('master')).toHaveLength(3);
    const info = (await redis.cluster('INFO')) as string;
    expect(info).toMatch(/cluster_state:ok/);
    expect(info).toMatch(/cluster_slots_assigned:16384/);
  });

  it('redisCacheStore: an answer cached through one Cluster client is a hit through another; keys spread over the masters; clear() empties every master', async () => {
    const prefix = newPrefix('cache');
    const [a, b] = [client(), client()];
    await ready(a, b);
    const model = upstream(1);
    const storeA = redisCacheStore({ redis: a, prefix, maxEntryBytes: 64 * 1024, timeout: 5_000, onError: () => undefined });
    const storeB = redisCacheStore({ redis: b, prefix, maxEntryBytes: 64 * 1024, timeout: 5_000, onError: () => undefined });
    const cacheA = cache({ ttl: 60_000, store: storeA });
    const cacheB = cache({ ttl: 60_000, store: storeB });
    const [appA, appB] = [withMiddleware(model, cacheA), withMiddleware(model, cacheB)];

    for (const asked of requests) expect(await collect(appA(asked))).toEqual(answer);
    await waitFor(async () => (await placement(`${prefix}*`)).reduce((sum, n) => sum + n, 0) === requests.length, 'every answer written');
    for (const asked of requests) expect(await collect(appB(asked))).toEqual(answer);

    expect(model.calls).toBe(requests.length);
    expect(cacheB.stats()).toMatchObject({ hits: requests.length, misses: 0, storeErrors: 0 });
    expect(storeA.stats().errors + storeB.stats().errors).toBe(0);
    // One key per answer, where its own slot puts it: more than one master holds some.
    const counts = await placement(`${prefix}*`);
    expect(nodesUsed(counts)).toBeGreaterThan(1);
    expect(await a.exists(`${prefix}${requestKey(parseRequest(requests[0]!), {})}`)).toBe(1);

    const bystander = `${newPrefix('other')}keep`;
    await a.set(bystander, 'x');
    await storeB.clear();
    expect(await placement(`${prefix}*`)).toEqual([0, 0, 0]);
    expect(await a.get(bystander)).toBe('x');
    expect(await collect(appB(requests[0]!))).toEqual(answer);
    expect(model.calls).toBe(requests.length + 1); // cleared: a miss again
  });

  it('redisInFlight: the same requests on two instances (two Cluster clients) make one upstream call each; followers read through duplicate Cluster clients', async () => {
    const prefix = newPrefix('flight');
    let open = () => undefined as void;
    // The owner's answers wait (after their first event) until every follower has joined: B follows, never re-asks.
    const model = upstream(5, new Promise<void>((resolve) => (open = resolve)));
    const registries: RedisInFlight[] = [];
    const [a, b] = [client(), client()];
    await ready(a, b);
    // The default lease (3 s): on a loaded machine a short one can lapse between two renewals, and a lapsed claim
    // is a re-run (correct, but not what this test looks at).
    for (const redis of [a, b]) registries.push(redisInFlight({ redis, prefix, timeout: 5_000, onError: () => undefined }));
    try {
      const [appA, appB] = registries.map((registry) => withMiddleware(model, dedupe({ registry })));
      const owned = requests.map((asked) => collect(appA!(asked)));
      // A holds every claim before B asks, so B follows all eight (and never owns one).
      await waitFor(() => registries[0]!.stats().owned === requests.length, 'A owning all eight');
      const followed = requests.map((asked) => collect(appB!(asked)));
      await waitFor(() => registries[1]!.stats().followed === requests.length, 'B following all eight');
      open();
      const results = await Promise.all([...owned, ...followed]);

      for (const events of results) expect(events).toEqual(answer);
      expect(model.calls).toBe(requests.length);
      expect(registries[0]!.stats()).toMatchObject({ owned: requests.length, followed: 0, fallbacks: 0, errors: 0 });
      expect(registries[1]!.stats()).toMatchObject({ owned: 0, followed: requests.length, fallbacks: 0, reruns: 0, errors: 0 });
      // The retained streams (one per request, with its subscriber set) are spread over the masters.
      expect(nodesUsed(await placement(`${prefix}*:s:*`))).toBeGreaterThan(1);
    } finally {
      open();
      await Promise.all(registries.map((registry) => registry.close()));
    }
  }, 60_000);

  it('redisResumeStore: a stream written through one Cluster client is replayed, then followed live, through another', async () => {
    const prefix = newPrefix('resume');
    const [a, b] = [client(), client()];
    await ready(a, b);
    const writer = redisResumeStore({ redis: a, prefix, timeout: 5_000, blockMs: 200, onError: () => undefined });
    const reader = redisResumeStore({ redis: b, prefix, timeout: 5_000, blockMs: 200, onError: () => undefined });
    const streams = Array.from({ length: 6 }, (_, i) => `answer-${i}`);

    for (const id of streams) {
      expect(await writer.claim(id)).toBe(true);
      expect(await reader.claim(id)).toBe(false);
      await writer.append(id, [{ id: 1, data: `${id} one` }, { id: 2, data: `${id} two` }]);
    }
    // Replay after id 1, then the live rest: the reader's XREAD BLOCK runs on a duplicate of the Cluster client.
    const replayed = streams.map(() => 0);
    const reads = streams.map((id, i) => lastValueFrom(reader.read(id, 1).pipe(tap(() => replayed[i]!++), take(3), toArray())));
    // Every reader has replayed the event after id 1: what is appended now, it reads live (was: a 100 ms sleep,
    // after which, on a loaded machine, a reader could still be replaying and the test followed nothing live).
    await waitFor(() => replayed.every((count) => count >= 1), 'every reader replaying its event after id 1');
    for (const id of streams) await writer.append(id, [{ id: 3, data: `${id} three` }, { id: 4, event: 'done', data: '' }]);
    const got = await Promise.all(reads);
    got.forEach((events, i) => expect(events.map((event) => event.data)).toEqual([`${streams[i]} two`, `${streams[i]} three`, '']));
    expect(writer.stats()).toEqual({ errors: 0, unresumable: 0 });
    expect(reader.stats()).toEqual({ errors: 0, unresumable: 0 });
    expect(nodesUsed(await placement(`${prefix}*:events`))).toBeGreaterThan(1);
  });

  it('redisLatencySource: what one instance publishes, another reads, per prefix; the fleets of several prefixes land on more than one master', async () => {
    const fleets = Array.from({ length: 6 }, () => newPrefix('lat'));
    const [a, b] = [client(), client()];
    await ready(a, b);
    const sources: RedisLatencySource[] = [];
    try {
      for (const [i, prefix] of fleets.entries()) {
        const [registryA, registryB] = [new LatencyRegistry({ window: { ms: 60_000 } }), new LatencyRegistry({ window: { ms: 60_000 } })];
        for (let n = 0; n <= i; n++) {
          registryA.record({ step: 'answer', model: 'x', start: 0, firstToken: 100 + 10 * n, end: 200, outcome: 'ok', outputTokens: 3, outputTokensFrom: 'counted', finishReasons: ['stop'] });
        }
        const sourceA = redisLatencySource({ redis: a, prefix, registry: registryA, publishInterval: 60_000, timeout: 5_000, onError: () => undefined });
        const sourceB = redisLatencySource({ redis: b, prefix, registry: registryB, publishInterval: 60_000, timeout: 5_000, onError: () => undefined });
        sources.push(sourceA, sourceB);
        await sourceA.refresh();
        await sourceB.refresh(); // a round trip in flight since construction may have read before A published:
        await sourceB.refresh(); // this one starts after it
        // B has no samples of its own: every figure it has came from A through the cluster.
        expect(sourceB.count({ model: 'x' })).toBe(i + 1);
        expect(sourceB.percentile({ model: 'x', p: 100 })).toBeGreaterThanOrEqual(100 + 10 * i);
        expect(sourceB.stats()).toMatchObject({ sharing: true, instances: 1, errors: 0, fallbacks: 0 });
        expect(sourceA.stats()).toMatchObject({ errors: 0, fallbacks: 0 });
      }
      // One slot per prefix: each fleet's keys (the set and both instances' values) on one master...
      for (const prefix of fleets) expect(nodesUsed(await placement(`${prefix}*`))).toBe(1);
      // ...and the fleets spread over the cluster.
      expect(nodesUsed(await placement('c*:lat:latency:*'))).toBeGreaterThan(1);
    } finally {
      await Promise.all(sources.map((source) => source.close()));
    }
  });

  it('redisConcurrencyStore: two instances share one budget of slots per prefix, on every master', async () => {
    const [a, b] = [client(), client()];
    await ready(a, b);
    const budgets = await prefixesOnEveryNode('limit', 'slots');
    const held: { release(): void }[] = [];
    try {
      for (const prefix of budgets) {
        const storeA = redisConcurrencyStore({ redis: a, prefix, timeout: 5_000, onError: () => undefined });
        const storeB = redisConcurrencyStore({ redis: b, prefix, timeout: 5_000, onError: () => undefined });
        const first = await storeA.acquire(2);
        const second = await storeB.acquire(2);
        expect(first).toBeDefined();
        expect(second).toBeDefined();
        held.push(second!);
        expect(await storeA.acquire(2)).toBeUndefined(); // the fleet's two slots are taken
        expect(await storeB.acquire(2)).toBeUndefined();
        first!.release();
        let third: { release(): void } | undefined;
        await waitFor(async () => (third = await storeB.acquire(2)) !== undefined, 'the released slot taken by B');
        held.push(third!);
        expect(storeA.stats()).toMatchObject({ errors: 0 });
        expect(storeB.stats()).toMatchObject({ errors: 0 });
      }
      expect(await placement('c*:limit:slots')).toEqual([2, 2, 2]);
    } finally {
      held.forEach((slot) => slot.release()); // stops their renewal timers
    }
  });

  it('redisRateLimiter: two instances share one bucket per prefix, on every master', async () => {
    const [a, b] = [client(), client()];
    await ready(a, b);
    const limits = await prefixesOnEveryNode('rate', 'buckets');
    for (const prefix of limits) {
      const limiterA = redisRateLimiter({ redis: a, prefix, requestsPerMinute: 3, timeout: 5_000, onError: () => undefined });
      const limiterB = redisRateLimiter({ redis: b, prefix, requestsPerMinute: 3, timeout: 5_000, onError: () => undefined });
      const cost = { requests: 1, tokens: 0 };
      const waits = [await limiterA.take(cost), await limiterB.take(cost), await limiterA.take(cost), await limiterB.take(cost)];
      expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
      expect(waits[3]).toBeGreaterThan(0); // the fourth request of the minute waits, whichever instance asks
      expect(limiterA.stats()).toMatchObject({ shared: 2, fallbacks: 0, errors: 0 });
      expect(limiterB.stats()).toMatchObject({ shared: 2, fallbacks: 0, errors: 0 });
    }
    expect(await placement('c*:rate:buckets')).toEqual([2, 2, 2]);
  });
});
