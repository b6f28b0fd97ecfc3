/*
 * A real redis-server for the rxllm/redis specs: started on a free loopback port with a temporary directory and
 * no persistence, stopped by pid (SIGTERM, then SIGKILL after a bound); the demo's scale-out section starts its own
 * with the same code (src/cli/demo/redisServer.ts). In CI (CI=true) a missing redis-server is a failure
 * (.ci/install-redis installs it); elsewhere the specs skip with a note.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { findRedisServer, type RedisServer, startRedisServer } from '../../src/cli/demo/redisServer';

export { type RedisServer, startRedisServer };

/** The redis-server binary on this process's PATH, or undefined when none is installed. */
export function redisServerBinary(): string | undefined {
  return findRedisServer(process.env['PATH']);
}

/** `describe` when redis-server is there or in CI (where its absence must fail), else `describe.skip`. */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerBinary() || process.env.CI === 'true') describe(name, body);
  else describe.skip(`${name} (redis-server is not installed: .ci/install-redis)`, body);
}

/** What {@link useRedisServer} gives a spec: one redis-server for the file, its clients and its key prefixes. */
export interface RedisForSpecs {
  /** The server (from `beforeAll` on). */
  readonly server: RedisServer;
  /** `redis://127.0.0.1:PORT` (from `beforeAll` on). */
  readonly url: string;
  /** Every client `client()` made, oldest first. */
  readonly clients: readonly Redis[];
  /**
   * A new ioredis client of the server (or of `url`: a port nothing listens on), closed in `afterAll`. It retries
   * every 50 ms and fails a command after one retry, so a test that stops the server sees failures at once, and
   * an error listener keeps an outage (part of the fault tests) from being logged as unhandled.
   */
  client(url?: string, options?: RedisOptions): Redis;
  /** A key prefix that no other call in the file returns (`<stem><n>:`), so tests never see each other's keys. */
  prefix(): string;
  /** Stops the server by pid (Redis going away mid-run): {@link RedisServer.stop}. */
  stop(boundMs?: number): Promise<void>;
  /** Starts it again on the same port, with no data: {@link RedisServer.restart}. */
  restart(): Promise<void>;
  /** Runs `close` in `afterAll` before the clients close and the server stops (apps, registries, sources). */
  onClose(close: () => unknown): void;
}

/** Options for {@link useRedisServer}. */
export interface UseRedisServerOptions {
  /** The start of every `prefix()`. @defaultValue 'test' */
  prefix?: string;
  /** Options of every `client()`, over the defaults (`maxRetriesPerRequest: 1`, `retryStrategy: () => 50`). */
  clientOptions?: RedisOptions;
}

/**
 * The set-up of a spec that runs against a real Redis, once: call it at the top of a `describeWithRedis` (or
 * another `describe`) body. It registers a `beforeAll` that starts a redis-server and an `afterAll` that runs the
 * `onClose` callbacks, closes every client (bounded: a client between reconnection attempts never ends by itself)
 * and stops the server. Hooks run in the order they are declared: call it before a `beforeAll` that uses `url`.
 */
export function useRedisServer(options: UseRedisServerOptions = {}): RedisForSpecs {
  const stem = options.prefix ?? 'test';
  let started: RedisServer | undefined;
  const clients: Redis[] = [];
  const closing: (() => unknown)[] = [];
  let prefixes = 0;
  const server = (): RedisServer => {
    if (!started) throw new Error('useRedisServer(): the server starts in beforeAll; use it inside a test or a later hook.');
    return started;
  };

  beforeAll(async () => {
    started = await startRedisServer();
  });
  afterAll(async () => {
    for (const close of closing.splice(0)) await close();
    await Promise.all(clients.splice(0).map(closeClient));
    await started?.close();
  });

  return {
    get server() {
      return server();
    },
    get url() {
      return server().url;
    },
    clients,
    client: (url?: string, clientOptions?: RedisOptions): Redis => {
      const redis = new Redis(url ?? server().url, { maxRetriesPerRequest: 1, retryStrategy: () => 50, ...options.clientOptions, ...clientOptions });
      redis.on('error', () => undefined);
      clients.push(redis);
      return redis;
    },
    prefix: () => `${stem}${++prefixes}:`,
    stop: (boundMs?: number) => server().stop(boundMs),
    restart: () => server().restart(),
    onClose: (close) => {
      closing.push(close);
    },
  };
}

/** Closes a client and waits (at most 500 ms) until its socket has, so jest can exit. */
function closeClient(redis: Redis): Promise<void> {
  if (redis.status === 'end') return Promise.resolve();
  return new Promise<void>((resolve) => {
    const bound = setTimeout(resolve, 500);
    redis.once('end', () => {
      clearTimeout(bound);
      resolve();
    });
    redis.disconnect();
  });
}

