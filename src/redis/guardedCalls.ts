import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { SchedulerLike } from 'rxjs';
import { RxllmError } from '../core/errors.js';

/*
 * Internal to rxllm/redis (not exported): how the stores call Redis so that a Redis outage never fails a
 * request. Every call fails fast while the client is not connected, fails after `timeout`, and reports the first
 * failure of an outage once; the caller falls back to its in-process behaviour on any rejection.
 */

/** Client states in which a command would only queue behind a dead connection. */
const DOWN: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end']);

/**
 * Runs Redis calls for one store: `run(what, command)` rejects with an RxllmError on any failure (an RxllmError the
 * command throws itself is passed on as it is). `bounded: false` leaves out the `timeout`, for work nobody's
 * request waits on (a `clear()` that scans many keys).
 */
export interface GuardedCalls {
  run<T>(what: string, command: () => Promise<T>, bounded?: boolean): Promise<T>;
  /**
   * Records a failure of a call made outside `run` (a blocking read on a connection of the store's own): counted,
   * and reported if it is the first of an outage, as `run` does. Returns `error`.
   */
  report(error: RxllmError): RxllmError;
  /** Calls that failed since the store was made. */
  readonly errors: number;
}

export function guardedCalls(owner: string, redis: Redis | Cluster, timeout: number, scheduler: SchedulerLike, onError: (error: RxllmError) => void, fallback: string): GuardedCalls {
  let healthy = true;
  let errors = 0;
  const report = (error: RxllmError): RxllmError => {
    errors++;
    if (healthy) {
      healthy = false;
      try {
        onError(error);
      } catch {
        // A throwing onError must not turn a Redis outage into a failed request.
      }
    }
    return error;
  };
  const run = <T>(what: string, command: () => Promise<T>, bounded = true): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      // After a failure, anything but a ready client fails at once: a command sent while ioredis reconnects
      // would only wait in its offline queue, holding a request up.
      if (DOWN.has(redis.status) || (!healthy && redis.status !== 'ready')) {
        reject(new RxllmError('connection-lost', `${owner}: ${what} skipped: the Redis client is ${redis.status}, not connected. ${fallback} Check that Redis is reachable (the client reconnects by itself unless it was closed).`));
        return;
      }
      const timer = bounded
        ? scheduler.schedule(
            () => reject(new RxllmError('timeout', `${owner}: ${what} took longer than ${timeout} ms and was treated as a failure. ${fallback} Check Redis's latency, or raise \`timeout\`.`, { limit: 'total' })),
            timeout,
          )
        : undefined;
      command().then(
        (value) => {
          timer?.unsubscribe();
          resolve(value);
        },
        (cause: unknown) => {
          timer?.unsubscribe();
          reject(
            cause instanceof RxllmError
              ? cause
              : new RxllmError('connection-lost', `${owner}: ${what} failed: ${cause instanceof Error ? cause.message : String(cause)}. ${fallback}`, { cause }),
          );
        },
      );
    }).then(
      (value) => {
        healthy = true;
        return value;
      },
      (error: RxllmError) => {
        throw report(error);
      },
    );
  return {
    run,
    report,
    get errors() {
      return errors;
    },
  };
}

/**
 * A Lua script run by `EVALSHA`, sent in full (`EVAL`) only when Redis does not know it yet (first use, or after a
 * restart or `SCRIPT FLUSH`): one small request per call in the usual case.
 */
export function luaScript(redis: Redis | Cluster, source: string): (keys: readonly string[], args: readonly (string | number)[]) => Promise<unknown> {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (keys, args) => {
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(source, keys.length, ...keys, ...args);
    }
  };
}
