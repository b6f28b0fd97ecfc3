// Hedged requests against tail latency, in virtual time on the simulator (scheduler-driven, so the
// timings are the simulator's, exact and reproducible). Heavy-tailed profiles: 2 % or 5 % of
// requests take 10× or 20× longer to their first token. The same requests (10,000 by default;
// BENCH_REQUESTS to change) run plain and hedged at the live p95 and p90, over three seeds.
// Reported per row: TTFT p99 plain and hedged, the p99 cut, what an ideal hedger at the same delay
// reaches on the same samples, and the extra requests hedging cost (which should sit at the hedge
// point: 5 % at p95, 10 % at p90). Per (profile, hedge point): the median over the seeds and the
// spread (min–max). The seeds are the repeated runs: in virtual time a run with one seed always
// gives the same figures, so three runs of one seed would show no spread at all.
// The bound: a rescued request still waits the delay plus a backup's TTFT, so with a 10× tail the
// p99 can shrink by at most about 10 × median / (delay + median).
import { defer, filter, take, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type Middleware, type Transport, withMiddleware } from '../src/core/transport';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { hedge } from '../src/middleware/hedge';
import { measure } from '../src/middleware/measure';
import { simulatedTransport } from '../src/simulator/simulatedTransport';
import { round } from './lib/stats';
import { writeResults } from './lib/writeResults';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 10_000);
const SEEDS = [1, 2, 3];
const SPACING_MS = 50;
const WINDOW = 500;
const body = { ttftMs: { median: 300, p95: 450 }, tokensPerSecond: 100, jitter: 0, outputTokens: 10 };
const profiles = {
  'tail10-2%': { ...body, tail: { probability: 0.02, multiplier: 10 } },
  'tail10-5%': { ...body, tail: { probability: 0.05, multiplier: 10 } },
  'tail20-2%': { ...body, tail: { probability: 0.02, multiplier: 20 } },
  'tail20-5%': { ...body, tail: { probability: 0.05, multiplier: 20 } },
};
// The budget is twice the hedge point: a cap against runaway, not what holds the rate (the estimate must).
const hedgePoints = [
  { after: 'p95', p: 95, budget: 0.1 },
  { after: 'p90', p: 90, budget: 0.2 },
] as const;

interface Outcome {
  ttft: number[];
  upstreamRequests: number;
}

function run(model: string, seed: number, hedged: (registry: LatencyRegistry) => Middleware[]): Outcome {
  const outcome: Outcome = { ttft: [], upstreamRequests: 0 };
  const scheduler = new TestScheduler(() => undefined);
  scheduler.run(() => {
    const sim = simulatedTransport({ profiles, seed });
    const counted: Transport = (r) => defer(() => (outcome.upstreamRequests++, sim(r)));
    const registry = new LatencyRegistry({ window: { requests: WINDOW } });
    const llm = withMiddleware(counted, ...hedged(registry), measure({ registry }));
    for (let i = 0; i < REQUESTS; i++) {
      scheduler.schedule(() => {
        const start = scheduler.now();
        llm({ model, messages: [{ role: 'user', content: 'Tell me a story' }] })
          .pipe(
            filter((e) => e.type === 'text'),
            take(1),
            tap(() => outcome.ttft.push(scheduler.now() - start)),
          )
          .subscribe();
      }, i * SPACING_MS);
    }
  });
  return outcome;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const sortedOf = (values: readonly number[]) => [...values].sort((a, b) => a - b);

/**
 * The p99 an ideal hedger at `delay` would reach on these same plain samples: no overhead, no
 * budget, the backup sent exactly at `delay` to a server whose first token is an independent draw
 * from the same distribution (another sample of the run). A request's time is then
 * min(own, delay + backup's). Reported as the median over 21 pairings of requests with backups.
 */
function idealHedgedP99(ttft: readonly number[], delay: number): number {
  const n = ttft.length;
  const p99s = Array.from({ length: 21 }, (_, k) => {
    const shift = 1 + Math.floor(((k + 1) * n) / 23);
    return percentile(sortedOf(ttft.map((own, i) => (own <= delay ? own : Math.min(own, delay + ttft[(i + shift) % n]!)))), 99);
  });
  return sortedOf(p99s)[10]!;
}

const median = (values: number[]) => sortedOf(values)[Math.floor(values.length / 2)]!;
const spread = (values: number[]) => [Math.min(...values), Math.max(...values)];

const started = Date.now();
const rows = [];
const summary = [];
for (const model of Object.keys(profiles)) {
  // In request order: the ideal hedger pairs each request with another one, and a sorted list would
  // pair the slowest with the fastest.
  const plainRuns = SEEDS.map((seed) => run(model, seed, () => []).ttft);
  for (const point of hedgePoints) {
    const seedRows = SEEDS.map((seed, s) => {
      const inOrder = plainRuns[s]!;
      const plain = sortedOf(inOrder);
      let budgetSkips = 0;
      const hedgedRun = run(model, seed, (registry) => [
        hedge({
          after: point.after,
          registry,
          minSamples: 50,
          budget: { ratio: point.budget },
          onHedge: (e) => void (e.type === 'skipped' && e.reason === 'budget' && budgetSkips++),
        }),
      ]);
      const hedged = sortedOf(hedgedRun.ttft);
      const delay = percentile(plain, point.p);
      const ideal = idealHedgedP99(inOrder, delay);
      const plainP99 = percentile(plain, 99);
      const hedgedP99 = percentile(hedged, 99);
      return {
        profile: model,
        after: point.after,
        seed,
        requests: REQUESTS,
        plain: { p50: percentile(plain, 50), [point.after]: delay, p99: plainP99 },
        hedged: { p50: percentile(hedged, 50), p99: hedgedP99 },
        p99Cut: round(plainP99 / hedgedP99, 2),
        // The best hedging at the plain run's own percentile could do on these samples.
        idealHedgedP99: ideal,
        idealP99Cut: round(plainP99 / ideal, 2),
        // hedge()'s p99 over the ideal's: 1.10 is "10 % slower than ideal".
        p99VsIdeal: round(hedgedP99 / ideal, 3),
        extraRequests: round((hedgedRun.upstreamRequests - REQUESTS) / REQUESTS, 4),
        budgetSkips,
      };
    });
    rows.push(...seedRows);
    const pick = (f: (row: (typeof seedRows)[number]) => number) => seedRows.map(f);
    const line = {
      profile: model,
      after: point.after,
      hedgePoint: round(1 - point.p / 100, 2),
      p99Cut: { median: median(pick((r) => r.p99Cut)), spread: spread(pick((r) => r.p99Cut)) },
      idealP99Cut: { median: median(pick((r) => r.idealP99Cut)), spread: spread(pick((r) => r.idealP99Cut)) },
      p99VsIdeal: { median: median(pick((r) => r.p99VsIdeal)), spread: spread(pick((r) => r.p99VsIdeal)) },
      extraRequests: { median: median(pick((r) => r.extraRequests)), spread: spread(pick((r) => r.extraRequests)) },
    };
    summary.push(line);
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    console.log(
      `${model} at ${point.after}: p99 cut ${line.p99Cut.median}× (${line.p99Cut.spread.join('–')}), ideal ${line.idealP99Cut.median}× ` +
        `(${line.idealP99Cut.spread.join('–')}); hedge() p99 / ideal p99 ${line.p99VsIdeal.median} (${line.p99VsIdeal.spread.join('–')}); ` +
        `extra requests ${pct(line.extraRequests.median)} (${line.extraRequests.spread.map(pct).join('–')}) for a ${pct(line.hedgePoint)} hedge point`,
    );
  }
}
console.log(`${rows.length} hedged runs of ${REQUESTS} requests in ${((Date.now() - started) / 1000).toFixed(0)} s`);
const file = writeResults('hedge', {
  profiles,
  requests: REQUESTS,
  seeds: SEEDS,
  spacingMs: SPACING_MS,
  window: { requests: WINDOW },
  hedgePoints,
  summary,
  rows,
});
console.log(`written to ${file}`);
