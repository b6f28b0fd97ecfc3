/*
 * A real redis-server for the rxllm/redis specs: started on a free loopback port with a temporary directory and
 * no persistence, stopped by pid (SIGTERM, then SIGKILL after a bound); the demo's scale-out section starts its own
 * with the same code (src/cli/demo/redisServer.ts). In CI (CI=true) a missing redis-server is a failure
 * (.ci/install-redis installs it); elsewhere the specs skip with a note.
 */
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

/**
 * A redis-server for the enclosing `describe`: started in `beforeAll`, closed in `afterAll`. Returns a getter
 * (the server exists only once `beforeAll` has run).
 */
export function redisServerForSuite(): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  return () => {
    if (!server) throw new Error('redisServerForSuite(): the server starts in beforeAll; read it inside a test');
    return server;
  };
}
