/**
 * Many instances, one upstream call: three "app instances" (three ioredis clients, three dedupe() stacks, as three
 * processes behind a load balancer would have) share requests in flight through Redis with `redisInFlight` from
 * rxllm/redis. Each instance gets 10 identical requests at once: the simulator server sees one call, and all 30
 * callers stream the same tokens, the followers a few milliseconds behind the owner.
 *
 *   redis-server --port 6390 --save '' &            # or any Redis you run
 *   REDIS_URL=redis://127.0.0.1:6390 npx ts-node examples/redis-single-flight.ts
 */
import { Redis } from 'ioredis';
import { lastValueFrom, type Observable, tap, toArray } from 'rxjs';
import { dedupe, type LlmEvent, type LlmRequest, sseTransport, withMiddleware } from 'rxllm';
import { startSimulatorServer } from 'rxllm/node';
import { redisInFlight } from 'rxllm/redis';

const request: LlmRequest = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Summarize: identical questions asked on many instances at once cost one model call.' }],
  temperature: 0,
};
const prefix = 'example:flight:';

/** One app instance: its own Redis client and registry, its own dedupe() over the same model endpoint. */
function instance(url: string, baseURL: string) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const flights = redisInFlight({ redis, prefix });
  return { redis, flights, llm: withMiddleware(sseTransport({ baseURL, apiKey: 'unused' }), dedupe({ registry: flights })) };
}

/** The text of one answer and when its first token came (performance.now: the example measures, it is not operator logic). */
async function answer(events$: Observable<LlmEvent>, started: number): Promise<{ text: string; firstTokenMs: number }> {
  let firstTokenMs = NaN;
  const events = await lastValueFrom(
    events$.pipe(
      tap((event) => {
        if (event.type === 'text' && Number.isNaN(firstTokenMs)) firstTokenMs = performance.now() - started;
      }),
      toArray(),
    ),
  );
  return { text: events.map((event) => (event.type === 'text' ? event.text : '')).join(''), firstTokenMs };
}

async function main(): Promise<void> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const model = await startSimulatorServer({ seed: 7 });
  const instances = [instance(url, model.baseURL), instance(url, model.baseURL), instance(url, model.baseURL)];
  try {
    await Promise.all(instances.map(({ redis }) => redis.ping())).catch((error: unknown) => {
      throw new Error(`no Redis at ${url} (${String(error)}): start one (redis-server --port 6390) and set REDIS_URL`);
    });
    const started = performance.now();
    const answers = await Promise.all(instances.flatMap(({ llm }) => Array.from({ length: 10 }, () => answer(llm(request), started))));
    const same = answers.every(({ text }) => text === answers[0]!.text);
    console.log(`3 instances × 10 identical requests: ${model.stats().requests} upstream call, ${answers.length} answers, same text: ${same}`);
    const firsts = instances.map((_, i) => Math.min(...answers.slice(i * 10, i * 10 + 10).map(({ firstTokenMs }) => firstTokenMs)));
    console.log(`first token on each instance: ${firsts.map((ms) => `${ms.toFixed(1)} ms`).join(', ')}`);
    instances.forEach(({ flights }, i) => console.log(`instance ${i + 1}`, flights.stats()));
    // What Redis holds now: the finished call's stream, kept `retain` ms for late followers, then expired by Redis.
    for (const key of await instances[0]!.redis.keys(`${prefix}*`)) {
      console.log(`key ${key}: ${await instances[0]!.redis.type(key)}, expires in ${await instances[0]!.redis.pttl(key)} ms`);
    }
  } finally {
    // The registry closes only the read connections it made; the app closes its own clients.
    for (const { redis, flights } of instances) {
      await flights.close();
      redis.disconnect();
    }
    await model.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
