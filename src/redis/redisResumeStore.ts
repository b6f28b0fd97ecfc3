import type { Cluster, Redis } from 'ioredis';
import { asyncScheduler, Observable, type SchedulerLike } from 'rxjs';
import * as s from '../internal/check.js';
import { isFinalResumeEvent, type ResumeEvent, type ResumeStore } from '../cache/ResumeStore.js';
import { RxllmError } from '../core/errors.js';
import { functionSchema, schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { sha256 } from '../internal/sha256.js';
import { redisOrClusterSchema } from './redisClientSchema.js';
import { guardedCalls } from './guardedCalls.js';

/** Options for {@link redisResumeStore}. */
export interface RedisResumeStoreConfig {
  /**
   * A connected (or connecting) ioredis client the app already has: `new Redis(url)`. Claims, appends and
   * replays go on it; following a live stream blocks (`XREAD BLOCK`), so each reader that follows one opens
   * its own connection with `redis.duplicate()` and closes it when done. The store never closes `redis`.
   */
  redis: Redis | Cluster;
  /** Start of every key the store writes, e.g. `'myapp:resume:'`. Required: a shared Redis holds other data. */
  prefix: string;
  /**
   * How long a stream's keys live after its last event (or after its claim, until the first), in milliseconds:
   * a finished stream can be replayed this long; a reader whose stream stops getting events (its instance
   * died) ends with `incomplete-stream` once the keys expire. @defaultValue 300000 (5 minutes)
   */
  ttl?: number;
  /**
   * Most milliseconds a claim, an append or a replay may take before it counts as a failure (`timeout`).
   * A failed claim streams without resume; a failed append stops the stream's appends. @defaultValue 500
   */
  timeout?: number;
  /**
   * How long one `XREAD BLOCK` of a following reader waits before it checks that the stream still exists, in
   * milliseconds. @defaultValue 2000
   */
  blockMs?: number;
  /**
   * Called once when the store starts failing (Redis gone, a timeout), and not again until a call has
   * succeeded: one line per outage, not one per event. @defaultValue `console.warn` of the error's message
   */
  onError?: (error: RxllmError) => void;
  /** Clock for `timeout`. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
}

/** Counts kept by a {@link redisResumeStore} (per store object, so per instance; not shared through Redis). */
export interface RedisResumeStoreStats {
  /** Calls that failed: Redis unreachable, a timeout, a command error, a value that is not one of ours. */
  errors: number;
  /** Streams that ran without resume because their claim failed (Redis down): their clients cannot resume them. */
  unresumable: number;
}

/** A {@link ResumeStore} in Redis, with its own counts. */
export interface RedisResumeStore extends ResumeStore {
  /** This store object's counts (this instance only). */
  stats(): RedisResumeStoreStats;
}

/**
 * Resumable Server-Sent Events across many instances: `toServerSentEvents(source, res, { resume: { store:
 * redisResumeStore({ redis, prefix }), streamId } })` on every instance. The instance that gets a stream id
 * first runs the source and appends every event to a Redis Stream; a client that reconnects with
 * `Last-Event-ID` to any instance reads the events after that id from Redis, then follows the live rest.
 *
 * **Keys written** (per stream; `<h>` is the SHA-256 of the stream id, so no app data is in a key, and the
 * braces put both keys of a stream in one Redis Cluster hash slot):
 *
 * | key | type | value | expiry |
 * |---|---|---|---|
 * | `<prefix>{<h>}:claim` | string | `"1"`: set with `SET NX` by the instance that runs the stream | `PX ttl`, renewed by each append |
 * | `<prefix>{<h>}:events` | stream | one entry per event, id `0-<event id>`, fields `e` (event name, `""` for none) and `d` (data) | `PEXPIRE ttl`, renewed by each append |
 *
 * - **claim()**: `SET <claim> 1 NX PX ttl`; `true` for the one instance that set it.
 * - **append()**: one pipeline per batch: `XADD <events> 0-<id> e <name> d <data>` for each event, then
 *   `PEXPIRE` of both keys. The entry ids are the event ids, so Redis itself refuses an append out of order.
 * - **read()**: `XRANGE` from the event after `afterId` on the app's client (a finished stream is replayed
 *   with no other connection), then, for a live stream, `XREAD BLOCK blockMs` on a duplicate connection
 *   from the last id seen (no gap, no repeat), until the `done` or `error` event; between blocks it checks
 *   that the stream still exists, so a stream whose instance died ends once its keys expire. It errors with
 *   `incomplete-stream` for a stream Redis does not hold.
 * - **Faults never fail a request.** While the client is not connected a call fails at once with
 *   `connection-lost`; a call longer than `timeout` fails with `timeout`. `toServerSentEvents` then streams
 *   without resume (counted in `unresumable`) or, for a reconnecting client, ends with an `error` event.
 *   `onError` hears of the first failure of an outage; the store works again by itself once Redis is back.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for a missing or wrong client, an empty prefix,
 * or a `ttl`, `timeout` or `blockMs` that is not a positive integer.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * import { toServerSentEvents } from 'rxllm/node';
 * import { redisResumeStore } from 'rxllm/redis';
 *
 * const store = redisResumeStore({ redis: new Redis(process.env.REDIS_URL!), prefix: 'myapp:resume:', ttl: 10 * 60_000 });
 * // GET /answers/:id on every instance: the first request runs the model, a reconnect anywhere resumes it
 * toServerSentEvents(answer$(id), res, { resume: { store, streamId: id } });
 * ```
 */
export function redisResumeStore(config: RedisResumeStoreConfig): RedisResumeStore {
  const options = validateConfig('redisResumeStore', configSchema, config);
  const { redis, prefix, ttl, timeout, blockMs, scheduler } = options;
  const onError = options.onError ?? ((error: RxllmError) => console.warn(error.message));
  let unresumable = 0;
  const calls = guardedCalls('redisResumeStore', redis, timeout, scheduler, onError, 'Streams go on without resume meanwhile.');
  const run = calls.run;

  const keysOf = (streamId: string) => {
    const slot = `${prefix}{${sha256(streamId)}}`;
    return { claim: `${slot}:claim`, events: `${slot}:events` };
  };

  return {
    claim: (streamId) => {
      const keys = keysOf(streamId);
      return run(`claim of ${keys.claim}`, async () => (await redis.set(keys.claim, '1', 'PX', ttl, 'NX')) === 'OK').catch((error: unknown) => {
        unresumable++;
        throw error;
      });
    },
    append: (streamId, events) => {
      const keys = keysOf(streamId);
      return run(`append to ${keys.events}`, async () => {
        const pipeline = redis.pipeline();
        for (const event of events) pipeline.xadd(keys.events, `0-${event.id}`, 'e', event.event ?? '', 'd', event.data);
        pipeline.pexpire(keys.events, ttl).pexpire(keys.claim, ttl);
        for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
      });
    },
    read: (streamId, afterId) =>
      new Observable<ResumeEvent>((subscriber) => {
        const keys = keysOf(streamId);
        let follower: Redis | Cluster | undefined;
        let last = afterId;
        /** Emits `entries`; true once the final event went out. */
        const emit = (entries: unknown): boolean => {
          for (const event of decodeEntries(entries, keys.events)) {
            if (event.id <= last) {
              // The client saw the final event already (it reconnected after `done`): nothing more will come.
              if (isFinalResumeEvent(event)) {
                subscriber.complete();
                return true;
              }
              continue;
            }
            last = event.id;
            subscriber.next(event);
            if (isFinalResumeEvent(event)) {
              subscriber.complete();
              return true;
            }
          }
          return false;
        };
        const exists = () => run(`read of ${keys.events}`, () => redis.exists(keys.claim, keys.events));
        const follow = async (): Promise<void> => {
          if ((await exists()) === 0) throw notHeld(streamId);
          // From the event the client saw last (when it has one), so a reconnect after the final event ends at once.
          const replay = await run(`read of ${keys.events}`, () => redis.xrange(keys.events, `0-${Math.max(afterId, 1)}`, '+'));
          if (subscriber.closed || emit(replay)) return;
          // Live: block on a connection of our own, never on the app's client.
          // A Cluster's duplicate is a Cluster (its XREAD goes to the stream's node); its per-node options are the app's.
          follower = redis.isCluster ? (redis as Cluster).duplicate() : (redis as Redis).duplicate({ maxRetriesPerRequest: 1 });
          follower.on('error', () => undefined); // failures reach us through the commands
          while (!subscriber.closed) {
            const reply = await blocking(follower, keys.events, last, blockMs, blockMs + timeout, scheduler);
            if (subscriber.closed) return;
            if (reply === null) {
              // Nothing for blockMs: is the stream still there, or did its instance die and its keys expire?
              if ((await exists()) === 0) throw expired(streamId, ttl);
              continue;
            }
            if (emit(streamEntries(reply, keys.events))) return;
          }
        };
        follow().catch((error: unknown) => {
          if (subscriber.closed) return;
          subscriber.error(error instanceof RxllmError ? error : new RxllmError('connection-lost', `redisResumeStore: following ${keys.events} failed: ${messageOf(error)}.`, { cause: error }));
        });
        return () => {
          follower?.disconnect();
        };
      }),
    stats: () => ({ errors: calls.errors, unresumable }),
  };
}


/** One `XREAD COUNT 500 BLOCK` on `client`, bounded by `boundMs` (the block itself plus the command timeout). */
function blocking(client: Redis | Cluster, key: string, after: number, blockMs: number, boundMs: number, scheduler: SchedulerLike): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = scheduler.schedule(
      () => reject(new RxllmError('timeout', `redisResumeStore: XREAD BLOCK on ${key} did not answer within ${boundMs} ms; Redis is unreachable or slow.`, { limit: 'total' })),
      boundMs,
    );
    client.call('XREAD', 'COUNT', '500', 'BLOCK', String(blockMs), 'STREAMS', key, `0-${after}`).then(
      (reply) => {
        timer.unsubscribe();
        resolve(reply);
      },
      (cause: unknown) => {
        timer.unsubscribe();
        reject(cause);
      },
    );
  });
}

/** The entries of `key` in an XREAD reply: `[[key, entries]]` (RESP2), or `[key, entries]` / `{ key: entries }` (RESP3 maps). */
function streamEntries(reply: unknown, key: string): unknown {
  if (Array.isArray(reply)) {
    if (reply[0] === key) return reply[1];
    const found = (reply as unknown[]).find((pair) => Array.isArray(pair) && pair[0] === key) as unknown[] | undefined;
    return found?.[1] ?? [];
  }
  if (typeof reply === 'object' && reply !== null) return (reply as Record<string, unknown>)[key] ?? [];
  return [];
}

/** Stream entries (`[id, [field, value, ...]]`) as events; anything else is not ours. */
function decodeEntries(entries: unknown, key: string): ResumeEvent[] {
  if (!Array.isArray(entries)) throw notOurs(key);
  return entries.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) throw notOurs(key);
    const match = /^0-(\d+)$/.exec(entry[0]);
    const fields = entry[1] as unknown[];
    const field = (name: string): unknown => {
      const at = fields.indexOf(name);
      return at >= 0 && at % 2 === 0 ? fields[at + 1] : undefined;
    };
    const [event, data] = [field('e'), field('d')];
    if (!match || typeof event !== 'string' || typeof data !== 'string') throw notOurs(key);
    return event === '' ? { id: Number(match[1]), data } : { id: Number(match[1]), event, data };
  });
}

function notOurs(key: string): RxllmError {
  return new RxllmError('malformed-event', `redisResumeStore: ${key} holds entries that are not events of a resumable stream; something else writes under this prefix. Give the store a prefix of its own.`);
}

function notHeld(streamId: string): RxllmError {
  return new RxllmError(
    'incomplete-stream',
    `redisResumeStore: no stream ${JSON.stringify(streamId)} in Redis: it expired (ttl), was never started, or ran while Redis was unreachable (without resume). Ask again.`,
  );
}

function expired(streamId: string, ttl: number): RxllmError {
  return new RxllmError(
    'incomplete-stream',
    `redisResumeStore: stream ${JSON.stringify(streamId)} expired before its end: no event came for ${ttl} ms (the instance running it stopped, or lost Redis). Ask again.`,
  );
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

const positiveInt = s.number().int().positive();
const configSchema = s.strictObject({
  redis: redisOrClusterSchema(['set', 'exists', 'xrange', 'xadd', 'pexpire', 'pipeline', 'duplicate', 'call']),
  prefix: s.string().min(1, 'a non-empty key prefix, such as "myapp:resume:"'),
  ttl: positiveInt.default(300_000),
  timeout: positiveInt.default(500),
  blockMs: positiveInt.default(2000),
  onError: functionSchema<(error: RxllmError) => void>('a function (error) => void').optional(),
  scheduler: schedulerSchema.default(() => asyncScheduler),
});
