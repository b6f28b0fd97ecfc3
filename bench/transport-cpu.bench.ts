// Client CPU per streamed token, measured the way the peers' harness measures it (and so what a
// user pays): process.cpuUsage() around the whole request — building it, validating it, sending it,
// reading and decoding every token — from a transport made once, as a user makes it; clients in
// interleaved rounds (shuffled order); one local server in a child process.
//
// Three conditions, each with its own rounds:
// - "after a full GC": gc() before every sample, as the peers' harness does. A forced collection
//   frees the maps and code that only the last request's objects kept alive, the hidden classes of
//   parsed JSON included, so each request pays for re-optimising the code on its per-token path (V8
//   recompiles it, on a background thread that process.cpuUsage() counts). The figure the harness
//   quotes.
// - "after V8's own major collections": before every sample, short-lived garbage drives V8 to run
//   two major collections of its own, with no request in flight (bench/lib/majorCollections.ts):
//   what the first request after an idle spell pays in a process nobody calls gc() in
//   (docs/performance.md, "Forced collections and V8's own").
// - "steady": no collection forced or provoked, the same code warm from request to request (a busy
//   server).
//
// Clients: the floor (fetch + eventsource-parser), rxllm's sseTransport with tokens() and with
// textSoFar(), the openai SDK, and "rxllm stack": the same transport wrapped by dedupe() + cache() +
// retry() + timeouts() + measure(), a cache miss per sample. Each row gives its ratio to the floor
// and to the bare transport (rxllm tokens()) of the same rounds. BENCH_EACH=1 adds one middleware
// at a time; BENCH_CLIENTS='rxllm tokens(),rxllm stack' runs only those (and the floor).
//
// Each sample is also split by thread (Linux: /proc/self/task/*/schedstat): the main thread (the
// client's JavaScript, parsing, GC pauses) and every other thread (V8's concurrent compiler, GC
// helpers, libuv). After a full GC rxllm's extra cost over the floor is nearly all on the other
// threads: TurboFan recompiling the per-token path whose optimised code and type feedback the
// collection discarded (docs/performance.md, "CPU per token after a full GC"; bench/tools/reopt-count.js
// counts the functions V8 re-optimizes per answer).
//
// Warm-up as the harness: 3 requests per client, one client after the other, before the rounds.
//
// Until November 2026 this bench ran only the second condition, against a server that sent the
// whole answer in 64 KiB writes of minimal chunks, and built a transport per request: it said
// 1.14-1.20x the floor where the harness said 2.13x. The gap was the forced GC, not the network.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { lastValueFrom } from 'rxjs';
import { withMiddleware } from '../src/core/transport';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { cache } from '../src/middleware/cache';
import { dedupe } from '../src/middleware/dedupe';
import { measure } from '../src/middleware/measure';
import { retry } from '../src/middleware/retry';
import { timeouts } from '../src/middleware/timeouts';
import { textSoFar } from '../src/operators/textSoFar';
import { tokens } from '../src/operators/tokens';
import { sseTransport } from '../src/transport/sse';
import { streamFloor } from './lib/floorClient';
import { untilMajorCollections } from './lib/majorCollections';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const TOKENS = 2000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 20);
// The peers' harness warms each adapter with 3 streams, one adapter after the other.
const WARMUP = Number(process.env['BENCH_WARMUP'] ?? 3);
// The peers' harness's streaming request.
const request = {
  model: 'bench',
  messages: [
    { role: 'system' as const, content: 'You are a verbose assistant.' },
    { role: 'user' as const, content: 'Write a long essay about reactive streams and back-pressure.' },
  ],
  max_tokens: TOKENS,
};

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function startServer(): Promise<{ baseURL: string; stop(): void }> {
  const child = spawn(process.execPath, [join(__dirname, 'lib', 'tokenServer.js'), String(TOKENS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (data: Buffer) => resolve(data.toString().trim())));
  return { baseURL: `http://127.0.0.1:${port}/v1`, stop: () => child.kill() };
}

/**
 * One streamed request; calls onDelta per text delta and resolves when the answer is done.
 * `prepare`, when set, runs before each sample, outside the measured time (the stack clears its
 * cache there, so every sample is a miss that streams, records and stores the whole answer).
 */
type Client = ((onDelta: (text: string) => void) => Promise<unknown>) & { prepare?: () => Promise<void> };

function clients(baseURL: string): Record<string, Client> {
  // The floor: the minimal correct hand-written client (the harness's fetch-esp).
  const floor: Client = (onDelta) => streamFloor(baseURL, request, onDelta);

  // rxllm as a user writes it: one transport, a request per call (validated on each subscribe).
  const llm = sseTransport({ baseURL, apiKey: 'bench' });
  const rxllmTokens: Client = (onDelta) =>
    new Promise((resolve, reject) => llm(request).pipe(tokens()).subscribe({ next: onDelta, error: reject, complete: () => resolve(undefined) }));
  const rxllmTextSoFar: Client = async (onDelta) => {
    let shown = 0;
    await lastValueFrom(
      llm(request).pipe(textSoFar()),
    ).then((text) => {
      shown = text.length;
      onDelta(text);
    });
    return shown;
  };

  const openai = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
  const sdk: Client = async (onDelta) => {
    const stream = await openai.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
    for await (const chunk of stream) {
      const content = chunk.choices[0]?.delta?.content;
      if (content) onDelta(content);
    }
  };

  // The full resilience stack in the order the docs recommend, every limit armed, around the same
  // transport: each sample is a cache miss (the cache is cleared before it, outside the measured
  // time), so it pays for de-dup, recording and storing the answer, the retry layer, the timers
  // and the measurement. The goal: ≤ 10 µs per token where the floor is 6.68 (1.5x).
  const answers = cache({ ttl: 60_000 });
  const latency = new LatencyRegistry();
  const resilient = withMiddleware(
    llm,
    dedupe(),
    answers,
    retry({ maxRetries: 2 }),
    timeouts({ headers: 30_000, firstToken: 30_000, idle: 30_000, total: 120_000 }),
    measure({ registry: latency }),
  );
  const stack: Client = Object.assign(
    (onDelta: (text: string) => void) =>
      new Promise((resolve, reject) => resilient(request).pipe(tokens()).subscribe({ next: onDelta, error: reject, complete: () => resolve(undefined) })),
    { prepare: () => answers.clear() },
  );
  // One middleware at a time (BENCH_EACH=1), to tell where the stack's cost goes.
  const each: Record<string, Client> = {};
  if (process.env['BENCH_EACH'] === '1') {
    const one = (name: string, middleware: Parameters<typeof withMiddleware>[1], prepare?: () => Promise<void>) => {
      const wrapped = withMiddleware(llm, middleware);
      each[`rxllm + ${name}`] = Object.assign(
        (onDelta: (text: string) => void) =>
          new Promise((resolve, reject) => wrapped(request).pipe(tokens()).subscribe({ next: onDelta, error: reject, complete: () => resolve(undefined) })),
        prepare ? { prepare } : {},
      );
    };
    const alone = cache({ ttl: 60_000 });
    one('dedupe()', dedupe());
    one('cache()', alone, () => alone.clear());
    one('retry()', retry({ maxRetries: 2 }));
    one('timeouts()', timeouts({ headers: 30_000, firstToken: 30_000, idle: 30_000, total: 120_000 }));
    one('measure()', measure({ registry: new LatencyRegistry() }));
  }
  const all: Record<string, Client> = { floor, 'rxllm tokens()': rxllmTokens, 'rxllm textSoFar()': rxllmTextSoFar, 'openai SDK': sdk, 'rxllm stack': stack, ...each };
  // BENCH_CLIENTS=floor,rxllm tokens(),rxllm stack: only these (the floor always runs: every ratio is to it).
  const only = process.env['BENCH_CLIENTS']?.split(',').map((name) => name.trim());
  return only ? Object.fromEntries(Object.entries(all).filter(([name]) => name === 'floor' || only.includes(name))) : all;
}

/** CPU time (ns) of this process's main thread and of all its other threads, or undefined off Linux. */
function threadNanos(): { main: number; other: number } | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return undefined;
  }
  let main = 0;
  let other = 0;
  for (const task of tasks) {
    try {
      // schedstat: time on CPU (ns), time waiting to run (ns), timeslices
      const ns = Number(readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(task) === process.pid) main += ns;
      else other += ns;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { main, other };
}

interface Sample {
  total: number;
  main?: number;
  other?: number;
}

async function cpuMicrosPerToken(client: Client): Promise<Sample> {
  let text = '';
  const threadsBefore = threadNanos();
  const before = process.cpuUsage();
  await client((delta) => (text += delta));
  const used = process.cpuUsage(before);
  const threadsAfter = threadNanos();
  if (text.length < TOKENS) throw new Error(`client returned ${text.length} chars, expected a ${TOKENS}-token answer`);
  const total = (used.user + used.system) / TOKENS;
  if (!threadsBefore || !threadsAfter) return { total };
  return { total, main: (threadsAfter.main - threadsBefore.main) / 1000 / TOKENS, other: (threadsAfter.other - threadsBefore.other) / 1000 / TOKENS };
}

type Samples = Record<string, Sample[]>;

/** What runs before each sample, outside the measured time. */
type Before = () => void | Promise<void>;

async function rounds(all: Record<string, Client>, before: Before): Promise<Samples> {
  const names = Object.keys(all);
  const samples: Samples = Object.fromEntries(names.map((name) => [name, []]));
  let seed = 0x2545f491;
  const random = (): number => {
    // xorshift32: a fixed order of rounds from run to run
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Interleaved, in a shuffled order, so drift on a noisy machine hits every client alike. Not a
    // rotation: in one, a client follows the same neighbour in most rounds, and without a forced GC
    // it pays for that neighbour's garbage (the floor after the SDK measured 2x its own cost).
    const order = [...names];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const name of order) {
      await all[name]!.prepare?.();
      await before();
      samples[name]!.push(await cpuMicrosPerToken(all[name]!));
    }
  }
  return samples;
}

function report(samples: Samples) {
  const floor = samples['floor']!.map((sample) => sample.total);
  const floorMedian = summarize(floor).median;
  // The middleware's own cost: each client beside the bare transport of the same rounds.
  const bare = samples['rxllm tokens()'];
  const bareTotals = bare?.map((sample) => sample.total) ?? [];
  const bareMedian = bare ? summarize(bareTotals).median : undefined;
  return Object.fromEntries(
    Object.entries(samples).map(([name, all]) => {
      const values = all.map((sample) => sample.total);
      const summary = summarize(values);
      const ratios = summarize(values.map((value, i) => value / floor[i]!));
      const main = all.flatMap((sample) => (sample.main === undefined ? [] : [sample.main]));
      const other = all.flatMap((sample) => (sample.other === undefined ? [] : [sample.other]));
      return [
        name,
        {
          cpuMicrosPerToken: { median: round(summary.median), p25: round(summary.p25), p75: round(summary.p75) },
          ratioToFloor: { median: round(summary.median / floorMedian, 2), perRoundP25: round(ratios.p25, 2), perRoundP75: round(ratios.p75, 2) },
          ...(bare && bareMedian !== undefined
            ? {
                ratioToBare: (() => {
                  const perRound = summarize(values.map((value, i) => value / bareTotals[i]!));
                  return { median: round(summary.median / bareMedian, 2), perRoundP25: round(perRound.p25, 2), perRoundP75: round(perRound.p75, 2) };
                })(),
              }
            : {}),
          ...(main.length > 0
            ? { byThread: { mainMicrosPerToken: round(summarize(main).median), otherThreadsMicrosPerToken: round(summarize(other).median) } }
            : {}),
        },
      ];
    }),
  );
}

async function main(): Promise<void> {
  if (!(globalThis as { gc?: unknown }).gc) throw new Error('run with node --expose-gc (bench/run.js does)');
  const server = await startServer();
  let afterGc: Samples;
  let afterOwnCollections: Samples;
  let steady: Samples;
  try {
    const all = clients(server.baseURL);
    // Warm-up as the harness: WARMUP requests per client, one client after the other.
    for (const client of Object.values(all)) {
      for (let warm = 0; warm < WARMUP; warm++) {
        await client.prepare?.();
        await client(() => undefined);
      }
    }
    afterGc = await rounds(all, gc);
    afterOwnCollections = await rounds(all, () => untilMajorCollections(2));
    steady = await rounds(all, () => undefined);
  } finally {
    server.stop();
  }
  const results = { afterFullGc: report(afterGc), afterOwnMajorCollections: report(afterOwnCollections), steady: report(steady) };
  const file = writeResults('transport-cpu', {
    tokens: TOKENS,
    rounds: ROUNDS,
    warmup: WARMUP,
    method: 'process.cpuUsage() around the whole request (building, validation, send, decode), one transport per client, 3 warm-up requests per client then interleaved rounds; afterFullGc: gc() before each sample, as the peers\' harness; afterOwnMajorCollections: before each sample, allocation drives V8 to two major collections of its own, then 100 ms to settle; steady: no collection forced or provoked; byThread: the same samples split into the main thread and all other threads (V8 compiler and GC helpers), from /proc/self/task/*/schedstat',
    goal: 'rxllm tokens() ≤ 1.2x floor after a full GC (the peers\' harness: ≤ 8.0 µs where the floor is 6.68); rxllm stack (dedupe+cache+retry+timeouts+measure) ≤ 1.5x floor (≤ 10 µs)',
    ...results,
  });
  for (const [condition, rows] of Object.entries(results)) {
    console.log(`\n${condition}`);
    console.table(
      Object.fromEntries(
        Object.entries(rows).map(([name, r]) => [
          name,
          {
            'µs/token (median)': r.cpuMicrosPerToken.median,
            p25: r.cpuMicrosPerToken.p25,
            p75: r.cpuMicrosPerToken.p75,
            '× floor': r.ratioToFloor.median,
            'floor p25..p75': `${r.ratioToFloor.perRoundP25}..${r.ratioToFloor.perRoundP75}`,
            '× tokens()': r.ratioToBare?.median ?? '',
            'tokens() p25..p75': r.ratioToBare ? `${r.ratioToBare.perRoundP25}..${r.ratioToBare.perRoundP75}` : '',
            'main thread': r.byThread?.mainMicrosPerToken,
            'other threads': r.byThread?.otherThreadsMicrosPerToken,
          },
        ]),
      ),
    );
  }
  console.log(`written to ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
