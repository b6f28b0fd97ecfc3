import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { asyncScheduler, defer, Observable, type SchedulerLike, type Subscription, timer } from 'rxjs';
import * as s from '../internal/check.js';
import { createInFlightRegistry, type InFlightRegistry } from '../cache/InFlightRegistry.js';
import { isRxllmError, RxllmError, type RxllmErrorCode } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { PartialText } from '../internal/PartialText.js';
import { redisOrClusterSchema } from './redisClientSchema.js';
import { guardedCalls, luaScript } from './guardedCalls.js';

/** Options for {@link redisInFlight}. */
export interface RedisInFlightConfig {
  /**
   * A connected (or connecting) ioredis client the app already has: `new Redis(url)`. Claims, renewals and
   * appends go on it (none of them blocks); the live reads (`XREAD BLOCK`) go on connections made with
   * `redis.duplicate()`, never on this one. The registry never closes this client. Standalone, Sentinel or
   * Redis Cluster (`new Cluster(nodes)`: its duplicates are Cluster clients too).
   */
  redis: Redis | Cluster;
  /**
   * Start of every key the registry writes, e.g. `'myapp:flight:'`. Every instance that should share calls gives
   * the same prefix. No `{` or `}`: the registry adds a hash tag of its own after it (see the keys table).
   */
  prefix: string;
  /**
   * How long a claim lives without renewal, in milliseconds. The owner renews it every `lease / 3`; when the
   * owner dies, the others notice within about `lease + lease / 3`. The same lease bounds how long a follower
   * that vanished without saying so still counts as listening. @defaultValue 3000
   */
  lease?: number;
  /**
   * How long a finished call's stream stays readable, in milliseconds, for followers that joined just before it
   * ended. @defaultValue 10000
   */
  retain?: number;
  /**
   * Most milliseconds a claim or renewal may take before it counts as Redis being down (the request then runs
   * in this process instead). @defaultValue 1000
   */
  timeout?: number;
  /**
   * Longest single `XREAD BLOCK`, in milliseconds: a follower's read connection returns to the pool at most
   * this long after its follower left. @defaultValue 1000
   */
  block?: number;
  /** Idle read connections (`redis.duplicate()`) kept for the next follower; more are closed. @defaultValue 4 */
  maxIdleReaders?: number;
  /**
   * Called once when Redis starts failing (down, a timeout), and not again until a call has succeeded: one
   * line per outage. @defaultValue `console.warn` of the error's message
   */
  onError?: (error: RxllmError) => void;
  /** Clock for renewals and timeouts. @defaultValue `asyncScheduler` */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link redisInFlight} registry (this instance only; not shared through Redis). */
export interface RedisInFlightStats {
  /** Calls this instance claimed and ran upstream for every instance. */
  owned: number;
  /** Calls this instance followed from another instance's stream (one per local flight, however many local callers). */
  followed: number;
  /** Calls run in this process alone because Redis was down or failed mid-follow (in-process single flight). */
  fallbacks: number;
  /** Followed calls whose owner died before any token: claimed again (one new owner across instances). */
  reruns: number;
  /** Followed calls whose owner died after tokens: ended with `connection-lost` and the partial text. */
  ownerLost: number;
  /** Owned calls aborted upstream because no instance had a caller left. */
  cancelled: number;
  /** Redis commands that failed. */
  errors: number;
}

/** An {@link InFlightRegistry} shared by every instance through Redis, with its counts. */
export interface RedisInFlight extends InFlightRegistry {
  /** This instance's counts, as a fresh snapshot. */
  stats(): RedisInFlightStats;
  /**
   * Closes the read connections this registry made (`redis.duplicate()`); the app's client is left alone.
   * Afterwards, new flights run in this process only.
   */
  close(): Promise<void>;
}

/**
 * Cross-instance single flight that streams: an {@link InFlightRegistry} for `dedupe({ registry })` and
 * `cache({ registry })` that makes identical requests on every app instance share one upstream call, each
 * instance's callers seeing the same events as they arrive.
 *
 * ```text
 * instance A (owner):     claim ─ start() ──a──b──c──|       XADD a, b, c, then the end
 * Redis stream:                    ─────a──b──c──|
 * instance B (follower):  join ───────────a──b──c──|       XREAD BLOCK from the start, then live
 * instance B, late:       join ──────────────(abc)──|      reads from the start: nothing missed
 * ```
 *
 * - **Claim.** The first instance to ask for a key claims it atomically (a Lua script: `SET NX PX lease`) and
 *   runs `start()`; it renews the claim every `lease / 3` while running, appends every value as it arrives to a
 *   Redis Stream (`XADD`, the value's JSON), then an end entry (complete, or the error's code and message), and
 *   releases the claim. Values must be JSON (the `LlmEvent`s of `dedupe()` and `cache()` are).
 * - **Follow.** Every other instance reads that stream from its start (`XREAD BLOCK` on a connection of its own
 *   from `redis.duplicate()`, so the app's client is never blocked) and follows it live, emitting the same
 *   values. On one instance, callers share one follow: an in-process registry is the first layer, so
 *   {@link InFlightRegistry.has} and `size` count this instance's flights.
 * - **Cancellation.** Each following instance holds a lease in a per-key sorted set (renewed every `lease / 3`,
 *   removed when its last caller leaves). When the owner's own callers have all left, it aborts upstream as soon
 *   as that set is empty (checked then, and at every renewal), so the call stops when every caller on every
 *   instance has left.
 * - **Owner death.** A follower checks the claim at every renewal. When it lapsed without an end entry (the
 *   owner was killed), a follower that has emitted no token claims the key again: exactly one instance wins
 *   and re-runs, the others follow it. A follower that has emitted tokens errors with `connection-lost`,
 *   carrying `partialText` and `tokensEmitted` (so `retry()` does not repeat it): never a silent restart that
 *   repeats tokens. Noticed within about `lease + lease / 3`.
 * - **Redis down** (at the start or mid-run) never fails a request: a claim that fails, or a client that is not
 *   connected, runs the call in this process (still single flight within it), counted in `fallbacks`, with one
 *   `onError` per outage; sharing resumes by itself once the client is ready again. An owner keeps serving its
 *   own callers whatever Redis does. A follower that loses Redis before any token runs the call itself; one that
 *   has emitted tokens errors with `connection-lost` and its partial text (the rest is on another instance).
 * - **Redis Cluster**: every key of one request carries the request key as a hash tag (`{<key>}`, table below), so
 *   each script and command touches one slot, and requests spread over every master. The followers' read
 *   connections are `duplicate()`s of the Cluster client (Cluster clients themselves); `XREAD BLOCK` names one
 *   stream, so it goes to that stream's node. Tested against a real three-master cluster.
 * - **Emits**, **completes**, **errors** like the call; **unsubscribe** leaves it (see Cancellation).
 *   **Cold**: nothing is claimed before subscribe. **Hot while in flight**, reference-counted across instances.
 *
 * **Keys written** (`<key>` is the request key, e.g. {@link rxllm!requestKey | requestKey}'s 64 hex digits, which
 * hash the request and its `scope`: no prompt, API key or header reaches Redis; `{…}` is a Redis Cluster hash
 * tag, so the keys of one request share a slot):
 *
 * | key | type | value | expiry |
 * |---|---|---|---|
 * | `<prefix>{<key>}:owner` | string | the owner's run id (instance id and a random part) | `PX lease`, renewed every `lease / 3`; deleted at the end |
 * | `<prefix>{<key>}:subs` | sorted set | one member per following instance's flight, scored by its lease's end (Redis time) | `PEXPIRE 2 × lease`, renewed by followers; emptied by a new claim |
 * | `<prefix>{<key>}:s:<run id>` | stream | entries `e` = a value's JSON; the last `t` = `c` (complete), `x` (error, with `err` = `{"code","message"}`) or `a` (abandoned) | `lease + retain` while running (renewed), `retain` after the end |
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a missing or wrong client, an empty prefix or
 * one with `{`/`}`, or a `lease`, `retain`, `timeout`, `block` that is not a positive integer.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { dedupe, sseTransport, withMiddleware } from 'rxllm';
 * import { redisInFlight } from 'rxllm/redis';
 *
 * const flights = redisInFlight({ redis: new Redis(process.env.REDIS_URL!), prefix: 'myapp:flight:' });
 * const llm = withMiddleware(sseTransport({ baseURL }), dedupe({ registry: flights }));
 * // The same request on three instances at once: one upstream call, the same tokens on all three.
 * ```
 * @see rxllm!dedupe
 */
export function redisInFlight(config: RedisInFlightConfig): RedisInFlight {
  const options = validateConfig('redisInFlight', configSchema, config);
  const { redis, prefix, lease, retain, timeout, block, maxIdleReaders, scheduler } = options;
  const onError = options.onError ?? ((error: RxllmError) => console.warn(error.message));
  const renewEvery = Math.max(1, Math.floor(lease / 3));
  const instanceId = randomBytes(6).toString('hex');
  const counts: Omit<RedisInFlightStats, 'errors'> = { owned: 0, followed: 0, fallbacks: 0, reruns: 0, ownerLost: 0, cancelled: 0 };
  const local = createInFlightRegistry();
  const idleReaders: (Redis | Cluster)[] = [];
  const allReaders = new Set<Redis | Cluster>();
  let closed = false;
  let follows = 0;

  const keysOf = (key: string) => {
    const tag = `${prefix}{${key}}`;
    return { owner: `${tag}:owner`, subs: `${tag}:subs`, stream: (run: string) => `${tag}:s:${run}` };
  };

  const calls = guardedCalls('redisInFlight', redis, timeout, scheduler, onError, 'Requests run in this process meanwhile.');
  // Every command on the app's client goes through the shared guard (fails fast while the client is not
  // connected, fails after `timeout`, one report per outage); after close(), nothing reaches Redis any more.
  const run = <R>(what: string, command: () => Promise<R>): Promise<R> =>
    closed
      ? Promise.reject(calls.report(new RxllmError('connection-lost', `redisInFlight: ${what} skipped: the registry is closed. Requests run in this process.`)))
      : calls.run(what, command);

  // Fire-and-forget commands still get an error handler: nothing goes unhandled.
  const background = (what: string, command: () => Promise<unknown>): void => {
    run(what, command).catch(() => undefined);
  };

  const script = (source: string) => luaScript(redis, source);
  const claimScript = script(CLAIM);
  const ownerTickScript = script(OWNER_TICK);
  const followerTickScript = script(FOLLOWER_TICK);
  const finishScript = script(FINISH);

  const takeReader = (): Redis | Cluster => {
    const reader = idleReaders.pop() ?? (redis.isCluster ? (redis as Cluster).duplicate() : (redis as Redis).duplicate());
    allReaders.add(reader);
    return reader;
  };
  const releaseReader = (reader: Redis | Cluster): void => {
    if (!closed && idleReaders.length < maxIdleReaders && reader.status === 'ready') idleReaders.push(reader);
    else {
      allReaders.delete(reader);
      reader.disconnect();
    }
  };

  const fallback = <T>(start: () => Observable<T>): Observable<T> =>
    defer(() => {
      counts.fallbacks++;
      return start();
    });

  // One flight of this instance: claim the key, then own it or follow its owner; in this process if Redis fails.
  function distributed<T>(key: string, start: () => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (closed) return fallback(start).subscribe(subscriber); // after close(): this process only
      const keys = keysOf(key);
      const runId = `${instanceId}:${randomBytes(6).toString('hex')}`;
      const member = `${instanceId}:${++follows}`;
      let inner: Subscription | undefined;
      let left = false;
      run('claim', () => claimScript([keys.owner, keys.subs], [runId, lease, member]) as Promise<[number, string]>).then(
        ([mine, owner]) => {
          if (left) {
            // Left while claiming: give the claim (or the follower's lease) back at once.
            if (mine === 1) background('release', () => finishScript([keys.owner, keys.subs, keys.stream(runId)], [runId, retain, 't', 'a']));
            else background('leave', () => redis.zrem(keys.subs, member));
            return;
          }
          inner = (mine === 1 ? own(keys, runId, start) : follow(key, keys, owner, member, start)).subscribe(subscriber);
        },
        () => {
          if (!left) inner = fallback(start).subscribe(subscriber);
        },
      );
      return () => {
        left = true;
        inner?.unsubscribe();
      };
    });
  }

  // The owner: runs start() for every instance, appends each value to the stream, renews the claim, and aborts
  // when neither its own callers nor any follower's lease is left.
  function own<T>(keys: ReturnType<typeof keysOf>, runId: string, start: () => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      counts.owned++;
      const stream = keys.stream(runId);
      let attached = true;
      let ended = false;
      let first = true;
      const finish = (fields: string[]) => {
        ended = true;
        ticker.unsubscribe();
        background('finish', () => finishScript([keys.owner, keys.subs, stream], [runId, retain, ...fields]));
      };
      const abort = () => {
        if (ended) return;
        counts.cancelled++;
        upstream.unsubscribe();
        finish(['t', 'a']);
      };
      // Followers only: with the owner's callers gone, abort when no follower's lease is left (or Redis cannot say).
      const check = () =>
        run('renew', () => ownerTickScript([keys.owner, keys.subs, stream], [runId, lease, lease + retain]) as Promise<[number, number]>).then(
          ([, followers]) => {
            if (!attached && followers === 0) abort();
          },
          () => {
            if (!attached) abort();
          },
        );
      const ticker = timer(renewEvery, renewEvery, scheduler).subscribe(() => void check());
      const upstream: Subscription = defer(start).subscribe({
        next: (value) => {
          // ioredis sends commands in order on one connection, so the stream keeps the values' order.
          background('append', () => redis.xadd(stream, '*', 'e', JSON.stringify(value)));
          if (first) {
            first = false;
            background('expire', () => redis.pexpire(stream, lease + retain));
          }
          if (attached) subscriber.next(value);
        },
        error: (error: unknown) => {
          finish(['t', 'x', 'err', JSON.stringify(encodeError(error))]);
          if (attached) subscriber.error(error);
        },
        complete: () => {
          finish(['t', 'c']);
          if (attached) subscriber.complete();
        },
      });
      return () => {
        if (ended) return;
        attached = false;
        void check();
      };
    });
  }

  // A follower: reads the owner's stream from its start and follows it live; keeps its lease in the subscriber
  // set; on a lapsed claim re-runs (no token yet) or errors with connection-lost (tokens already out).
  function follow<T>(key: string, keys: ReturnType<typeof keysOf>, runId: string, member: string, start: () => Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      counts.followed++;
      const stream = keys.stream(runId);
      const partial = new PartialText();
      // reading: the XREAD loop runs; draining: the claim lapsed, reading what is left; over: nothing more to do.
      let state: 'reading' | 'draining' | 'over' = 'reading';
      let lastId = '0-0';
      let inner: Subscription | undefined;

      const leave = () => background('leave', () => redis.zrem(keys.subs, member));
      const over = () => {
        state = 'over';
        ticker.unsubscribe();
        leave();
      };
      // The next step when the values stop without an end: re-run with no token out, else a typed error.
      const orphaned = (why: 'owner' | 'redis', cause?: unknown) => {
        over();
        if (partial.tokensEmitted) {
          if (why === 'owner') counts.ownerLost++;
          const message =
            why === 'owner'
              ? `redisInFlight: the instance answering this request stopped (its claim lapsed) after ${partial.text.length} characters; the rest of the answer is lost. Retry the request if a repeat is acceptable.`
              : `redisInFlight: Redis went away while this request followed another instance's answer, after ${partial.text.length} characters; the rest of the answer is lost. Retry the request if a repeat is acceptable.`;
          subscriber.error(new RxllmError('connection-lost', message, { ...(cause === undefined ? {} : { cause }), ...partial.errorDetails() }));
        } else if (why === 'owner') {
          counts.reruns++;
          inner = distributed(key, start).subscribe(subscriber);
        } else inner = fallback(start).subscribe(subscriber);
      };
      // Applies entries in order; true once an end entry was applied.
      const apply = (entries: [string, string[]][]): boolean => {
        for (const [id, fields] of entries) {
          lastId = id;
          if (fields[0] === 'e') {
            const value = JSON.parse(fields[1]!) as T;
            if (isEvent(value)) partial.add(value);
            subscriber.next(value);
            continue;
          }
          const end = fields[1];
          if (end === 'c') {
            over();
            subscriber.complete();
          } else if (end === 'x') {
            over();
            subscriber.error(decodeError(fields[3] ?? '{}', partial));
          } else orphaned('owner');
          return true;
        }
        return false;
      };

      const reader = takeReader();
      void (async () => {
        try {
          while (state === 'reading') {
            const reply = (await reader.xread('BLOCK', block, 'STREAMS', stream, lastId)) as [string, [string, string[]][]][] | null;
            if (state !== 'reading') break;
            if (reply && apply(reply[0]![1])) break;
          }
        } catch (cause) {
          if (state === 'reading') {
            calls.report(new RxllmError('connection-lost', `redisInFlight: reading ${stream} failed: ${cause instanceof Error ? cause.message : String(cause)}.`, { cause }));
            orphaned('redis', cause);
          }
        } finally {
          releaseReader(reader);
        }
      })();

      // The claim lapsed or changed hands: read what is left after lastId; without an end entry, the owner died.
      const drain = () => {
        state = 'draining';
        run('drain', () => redis.xrange(stream, `(${lastId}`, '+')).then(
          (entries) => {
            if (state === 'draining' && !apply(entries as [string, string[]][])) orphaned('owner');
          },
          (cause: unknown) => {
            if (state === 'draining') orphaned('redis', cause);
          },
        );
      };
      const ticker = timer(renewEvery, renewEvery, scheduler).subscribe(() => {
        run('renew', () => followerTickScript([keys.owner, keys.subs], [member, lease]) as Promise<string | null>).then(
          (owner) => {
            if (state === 'reading' && owner !== runId) drain();
          },
          (cause: unknown) => {
            if (state === 'reading') orphaned('redis', cause);
          },
        );
      });

      return () => {
        if (state !== 'over') over();
        inner?.unsubscribe();
      };
    });
  }

  return {
    join: <T>(key: string, start: () => Observable<T>): Observable<T> => local.join(key, () => distributed(key, start)),
    has: (key) => local.has(key),
    get size() {
      return local.size;
    },
    stats: () => ({ ...counts, errors: calls.errors }),
    close: async () => {
      closed = true;
      const readers = [...allReaders];
      allReaders.clear();
      idleReaders.length = 0;
      // Resolves once every read connection has closed, so a process (or a test run) can exit right after.
      await Promise.all(readers.map((reader) => ended(reader, scheduler)));
    },
  };
}

/**
 * Disconnects `client` and resolves once it has closed, or after 500 ms: a client between two reconnection attempts
 * has no socket left to close and never says `end`.
 */
function ended(client: Redis | Cluster, scheduler: SchedulerLike): Promise<void> {
  if (client.status === 'end') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const bound = scheduler.schedule(() => resolve(), 500);
    client.once('end', () => {
      bound.unsubscribe();
      resolve();
    });
    client.disconnect();
  });
}

// Redis time in ms, so leases never depend on the instances' clocks agreeing.
const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/** KEYS owner, subs; ARGV run id, lease, member. Claims (→ {1, run id}) or joins as a follower (→ {0, owner's run id}). */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('DEL', KEYS[2])
  return {1, ARGV[1]}
end
${NOW}
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[2]))
return {0, cur}`;

/** KEYS owner, subs, stream; ARGV run id, lease, stream ttl. Renews a claim still ours; → {ours, live followers}. */
const OWNER_TICK = `
${NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local n = redis.call('ZCARD', KEYS[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], ARGV[3])
  return {1, n}
end
return {0, n}`;

/** KEYS owner, subs; ARGV member, lease. Renews a follower's lease; → the owner's run id now (nil when lapsed). */
const FOLLOWER_TICK = `
${NOW}
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[2], 2 * tonumber(ARGV[2]))
return redis.call('GET', KEYS[1])`;

/** KEYS owner, subs, stream; ARGV run id, retain, end fields... Appends the end entry and releases a claim still ours. */
const FINISH = `
redis.call('XADD', KEYS[3], '*', unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

/** What followers learn of an owner's error: its code and message only (never headers, which may name secrets). */
interface EncodedError {
  code?: RxllmErrorCode;
  message: string;
  status?: number;
  retryAfterMs?: number;
  providerCode?: string;
}

function encodeError(error: unknown): EncodedError {
  if (isRxllmError(error)) {
    const { code, message, status, retryAfterMs, providerCode } = error;
    return { code, message, ...(status === undefined ? {} : { status }), ...(retryAfterMs === undefined ? {} : { retryAfterMs }), ...(providerCode === undefined ? {} : { providerCode }) };
  }
  return { message: error instanceof Error ? error.message : String(error) };
}

function decodeError(raw: string, partial: PartialText): Error {
  let encoded: EncodedError;
  try {
    encoded = JSON.parse(raw) as EncodedError;
  } catch {
    encoded = { message: 'redisInFlight: the instance answering this request failed' };
  }
  if (!encoded.code) return new Error(encoded.message);
  const { code, message, ...details } = encoded;
  return new RxllmError(code, message, { ...details, ...partial.errorDetails() });
}

function isEvent(value: unknown): value is LlmEvent {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

const positiveInt = s.number().int().positive();
const configSchema = s.strictObject({
  redis: redisOrClusterSchema(['evalsha', 'eval', 'xadd', 'xread', 'xrange', 'zrem', 'pexpire', 'duplicate']),
  prefix: s
    .string()
    .min(1, 'a non-empty key prefix, such as "myapp:flight:"')
    .refine((prefix) => !/[{}]/.test(prefix), 'a prefix without "{" or "}": the registry adds a hash tag of its own'),
  lease: positiveInt.default(3000),
  retain: positiveInt.default(10_000),
  timeout: positiveInt.default(1000),
  block: positiveInt.default(1000),
  maxIdleReaders: s.number().int().min(0).default(4),
  onError: functionSchema<(error: RxllmError) => void>('a function (error) => void').optional(),
  scheduler: schedulerSchema.default(() => asyncScheduler),
});
