// Cross-instance single flight over a real redis-server (started on a free port, stopped at the end):
// 1. the followers' added time to first token over the owner's (goal: ≤ 5 ms at the median): instance A owns the
//    call, instance B follows it through Redis (XADD on A, XREAD BLOCK on B's own connection); the upstream's
//    first token is released once both are listening, and each side's first-token time is taken at once;
// 2. Redis operations per request: 3 instances ask the same 20-token request at once, counted by
//    INFO commandstats (round trips the instances send, and the commands Redis runs inside the scripts).
// Two instances here are two clients and two registries in one process: what differs between processes (the
// network hop to Redis) is the same, and one clock measures both sides.
// Writes bench/results/redis-in-flight.json. Run: npm run bench -- redisInFlight
import { Redis } from 'ioredis';
import { lastValueFrom, Observable, Subject, toArray } from 'rxjs';
import type { LlmEvent } from '../src/core/events';
import type { LlmRequest } from '../src/core/request';
import { type Transport, withMiddleware } from '../src/core/transport';
import { dedupe } from '../src/middleware/dedupe';
import { redisInFlight } from '../src/redis/redisInFlight';
import { redisServerBinary, startRedisServer } from '../spec/helpers/redisServer';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 200);
const TOKENS = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ask = (i: number): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `question ${i}` }], temperature: 0 });
const now = () => Number(process.hrtime.bigint()) / 1e6;

/** An upstream whose events the bench releases by hand. */
function manualUpstream(): { transport: Transport; events: Subject<LlmEvent> } {
  const events = new Subject<LlmEvent>();
  return { events, transport: () => new Observable<LlmEvent>((subscriber) => events.subscribe(subscriber)) };
}

async function until(condition: () => Promise<boolean>): Promise<void> {
  for (let waited = 0; !(await condition()); waited++) {
    if (waited > 2_000) throw new Error('bench: a wait did not end');
    await sleep(1);
  }
}

async function addedTimeToFirstToken(url: string): Promise<{ ownerToFollowerMs: ReturnType<typeof summarize> }> {
  const prefix = 'bench:ttft:';
  const [redisA, redisB, probe] = [new Redis(url), new Redis(url), new Redis(url)];
  const [a, b] = [redisInFlight({ redis: redisA, prefix }), redisInFlight({ redis: redisB, prefix })];
  const added: number[] = [];
  for (let i = 0; i < SAMPLES + 10; i++) {
    const { transport, events } = manualUpstream();
    const firstAt: number[] = [];
    const side = (registry: typeof a) =>
      new Promise<void>((done, fail) => {
        let seen = false;
        withMiddleware(transport, dedupe({ registry }))(ask(i)).subscribe({
          next: (event) => {
            if (!seen && event.type === 'text') {
              seen = true;
              firstAt.push(now());
            }
          },
          error: fail,
          complete: done,
        });
      });
    const owner = side(a);
    await until(async () => (await probe.keys(`${prefix}*:owner`)).length === 1);
    const follower = side(b);
    await until(async () => b.stats().followed === i + 1);
    await sleep(3); // B's XREAD BLOCK is on the wire
    events.next({ type: 'text', choice: 0, text: 'first' });
    for (let t = 1; t < TOKENS; t++) events.next({ type: 'text', choice: 0, text: ` t${t}` });
    events.next({ type: 'finish', choice: 0, reason: 'stop' });
    events.complete();
    await Promise.all([owner, follower]);
    if (i >= 10) added.push(firstAt[1]! - firstAt[0]!); // the first 10 warm up connections and the JIT
  }
  await Promise.all([a.close(), b.close()]);
  for (const redis of [redisA, redisB, probe]) redis.disconnect();
  const summary = summarize(added);
  return { ownerToFollowerMs: { ...summary, median: round(summary.median), p25: round(summary.p25), p75: round(summary.p75), min: round(summary.min), max: round(summary.max) } };
}

async function operationsPerRequest(url: string): Promise<Record<string, unknown>> {
  const prefix = 'bench:ops:';
  const clients = [new Redis(url), new Redis(url), new Redis(url)];
  const registries = clients.map((redis) => redisInFlight({ redis, prefix }));
  const admin = new Redis(url);
  const FLIGHTS = 50;
  // Warm the script cache (the first EVALSHA of each script misses once per server) and the read connections.
  const answer = (): Observable<LlmEvent> =>
    new Observable<LlmEvent>((subscriber) => {
      let t = 0;
      const timer = setInterval(() => {
        if (t < TOKENS) subscriber.next({ type: 'text', choice: 0, text: ` t${t++}` });
        else {
          subscriber.next({ type: 'finish', choice: 0, reason: 'stop' });
          subscriber.complete();
        }
      }, 5);
      return () => clearInterval(timer);
    });
  const round3 = (i: number) => Promise.all(registries.map((registry) => lastValueFrom(withMiddleware(answer, dedupe({ registry }))(ask(10_000 + i)).pipe(toArray()))));
  await round3(-1);
  await admin.config('RESETSTAT');
  for (let i = 0; i < FLIGHTS; i++) await round3(i);
  const info = await admin.info('commandstats');
  const calls: Record<string, number> = {};
  for (const [, name, count] of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) calls[name!] = Number(count);
  // The bench's own commands, and connection set-up.
  for (const name of Object.keys(calls)) if (/^(config|info|hello|client|select|ping)/.test(name)) delete calls[name];
  const roundTrips = ['evalsha', 'eval', 'xadd', 'pexpire', 'xread', 'xrange', 'zrem'];
  const sent = roundTrips.reduce((sum, name) => sum + (calls[name] ?? 0), 0);
  const executed = Object.values(calls).reduce((sum, count) => sum + count, 0);
  await Promise.all(registries.map((registry) => registry.close()));
  for (const redis of [...clients, admin]) redis.disconnect();
  return {
    flights: FLIGHTS,
    requestsPerFlight: 3,
    tokensPerAnswer: TOKENS,
    roundTripsPerFlight: round(sent / FLIGHTS, 1),
    roundTripsPerRequest: round(sent / FLIGHTS / 3, 1),
    commandsRunPerFlight: round(executed / FLIGHTS, 1),
    byCommandPerFlight: Object.fromEntries(Object.entries(calls).map(([name, count]) => [name, round(count / FLIGHTS, 2)])),
  };
}

async function main(): Promise<void> {
  if (!redisServerBinary()) {
    console.log('skipped: redis-server is not installed (.ci/install-redis)');
    return;
  }
  const server = await startRedisServer();
  try {
    const ttft = await addedTimeToFirstToken(server.url);
    console.log(`follower's added time to first token over the owner's: median ${ttft.ownerToFollowerMs.median} ms (p25 ${ttft.ownerToFollowerMs.p25}, p75 ${ttft.ownerToFollowerMs.p75}, max ${ttft.ownerToFollowerMs.max}; ${ttft.ownerToFollowerMs.runs} runs; goal ≤ 5 ms)`);
    const ops = await operationsPerRequest(server.url);
    console.log(`Redis operations: ${ops['roundTripsPerFlight']} round trips per shared call of ${TOKENS} tokens (3 instances), ${ops['roundTripsPerRequest']} per request; ${ops['commandsRunPerFlight']} commands run by Redis per call`);
    console.log(ops['byCommandPerFlight']);
    console.log(`written to ${writeResults('redis-in-flight', { ...ttft, operations: ops, goalMedianMs: 5 })}`);
  } finally {
    await server.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
