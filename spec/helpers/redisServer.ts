/*
 * A real redis-server for the rxllm/redis specs: started on a free loopback port with a temporary directory and
 * no persistence, stopped by pid (SIGTERM, then SIGKILL after a bound); the demo's scale-out section starts its own
 * with the same code (src/cli/demo/redisServer.ts). In CI (CI=true) a missing redis-server is a failure
 * (.ci/install-redis installs it); elsewhere the specs skip with a note.
 */
import { findRedisServer } from '../../src/cli/demo/redisServer';

export { type RedisServer, startRedisServer } from '../../src/cli/demo/redisServer';

/** The redis-server binary on this process's PATH, or undefined when none is installed. */
export function redisServerBinary(): string | undefined {
  return findRedisServer(process.env['PATH']);
}

/** `describe` when redis-server is there or in CI (where its absence must fail), else `describe.skip`. */
export function describeWithRedis(name: string, body: () => void): void {
  if (redisServerBinary() || process.env.CI === 'true') describe(name, body);
  else describe.skip(`${name} (redis-server is not installed: .ci/install-redis)`, body);
}
