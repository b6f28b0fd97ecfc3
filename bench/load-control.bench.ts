// Load control in virtual time on the in-process simulator (same latency model as the simulator server):
// 200 background classifications at t=0 plus one interactive request every 250 ms, through limit()
// (concurrency 8, standing in for the provider's capacity), with and without a reserve for interactive
// requests, with and without batch() above it. Reports background throughput and interactive latency
// against the interactive stream alone through the same limiter.
//
// Paired draws: the simulator draws each request's latency from the seed and the request's place in its
// request order. With one simulator for both lanes, the background requests shift which draw each interactive
// request gets, and with 60 samples the p95 of a heavy-tailed latency moves by up to 30 % from that alone
// (`sharedDraws` below measures it). So interactive and background requests go to two simulators of the same
// profile (common random numbers): interactive request i gets the same draw in every scenario, and any
// difference in its latency is what load control added (queueing). The simulator models no server-side
// contention, so latency does not rise with load by itself either.
//
// Deterministic (seeded, virtual time); each scenario runs for SEEDS seeds and reports the median and the worst.
import { merge, mergeMap, range, tap, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import type { LlmRequest } from '../src/core/request';
import { type Middleware, type Transport, withMiddleware } from '../src/core/transport';
import { batch } from '../src/middleware/batch';
import { limit, type LimitConfig } from '../src/middleware/limit';
import { text } from '../src/operators/text';
import { simulatedTransport } from '../src/simulator/simulatedTransport';
import { round, summarize } from './lib/stats';
import { writeResults } from './lib/writeResults';

const BACKGROUND = 200;
const INTERACTIVE_EVERY_MS = 250;
const INTERACTIVE = 60;
const SEEDS = 10;
const MODEL = 'gpt-4o-mini';

const classify = (i: number): LlmRequest => ({
  model: MODEL,
  temperature: 0,
  messages: [
    { role: 'system', content: 'Classify the sentiment as positive or negative.' },
    { role: 'user', content: `Review ${i}: ${i % 3 ? 'I love it, works great' : 'Broke after a day'}` },
  ],
});
const ask = (i: number): LlmRequest => ({ model: MODEL, messages: [{ role: 'user', content: `Summarize in one sentence: note ${i}` }] });
const isInteractive = (request: LlmRequest) => String(request.messages.at(-1)?.content).startsWith('Summarize');

interface Run {
  interactiveP50Ms: number;
  interactiveP95Ms: number;
  /** Time interactive requests waited in limit()'s queue. */
  interactiveWaitP95Ms: number;
  interactiveWaitMaxMs: number;
  interactivePeakInFlight: number;
  backgroundDoneMs?: number;
  upstreamRequests: number;
}

interface Scenario {
  limiter: Pick<LimitConfig, 'concurrency' | 'reserve'>;
  background: boolean;
  batching: boolean;
  pairedDraws: boolean;
}

function run(seed: number, { limiter: limiterConfig, background, batching, pairedDraws }: Scenario): Run {
  const latencies: number[] = [];
  let backgroundDone = 0;
  let backgroundDoneAt: number | undefined;
  let upstreamRequests = 0;
  const scheduler = new TestScheduler(() => undefined);
  const limiter = limit({ ...limiterConfig, maxQueued: 10_000 });
  scheduler.run(() => {
    const layers: Middleware[] = batching
      ? [batch({ threshold: limiterConfig.concurrency, maxBatchSize: 8, maxWaitMs: 200, load: () => limiter.stats().queued }), limiter]
      : [limiter];
    const interactiveModel = simulatedTransport({ seed });
    const backgroundModel = pairedDraws ? simulatedTransport({ seed: seed + 1000 }) : interactiveModel;
    const upstream: Transport = (request, context) => {
      upstreamRequests++;
      return (isInteractive(request) ? interactiveModel : backgroundModel)(request, context);
    };
    const llm = withMiddleware(upstream, ...layers);
    const interactive$ = range(0, INTERACTIVE).pipe(
      mergeMap((i) =>
        timer(i * INTERACTIVE_EVERY_MS).pipe(
          mergeMap(() => {
            const start = scheduler.now();
            return llm(ask(i)).pipe(
              text(),
              tap(() => latencies.push(scheduler.now() - start)),
            );
          }),
        ),
      ),
    );
    const background$ = background
      ? range(0, BACKGROUND).pipe(
          mergeMap((i) => llm(classify(i), { lane: 'background' }).pipe(text())),
          tap(() => {
            if (++backgroundDone === BACKGROUND) backgroundDoneAt = scheduler.now();
          }),
        )
      : [];
    merge(interactive$, background$).subscribe({ error: (error: unknown) => console.error(error) });
  });
  if (latencies.length !== INTERACTIVE || (background && backgroundDoneAt === undefined)) throw new Error('a scenario did not finish');
  const sorted = latencies.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const interactive = limiter.stats().lanes['interactive']!;
  return {
    interactiveP50Ms: at(0.5),
    interactiveP95Ms: at(0.95),
    interactiveWaitP95Ms: interactive.wait?.p95 ?? 0,
    interactiveWaitMaxMs: interactive.wait?.max ?? 0,
    interactivePeakInFlight: interactive.peakInFlight,
    ...(backgroundDoneAt === undefined ? {} : { backgroundDoneMs: backgroundDoneAt }),
    upstreamRequests,
  };
}

const seeds = Array.from({ length: SEEDS }, (_, i) => i + 1);
const median = (values: number[]) => summarize(values).median;

/** Loaded against unloaded, seed by seed, through the same limiter. */
function compare(limiter: Scenario['limiter'], batching: boolean, pairedDraws = true) {
  const pairs = seeds.map((seed) => ({
    unloaded: run(seed, { limiter, background: false, batching: false, pairedDraws }),
    loaded: run(seed, { limiter, background: true, batching, pairedDraws }),
  }));
  const ratios = pairs.map(({ loaded, unloaded }) => loaded.interactiveP95Ms / unloaded.interactiveP95Ms);
  const loaded = pairs.map((pair) => pair.loaded);
  return {
    limiter,
    batching,
    backgroundPerSecond: round(median(loaded.map((r) => (BACKGROUND * 1000) / r.backgroundDoneMs!)), 2),
    backgroundDoneMs: median(loaded.map((r) => r.backgroundDoneMs!)),
    upstreamRequests: median(loaded.map((r) => r.upstreamRequests)),
    interactiveP50Ms: median(loaded.map((r) => r.interactiveP50Ms)),
    interactiveP95Ms: median(loaded.map((r) => r.interactiveP95Ms)),
    unloadedInteractiveP95Ms: median(pairs.map((pair) => pair.unloaded.interactiveP95Ms)),
    interactiveP95VsUnloaded: { median: round(median(ratios), 3), worst: round(Math.max(...ratios), 3) },
    interactiveWaitMs: { p95Worst: Math.max(...loaded.map((r) => r.interactiveWaitP95Ms)), maxWorst: Math.max(...loaded.map((r) => r.interactiveWaitMaxMs)) },
    unloadedInteractivePeakInFlight: Math.max(...pairs.map((pair) => pair.unloaded.interactivePeakInFlight)),
  };
}

const limiters = [
  { concurrency: 8 },
  { concurrency: 8, reserve: { interactive: 4 } },
  // The previous setup: 4 slots, fewer than the interactive stream alone takes at its peaks (6 in flight with 8 slots).
  { concurrency: 4 },
  { concurrency: 4, reserve: { interactive: 3 } },
];
const rows = limiters.flatMap((limiter) => [compare(limiter, false), compare(limiter, true)]);
const headline = rows.find((row) => row.limiter.concurrency === 8 && row.limiter.reserve !== undefined && row.batching)!;
const headlineUnbatched = rows.find((row) => row.limiter === headline.limiter && !row.batching)!;
const sharedDraws = compare(headline.limiter, true, false);

const results = {
  setup: {
    background: BACKGROUND,
    interactive: INTERACTIVE,
    interactiveEveryMs: INTERACTIVE_EVERY_MS,
    model: MODEL,
    batch: { threshold: 'concurrency', maxBatchSize: 8, maxWaitMs: 200 },
    seeds: SEEDS,
    draws: 'paired (interactive and background on separate simulators of the same profile)',
    clock: 'virtual',
  },
  rows,
  headline: {
    limiter: headline.limiter,
    backgroundThroughputFactor: round(headline.backgroundPerSecond / headlineUnbatched.backgroundPerSecond, 2),
    interactiveP95VsUnloaded: headline.interactiveP95VsUnloaded,
  },
  sharedDraws: {
    note: 'the headline scenario with one simulator for both lanes: the spread is sampling noise of p95 over 60 requests, not queueing',
    interactiveP95VsUnloaded: sharedDraws.interactiveP95VsUnloaded,
    interactiveWaitMs: sharedDraws.interactiveWaitMs,
  },
};

const reserveOf = (limiter: Scenario['limiter']) => (limiter.reserve ? `reserve: { interactive: ${limiter.reserve['interactive']} }` : 'no reserve');
console.log('| limit() | batch() | background/s | upstream calls | interactive p50 / p95 | p95 vs unloaded (median, worst of 10) | interactive queue wait p95 (worst) |');
console.log('|---|---|---|---|---|---|---|');
for (const row of rows) {
  console.log(
    `| concurrency ${row.limiter.concurrency}, ${reserveOf(row.limiter)} | ${row.batching ? 'yes' : 'no'} | ${row.backgroundPerSecond} | ${row.upstreamRequests} | ` +
      `${row.interactiveP50Ms} / ${row.interactiveP95Ms} ms | ×${row.interactiveP95VsUnloaded.median.toFixed(2)}, ×${row.interactiveP95VsUnloaded.worst.toFixed(2)} | ${row.interactiveWaitMs.p95Worst} ms |`,
  );
}
console.log(JSON.stringify({ headline: results.headline, sharedDraws: results.sharedDraws }, null, 2));
console.log(`written to ${writeResults('load-control', results)}`);
