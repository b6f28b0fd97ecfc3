// Client CPU per streamed token: sseTransport + textSoFar() against the floor (a plain fetch +
// eventsource-parser loop that does the same work) and against the openai SDK's own stream.
// One local server in a child process; rounds interleaved; medians and spread reported.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createParser } from 'eventsource-parser';
import OpenAI from 'openai';
import { lastValueFrom } from 'rxjs';
import { textSoFar } from '../src/operators/textSoFar';
import { sseTransport } from '../src/transport/sse';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const TOKENS = 2000;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 40);
const request = { model: 'bench', messages: [{ role: 'user' as const, content: 'go' }] };

async function startServer(): Promise<{ baseURL: string; stop(): void }> {
  const child = spawn(process.execPath, [join(__dirname, 'lib', 'tokenServer.js'), String(TOKENS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve) => child.stdout.once('data', (data: Buffer) => resolve(data.toString().trim())));
  return { baseURL: `http://127.0.0.1:${port}/v1`, stop: () => child.kill() };
}

type Client = (baseURL: string) => Promise<string>;

const floor: Client = async (baseURL) => {
  const response = await fetch(`${baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...request, stream: true }),
  });
  let text = '';
  const parser = createParser({
    onEvent: (message) => {
      if (message.data === '[DONE]') return;
      const content = JSON.parse(message.data).choices[0]?.delta?.content;
      if (content) text += content;
    },
  });
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(decoder.decode(value, { stream: true }));
  }
  return text;
};

const rxllm: Client = (baseURL) => lastValueFrom(sseTransport({ baseURL })(request).pipe(textSoFar()));

const sdk: Client = async (baseURL) => {
  const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
  const stream = await client.chat.completions.create({ ...request, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
};

async function cpuMicros(client: Client, baseURL: string): Promise<number> {
  const before = process.cpuUsage();
  const text = await client(baseURL);
  const used = process.cpuUsage(before);
  if (text.length < TOKENS) throw new Error(`client returned ${text.length} chars, expected a ${TOKENS}-token answer`);
  return used.user + used.system;
}

async function main(): Promise<void> {
  const server = await startServer();
  const clients: Record<string, Client> = { floor, rxllm, sdk };
  const samples: Record<string, number[]> = { floor: [], rxllm: [], sdk: [] };
  try {
    for (let warm = 0; warm < 5; warm++) for (const client of Object.values(clients)) await client(server.baseURL);
    for (let round = 0; round < ROUNDS; round++) {
      // Interleaved, in a rotating order, so drift on a noisy machine hits every client alike.
      const names = Object.keys(clients);
      const order = names.map((_, i) => names[(i + round) % names.length]!);
      // No forced gc() between samples: a full collection discards type feedback, which penalises the
      // client with the most JavaScript (rxllm's operator chain) far beyond anything a live process sees.
      for (const name of order) {
        samples[name]!.push((await cpuMicros(clients[name]!, server.baseURL)) / TOKENS);
      }
    }
  } finally {
    server.stop();
  }
  const floorMedian = summarize(samples['floor']!).median;
  const results = Object.fromEntries(
    Object.entries(samples).map(([name, values]) => {
      const summary = summarize(values);
      const ratios = summarize(values.map((value, i) => value / samples['floor']![i]!));
      return [
        name,
        {
          cpuMicrosPerToken: { median: round(summary.median), p25: round(summary.p25), p75: round(summary.p75) },
          ratioToFloor: { median: round(summary.median / floorMedian, 2), perRoundP25: round(ratios.p25, 2), perRoundP75: round(ratios.p75, 2) },
        },
      ];
    }),
  );
  const file = writeResults('transport-cpu', { tokens: TOKENS, rounds: ROUNDS, goal: 'rxllm ≤ 1.3× floor', ...results });
  console.table(Object.fromEntries(Object.entries(results).map(([name, r]) => [name, { 'µs/token (median)': r.cpuMicrosPerToken.median, 'p25': r.cpuMicrosPerToken.p25, 'p75': r.cpuMicrosPerToken.p75, '× floor': r.ratioToFloor.median }])));
  console.log(`written to ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
