/**
 * Entry point "rxllm/redis": stores that let many app instances share state through the Redis they already run.
 * ioredis is an optional peer dependency: only this entry imports it.
 *
 * @module rxllm/redis
 */
export { redisCacheStore, type RedisCacheStore, type RedisCacheStoreConfig, type RedisCacheStoreStats } from './redisCacheStore.js';
export { redisResumeStore, type RedisResumeStore, type RedisResumeStoreConfig, type RedisResumeStoreStats } from './redisResumeStore.js';
export {
  redisConcurrencyStore,
  type RedisConcurrencyStore,
  type RedisConcurrencyStoreConfig,
  type RedisConcurrencyStoreStats,
} from './redisConcurrencyStore.js';
export { redisRateLimiter, type RedisRateLimiter, type RedisRateLimiterConfig, type RedisRateLimiterStats } from './redisRateLimiter.js';
export {
  redisLatencySource,
  type RedisLatencySource,
  type RedisLatencySourceConfig,
  type RedisLatencySourceStats,
} from './redisLatencySource.js';
export { redisInFlight, type RedisInFlight, type RedisInFlightConfig, type RedisInFlightStats } from './redisInFlight.js';
