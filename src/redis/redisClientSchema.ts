import type { Cluster, Redis } from 'ioredis';
import * as s from '../internal/check.js';

// Internal to rxllm/redis: the `redis` option every factory here takes, checked one way.

/**
 * The schema of a factory's `redis` option: an ioredis client (anything with a string `status`) that has every
 * one of `methods`, the commands the factory uses. `note` ends the message.
 */
export function redisClientSchema(methods: readonly string[], note = ''): s.Schema<Redis> {
  return clientSchema<Redis>(methods, note);
}

/**
 * {@link redisClientSchema} for a factory that takes a Redis Cluster client too (`new Cluster(nodes)`): standalone,
 * Sentinel or Cluster, with every one of `methods` (the ones both kinds of client have).
 */
export function redisOrClusterSchema(methods: readonly string[], note = ''): s.Schema<Redis | Cluster> {
  return clientSchema<Redis | Cluster>(methods, note);
}

function clientSchema<C>(methods: readonly string[], note: string): s.Schema<C> {
  return s.custom<C>(
    (value) =>
      typeof value === 'object' &&
      value !== null &&
      typeof (value as { status?: unknown }).status === 'string' &&
      methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function'),
    `expected an ioredis client (\`new Redis(url)\`, or \`new Cluster(nodes)\` where the factory accepts one, from the ioredis package)${note}`,
  );
}
