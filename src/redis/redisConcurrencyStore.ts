import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import * as s from '../internal/check.js';
import { RxllmError } from '../core/errors.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import type { ConcurrencySlot, ConcurrencyStore } from '../load/ConcurrencyStore.js';
import { guardedCalls, luaScript } from './guardedCalls.js';
import { redisOrClusterSchema } from './redisClientSchema.js';

/** Options for {@link redisConcurrencyStore}. */
export interface RedisConcurrencyStoreConfig {
  /** A connected (or connecting) ioredis client the app already has: `new Redis(url)`. Never closed by the store. */
  redis: Redis | Cluster;
  /**
   * Start of the one key the store writes, e.g. `'myapp:llm:limit:'`. Every instance whose `limit()` must share
   * one budget gives the same prefix (and the same `concurrency`); two budgets need two prefixes.
   */
  prefix: string;
  /**
   * How long a slot stays taken without news from its holder, in milliseconds. Holders renew their slots every
   * `lease / 3`, so a live instance never loses one; a crashed instance's slots come back after at most `lease`.
   * Shorter gives slots back sooner after a crash, at more renewals (one call per instance per `lease / 3` while
   * it holds any slot). @defaultValue 15000
   */
  lease?: number;
  /** Most milliseconds a call may take before it counts as failed (the request then starts on the in-process count). @defaultValue 500 */
  timeout?: number;
  /**
   * Called once when the store starts failing (Redis gone, a timeout), and not again until a call has succeeded:
   * one line per outage. @defaultValue `console.warn` of the error's message
   */
  onError?: (error: RxllmError) => void;
  /** Clock of `timeout` and the renewals: give the same scheduler as `limit({ scheduler })`. @defaultValue `asyncScheduler` */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link redisConcurrencyStore} (this instance only: not shared through Redis). */
export interface RedisConcurrencyStoreStats {
  /** Slots this instance holds now. */
  held: number;
  /** Slots taken. */
  acquired: number;
  /** Asks answered "all slots taken". */
  refused: number;
  /**
   * Held slots that a renewal found gone (their lease had lapsed and was reclaimed, or Redis restarted empty)
   * and wrote back: the request was still running, so it counts again.
   */
  restored: number;
  /** Calls that failed: Redis unreachable, a timeout, a command error. */
  errors: number;
}

/** A {@link rxllm!ConcurrencyStore | ConcurrencyStore} in Redis, with its own counts. */
export interface RedisConcurrencyStore extends ConcurrencyStore {
  /** This store object's counts. */
  stats(): RedisConcurrencyStoreStats;
}

/**
 * A semaphore in Redis for {@link rxllm!limit | limit}: `limit({ concurrency: 10, store: redisConcurrencyStore({ redis, prefix }) })`
 * on every instance of an app lets at most 10 requests upstream at once across all of them, where an in-process
 * `limit({ concurrency: 10 })` lets 10 per instance through.
 *
 * Each slot is a lease: a member of a sorted set scored by the time its lease ends, on Redis's clock (`TIME`, so
 * instances whose clocks disagree agree on the leases). Taking a slot first removes the lapsed leases, so the
 * slots of an instance that crashed (killed, hung, partitioned away) come back after at most `lease`; a live
 * instance renews its leases every `lease / 3`.
 *
 * **Keys written** (one, whatever the load):
 *
 * | key | type | members | expiry |
 * |---|---|---|---|
 * | `<prefix>slots` | sorted set | `<instance id>:<n>`, a random id per store object and a counter (no request data); score: the lease's end in ms on Redis's clock | `PEXPIRE` `lease` after each take and renewal: gone when nobody has held a slot for `lease` |
 *
 * - **Take** (Lua, atomic): remove the members whose lease has ended, count the rest, add one if fewer than
 *   `limit`. One round trip. **Give back**: `ZREM` of the member. **Renew** (Lua): one call for all the
 *   slots this instance holds; a member found gone (its lease lapsed during a long pause, or Redis restarted
 *   empty) is written back, because its request still runs (counted in `restored`).
 * - **Waking**: `limit()` polls, with backoff, rather than waiting for a pub/sub message on release. A lapsed
 *   lease sends no message, so polling is needed anyway; pub/sub would need a second connection in subscriber
 *   mode that the store would have to open behind the app's back; a message lost during a reconnect would strand
 *   the waiters. Each `limit()` has at most one ask outstanding, so Redis sees at most one take per instance per
 *   poll interval, whatever the queue length; a slot freed on the same instance is asked for at once.
 * - **Faults never fail a request**: while Redis is unreachable or slow (`timeout`), a take rejects and
 *   `limit()` starts the request on its in-process count (at most `concurrency` per instance), counts it in
 *   `stats().storeFallbacks`, and asks Redis again for the next request; `onError` hears of the first
 *   failure of an outage. A give-back that fails is left to lapse with its lease.
 *
 * The client is the app's: the store never connects, disconnects or quits it. Redis Cluster: the one key lives in
 * one hash slot, so it works unchanged.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a missing or wrong client, an empty prefix, a
 * `lease` or `timeout` that is not a positive integer, or a lease shorter than 3 × `timeout` (renewals could not
 * keep up).
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { limit, sseTransport, withMiddleware } from 'rxllm';
 * import { redisConcurrencyStore } from 'rxllm/redis';
 *
 * const redis = new Redis(process.env.REDIS_URL!);
 * const slots = limit({ concurrency: 10, store: redisConcurrencyStore({ redis, prefix: 'myapp:llm:limit:' }) });
 * const llm = withMiddleware(sseTransport({ baseURL }), slots); // at most 10 upstream across every instance
 * ```
 * @see limit
 */
export function redisConcurrencyStore(config: RedisConcurrencyStoreConfig): RedisConcurrencyStore {
  const { redis, prefix, lease, timeout, scheduler, onError } = validateConfig('redisConcurrencyStore', configSchema, config);
  const key = `${prefix}slots`;
  const calls = guardedCalls(
    'redisConcurrencyStore',
    redis,
    timeout,
    scheduler,
    onError ?? ((error: RxllmError) => console.warn(error.message)),
    'Requests start on this instance\'s in-process limit meanwhile.',
  );
  const take = luaScript(redis, TAKE);
  const renew = luaScript(redis, RENEW);
  const instance = randomUUID();
  const held = new Set<string>();
  const counts = { acquired: 0, refused: 0, restored: 0 };
  let taken = 0;
  let renewals: Subscription | undefined;

  // One timer for every held slot, running only while there is one: nothing is scheduled on an idle instance.
  const renewLater = (): void => {
    // A client the app has closed (`quit()`, `disconnect()`) never comes back: stop renewing, let the leases lapse.
    if (renewals !== undefined || held.size === 0 || redis.status === 'end') return;
    renewals = scheduler.schedule(() => {
      renewals = undefined;
      if (held.size === 0) return;
      calls
        .run('renew', () => renew([key], [lease, ...held]))
        .then(
          (written) => (counts.restored += Number(written)),
          () => undefined, // Counted and reported by guardedCalls; the next renewal tries again.
        )
        .finally(renewLater);
    }, lease / 3);
  };

  return {
    acquire: (limit) => {
      const member = `${instance}:${++taken}`;
      let command: Promise<unknown> | undefined;
      const answer = calls.run('take a slot', () => (command = take([key], [limit, lease, member])));
      // A take that timed out may still win its slot in Redis afterwards: give that slot straight back, or it
      // would count against the limit for a whole lease while its request runs on the in-process count.
      answer.catch(() =>
        command?.then(
          (won) => {
            if (Number(won) === 1) calls.run('give a late slot back', () => redis.zrem(key, member)).catch(() => undefined);
          },
          () => undefined,
        ),
      );
      return answer.then((won) => {
        if (Number(won) !== 1) {
          counts.refused++;
          return undefined;
        }
        counts.acquired++;
        held.add(member);
        renewLater();
        const slot: ConcurrencySlot = {
          release: () => {
            if (!held.delete(member)) return;
            if (held.size === 0) {
              renewals?.unsubscribe();
              renewals = undefined;
            }
            // A give-back that fails lapses with its lease; nobody waits on it.
            calls.run('give a slot back', () => redis.zrem(key, member)).catch(() => undefined);
          },
        };
        return slot;
      });
    },
    stats: () => ({ held: held.size, ...counts, errors: calls.errors }),
  };
}

/** KEYS[1] the set; ARGV: limit, lease ms, member. 1 when the member took a slot, 0 when all were taken. */
const TAKE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

/** KEYS[1] the set; ARGV: lease ms, members... Extends every member's lease; returns how many were gone and written back. */
const RENEW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lease = tonumber(ARGV[1])
local written = 0
for i = 2, #ARGV do
  written = written + redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], lease)
return written
`;

const positiveInt = s.number().int().positive();
const configSchema = s
  .strictObject({
    redis: redisOrClusterSchema(['evalsha', 'eval', 'zrem']),
    prefix: s.string().min(1, 'a non-empty key prefix, such as "myapp:llm:limit:"'),
    lease: positiveInt.default(15_000),
    timeout: positiveInt.default(500),
    onError: functionSchema<(error: RxllmError) => void>('a function (error) => void').optional(),
    scheduler: schedulerSchema.default(() => asyncScheduler),
  })
  .refine((c) => c.lease >= 3 * c.timeout, { message: 'lease must be at least 3 × timeout, so that renewals (every lease / 3) land before it lapses', path: ['lease'] });
