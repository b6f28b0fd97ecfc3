/**
 * Entry point "rxllm/redis": stores that let many app instances share state through the Redis they already run.
 * ioredis is an optional peer dependency: only this entry imports it.
 *
 * @module rxllm/redis
 */
export { redisCacheStore, type RedisCacheStore, type RedisCacheStoreConfig, type RedisCacheStoreStats } from './redisCacheStore.js';
export { redisInFlight, type RedisInFlight, type RedisInFlightConfig, type RedisInFlightStats } from './redisInFlight.js';
