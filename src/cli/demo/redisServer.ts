// A throwaway redis-server: the demo's scale-out section starts one when REDIS_URL is not set, and the rxllm/redis
// specs start theirs with it (spec/helpers/redisServer.ts). Internal to the CLI: the library never runs a server.
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** A redis-server started by {@link startRedisServer}. */
export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:PORT` */
  url: string;
  /** Stops the server (by pid), waiting at most `boundMs` before SIGKILL: Redis going away mid-run. */
  stop(boundMs?: number): Promise<void>;
  /** Starts it again on the same port (after stop()); the data is gone (no persistence). */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
  /**
   * Stops it at once (SIGKILL by pid) and removes its directory, synchronously: for a process that is
   * exiting (an `exit` handler, Ctrl+C), where no promise would settle.
   */
  killNow(): void;
}

/** How long a start may take before it fails (a loaded machine, a slow disk). */
const START_BOUND_MS = 10_000;

/**
 * The redis-server executable on `path` (a PATH-style list of folders), or undefined when none is there.
 * Searched here rather than by a shell, so an empty or missing PATH finds nothing.
 */
export function findRedisServer(path: string | undefined = process.env['PATH']): string | undefined {
  for (const folder of (path ?? '').split(delimiter)) {
    if (!folder) continue;
    const candidate = join(folder, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // Not here: the next folder.
    }
  }
  return undefined;
}

/**
 * Starts `binary` (by default the redis-server on PATH) on a free loopback port, with a temporary directory and
 * no persistence (`--save '' --appendonly no`). Resolves once it accepts connections; rejects when it exits
 * first or does not accept them within 10 s (the process is then killed). `args` are added to its command line
 * (e.g. a cluster node's `--cluster-enabled yes`).
 */
export async function startRedisServer(
  binary: string | undefined = findRedisServer(),
  args: readonly string[] = [],
): Promise<RedisServer> {
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
    // A missing or unrunnable binary reports here, not as a throw; exitCode stays null, so stop polling on it too.
    let spawnError: Error | undefined;
    started.once('error', (error) => (spawnError = error));
    const deadline = Date.now() + START_BOUND_MS;
    while (!(await accepts(port))) {
      if (spawnError) throw new Error(`redis-server could not start: ${spawnError.message}`);
      if (started.exitCode !== null) throw new Error(`redis-server exited (${started.exitCode}) before accepting connections: ${stderr}`);
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        throw new Error(`redis-server did not accept connections on port ${port} within ${START_BOUND_MS / 1000} s: ${stderr}`);
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

  await start().catch((error: unknown) => {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  });
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop,
    restart: start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    },
    killNow: () => {
      const running = child;
      child = undefined;
      if (running && running.exitCode === null && running.signalCode === null) {
        try {
          process.kill(running.pid!, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
      rmSync(dir, { recursive: true, force: true });
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
