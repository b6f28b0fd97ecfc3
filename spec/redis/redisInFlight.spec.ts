import type { Redis } from 'ioredis';
import { concat, defer, delay, EMPTY, from, ignoreElements, lastValueFrom, Observable, of, Subscription, tap, throwError, toArray } from 'rxjs';
import { isRxllmError, RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import { type LlmRequest, parseRequest } from '../../src/core/request';
import { requestKey } from '../../src/core/requestKey';
import { type Transport, withMiddleware } from '../../src/core/transport';
import { cache } from '../../src/middleware/cache';
import { dedupe } from '../../src/middleware/dedupe';
import { startSimulatorServer } from '../../src/node/simulatorServer';
import { redisInFlight, type RedisInFlight, type RedisInFlightConfig } from '../../src/redis/redisInFlight';
import { finishEvent, textEvent } from '../../src/testing/events';
import { sseTransport } from '../../src/transport/sse';
import { describeWithRedis, useRedisServer } from '../helpers/redisServer';
import { waitFor, within } from '../helpers/waitFor';

const request: LlmRequest = { model: 'm', messages: [{ role: 'user', content: 'Summarize: rxjs' }], temperature: 0 };
const answer: LlmEvent[] = [textEvent('Hel'), textEvent('lo'), textEvent(' world'), finishEvent('stop')];
/** A gate an upstream waits at: `open()` lets it go on. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/**
 * Where an upstream waits: after its first `after` events, until `until()` (called per upstream call) resolves. A
 * test holds the owner's answer there until the state it looks at (followers joined, Redis stopped) is proved,
 * so no answer can end before it on a loaded machine.
 */
interface Hold {
  after: number;
  until: () => Promise<unknown>;
}

/** An upstream that streams `events` `gap` ms apart (then `tail`), counting its calls and its aborts. */
function upstream(events: readonly LlmEvent[], gap = 20, tail: Observable<never> = of(), hold?: Hold): Transport & { calls: number; aborts: number } {
  const transport = Object.assign(
    (): Observable<LlmEvent> =>
      new Observable<LlmEvent>((subscriber) => {
        transport.calls++;
        let ended = false;
        const timed = events.map((event) => of(event).pipe(delay(gap)));
        const wait = hold ? defer(() => from(hold.until())).pipe(ignoreElements()) : EMPTY;
        const parts = hold ? [...timed.slice(0, hold.after), wait, ...timed.slice(hold.after)] : timed;
        const inner = concat(...parts, tail).subscribe({
          next: (event) => subscriber.next(event),
          error: (error: unknown) => {
            ended = true;
            subscriber.error(error);
          },
          complete: () => {
            ended = true;
            subscriber.complete();
          },
        });
        return () => {
          if (!ended) transport.aborts++;
          inner.unsubscribe();
        };
      }),
    { calls: 0, aborts: 0 },
  );
  return transport;
}

const collect = (events$: Observable<LlmEvent>) => lastValueFrom(events$.pipe(toArray()));
const textOf = (events: readonly LlmEvent[]) => events.map((event) => (event.type === 'text' ? event.text : '')).join('');
const until = waitFor;
/**
 * Resolves once every command sent on `redis` so far has been answered and the promise chains its replies
 * resolved have run: a PING on the same connection is answered after them (Redis answers a connection in order),
 * and setImmediate runs after every pending promise reaction. Twice, for a script whose EVALSHA was refused
 * (NOSCRIPT) and is sent again as EVAL once that reply is read.
 */
async function settled(redis: Redis): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await redis.ping();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** The claims' lease in most tests. */
const LEASE = 1_500;

describeWithRedis('redisInFlight (against a real redis-server)', () => {
  const server = useRedisServer({ prefix: 'flight' });
  const { client, prefix: newPrefix } = server;
  const registries: RedisInFlight[] = [];
  server.onClose(() => Promise.all(registries.map((registry) => registry.close())));
  /** One app instance: its own client and registry (what one process behind a load balancer would have). */
  const instance = (prefix: string, more: Partial<RedisInFlightConfig> = {}) => {
    const redis = client();
    // A generous timeout: on a loaded machine a fresh client's first claim can take a while, and a timeout means a
    // fallback (correct, but not what most tests look at). The Redis-down tests set their own. A lease of 1.5 s
    // (renewed every 500 ms): a stall of the test process long enough to let a claim lapse would be a re-run.
    const registry = redisInFlight({ redis, prefix, lease: LEASE, timeout: 5_000, onError: () => undefined, ...more });
    registries.push(registry);
    return { redis, registry };
  };
  const keyOf = (asked: LlmRequest = request, scope = {}) => requestKey(parseRequest(asked), scope);
  /** Waits until some instance holds the claim of `asked` under `prefix`, so the test knows who the owner is. */
  const claimed = (redis: Redis, prefix: string, asked: LlmRequest = request) =>
    until(async () => (await redis.exists(`${prefix}{${keyOf(asked)}}:owner`)) === 1, 'the claim');
  /** Waits until `count` instances follow `asked` under `prefix`: their leases in the key's subscriber set. */
  const following = (redis: Redis, prefix: string, count: number, asked: LlmRequest = request) =>
    until(async () => (await redis.zcard(`${prefix}{${keyOf(asked)}}:subs`)) === count, `${count} follower(s) registered`);

  it('three instances asking at once make one upstream call; each sees the same events, a late joiner reads from the start', async () => {
    const prefix = newPrefix();
    // The owner's answer waits after two events until B, C and the late joiner D all follow.
    const joined = gate();
    const model = upstream(answer, 20, of(), { after: 2, until: () => joined.opened });
    const [a, b, c, d] = [instance(prefix), instance(prefix), instance(prefix), instance(prefix)];
    const apps = [a, b, c, d].map(({ registry }) => withMiddleware(model, dedupe({ registry })));
    const first = collect(apps[0]!(request));
    await claimed(a.redis, prefix); // A claims first
    const early = [1, 2, 1, 2].map((i) => collect(apps[i]!(request)));
    // D joins late: once the owner's stream holds two events.
    const owner = await a.redis.get(`${prefix}{${keyOf()}}:owner`);
    await until(async () => (await a.redis.xlen(`${prefix}{${keyOf()}}:s:${owner}`)) === 2, 'two events in the stream');
    const late = collect(apps[3]!(request));
    await following(a.redis, prefix, 3); // B, C and D (B's and C's second callers share their instance's follow)
    joined.open();
    const [fromA, ...others] = await Promise.all([first, ...early, late]);
    expect(model.calls).toBe(1);
    for (const events of others) expect(events).toEqual(answer);
    expect(fromA).toEqual(answer);
    expect(a.registry.stats()).toMatchObject({ owned: 1, followed: 0, fallbacks: 0 });
    // Local callers share one follow: B had two callers, one follow.
    expect(b.registry.stats()).toMatchObject({ owned: 0, followed: 1 });
    expect(c.registry.stats()).toMatchObject({ owned: 0, followed: 1 });
    // The late joiner (after two events) read the stream from its start.
    expect(d.registry.stats()).toMatchObject({ owned: 0, followed: 1 });
    expect(a.registry.size + b.registry.size + c.registry.size + d.registry.size).toBe(0);
  });

  it('writes the documented keys: a stream of the events ending with an end entry, an owner claim released at the end, a follower set', async () => {
    const prefix = newPrefix();
    const [a, b] = [instance(prefix, { retain: 5_000 }), instance(prefix)];
    // The answer waits after its first event until the running call's keys have been looked at.
    const looked = gate();
    const model = upstream(answer, 60, of(), { after: 1, until: () => looked.opened });
    const key = keyOf();
    const asked = collect(withMiddleware(model, dedupe({ registry: a.registry }))(request));
    await claimed(a.redis, prefix);
    const followed = collect(withMiddleware(model, dedupe({ registry: b.registry }))(request));
    await until(async () => (await a.redis.exists(`${prefix}{${key}}:subs`)) === 1, 'the follower set exists');
    const owner = await a.redis.get(`${prefix}{${key}}:owner`);
    expect(owner).toMatch(/^[0-9a-f]{12}:[0-9a-f]{12}$/);
    expect(await a.redis.pttl(`${prefix}{${key}}:owner`)).toBeLessThanOrEqual(LEASE);
    expect(await a.redis.type(`${prefix}{${key}}:subs`)).toBe('zset');
    looked.open();
    await Promise.all([asked, followed]);

    const stream = `${prefix}{${key}}:s:${owner}`;
    expect(await a.redis.type(stream)).toBe('stream');
    const entries = await a.redis.xrange(stream, '-', '+');
    expect(entries.map(([, fields]) => fields)).toEqual([...answer.map((event) => ['e', JSON.stringify(event)]), ['t', 'c']]);
    const pttl = await a.redis.pttl(stream);
    expect(pttl).toBeGreaterThan(3_000);
    expect(pttl).toBeLessThanOrEqual(5_000);
    expect(await a.redis.exists(`${prefix}{${key}}:owner`)).toBe(0);
    // Nothing else under the prefix, and every key expires.
    const keys = await a.redis.keys(`${prefix}*`);
    expect(keys.every((k) => k.startsWith(`${prefix}{${key}}:`))).toBe(true);
    for (const k of keys) expect(await a.redis.pttl(k)).toBeGreaterThan(0);
  });

  it('passes an upstream error to the followers with its code, and the partial text they saw', async () => {
    const prefix = newPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    // The error waits until B follows (else B, asking after the end, would own a second call).
    const joined = gate();
    const failing = upstream([textEvent('Hel')], 20, throwError(() => new RxllmError('server', 'HTTP 503 from the model', { status: 503 })), { after: 1, until: () => joined.opened });
    const ownerSide = collect(withMiddleware(failing, dedupe({ registry: a.registry }))(request)).catch((error: unknown) => error);
    await claimed(a.redis, prefix);
    const followed = collect(withMiddleware(failing, dedupe({ registry: b.registry }))(request)).catch((error: unknown) => error);
    await following(a.redis, prefix, 1);
    joined.open();
    const followerSide = await followed;
    expect(failing.calls).toBe(1);
    expect(isRxllmError(followerSide)).toBe(true);
    expect(followerSide).toMatchObject({ code: 'server', status: 503, message: 'HTTP 503 from the model', partialText: 'Hel', tokensEmitted: true });
    expect(await ownerSide).toMatchObject({ code: 'server' });
  });

  it('aborts upstream only when every caller on every instance has left', async () => {
    const prefix = newPrefix();
    const [a, b, c] = [instance(prefix), instance(prefix), instance(prefix)];
    // An answer that never ends by itself (it waits after two events): only an abort ends it.
    const long = upstream(Array.from({ length: 100 }, (_, i) => textEvent(`t${i} `)), 20, of(), { after: 2, until: () => new Promise(() => undefined) });
    const subscribe = (registry: RedisInFlight) => withMiddleware(long, dedupe({ registry }))(request).subscribe({ error: () => undefined });
    const owner = `${prefix}{${keyOf()}}:owner`;
    /** Resolves after the owner has renewed its claim (the PTTL of its key went up between two reads: only a renewal raises it), and acted on the reply. */
    const renewed = async (): Promise<void> => {
      let last = await a.redis.pttl(owner);
      await until(async () => {
        const now = await a.redis.pttl(owner);
        const up = now > last;
        last = now;
        return up;
      }, "the owner's next renewal");
      await settled(a.redis);
    };
    const onA = subscribe(a.registry);
    await claimed(a.redis, prefix);
    const onB = subscribe(b.registry);
    const onC = subscribe(c.registry);
    await following(a.redis, prefix, 2);

    onA.unsubscribe(); // the owner's own caller leaves: B and C still listen
    await settled(a.redis); // the owner's check at its caller's leaving (sent at once on its client) was answered and acted on
    await renewed(); // and a renewal after it
    expect(long.aborts).toBe(0);
    onB.unsubscribe();
    await following(a.redis, prefix, 1); // B's lease is gone: C alone listens
    await renewed(); // the owner checked again, seeing C
    expect(long.aborts).toBe(0);
    onC.unsubscribe(); // the last one anywhere: the owner notices at its next renewal (every lease / 3)
    await until(() => long.aborts === 1, 'upstream aborted after the last follower left');
    expect(long.calls).toBe(1);
    expect(a.registry.stats()).toMatchObject({ owned: 1, cancelled: 1 });
  });

  it('aborts at once when the owner’s callers leave and no other instance follows', async () => {
    const prefix = newPrefix();
    // A lease of 60 s: the first renewal is 20 s away, so an abort within the bound below came from the check
    // made when the caller left, not from a renewal.
    const { registry } = instance(prefix, { lease: 60_000 });
    const long = upstream(Array.from({ length: 100 }, (_, i) => textEvent(`t${i} `)), 20, of(), { after: 2, until: () => new Promise(() => undefined) });
    const running = withMiddleware(long, dedupe({ registry }))(request).subscribe();
    // This instance owns the claim and runs the call: the upstream was subscribed (only an owner subscribes it).
    await until(() => long.calls === 1, 'the owner running the call upstream');
    running.unsubscribe();
    await until(() => long.aborts === 1, 'upstream aborted when the only caller left', 10_000);
    expect(registry.stats()).toMatchObject({ owned: 1, cancelled: 1 });
  });

  describe('when the owner dies (its claim lapses without an end entry)', () => {
    /**
     * What a killed owner leaves behind: a claim that nobody renews, and the events it had appended. The claim
     * lives until `lapse()` (a PEXPIRE of 1 ms, as its lease running out), so the test lapses it once every
     * follower has joined (a claim lapsed before a follower asks makes that follower a plain owner).
     */
    async function deadOwner(redis: Redis, prefix: string, events: readonly LlmEvent[]): Promise<{ lapse: () => Promise<unknown> }> {
      const tag = `${prefix}{${keyOf()}}`;
      await redis.set(`${tag}:owner`, 'dead00000000:run000000000', 'PX', 60_000);
      for (const event of events) await redis.xadd(`${tag}:s:dead00000000:run000000000`, '*', 'e', JSON.stringify(event));
      return { lapse: () => redis.pexpire(`${tag}:owner`, 1) };
    }

    it('followers that saw no token re-run it: exactly one new owner across instances, the others follow it', async () => {
      const prefix = newPrefix();
      const [b, c, d] = [instance(prefix), instance(prefix), instance(prefix)];
      const dead = await deadOwner(b.redis, prefix, []);
      const model = upstream(answer);
      const asked = Promise.all([b, c, d].map(({ registry }) => collect(withMiddleware(model, dedupe({ registry }))(request))));
      await following(b.redis, prefix, 3);
      await dead.lapse();
      // Noticed at a follower's next renewal (every lease / 3); the bound is a safety net for "noticed at all".
      const results = await within(asked, 'the followers noticing the lapsed claim and re-running it');
      for (const events of results) expect(events).toEqual(answer);
      expect(model.calls).toBe(1);
      const stats = [b, c, d].map(({ registry }) => registry.stats());
      expect(stats.reduce((sum, s) => sum + s.owned, 0)).toBe(1);
      expect(stats.reduce((sum, s) => sum + s.reruns, 0)).toBe(3);
    });

    it('a follower that saw tokens errors with connection-lost and its partial text, and never re-runs', async () => {
      const prefix = newPrefix();
      const { redis, registry } = instance(prefix);
      const dead = await deadOwner(redis, prefix, [textEvent('Hel'), textEvent('lo')]);
      const model = upstream(answer);
      const asked = lastValueFrom(withMiddleware(model, dedupe({ registry }))(request).pipe(toArray()))
        .then(() => undefined)
        .catch((caught: unknown) => caught);
      await following(redis, prefix, 1);
      await dead.lapse();
      const error = await within(asked, 'the follower noticing the lapsed claim');
      expect(error).toMatchObject({ code: 'connection-lost', partialText: 'Hello', tokensEmitted: true });
      expect((error as Error).message).toMatch(/claim lapsed/);
      expect(model.calls).toBe(0);
      expect(registry.stats()).toMatchObject({ ownerLost: 1, reruns: 0 });
    });
  });

  it('keeps tenants apart: the same request in two scopes makes two calls', async () => {
    const prefix = newPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const model = upstream(answer);
    const appA = withMiddleware(model, dedupe({ registry: a.registry }));
    const appB = withMiddleware(model, dedupe({ registry: b.registry }));
    await Promise.all([collect(appA(request, { attributes: { scope: 'tenant-1' } })), collect(appB(request, { attributes: { scope: 'tenant-2' } }))]);
    expect(model.calls).toBe(2);
    const owners = new Set((await a.redis.keys(`${prefix}*`)).map((k) => k.slice(0, k.indexOf('}'))));
    expect(owners).toEqual(new Set([`${prefix}{${keyOf(request, 'tenant-1')}`, `${prefix}{${keyOf(request, 'tenant-2')}`]));
  });

  it('shares cache() misses across instances: one upstream call, one stored answer', async () => {
    const prefix = newPrefix();
    const [a, b] = [instance(prefix), instance(prefix)];
    const joined = gate(); // the answer waits after its first event until B follows
    const model = upstream(answer, 20, of(), { after: 1, until: () => joined.opened });
    const fromA = collect(withMiddleware(model, cache({ registry: a.registry }))(request));
    await claimed(a.redis, prefix);
    const followed = collect(withMiddleware(model, cache({ registry: b.registry }))(request));
    await following(a.redis, prefix, 1);
    joined.open();
    const fromB = await followed;
    expect(model.calls).toBe(1);
    expect(await fromA).toEqual(answer);
    expect(fromB).toEqual(answer);
  });

  it('stores no API key or header value: every key and value under Redis after a run over HTTP', async () => {
    const simulator = await startSimulatorServer({ seed: 3 });
    try {
      const secret = 'sk-test-SECRET-4242424242';
      const prefix = newPrefix();
      const [a, b] = [instance(prefix), instance(prefix)];
      const sse = sseTransport({ baseURL: simulator.baseURL, apiKey: secret, headers: { 'x-tenant-token': 'HEADER-VALUE-777' } });
      // The owner's HTTP request starts once B follows: else, on a loaded machine, B could ask after the answer
      // ended and own a second call.
      const joined = gate();
      const http: Transport = (asked, context) => concat(from(joined.opened).pipe(ignoreElements()), defer(() => sse(asked, context)));
      const asked: LlmRequest = { ...request, model: 'gpt-4o-mini', rxllm_sim: 'ttft=400' } as LlmRequest;
      const first = collect(withMiddleware(http, dedupe({ registry: a.registry }))(asked));
      await claimed(a.redis, prefix, asked);
      const second = collect(withMiddleware(http, dedupe({ registry: b.registry }))(asked));
      await following(a.redis, prefix, 1, asked);
      joined.open();
      const results = await Promise.all([first, second]);
      expect({ requests: simulator.stats().requests, a: a.registry.stats(), b: b.registry.stats() }).toMatchObject({ requests: 1, a: { owned: 1 }, b: { followed: 1 } });
      expect(textOf(results[1]!)).toBe(textOf(results[0]!));
      const dump: string[] = [];
      for (const k of await a.redis.keys('*')) {
        dump.push(k);
        const type = await a.redis.type(k);
        if (type === 'string') dump.push((await a.redis.get(k)) ?? '');
        if (type === 'stream') dump.push(JSON.stringify(await a.redis.xrange(k, '-', '+')));
        if (type === 'zset') dump.push(JSON.stringify(await a.redis.zrange(k, '0', '-1')));
      }
      expect(dump.join('\n')).toContain(JSON.stringify(JSON.stringify(results[0]![0])).slice(1, -1)); // the scan did see the answers
      expect(dump.join('\n')).not.toContain(secret);
      expect(dump.join('\n')).not.toContain('HEADER-VALUE-777');
    } finally {
      await simulator.close();
    }
  });

  describe('when Redis is down', () => {
    it('at the start: runs in this process (single flight still), logs once, counts the fallbacks', async () => {
      const warnings: string[] = [];
      const redis = client('redis://127.0.0.1:1'); // nothing listens on port 1
      const registry = redisInFlight({ redis, prefix: newPrefix(), lease: 300, timeout: 200, onError: (error) => warnings.push(error.message) });
      registries.push(registry);
      const model = upstream(answer);
      const app = withMiddleware(model, dedupe({ registry }));
      expect(await Promise.all([collect(app(request)), collect(app(request))])).toEqual([answer, answer]);
      expect(await collect(app(request))).toEqual(answer);
      expect(model.calls).toBe(2); // two flights one after the other; the two concurrent callers shared one
      expect(registry.stats()).toMatchObject({ fallbacks: 2, owned: 0, followed: 0 });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/redisInFlight: claim/);
    });

    it('mid-follow: a follower that has shown tokens errors with connection-lost and exactly the text it showed; the owner finishes', async () => {
      const prefix = newPrefix();
      // Round trips bounded at 2 s: a 200 ms bound timed a loaded machine's claim or renewal out, and B ran the call
      // itself. Redis going away is seen at once anyway (the client's connection closes).
      const [a, b] = [instance(prefix, { timeout: 2_000 }), instance(prefix, { timeout: 2_000 })];
      const events = [...Array.from({ length: 20 }, (_, i) => textEvent(`t${i} `)), finishEvent('stop')];
      const stopped = gate(); // the owner's answer waits after 3 events until Redis is down
      const model = upstream(events, 20, of(), { after: 3, until: () => stopped.opened });
      const owned = collect(withMiddleware(model, dedupe({ registry: a.registry }))(request));
      await claimed(a.redis, prefix);
      const seen: LlmEvent[] = [];
      const followed = lastValueFrom(withMiddleware(model, dedupe({ registry: b.registry }))(request).pipe(tap((event) => seen.push(event)), toArray())).catch((error: unknown) => error);
      await until(() => seen.length >= 2, 'the follower shows tokens');
      await server.stop();
      stopped.open();
      const error = await followed;
      expect(error).toMatchObject({ code: 'connection-lost', tokensEmitted: true, partialText: textOf(seen) });
      expect((error as Error).message).toMatch(/Redis went away/);
      expect(textOf(await owned)).toBe(textOf(events));
      expect(model.calls).toBe(1);
      await server.restart();
      await until(() => a.redis.status === 'ready' && b.redis.status === 'ready', 'clients reconnected');
    });

    it('mid-run, then back: the owner finishes for its callers, requests meanwhile run in process, sharing resumes after the restart', async () => {
      const prefix = newPrefix();
      const warnings: string[] = [];
      const [a, b] = [instance(prefix, { timeout: 2_000, onError: (error) => warnings.push(error.message) }), instance(prefix, { timeout: 2_000 })];
      // The call running when Redis stops, and the first after it is back, wait after 2 events at `held` (the
      // calls during the outage do not wait).
      let held: { opened: Promise<void>; open: () => void } | undefined = gate();
      const model = upstream([...Array.from({ length: 15 }, (_, i) => textEvent(`t${i} `)), finishEvent('stop')], 20, of(), { after: 2, until: () => held?.opened ?? Promise.resolve() });
      const appA = withMiddleware(model, dedupe({ registry: a.registry }));
      const appB = withMiddleware(model, dedupe({ registry: b.registry }));
      const owned = collect(appA(request));
      await claimed(a.redis, prefix); // A owns a call that is running (held after 2 events)
      await server.stop();
      held.open();
      held = undefined;
      expect(textOf(await owned)).toBe(Array.from({ length: 15 }, (_, i) => `t${i} `).join(''));
      // Meanwhile: no sharing, but no failure either.
      const during = await Promise.all([collect(appA(request)), collect(appB(request))]);
      expect(during.map(textOf)).toEqual([textOf(await owned), textOf(await owned)]);
      expect(a.registry.stats().fallbacks + b.registry.stats().fallbacks).toBeGreaterThanOrEqual(2);
      expect(warnings).toHaveLength(1);

      await server.restart();
      await until(() => a.redis.status === 'ready' && b.redis.status === 'ready', 'clients reconnected');
      const callsBefore = model.calls;
      const joined = (held = gate()); // A's answer waits until B follows
      const afterA = collect(appA(request));
      await claimed(a.redis, prefix);
      const afterB = collect(appB(request));
      await following(a.redis, prefix, 1);
      joined.open();
      const after = await Promise.all([afterA, afterB]);
      expect(model.calls - callsBefore).toBe(1);
      expect(after[1]).toEqual(after[0]);
    });
  });

  it('rejects bad options with invalid-config', () => {
    const redis = client();
    const bad: unknown[] = [
      {},
      { prefix: 'p:' },
      { redis: {}, prefix: 'p:' },
      { redis: { status: 'ready', get: () => undefined }, prefix: 'p:' },
      { redis, prefix: '' },
      { redis, prefix: 'p{1}:' },
      { redis, prefix: 'p:', lease: -1 },
      { redis, prefix: 'p:', lease: 0 },
      { redis, prefix: 'p:', retain: 1.5 },
      { redis, prefix: 'p:', unknown: true },
    ];
    for (const config of bad) expect(() => redisInFlight(config as RedisInFlightConfig)).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => dedupe({ registry: {} as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  it('is unsubscribable while claiming: no caller, no upstream call, no lease left behind', async () => {
    const prefix = newPrefix();
    const { redis, registry } = instance(prefix);
    const model = upstream(answer);
    const subscription: Subscription = withMiddleware(model, dedupe({ registry }))(request).subscribe();
    subscription.unsubscribe();
    await until(async () => (await redis.exists(`${prefix}{${keyOf()}}:owner`)) === 0, 'the claim given back');
    expect(model.calls).toBe(0);
  });
});
