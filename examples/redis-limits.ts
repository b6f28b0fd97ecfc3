/**
 * Many instances, one budget: two "app instances" (two ioredis clients, two middleware stacks, as two processes
 * behind a load balancer would have) share a concurrency limit and a provider rate limit through Redis, with
 * `redisConcurrencyStore` and `redisRateLimiter` from rxllm/redis, against the simulator's HTTP server, whose own
 * count of requests in flight shows the limit held across both.
 *
 *   redis-server --port 6390 --save '' &            # or any Redis you run
 *   REDIS_URL=redis://127.0.0.1:6390 npx ts-node examples/redis-limits.ts
 */
import { Redis } from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { limit, type LlmRequest, rateLimit, sseTransport, withMiddleware } from 'rxllm';
import { startSimulatorServer } from 'rxllm/node';
import { redisConcurrencyStore, redisRateLimiter } from 'rxllm/redis';

const prefix = 'example:limits:';
const ask = (n: number): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Summarize item ${n}` }], max_tokens: 50, rxllm_sim: 'ttft=80,tokens=10' });

async function main(): Promise<void> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const server = await startSimulatorServer({ seed: 7 });
  const clients = [new Redis(url, { maxRetriesPerRequest: 1 }), new Redis(url, { maxRetriesPerRequest: 1 })];
  try {
    await Promise.all(clients.map((redis) => redis.ping())).catch((error: unknown) => {
      throw new Error(`no Redis at ${url} (${String(error)}): start one (redis-server --port 6390) and set REDIS_URL`);
    });

    // 1. At most 3 requests upstream at once across both instances (in-process limits would allow 3 each).
    const instances = clients.map((redis) => {
      const slots = limit({ concurrency: 3, store: redisConcurrencyStore({ redis, prefix: `${prefix}slots:` }) });
      return { slots, llm: withMiddleware(sseTransport({ baseURL: server.baseURL, apiKey: 'unused' }), slots) };
    });
    await Promise.all(instances.flatMap(({ llm }, i) => Array.from({ length: 10 }, (_, n) => lastValueFrom(llm(ask(i * 10 + n)).pipe(toArray())))));
    const { completed, peakInFlight } = server.stats();
    console.log(`concurrency: 2 instances × 10 requests, limit 3 shared: the server answered ${completed} with at most ${peakInFlight} in flight at once`);
    console.log('instance A waited for shared slots', instances[0]!.slots.stats().storeRefusals, 'times; fallbacks', instances[0]!.slots.stats().storeFallbacks);

    // 2. 6000 tokens a minute for the whole fleet. Each request is estimated at its prompt plus max_tokens
    //    (~1012): five fit in the shared bucket at once, the sixth waits for it to refill (100 tokens a second).
    const paced = clients.map((redis) => {
      const limiter = redisRateLimiter({ redis, prefix: `${prefix}rate:`, requestsPerMinute: 600, tokensPerMinute: 6000, fallbackShare: 1 / 2 });
      const rate = rateLimit({ limiter });
      return { rate, llm: withMiddleware(sseTransport({ baseURL: server.baseURL, apiKey: 'unused' }), rate) };
    });
    const big = (n: number): LlmRequest => ({ ...ask(n), max_tokens: 1000 });
    await Promise.all(paced.flatMap(({ llm }, i) => [0, 1, 2].map((n) => lastValueFrom(llm(big(100 + i * 3 + n)).pipe(toArray())))));
    const waits = paced.map(({ rate }) => rate.stats());
    const slowest = Math.max(...waits.map((stats) => stats.wait?.max ?? 0));
    console.log(`rate: 2 instances × 3 requests, 6000 tokens a minute shared: ${waits[0]!.paced + waits[1]!.paced} of 6 waited, the longest ${slowest.toFixed(0)} ms`);

    for (const key of (await clients[0]!.keys(`${prefix}*`)).sort()) {
      console.log(`key ${key}: ${await clients[0]!.type(key)}, expires in ${await clients[0]!.pttl(key)} ms`);
    }
  } finally {
    // The stores never close a client: the app does.
    await Promise.all(clients.map((redis) => redis.quit().catch(() => redis.disconnect())));
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
