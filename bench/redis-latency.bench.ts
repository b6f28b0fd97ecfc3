// What the shared latency statistics (redisLatencySource from rxllm/redis) cost, against a real redis-server of
// its own (started on a free port, stopped by pid; needs `redis-server` on the PATH):
// 1. Redis operations per publish interval per instance (publish and fleet read share one round trip): the
//    commands the client sends, and the commands they run inside Redis (the read script's SMEMBERS and GETs),
//    from INFO commandstats; and per read on the hot path (route()/hedge() calling percentile()/count()): none;
// 2. bytes each instance publishes, and the round trip's duration (refresh());
// 3. the hot path: percentile() and count() on the source (fleet snapshot + own registry) against the
//    LatencyRegistry alone, in microseconds: cached (nothing changed since the last read of that key), and after a
//    record of this instance (the merge runs every time).
// Writes bench/results/redis-latency.json. Run: npm run bench -- redis-latency
import { Redis } from 'ioredis';
import { startRedisServer } from '../spec/helpers/redisServer';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { redisLatencySource, type RedisLatencySource } from '../src/redis/redisLatencySource';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const INSTANCES = Number(process.env['BENCH_INSTANCES'] ?? 3);
const STEPS = ['sentiment', 'summary', 'keywords', 'draft', 'answer'];
const MODELS = ['gpt-4o-mini@eastus', 'gpt-4o-mini@westeurope', 'gpt-4o', 'gpt-4.1'];
const SAMPLES_PER_SERIES = 200;
const INTERVAL = 100;
const INTERVALS = 30;
const READS = 100_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function filled(seed: number): LatencyRegistry {
  const registry = new LatencyRegistry({ window: { ms: 60_000 } });
  let x = seed;
  const random = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (const step of STEPS) {
    for (const [m, model] of MODELS.entries()) {
      for (let i = 0; i < SAMPLES_PER_SERIES; i++) {
        const ttft = Math.round((150 + 100 * m) * (0.5 + random()) + (random() < 0.02 ? 3_000 : 0));
        const cancelled = random() < 0.03;
        registry.record({
          step,
          model,
          start: 0,
          ...(cancelled ? {} : { firstToken: ttft }),
          end: ttft + 500,
          outcome: cancelled ? 'cancelled' : 'ok',
          outputTokens: cancelled ? 0 : 50,
          outputTokensFrom: 'counted',
          finishReasons: cancelled ? [] : ['stop'],
        });
      }
    }
  }
  return registry;
}

function record(step: string, model: string, ttft: number) {
  return { step, model, start: 0, firstToken: ttft, end: ttft + 500, outcome: 'ok' as const, outputTokens: 50, outputTokensFrom: 'counted' as const, finishReasons: ['stop' as const] };
}

function micros(reads: number, read: (i: number) => unknown): { p50: number; p99: number } {
  const samples = new Float64Array(reads);
  for (let i = 0; i < reads; i++) {
    const started = process.hrtime.bigint();
    read(i);
    samples[i] = Number(process.hrtime.bigint() - started) / 1_000;
  }
  samples.sort();
  return { p50: round(samples[Math.floor(reads * 0.5)]!, 2), p99: round(samples[Math.floor(reads * 0.99)]!, 2) };
}

function commandStats(info: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [, name, calls] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) out[name!] = Number(calls);
  return out;
}

async function main(): Promise<void> {
  const server = await startRedisServer();
  const { port } = server;
  const admin = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
  const clients: Redis[] = [];
  const sources: RedisLatencySource[] = [];
  try {
    const registries = Array.from({ length: INSTANCES }, (_, i) => filled(i + 1));
    for (const registry of registries) {
      const redis = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      clients.push(redis);
      sources.push(redisLatencySource({ redis, prefix: 'bench:', registry, publishInterval: 60_000 }));
    }
    await Promise.all(sources.map((source) => source.refresh())); // the timers' first round trips
    await sleep(50);

    // 1. Operations: INTERVALS round trips per instance, driven by hand so the count is exact.
    await admin.config('RESETSTAT');
    const roundTrips: number[] = [];
    for (let i = 0; i < INTERVALS; i++) {
      for (const source of sources) {
        const started = performance.now();
        await source.refresh();
        roundTrips.push(performance.now() - started);
      }
      await sleep(INTERVAL / 10);
    }
    const stats = commandStats(await admin.info('commandstats'));
    delete stats['config|resetstat'];
    delete stats['info'];
    const per = (calls: number | undefined) => round((calls ?? 0) / (INTERVALS * INSTANCES), 2);
    const sent = ['set', 'sadd', 'pexpire', 'eval'];
    const perInterval = Object.fromEntries(Object.entries(stats).map(([name, calls]) => [name, per(calls)]));
    const clientCommands = round(sent.reduce((sum, name) => sum + per(stats[name]), 0), 2);
    const serverCommands = round(Object.values(perInterval).reduce((sum, n) => sum + n, 0), 2);
    // The client-side share of a round trip: encoding this instance's window, decoding and merging the others'.
    const values = await Promise.all((await admin.keys('bench:latency:*:instance:*')).map((key) => admin.get(key)));
    const { decodeSeries, encodeSeries } = await import('../src/redis/latencyCodec');
    const encodeMs: number[] = [];
    const decodeMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      let started = performance.now();
      encodeSeries(registries[0]!.windowTtft());
      encodeMs.push(round(performance.now() - started, 3));
      started = performance.now();
      for (const value of values.slice(1)) decodeSeries(value!);
      decodeMs.push(round(performance.now() - started, 3));
    }
    const bytes = await Promise.all((await admin.keys('bench:latency:*:instance:*')).map((key) => admin.strlen(key)));

    // 3. The hot path, on the last instance: what route() and hedge() call per request.
    const source = sources.at(-1)!;
    const registry = registries.at(-1)!;
    await admin.config('RESETSTAT');
    const queries = STEPS.flatMap((step) => MODELS.map((model) => ({ step, model, p: 95 })));
    const hot = {
      sourcePercentileStepModel: micros(READS, (i) => source.percentile(queries[i % queries.length]!)),
      registryPercentileStepModel: micros(READS, (i) => registry.percentile(queries[i % queries.length]!)),
      sourcePercentileStep: micros(READS, (i) => source.percentile({ step: STEPS[i % STEPS.length]!, p: 95 })),
      registryPercentileStep: micros(READS, (i) => registry.percentile({ step: STEPS[i % STEPS.length]!, p: 95 })),
      // A record of this instance before every read: the merge is never cached (the worst case).
      sourceRecordThenPercentile: micros(READS / 10, (i) => {
        const query = queries[i % queries.length]!;
        registry.record(record(query.step, query.model, 200 + (i % 300)));
        source.percentile(query);
      }),
      registryRecordThenPercentile: micros(READS / 10, (i) => {
        const query = queries[i % queries.length]!;
        registry.record(record(query.step, query.model, 200 + (i % 300)));
        registry.percentile(query);
      }),
      sourceCount: micros(READS, (i) => source.count(queries[i % queries.length]!)),
      registryCount: micros(READS, (i) => registry.count(queries[i % queries.length]!)),
    };
    const afterReads = commandStats(await admin.info('commandstats'));
    delete afterReads['config|resetstat'];
    delete afterReads['info'];
    const duringReads = Object.values(afterReads).reduce((sum, n) => sum + n, 0);

    const results = {
      instances: INSTANCES,
      series: STEPS.length * MODELS.length,
      samplesPerSeries: SAMPLES_PER_SERIES,
      perPublishInterval: {
        roundTrips: 1,
        clientCommands,
        serverCommands,
        byCommand: perInterval,
      },
      perRead: { redisCommands: duringReads, reads: READS * 6 + READS / 5 },
      publishedBytesPerInstance: summarize(bytes),
      roundTripMs: { ...summarize(roundTrips.map((ms) => round(ms, 2))) },
      encodeOwnWindowMs: summarize(encodeMs),
      decodeOthersMs: summarize(decodeMs),
      hotPathMicros: hot,
    };
    console.log(JSON.stringify(results, null, 2));
    console.log(`written to ${writeResults('redis-latency', results)}`);
  } finally {
    await Promise.all(sources.map((source) => source.close()));
    for (const redis of [admin, ...clients]) redis.disconnect();
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
