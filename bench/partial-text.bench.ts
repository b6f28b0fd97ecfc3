// What PartialText keeps per streamed text delta, and what adding one costs.
// PartialText holds the text of choice 0 for the error that may cut an answer off; every transport's decoder,
// timeouts(), step() and the simulators keep one per live request. Compared with:
// - "flat string": the answer's text as one string, the least any holder can keep (the floor);
// - "rope (before)": PartialText as it was until December 2026, `text += delta` (one 32-byte V8 rope node per delta).
// Deltas are made as the decoder makes them (JSON.parse of a chunk), in two kinds: the peers' harness's short
// vocabulary words ("vocab": V8 internalises such short parsed strings, so equal deltas share one string) and
// deltas unique to each answer ("unique"). Two ways of use: "write" (added per token, read once at the end, as
// an error would: the decoder, timeouts()) and "read" (read after every token, as step() does).
// Memory: heapUsed after gc() with all the answers held at once, per delta; CPU: ns per delta over interleaved
// rounds (median and p25..p75; the machine is shared, compare the rows, not the absolute figures).
// Writes bench/results/partial-text.json. Run: npm run bench -- partial-text
import { isContentEvent, type LlmEvent } from '../src/core/events';
import { PartialText } from '../src/internal/PartialText';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('partial-text bench: run with --expose-gc (npm run bench does)');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 21);

const VOCAB = (
  'the a of and to in is for on with as by at from this that model token stream latency pipeline reactive operator ' +
  'signal value result answer summary keyword positive negative neutral fast slow request response server client ' +
  'cache route prefetch merge split join buffer window alpha beta gamma delta epsilon zeta eta theta iota kappa ' +
  'lambda sigma omega vector matrix graph river stone cloud light shadow market growth report quarter revenue'
).split(' ');

/** PartialText as it was until December 2026 (its text a `+=` rope), for the "before" rows. */
class RopePartialText {
  private textSoFar = '';
  private contentSeen = false;
  get text(): string {
    return this.textSoFar;
  }
  add(event: LlmEvent): boolean {
    if (!isContentEvent(event)) return false;
    this.contentSeen = true;
    if (event.type !== 'text' || event.choice !== 0 || event.text === '') return false;
    this.textSoFar += event.text;
    return true;
  }
}

interface Holder {
  add(delta: string): void;
  read(): string;
  /** What a live request keeps: the string itself, or the PartialText. */
  kept(): unknown;
}
type Variant = 'flat string' | 'rope (before)' | 'PartialText';
const variants: Record<Variant, () => Holder> = {
  // The floor: the answer's characters as one string (joined once, at the end).
  'flat string': () => {
    const parts: string[] = [];
    let flat: string | undefined;
    return { add: (delta) => void parts.push(delta), read: () => (flat ??= parts.join('')), kept: () => flat };
  },
  'rope (before)': () => {
    const partial = new RopePartialText();
    return { add: (delta) => void partial.add({ type: 'text', choice: 0, text: delta }), read: () => partial.text, kept: () => partial };
  },
  PartialText: () => {
    const partial = new PartialText();
    return { add: (delta) => void partial.add({ type: 'text', choice: 0, text: delta }), read: () => partial.text, kept: () => partial };
  },
};

function chunks(tokens: number): string[] {
  let seed = 15;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 2 ** 32;
  return Array.from({ length: tokens }, (_, i) => {
    const word = (i === 0 ? '' : ' ') + VOCAB[Math.floor(random() * VOCAB.length)];
    return `{"choices":[{"index":0,"delta":{"content":${JSON.stringify(word)}}}]}`;
  });
}
const deltaOf = (chunk: string): string => (JSON.parse(chunk) as { choices: Array<{ delta: { content: string } }> }).choices[0]!.delta.content;

/** What the answers being measured keep, and nothing else: cleared before each baseline. */
let held: unknown[] = [];

function fill(variant: Variant, source: readonly string[], answers: number, readEvery: boolean, unique: boolean): number {
  let chars = 0;
  for (let answer = 0; answer < answers; answer++) {
    const holder = variants[variant]();
    for (const chunk of source) {
      holder.add(deltaOf(unique ? chunk.replace('":"', `":"${answer}`) : chunk));
      if (readEvery) holder.read();
    }
    chars += holder.read().length;
    held.push(holder.kept());
  }
  return chars;
}

function memory(tokens: number, answers: number) {
  const source = chunks(tokens);
  const rows: Record<string, unknown> = {};
  for (const kind of ['vocab', 'unique'] as const) {
    for (const mode of ['write', 'read'] as const) {
      for (const variant of Object.keys(variants) as Variant[]) {
        if (variant === 'flat string' && mode === 'read') continue;
        fill(variant, source, Math.min(answers, 50), mode === 'read', kind === 'unique'); // warm the code up
        held = [];
        gc!();
        gc!();
        const before = process.memoryUsage().heapUsed;
        held = new Array<unknown>(answers).fill(undefined);
        held.length = 0;
        const chars = fill(variant, source, answers, mode === 'read', kind === 'unique');
        gc!();
        gc!();
        const bytes = process.memoryUsage().heapUsed - before;
        rows[`${kind}, ${mode}, ${variant}`] = { bytesPerDelta: round(bytes / (answers * tokens), 2), charsPerDelta: round(chars / (answers * tokens), 2), bytesPerAnswer: Math.round(bytes / answers) };
        held = [];
      }
    }
  }
  return rows;
}

function cpu(tokens: number) {
  const events: LlmEvent[] = chunks(tokens).map((chunk) => ({ type: 'text', choice: 0, text: deltaOf(chunk) }));
  const deltas = events.map((event) => (event.type === 'text' ? event.text : ''));
  const answers = Math.max(1, Math.floor(200_000 / tokens));
  let sink = 0;
  // One loop per way, as the callers run it: events made once (as the decoder makes them), added one by one.
  const ways: Record<string, () => void> = {
    'rope (before), write': () => {
      const partial = new RopePartialText();
      for (const event of events) partial.add(event);
      sink += partial.text.length;
    },
    'rope (before), read': () => {
      const partial = new RopePartialText();
      for (const event of events) if (partial.add(event)) sink += partial.text.length;
    },
    'PartialText, write': () => {
      const partial = new PartialText();
      for (const event of events) partial.add(event);
      sink += partial.text.length;
    },
    'PartialText, read': () => {
      const partial = new PartialText();
      for (const event of events) if (partial.add(event)) sink += partial.text.length;
    },
  };
  const samples: Record<string, number[]> = {};
  for (let r = 0; r <= ROUNDS; r++) {
    const order = Object.keys(ways);
    if (r % 2) order.reverse();
    for (const name of order) {
      const way = ways[name]!;
      gc!();
      const start = process.hrtime.bigint();
      for (let a = 0; a < answers; a++) way();
      const ns = Number(process.hrtime.bigint() - start) / (answers * tokens);
      if (r > 0) (samples[name] ??= []).push(ns); // round 0 warms up
    }
  }
  if (sink < 0) console.log(sink);
  return Object.fromEntries(
    Object.entries(samples).map(([name, ns]) => {
      const s = summarize(ns);
      return [name, { nsPerDelta: round(s.median, 1), p25: round(s.p25, 1), p75: round(s.p75, 1) }];
    }),
  );
}

// CPU first: the memory rounds leave a large heap and mixed string shapes behind them.
const cpuRows = { '64 tokens': cpu(64), '2,000 tokens': cpu(2_000) };
const results = {
  memory: { '64 tokens x 10,000 answers': memory(64, 10_000), '2,000 tokens x 300 answers': memory(2_000, 300) },
  cpu: cpuRows,
};
for (const [size, rows] of Object.entries(results.memory)) {
  console.log(`\nheap per delta, ${size}`);
  console.table(rows);
}
for (const [size, rows] of Object.entries(results.cpu)) {
  console.log(`\nCPU per delta, ${size}`);
  console.table(rows);
}
console.log(`written to ${writeResults('partial-text', results)}`);
