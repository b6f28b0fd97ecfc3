// The cost of answering without the model, in-process (no network):
// 1. cache-hit replay latency for a 100-token answer, subscribe to complete, request key included
//    (goal: p99 < 50 µs), for a short prompt and a 4 KB one (the key hashes the whole request);
// 2. the cost of joining a request already in flight (dedupe), replaying 100 events so far;
// 3. heap after 100,000 distinct requests through a bounded cache (maxEntries 1,000): should stay flat.
// Writes bench/results/cache.json. Run: npm run bench -- cache-replay
import { type Observable, Subject } from 'rxjs';
import type { LlmEvent } from '../src/core/events';
import type { LlmRequest } from '../src/core/request';
import { withMiddleware } from '../src/core/transport';
import { cache } from '../src/middleware/cache';
import { dedupe } from '../src/middleware/dedupe';
import { cannedAnswer } from './lib/cannedAnswer';
import { round } from './lib/stats';
import { writeResults } from './lib/writeResults';

const TOKENS = 100;
const SAMPLES = Number(process.env['BENCH_SAMPLES'] ?? 100_000);
const DISTINCT = Number(process.env['BENCH_DISTINCT'] ?? 100_000);

const { events: answer, transport: answering } = cannedAnswer(TOKENS);
const ask = (content: string): LlmRequest => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], temperature: 0 });

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Microseconds from subscribe to complete, per sample, as percentiles. */
function latency(samples: number, subscribeOnce: () => Observable<LlmEvent>): Percentiles {
  const micros = new Float64Array(samples);
  let received = 0;
  const count = { next: () => received++ };
  for (let i = 0; i < samples; i++) {
    const started = process.hrtime.bigint();
    subscribeOnce().subscribe(count).unsubscribe();
    micros[i] = Number(process.hrtime.bigint() - started) / 1_000;
  }
  if (received !== samples * answer.length) throw new Error(`received ${received} events, expected ${samples * answer.length}`);
  micros.sort();
  const at = (q: number) => round(micros[Math.min(samples - 1, Math.floor(q * samples))]!, 2);
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: round(micros[samples - 1]!, 2) };
}

function cacheHit(prompt: string): Percentiles {
  const llm = withMiddleware(answering, cache());
  const request = ask(prompt);
  llm(request).subscribe(); // the miss that stores it
  latency(2_000, () => llm(request)); // warm up the JIT
  return latency(SAMPLES, () => llm(request));
}

function joinInFlight(): { join: Percentiles; freshSubscribe: Percentiles } {
  // One request in flight that has streamed every token but not finished: a joiner replays them all.
  const live = new Subject<LlmEvent>();
  const llm = withMiddleware(() => live, dedupe());
  const request = ask('Summarize in one sentence: RxJS makes streams composable.');
  const leader = llm(request).subscribe();
  answer.forEach((event) => live.next(event));
  latency(2_000, () => llm(request));
  const join = latency(SAMPLES, () => llm(request));
  leader.unsubscribe();
  // The floor: subscribing to an in-process source of the same 100 events, no sharing.
  latency(2_000, () => answering(request));
  const freshSubscribe = latency(SAMPLES, () => answering(request));
  return { join, freshSubscribe };
}

function boundedMemory(): { checkpoints: { requests: number; heapMB: number; entries?: number; bytesMB: number }[]; stats: object } {
  const answers = cache({ maxEntries: 1_000 });
  const llm = withMiddleware(answering, answers);
  const checkpoints: { requests: number; heapMB: number; entries?: number; bytesMB: number }[] = [];
  const checkpoint = (requests: number) => {
    gc();
    gc();
    const stats = answers.stats();
    checkpoints.push({
      requests,
      heapMB: round(process.memoryUsage().heapUsed / 2 ** 20, 1),
      ...(stats.entries === undefined ? {} : { entries: stats.entries }),
      bytesMB: round((stats.bytes ?? 0) / 2 ** 20, 2),
    });
  };
  checkpoint(0);
  for (let i = 1; i <= DISTINCT; i++) {
    llm(ask(`Question number ${i}: what is ${i} squared?`)).subscribe();
    if (i % (DISTINCT / 10) === 0) checkpoint(i);
  }
  return { checkpoints, stats: answers.stats() };
}

function main(): void {
  const short = cacheHit('Summarize in one sentence: RxJS makes streams composable.');
  const long = cacheHit('x'.repeat(4_096));
  const joining = joinInFlight();
  const memory = boundedMemory();
  const results = {
    goal: 'cache-hit p99 < 50 µs for a 100-token answer; heap flat after 100,000 distinct requests',
    samples: SAMPLES,
    answerEvents: answer.length,
    cacheHitMicros: { shortPrompt: short, prompt4KB: long },
    joinInFlightMicros: joining,
    boundedCache: memory,
  };
  console.log(JSON.stringify(results, null, 2));
  console.log(`written to ${writeResults('cache', results)}`);
}

main();
