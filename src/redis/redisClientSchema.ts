import type { Redis } from 'ioredis';
import * as s from '../internal/check.js';

// Internal to rxllm/redis: the `redis` option every factory here takes, checked one way.

/**
 * The schema of a factory's `redis` option: an ioredis client (anything with a string `status`) that has every
 * one of `methods`, the commands the factory uses. `note` ends the message, e.g. why a Cluster client is refused.
 */
export function redisClientSchema(methods: readonly string[], note = ''): s.Schema<Redis> {
  return s.custom<Redis>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { status?: unknown }).status === 'string' &&
      methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
    `expected an ioredis client (\`new Redis(url)\` from the ioredis package)${note}`,
  );
}
