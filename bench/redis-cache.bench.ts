// A cache hit over Redis against the in-process store, in the same run (issue 14's goal: a 500-token answer
// served from redisCacheStore in ≤ 2 ms at the median). Each sample is one hit, subscribe to complete, the request
// key included; the two stores are sampled in alternating rounds so both see the same machine noise. Also counts
// the Redis commands a hit and a miss cost (INFO commandstats). Redis is a real redis-server on a free loopback port
// (started here, stopped at the end); the client talks to it over TCP like an app's would.
// Writes bench/results/redis-cache.json. Run: npm run bench -- redis-cache
import { Redis } from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import type { LlmRequest } from '../src/core/request';
import { type Transport, withMiddleware } from '../src/core/transport';
import { cache } from '../src/middleware/cache';
import { redisCacheStore } from '../src/redis/redisCacheStore';
import { redisServerBinary, startRedisServer } from '../spec/helpers/redisServer';
import { cannedAnswer } from './lib/cannedAnswer';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const TOKENS = 500;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 20);
const PER_ROUND = Number(process.env['BENCH_PER_ROUND'] ?? 25);

const { events: answer, transport: answering, calls: upstreamCalls } = cannedAnswer(TOKENS);
const ask: LlmRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarize the quarterly report.' }], temperature: 0 };
const now = () => Number(process.hrtime.bigint()) / 1e6;

async function hitMs(llm: Transport): Promise<number> {
  const started = now();
  const events = await lastValueFrom(llm(ask).pipe(toArray()));
  const ms = now() - started;
  if (events.length !== answer.length) throw new Error(`bench: a hit replayed ${events.length} events, not ${answer.length}`);
  return ms;
}

async function commandsOf(admin: Redis, work: () => Promise<unknown>): Promise<Record<string, number>> {
  await admin.config('RESETSTAT');
  await work();
  const info = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, count] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) if (!/^(config|info|dbsize)/.test(name!)) calls[name!] = Number(count);
  return calls;
}

async function main(): Promise<void> {
  if (!redisServerBinary()) {
    console.log('skipped: redis-server is not installed (.ci/install-redis)');
    return;
  }
  const server = await startRedisServer();
  const redis = new Redis(server.url);
  const admin = new Redis(server.url);
  try {
    const memory = withMiddleware(answering, cache());
    const shared = redisCacheStore({ redis, prefix: 'bench:cache:', maxEntryBytes: 256 * 1024 });
    const overRedis = withMiddleware(answering, cache({ store: shared }));
    // Fill both (the Redis write is asynchronous: wait until the entry is there), and count what a miss costs.
    const missCommands = await commandsOf(admin, async () => {
      await hitMs(overRedis);
      for (let waited = 0; (await admin.dbsize()) === 0; waited++) {
        if (waited > 1000) throw new Error('bench: the answer never reached Redis');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    });
    await hitMs(memory);
    const callsAfterFill = upstreamCalls();
    const bytes = await redis.strlen((await redis.keys('bench:cache:*'))[0]!);

    const samples = { memory: [] as number[], redis: [] as number[] };
    for (let r = 0; r < ROUNDS + 2; r++) {
      const order = r % 2 === 0 ? (['memory', 'redis'] as const) : (['redis', 'memory'] as const);
      for (const which of order) {
        for (let i = 0; i < PER_ROUND; i++) {
          const ms = await hitMs(which === 'memory' ? memory : overRedis);
          if (r >= 2) samples[which].push(ms); // two rounds warm up the JIT and the connection
        }
      }
    }
    if (upstreamCalls() !== callsAfterFill) throw new Error('bench: a hit went upstream');
    const hitCommands = await commandsOf(admin, () => hitMs(overRedis));

    const shape = (values: number[]) => {
      const s = summarize(values);
      return { median: round(s.median, 3), p25: round(s.p25, 3), p75: round(s.p75, 3), min: round(s.min, 3), max: round(s.max, 3), runs: s.runs };
    };
    const results = {
      tokens: TOKENS,
      storedBytes: bytes,
      hitMs: { memory: shape(samples.memory), redis: shape(samples.redis) },
      redisOverMemoryAtMedian: round(summarize(samples.redis).median / summarize(samples.memory).median, 1),
      commandsPerHit: hitCommands,
      commandsPerMissAndWrite: missCommands,
      goalMedianMs: 2,
    };
    console.log(`a ${TOKENS}-token answer (${bytes} bytes in Redis), hit subscribe→complete, median (p25–p75):`);
    console.log(`  memory store ${results.hitMs.memory.median} ms (${results.hitMs.memory.p25}–${results.hitMs.memory.p75})`);
    console.log(`  redis store  ${results.hitMs.redis.median} ms (${results.hitMs.redis.p25}–${results.hitMs.redis.p75}); goal ≤ 2 ms`);
    console.log(`Redis commands per hit ${JSON.stringify(hitCommands)}, per miss + write ${JSON.stringify(missCommands)}`);
    console.log(`written to ${writeResults('redis-cache', results)}`);
  } finally {
    redis.disconnect();
    admin.disconnect();
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
