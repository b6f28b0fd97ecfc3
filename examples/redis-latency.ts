/**
 * Many instances, one view of latency: two "app instances" (two ioredis clients, two LatencyRegistry objects, as
 * two processes behind a load balancer would have) route the `fast` tier between two deployments of a simulated
 * model. Instance A serves traffic and sees deployment "eastus" slow down; instance B, which has served nothing,
 * routes away from it too, because both read `redisLatencySource` from rxllm/redis.
 *
 *   redis-server --port 6390 --save '' &            # or any Redis you run
 *   REDIS_URL=redis://127.0.0.1:6390 npx ts-node examples/redis-latency.ts
 */
import { Redis } from 'ioredis';
import { lastValueFrom, toArray } from 'rxjs';
import { type LlmRequest, measure, route, type RouteDecision, withMiddleware } from 'rxllm';
import { LatencyRegistry } from 'rxllm/metrics';
import { redisLatencySource } from 'rxllm/redis';
import { simulatedTransport } from 'rxllm/simulator';

const prefix = `example:${process.pid}:`;
const publishInterval = 250; // short for the example; the default is 5 s
const request: LlmRequest = { model: 'fast', messages: [{ role: 'user', content: 'Summarize: reactive pipelines start every independent call at once.' }] };

/** Two simulated deployments of one model, each with a fixed time to first token (ms) as this instance sees it. */
const deployments = (ttft: { eastus: number; westeurope: number }) =>
  simulatedTransport({
    seed: 3,
    profiles: {
      'gpt-4o-mini@eastus': { ttftMs: ttft.eastus, jitter: 0, outputTokens: 8, tokensPerSecond: 400 },
      'gpt-4o-mini@westeurope': { ttftMs: ttft.westeurope, jitter: 0, outputTokens: 8, tokensPerSecond: 400 },
    },
  });

/** One app instance: its own Redis client, its own registry (filled by measure()) and a fleet-wide source for route(). */
function instance(url: string, ttft: { eastus: number; westeurope: number }) {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const latency = new LatencyRegistry({ window: { ms: 60_000 } });
  const fleet = redisLatencySource({ redis, prefix, registry: latency, publishInterval });
  const decisions: RouteDecision[] = [];
  const llm = withMiddleware(
    deployments(ttft),
    route({
      tiers: {
        fast: [
          { name: 'eastus', model: 'gpt-4o-mini@eastus' },
          { name: 'westeurope', model: 'gpt-4o-mini@westeurope' },
        ],
      },
      registry: fleet,
      minSamples: 3,
      explore: 0,
      onDecision: (decision) => decisions.push(decision),
    }),
    measure({ registry: latency }),
  );
  const ask = async () => {
    await lastValueFrom(llm(request, { step: 'summary' }).pipe(toArray()));
    return decisions.at(-1)!;
  };
  return { redis, latency, fleet, ask };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const show = (who: string, d: RouteDecision) =>
  `${who} → ${d.candidate} (${d.reason}; p95 TTFT ${Object.entries(d.ttftMs).map(([name, ms]) => `${name} ${ms ?? '?'} ms`).join(', ')})`;

async function main(): Promise<void> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  // Seen by A: eastus is slow (600 ms to the first token), westeurope quick (80 ms). B's own transports would say the
  // opposite, but B never sends a request before it decides: it decides from what A published.
  const a = instance(url, { eastus: 600, westeurope: 80 });
  const b = instance(url, { eastus: 40, westeurope: 300 });
  try {
    await Promise.all([a.redis.ping(), b.redis.ping()]).catch((error: unknown) => {
      throw new Error(`no Redis at ${url} (${String(error)}): start one (redis-server --port 6390) and set REDIS_URL`);
    });
    for (let i = 0; i < 8; i++) await a.ask(); // A probes both deployments, then sends to the faster
    console.log(show('instance A', await a.ask()));
    await sleep(2 * publishInterval); // two publish intervals: A has published, B has read
    const decision = await b.ask();
    console.log(show('instance B', decision));
    console.log(`instance B had ${b.latency.count({ step: 'summary' }) - 1} samples of its own before deciding; it avoided eastus: ${decision.candidate === 'westeurope'}`);
    console.log('B', b.fleet.stats());
    for (const key of (await a.redis.keys(`${prefix}*`)).sort()) {
      console.log(`key ${key.replace(/instance:[\w-]+$/, 'instance:<id>')}: ${await a.redis.type(key)}, expires in ${await a.redis.pttl(key)} ms`);
    }
  } finally {
    // close() stops each source's timer and removes its entry; the clients are the app's to close.
    await Promise.all([a.fleet.close(), b.fleet.close()]);
    a.redis.disconnect();
    b.redis.disconnect();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
