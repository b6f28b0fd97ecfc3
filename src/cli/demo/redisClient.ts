// The one module of the CLI that loads ioredis, and only by a dynamic import when the scale-out section runs:
// ioredis is an optional peer of rxllm, so `rxllm demo` must start (and every other section run) without it.
// .dependency-cruiser.cjs allows this file, and no other outside src/redis/, to import it.
import type { Redis } from 'ioredis';

export type { Redis };

/** The ioredis client class. */
export type RedisClass = typeof Redis;

/**
 * The ioredis client class, or undefined when ioredis is not installed. Rejects for any other failure to load
 * it (a broken install), which should not pass for "not installed".
 */
export async function loadIoredis(): Promise<RedisClass | undefined> {
  try {
    const module = await import('ioredis');
    return module.Redis;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if ((code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') && String(error).includes('ioredis')) return undefined;
    throw error;
  }
}

/**
 * A client for `url` that answered a PING within `boundMs`, or why it did not (the client is then closed).
 * Never rejects. The client makes one attempt per command and gives up reconnecting after a few tries, so a
 * Redis that misbehaves later fails commands quickly (the rxllm/redis stores then fall back) instead of
 * holding them.
 */
export async function connectRedis(RedisClient: RedisClass, url: string, boundMs: number): Promise<{ redis: Redis } | { unreachable: string }> {
  const redis = new RedisClient(url, { maxRetriesPerRequest: 1, connectTimeout: boundMs, retryStrategy: (times) => (times > 3 ? null : 200) });
  // ioredis emits 'error' on every failed (re)connect; the stores report an outage once through their onError.
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const unreachable = await Promise.race([
    redis.ping().then(
      () => undefined,
      (error: unknown) => (error instanceof Error ? error.message : String(error)),
    ),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${boundMs / 1000} s`), boundMs))),
  ]);
  clearTimeout(timer);
  if (unreachable === undefined) return { redis };
  redis.disconnect();
  return { unreachable };
}
