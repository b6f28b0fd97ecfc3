import { connectRedis, loadIoredis } from '../../../src/cli/demo/redisClient';
import { describeWithRedis, useRedisServer } from '../../helpers/redisServer';

describe('loadIoredis', () => {
  it('loads the ioredis client class (installed here as a dev dependency)', async () => {
    const { Redis } = await import('ioredis');
    expect(await loadIoredis()).toBe(Redis);
  });
});

describe('connectRedis', () => {
  it('says why, within its bound, when nothing answers; never rejects', async () => {
    const Redis = (await loadIoredis())!;
    const startedAt = Date.now();
    const result = await connectRedis(Redis, 'redis://127.0.0.1:1', 2_000);
    expect(result).toEqual({ unreachable: expect.any(String) });
    expect(Date.now() - startedAt).toBeLessThan(3_000);
  });
});

describeWithRedis('connectRedis with a redis-server', () => {
  const redis = useRedisServer();

  it('returns a client that answered a PING', async () => {
    const result = await connectRedis((await loadIoredis())!, redis.url, 3_000);
    if (!('redis' in result)) throw new Error(result.unreachable);
    try {
      expect(await result.redis.set('k', 'v')).toBe('OK');
    } finally {
      result.redis.disconnect();
    }
  });
});
