// The seed pipeline's parallel run: three independent steps (300 / 900 / 600 ms to first token on the
// simulator server), as an rxllm parallel() pipeline, as plain fetch + Promise.all, and as the openai SDK +
// Promise.all, interleaved in one run. What matters is the wall time over the slowest step's server time,
// compared between clients: rxllm's goal is within 1 ms of the plain fetch version at the median.
// Then the same three steps at zero latency (issue 15's second row): what a 3-call pipeline costs
// the client when the server answers at once, against fetch + JSON + Promise.all (the peers'
// harness's floor) and that floor with an AbortController per request (what cancellation costs in
// undici), interleaved, as wall time and client CPU per pipeline.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import OpenAI from 'openai';
import { lastValueFrom } from 'rxjs';
import { parallel } from '../src/pipeline/parallel';
import { step } from '../src/pipeline/step';
import { sseTransport } from '../src/transport/sse';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 25);
const TTFT = { sentiment: 300, summary: 900, keywords: 600 } as const;
type Name = keyof typeof TTFT;
const NAMES = Object.keys(TTFT) as Name[];
// Fixed latency, no jitter, no tail: the server's time for each step is known exactly.
const ZERO_TOKENS = { sentiment: 10, summary: 100, keywords: 50 } as const; // the harness's max_tokens
const profiles = {
  ...Object.fromEntries(
    NAMES.map((name) => [`bench-${name}`, { ttftMs: TTFT[name], tokensPerSecond: 1000, jitter: 0, outputTokens: 10, faults: [] }]),
  ),
  // Zero latency: the answer is ready at once, so the wall time is the client's own cost plus loopback.
  ...Object.fromEntries(
    NAMES.map((name) => [`zero-${name}`, { ttftMs: 0, tokensPerSecond: 1e9, jitter: 0, outputTokens: ZERO_TOKENS[name], faults: [] }]),
  ),
};
const ZERO_ROUNDS = Number(process.env['BENCH_ZERO_ROUNDS'] ?? 12);
const ZERO_BATCH = 25; // pipelines per client per round, after a gc() (as the peers' harness)
const zeroRequest = (name: Name) => ({
  model: `zero-${name}`,
  messages: [
    { role: 'system' as const, content: `Answer about ${name}.` },
    { role: 'user' as const, content: 'Our third quarter was better than expected. Revenue grew twelve percent, churn fell.' },
  ],
});
const request = (name: Name) => ({
  model: `bench-${name}`,
  messages: [{ role: 'user' as const, content: `Write about ${name} in a few words.` }],
});

// The simulator runs in its own process (`rxllm serve`), as a real server would: in this process its
// timers would wait behind whichever client uses more CPU, and that would be measured as the client's overhead.
async function startServer(): Promise<{ baseURL: string; close(): Promise<void> }> {
  const file = join(mkdtempSync(join(tmpdir(), 'rxllm-bench-')), 'profiles.json');
  writeFileSync(file, JSON.stringify(profiles));
  const child = spawn(process.execPath, [join(__dirname, '..', 'src', 'cli', 'main.js'), 'serve', '--port', '0', '--seed', '5', '--profiles', file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      const match = /listening on (\S+)/.exec(String(data));
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`rxllm serve exited with ${code}`)));
  });
  return {
    baseURL: `${url}/v1`,
    close: () => new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

async function main(): Promise<void> {
  const server = await startServer();
  const transport = sseTransport({ baseURL: server.baseURL });
  const branch = (name: Name) => step(name, (_input: void) => request(name), { transport });
  const pipeline = parallel({ sentiment: branch('sentiment'), summary: branch('summary'), keywords: branch('keywords') });
  const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'bench', maxRetries: 0 });

  const fetchOne = async (name: Name): Promise<string> => {
    const response = await fetch(`${server.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...request(name), stream: true }),
    });
    let text = '';
    const parser = createParser({
      onEvent: (message) => {
        if (message.data !== '[DONE]') text += JSON.parse(message.data).choices[0]?.delta?.content ?? '';
      },
    });
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  };
  const sdkOne = async (name: Name): Promise<string> => {
    const stream = await client.chat.completions.create({ ...request(name), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    return text;
  };

  const clients: Record<string, () => Promise<unknown>> = {
    fetch: () => Promise.all(NAMES.map(fetchOne)),
    sdk: () => Promise.all(NAMES.map(sdkOne)),
    rxllm: () => lastValueFrom(pipeline.value(undefined)),
  };
  const walls: Record<string, number[]> = { fetch: [], sdk: [], rxllm: [] };
  try {
    for (const run of Object.values(clients)) await run(); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      const names = Object.keys(clients);
      for (const name of names.map((_, i) => names[(i + r) % names.length]!)) {
        const started = performance.now();
        await clients[name]!();
        walls[name]!.push(performance.now() - started);
      }
    }
  } finally {
    await server.close();
  }

  // The slowest step's server time: its first token at 900 ms, then 9 more tokens 1 ms apart.
  const slowestServerMs = TTFT.summary + 9;
  const fetchMedian = summarize(walls['fetch']!).median;
  const results = Object.fromEntries(
    Object.entries(walls).map(([name, values]) => {
      const over = summarize(values.map((wall) => wall - slowestServerMs));
      // Paired by round: both clients ran back to back against the same server state, so the
      // per-round difference cancels most of the machine's drift.
      const paired = summarize(values.map((wall, i) => wall - walls['fetch']![i]!));
      return [
        name,
        {
          overSlowestStepMs: { median: round(over.median, 2), p25: round(over.p25, 2), p75: round(over.p75, 2) },
          minusFetchMedianMs: round(over.median + slowestServerMs - fetchMedian, 2),
          minusFetchPairedMs: { median: round(paired.median, 2), p25: round(paired.p25, 2), p75: round(paired.p75, 2) },
        },
      ];
    }),
  );
  const zero = await zeroLatency();
  const file = writeResults('pipeline-overhead', {
    rounds: ROUNDS,
    ttftMs: TTFT,
    slowestServerMs,
    goal: 'rxllm within 1 ms of fetch + Promise.all at the median',
    ...results,
    zeroLatency: zero,
  });
  console.table(Object.fromEntries(Object.entries(results).map(([name, r]) => [name, { 'ms over slowest step (median)': r.overSlowestStepMs.median, p25: r.overSlowestStepMs.p25, p75: r.overSlowestStepMs.p75, 'vs fetch (ms)': r.minusFetchMedianMs, 'paired vs fetch (median)': r.minusFetchPairedMs.median }])));
  console.log(`written to ${file}`);
}

/**
 * The seed pipeline at zero latency, as the peers' harness runs it: each client does ZERO_BATCH
 * pipelines back to back after a gc(), clients rotated per round; per pipeline the wall time and
 * the client CPU (`process.cpuUsage`, request building and validation included). Ratios are to the
 * floor (fetch + JSON + Promise.all) of the same round, so the machine's drift cancels.
 */
async function zeroLatency(): Promise<Record<string, unknown>> {
  const server = await startServer();
  const url = `${server.baseURL}/chat/completions`;
  const headers = { 'content-type': 'application/json' };
  const fetchJson = async (name: Name, signal?: AbortSignal): Promise<string> => {
    const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ ...zeroRequest(name), stream: false }), ...(signal ? { signal } : {}) });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { choices: { message: { content: string } }[] };
    return body.choices[0]!.message.content;
  };
  const transport = sseTransport({ baseURL: server.baseURL });
  const branch = (name: Name) => step(name, (_input: void) => zeroRequest(name), { transport });
  const pipeline = parallel({ sentiment: branch('sentiment'), summary: branch('summary'), keywords: branch('keywords') });
  const clients: Record<string, () => Promise<unknown>> = {
    floor: () => Promise.all(NAMES.map((name) => fetchJson(name))),
    'floor + AbortController': () => Promise.all(NAMES.map((name) => fetchJson(name, new AbortController().signal))),
    rxllm: () => lastValueFrom(pipeline.value(undefined)),
  };
  const names = Object.keys(clients);
  const wall: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const roundWall: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const roundCpu: Record<string, number[]> = Object.fromEntries(names.map((name) => [name, []]));
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
  try {
    for (const run of Object.values(clients)) for (let i = 0; i < 20; i++) await run(); // warm-up
    for (let r = 0; r < ZERO_ROUNDS; r++) {
      for (const name of names.map((_, i) => names[(i + r) % names.length]!)) {
        gc();
        const walls: number[] = [];
        const cpus: number[] = [];
        for (let k = 0; k < ZERO_BATCH; k++) {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          await clients[name]!();
          walls.push(performance.now() - t0);
          const used = process.cpuUsage(c0);
          cpus.push((used.user + used.system) / 1000);
        }
        wall[name]!.push(...walls);
        cpu[name]!.push(...cpus);
        roundWall[name]!.push(summarize(walls).median);
        roundCpu[name]!.push(summarize(cpus).median);
      }
    }
  } finally {
    await server.close();
  }
  const floorWall = summarize(wall['floor']!).median;
  const floorCpu = summarize(cpu['floor']!).median;
  const results = Object.fromEntries(
    names.map((name) => {
      const w = summarize(wall[name]!);
      const c = summarize(cpu[name]!);
      const perRoundWall = summarize(roundWall[name]!.map((value, r) => value / roundWall['floor']![r]!));
      const perRoundCpu = summarize(roundCpu[name]!.map((value, r) => value / roundCpu['floor']![r]!));
      return [
        name,
        {
          wallMs: { median: round(w.median), p25: round(w.p25), p75: round(w.p75) },
          cpuMs: { median: round(c.median), p25: round(c.p25), p75: round(c.p75) },
          wallVsFloor: round(w.median / floorWall, 2),
          cpuVsFloor: round(c.median / floorCpu, 2),
          wallVsFloorPerRound: { median: round(perRoundWall.median, 2), p25: round(perRoundWall.p25, 2), p75: round(perRoundWall.p75, 2) },
          cpuVsFloorPerRound: { median: round(perRoundCpu.median, 2), p25: round(perRoundCpu.p25, 2), p75: round(perRoundCpu.p75, 2) },
        },
      ];
    }),
  );
  console.log(`\nzero latency: ${ZERO_ROUNDS} rounds x ${ZERO_BATCH} pipelines per client`);
  console.table(
    Object.fromEntries(
      Object.entries(results).map(([name, r]) => [
        name,
        {
          'wall ms (median)': r.wallMs.median,
          'wall x floor': r.wallVsFloor,
          'per round p25..p75': `${r.wallVsFloorPerRound.p25}..${r.wallVsFloorPerRound.p75}`,
          'CPU ms (median)': r.cpuMs.median,
          'CPU x floor': r.cpuVsFloor,
          'CPU per round p25..p75': `${r.cpuVsFloorPerRound.p25}..${r.cpuVsFloorPerRound.p75}`,
        },
      ]),
    ),
  );
  return { rounds: ZERO_ROUNDS, batch: ZERO_BATCH, outputTokens: ZERO_TOKENS, ...results };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
