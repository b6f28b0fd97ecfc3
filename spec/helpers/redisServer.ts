/*
 * A real redis-server for the rxllm/redis specs: started on a free loopback port with a temporary directory and
 * no persistence, stopped by pid (SIGTERM, then SIGKILL after a bound). In CI (CI=true) a missing redis-server is
 * a failure (.ci/install-redis installs it); elsewhere the specs skip with a note.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
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

/** Starts one; `args` are added to redis-server's command line (e.g. a cluster node's `--cluster-enabled yes`). */
export async function startRedisServer(args: readonly string[] = []): Promise<RedisServer> {
  const binary = redisServerBinary();
  if (!binary) throw new Error('redis-server is not installed: run .ci/install-redis (apt-get install -y redis-server).');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-redis-'));
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    const started = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
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
