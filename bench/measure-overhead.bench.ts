// What measure() costs per streamed event: a 2,000-event answer through an in-memory transport,
// consumed with and without measure() in front. The transport is synchronous, so the figure is
// pure CPU (no I/O to hide behind). Rounds are interleaved in alternating order; medians and the
// interquartile range are reported. Target: at most 0.5 µs per event.
import { Observable } from 'rxjs';
import type { LlmEvent } from '../src/core/events';
import { type Transport, withMiddleware } from '../src/core/transport';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { measure } from '../src/middleware/measure';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const EVENTS = 2000;
const STREAMS_PER_SAMPLE = 50; // 100,000 events per sample: long enough for a stable timer reading
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 41);
const TARGET_NS = 500;
const request = { model: 'bench', messages: [{ role: 'user' as const, content: 'go' }] };

// Built once: the bench measures the pipeline, not event construction.
const events: LlmEvent[] = [
  ...Array.from({ length: EVENTS - 2 }, (_, i): LlmEvent => ({ type: 'text', choice: 0, text: `t${i % 10} ` })),
  { type: 'usage', choice: 0, usage: { prompt_tokens: 10, completion_tokens: EVENTS - 2, total_tokens: EVENTS + 8 } },
  { type: 'finish', choice: 0, reason: 'stop' },
];

const transport: Transport = () =>
  new Observable<LlmEvent>((subscriber) => {
    for (const event of events) subscriber.next(event);
    subscriber.complete();
  });

const registry = new LatencyRegistry();
const clients: Record<'plain' | 'measured', Transport> = {
  plain: withMiddleware(transport),
  measured: withMiddleware(transport, measure({ registry })),
};
// The step travels in the request context, as step() sends it.
const context = { step: 'bench' };

let sink = 0;
function sample(client: Transport): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < STREAMS_PER_SAMPLE; i++) {
    client(request, context).subscribe({ next: (event) => (sink += event.type.length) });
  }
  return Number(process.hrtime.bigint() - started) / (STREAMS_PER_SAMPLE * EVENTS);
}

function main(): void {
  for (let warm = 0; warm < 20; warm++) for (const client of Object.values(clients)) sample(client);
  const samples = { plain: [] as number[], measured: [] as number[], overhead: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    (globalThis as { gc?: () => void }).gc?.();
    // Alternate which goes first, so drift on a shared machine hits both alike.
    const [plain, measured] = r % 2 === 0 ? [sample(clients.plain), sample(clients.measured)] : reversed(sample(clients.measured), sample(clients.plain));
    samples.plain.push(plain);
    samples.measured.push(measured);
    samples.overhead.push(measured - plain);
  }
  if (sink === 0 || registry.count({ view: 'all' }) === 0) throw new Error('nothing was streamed');
  const recordNs = recordCost();

  const ns = (values: number[]) => {
    const s = summarize(values);
    return { median: round(s.median, 1), p25: round(s.p25, 1), p75: round(s.p75, 1), min: round(s.min, 1), max: round(s.max, 1), runs: s.runs };
  };
  const results = {
    unit: 'ns per event',
    eventsPerStream: EVENTS,
    streamsPerSample: STREAMS_PER_SAMPLE,
    rounds: ROUNDS,
    plain: ns(samples.plain),
    measured: ns(samples.measured),
    overhead: ns(samples.overhead),
    targetNs: TARGET_NS,
    withinTarget: summarize(samples.overhead).median <= TARGET_NS,
    recordedRequests: registry.count({ view: 'all' }),
    // Paid once per request, at its end (already inside the figures above, spread over 2,000 events).
    registryRecordNs: round(recordNs, 1),
  };
  const file = writeResults('measure', results);
  console.log(
    `plain ${results.plain.median} ns/event, with measure() ${results.measured.median} ns/event: ` +
      `overhead ${results.overhead.median} ns/event (IQR ${results.overhead.p25}–${results.overhead.p75}); target ≤ ${TARGET_NS} ns → ${results.withinTarget ? 'met' : 'MISSED'}`,
  );
  console.log(`registry.record(): ${results.registryRecordNs} ns per request`);
  console.log(`written to ${file}`);
}

/** The median cost of one `registry.record()` (three histograms, all-time and windowed, plus counters). */
function recordCost(): number {
  const target = new LatencyRegistry();
  const perSample = 20_000;
  const costs: number[] = [];
  for (let r = 0; r < 15; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perSample; i++) {
      const ttft = 100 + (i % 900);
      target.record({ step: 'bench', model: 'bench', start: 0, firstToken: ttft, end: ttft * 4, outcome: 'ok', outputTokens: 200, outputTokensFrom: 'usage', finishReasons: ['stop'] });
    }
    costs.push(Number(process.hrtime.bigint() - started) / perSample);
  }
  return summarize(costs.slice(5)).median;
}

function reversed(measured: number, plain: number): [number, number] {
  return [plain, measured];
}

main();
