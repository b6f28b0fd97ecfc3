/**
 * Many instances, one cache: two "app instances" (two ioredis clients, two cache() stacks, as two processes
 * behind a load balancer would have) share answers through Redis with `redisCacheStore` from rxllm/redis.
 * Instance A asks the simulated model; instance B gets the same answer from Redis, replayed as the same events.
 *
 *   redis-server --port 6390 --save '' &            # or any Redis you run
 *   REDIS_URL=redis://127.0.0.1:6390 npx ts-node examples/redis-cache.ts
 */
import { Redis } from 'ioredis';
import { lastValueFrom, type Observable, toArray } from 'rxjs';
import { cache, type LlmEvent, type LlmRequest, withMiddleware } from 'rxllm';
import { redisCacheStore } from 'rxllm/redis';
import { simulatedTransport } from 'rxllm/simulator';

const request: LlmRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarize: reactive pipelines start every independent call at once.' }], temperature: 0 };
const prefix = 'example:llm:';

/** One app instance: its own Redis client and its own cache() over the shared store. */
function instance(url: string) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const answers = cache({ ttl: 10 * 60_000, store: redisCacheStore({ redis, prefix, maxEntryBytes: 256 * 1024 }) });
  return { redis, answers, llm: withMiddleware(simulatedTransport({ seed: 7 }), answers) };
}

/** The events of one answer and the milliseconds it took (performance.now: the example measures, it is not operator logic). */
async function timed(events$: Observable<LlmEvent>): Promise<{ ms: number; events: LlmEvent[] }> {
  const started = performance.now();
  const events = await lastValueFrom(events$.pipe(toArray()));
  return { ms: performance.now() - started, events };
}

async function main(): Promise<void> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const a = instance(url);
  const b = instance(url);
  try {
    await Promise.all([a.redis.ping(), b.redis.ping()]).catch((error: unknown) => {
      throw new Error(`no Redis at ${url} (${String(error)}): start one (redis-server --port 6390) and set REDIS_URL`);
    });
    const first = await timed(a.llm(request));
    await new Promise((resolve) => setTimeout(resolve, 20)); // cache() writes in the background: let A's write land
    const again = await timed(b.llm(request));
    const same = JSON.stringify(first.events) === JSON.stringify(again.events);
    console.log(`instance A: ${first.ms.toFixed(0)} ms from the model; instance B: ${again.ms.toFixed(1)} ms from Redis (same events: ${same})`);
    console.log('A', a.answers.stats());
    console.log('B', b.answers.stats());
    for (const key of await a.redis.keys(`${prefix}*`)) {
      console.log(`key ${key}: ${await a.redis.type(key)}, expires in ${await a.redis.pttl(key)} ms, ${await a.redis.strlen(key)} bytes`);
    }
    await a.answers.clear(); // removes the keys under the prefix, nothing else
  } finally {
    // The store never closes a client: the app does.
    a.redis.disconnect();
    b.redis.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
