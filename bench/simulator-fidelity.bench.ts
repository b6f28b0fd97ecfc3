// Is the simulator faithful? Two checks (benchmarks, not tests; they run in real time):
//
// 1. TTFT fidelity: 1,000 real-time requests per form, measured time to first token against the
//    profile (median within 5 %, p95 within 10 %): in-process (simulatedTransport on asyncScheduler)
//    for gpt-4o-mini and gpt-4.1, and over HTTP (sseTransport against the server in a child process)
//    for gpt-4o-mini.
// 2. Capacity: the server, in its own process, holds 1,000 concurrent streams while its event loop
//    never stalls more than 50 ms (monitorEventLoopDelay, measured inside the server).
//
//   npx ts-node bench/simulator-fidelity.bench.ts       (or compiled, via bench/run.js's tsc step)
//
// Writes bench/results/simulator-fidelity.json, with the machine's load average, since other
// processes on the machine take CPU from the server and show up as event-loop delay.
// SKIP_FIDELITY=1 runs the capacity check alone; SIM_CHILD_ARGS passes node flags to the server
// process (e.g. "--cpu-prof" to profile it).
import { fork, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { filter, firstValueFrom, lastValueFrom, mergeMap, range, take, toArray } from 'rxjs';
import type { LlmEvent } from '../src/core/events';
import type { LlmRequest } from '../src/core/request';
import type { Transport } from '../src/core/transport';
import { distributionQuantile } from '../src/simulator/latency';
import { Simulator } from '../src/simulator/plan';
import { defaultSimulatorProfiles } from '../src/simulator/profiles';
import { simulatedTransport } from '../src/simulator/simulatedTransport';
import { sseTransport } from '../src/transport/sse';
import { writeResults } from './lib/writeResults';

const REQUESTS = 1000;
const STREAMS = 1000;
const RAMP_MS_PER_STREAM = 1;
const SEED = 2024;

const prompt = (model: string, i: number): LlmRequest => ({
  model,
  messages: [{ role: 'user', content: `Classify the sentiment as positive or negative: review number ${i} says the service was great.` }],
});

interface Fidelity {
  form: string;
  model: string;
  requests: number;
  concurrency: number;
  profile: { medianMs: number; p95Ms: number };
  /** The TTFTs the simulator drew for these requests (what a perfect clock would measure): their spread from the profile is sampling. */
  planned: { medianMs: number; p95Ms: number };
  measured: { medianMs: number; p95Ms: number; p99Ms: number; minMs: number; maxMs: number };
  error: { median: number; p95: number };
  pass: boolean;
  /** The machine's 1-minute load average when the run ended (2 cores: above 2, processes wait for CPU). */
  loadAverage1m: number;
}

/** Measures time to first token for `count` requests, `concurrency` at a time. */
async function ttftRun(form: string, model: string, transport: Transport, count: number, concurrency: number): Promise<Fidelity> {
  const samples = await lastValueFrom(
    range(0, count).pipe(
      mergeMap(async (i) => {
        const start = performance.now();
        // Only the first token matters: take(1) ends the request there (and aborts it over HTTP).
        await firstValueFrom(transport(prompt(model, i)).pipe(filter((e: LlmEvent) => e.type === 'text'), take(1)));
        return performance.now() - start;
      }, concurrency),
      toArray(),
    ),
  );
  const profile = defaultSimulatorProfiles[model]!;
  const medianMs = distributionQuantile(profile.ttftMs, profile.tail, 0.5);
  const p95Ms = distributionQuantile(profile.ttftMs, profile.tail, 0.95);
  const measured = {
    medianMs: quantile(samples, 0.5),
    p95Ms: quantile(samples, 0.95),
    p99Ms: quantile(samples, 0.99),
    minMs: Math.min(...samples),
    maxMs: Math.max(...samples),
  };
  const error = { median: measured.medianMs / medianMs - 1, p95: measured.p95Ms / p95Ms - 1 };
  // A twin simulator with the same seed draws the same TTFTs for request indices 0..count-1 (the
  // order requests arrive in only decides which request gets which, not the set of values).
  const twin = new Simulator({ seed: SEED });
  const drawn = Array.from({ length: count }, (_, i) => twin.planChat(prompt(model, i), { stream: true, includeUsage: true }).stepTimes[0]!);
  return {
    form,
    model,
    requests: count,
    concurrency,
    profile: { medianMs: round(medianMs), p95Ms: round(p95Ms) },
    planned: { medianMs: quantile(drawn, 0.5), p95Ms: quantile(drawn, 0.95) },
    measured: mapValues(measured, round),
    error: mapValues(error, (v) => round(v, 4)),
    pass: Math.abs(error.median) <= 0.05 && Math.abs(error.p95) <= 0.1,
    loadAverage1m: round(loadavg()[0]!, 2),
  };
}

interface ServerChild {
  baseURL: string;
  ask<T>(message: string, reply: string): Promise<T>;
  stop(): Promise<void>;
}

async function startServerChild(): Promise<ServerChild> {
  const ts = __filename.endsWith('.ts');
  const child: ChildProcess = fork(join(__dirname, `simulator-fidelity-server.${ts ? 'ts' : 'js'}`), [], {
    execArgv: [...(ts ? ['-r', require.resolve('ts-node/register/transpile-only')] : []), ...(process.env['SIM_CHILD_ARGS']?.split(' ').filter(Boolean) ?? [])],
    env: { ...process.env, SIM_SEED: String(SEED) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const listener = (message: unknown) => {
        const m = message as Record<string, unknown>;
        if (m['type'] !== type) return;
        child.off('message', listener);
        resolve(m);
      };
      child.on('message', listener);
    });
  const { port } = (await next('listening')) as { port: number };
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    ask: async <T>(message: string, reply: string) => {
      const answer = next(reply);
      child.send(message);
      return (await answer) as T;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.send('stop');
      }),
  };
}

/** A load: STREAMS streams of `tokensPerStream` tokens at `tokensPerSecond` each (0: the profile's speed). */
interface Scenario {
  name: string;
  tokensPerSecond: number;
  tokensPerStream: number;
}

const SCENARIOS: Scenario[] = [
  // gpt-4o-mini's own speed (85 tokens/s): about 85,000 chunk writes a second once all streams run.
  { name: 'gpt-4o-mini speed', tokensPerSecond: 0, tokensPerStream: 400 },
  // The same number of open streams at a quarter of the write rate.
  { name: '20 tokens/s per stream', tokensPerSecond: 20, tokensPerStream: 100 },
];

interface Capacity {
  scenario: string;
  streams: number;
  openedOverMs: number;
  tokensPerStream: number;
  completed: number;
  failed: number;
  peakInFlight: number;
  wallSeconds: number;
  averageTokensPerSecond: number;
  megabytesServed: number;
  serverCpuSeconds: number;
  serverEventLoopStall: { maxMs: number; p99Ms: number; meanMs: number };
  pass: boolean;
  loadAverage1m: number;
}

/**
 * Opens STREAMS streams against the server, one per millisecond (a second to open them all; each
 * lasts about 5 s, so all are open at once), and reads them to the end.
 */
async function capacityRun(server: ServerChild, scenario: Scenario): Promise<Capacity> {
  await server.ask('reset', 'reset');
  const { tokensPerStream, tokensPerSecond } = scenario;
  const url = new URL(`${server.baseURL}/chat/completions`);
  const start = performance.now();
  const bytes = await Promise.all(
    Array.from({ length: STREAMS }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, i * RAMP_MS_PER_STREAM));
      return readStream(url, {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: `Write about stream ${i} and latency` }],
        stream: true,
        stream_options: { include_usage: true },
        rxllm_sim: `tokens=${tokensPerStream}${tokensPerSecond ? `,tps=${tokensPerSecond}` : ''}`,
      });
    }),
  );
  const wallSeconds = (performance.now() - start) / 1000;
  const { loop, stats, cpuSeconds } = await server.ask<{
    loop: Capacity['serverEventLoopStall'];
    stats: { completed: number; failed: number; peakInFlight: number };
    cpuSeconds: number;
  }>('report', 'report');
  return {
    scenario: scenario.name,
    streams: STREAMS,
    openedOverMs: STREAMS * RAMP_MS_PER_STREAM,
    tokensPerStream,
    completed: stats.completed,
    failed: stats.failed,
    peakInFlight: stats.peakInFlight,
    wallSeconds: round(wallSeconds),
    averageTokensPerSecond: Math.round((STREAMS * tokensPerStream) / wallSeconds),
    megabytesServed: round(bytes.reduce((sum, n) => sum + n, 0) / 1e6),
    serverCpuSeconds: round(cpuSeconds, 2),
    serverEventLoopStall: loop,
    pass: stats.peakInFlight === STREAMS && stats.completed === STREAMS && loop.maxMs <= 50,
    loadAverage1m: round(loadavg()[0]!, 2),
  };
}

/**
 * Sends one request on its own connection (`connection: close`) and counts the response's bytes
 * until the server closes it: a raw socket, no HTTP parsing, so that the load generator costs as
 * little CPU as possible and the server's figures are the server's.
 */
function readStream(url: URL, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const socket = connect(Number(url.port), url.hostname);
    let size = 0;
    // write, not end: a half-closed client connection makes the server drop the response.
    socket.on('connect', () =>
      socket.write(
        `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(payload)}\r\nconnection: close\r\n\r\n${payload}`,
      ),
    );
    socket.on('data', (chunk: Buffer) => (size += chunk.length));
    socket.on('end', () => resolve(size));
    socket.on('error', reject);
  });
}

async function main(): Promise<void> {
  const fidelity: Fidelity[] = [];
  for (const model of process.env['SKIP_FIDELITY'] ? [] : ['gpt-4o-mini', 'gpt-4.1']) {
    const result = await ttftRun('in-process', model, simulatedTransport({ seed: SEED }), REQUESTS, REQUESTS);
    fidelity.push(result);
    log(result);
  }
  const server = await startServerChild();
  const capacity: Capacity[] = [];
  try {
    if (!process.env['SKIP_FIDELITY']) {
      const overHttp = await ttftRun('http (sseTransport)', 'gpt-4o-mini', sseTransport({ baseURL: server.baseURL }), REQUESTS, 50);
      fidelity.push(overHttp);
      log(overHttp);
    }
    for (const scenario of SCENARIOS) {
      const run = await capacityRun(server, scenario);
      capacity.push(run);
      console.log(
        `capacity (${run.scenario}): ${run.streams} streams opened over ${run.openedOverMs / 1000} s, peak in flight ${run.peakInFlight}, ` +
          `completed ${run.completed}, server CPU ${run.serverCpuSeconds} s in ${run.wallSeconds} s; ` +
          `server event-loop stall max ${run.serverEventLoopStall.maxMs} ms, p99 ${run.serverEventLoopStall.p99Ms} ms ${run.pass ? 'PASS' : 'FAIL'} (load ${run.loadAverage1m})`,
      );
    }
  } finally {
    await server.stop();
  }
  const file = writeResults('simulator-fidelity', {
    goals: { ttftMedian: 'within 5 % of the profile', ttftP95: 'within 10 % of the profile', eventLoopStall: '≤ 50 ms with 1,000 concurrent streams' },
    seed: SEED,
    fidelity,
    capacity,
  });
  console.log(`results: ${file}`);
  if (!fidelity.every((f) => f.pass) || !capacity.every((c) => c.pass)) process.exitCode = 1;
}

function log(f: Fidelity): void {
  console.log(
    `${f.form} ${f.model}: ${f.requests} requests, TTFT median ${f.measured.medianMs} ms (profile ${f.profile.medianMs}, ${pct(f.error.median)}; drawn ${f.planned.medianMs}), ` +
      `p95 ${f.measured.p95Ms} ms (profile ${f.profile.p95Ms}, ${pct(f.error.p95)}; drawn ${f.planned.p95Ms}) ${f.pass ? 'PASS' : 'FAIL'} (load ${f.loadAverage1m})`,
  );
}


function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function mapValues<T extends Record<string, number>>(record: T, fn: (value: number) => number): T {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)])) as T;
}

function pct(value: number): string {
  return `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %`;
}

void main();
