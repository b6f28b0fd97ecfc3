/*
 * A real redis-server for the rxllm/redis specs: started on a free loopback port with a temporary directory and
 * no persistence, stopped by pid (SIGTERM, then SIGKILL after a bound). In CI (CI=true) a missing redis-server is
 * a failure (.ci/install-redis installs it); elsewhere the specs skip with a note.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { Redis, type RedisOptions } from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:PORT` */
  url: string;
  /** Stops the server (by pid), waiting at most `boundMs` before SIGKILL: Redis going away mid-run. */
  stop(boundMs?: number): Promise<void>;
  /** Starts it again on the same port (after stop()); the data is gone (no persistence). */
  restart(): Promise<void>;
  /** Stops it and removes its directory (afterAll). */
  close(): Promise<void>;
}

/** The redis-server binary, or undefined when none is installed. */
export function redisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

/** `describe` when redis-server is there or in CI (where its absence must fail), else `describe.skip`. */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerBinary() || process.env.CI === 'true') describe(name, body);
  else describe.skip(`${name} (redis-server is not installed: .ci/install-redis)`, body);
}

export async function startRedisServer(): Promise<RedisServer> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('redis-server is not installed: run .ci/install-redis (apt-get install -y redis-server).');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-redis-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const started = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = started;
    let stderr = '';
    started.stderr?.on('data', (part: Buffer) => (stderr += part.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (started.exitCode !== null) throw new Error(`redis-server exited (${started.exitCode}) before accepting connections: ${stderr}`);
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new Error(`redis-server did not accept connections on port ${port} within 10 s: ${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const stop = async (boundMs = 5_000): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
    process.kill(running.pid!, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), boundMs)));
    if ((await Promise.race([exited, bound])) === 'late') {
      process.kill(running.pid!, 'SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
  };
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1');
  });
}
