// Hedged requests against tail latency, in virtual time on the simulator (scheduler-driven, so the
// timings are the simulator's, exact and reproducible). Heavy-tailed profiles: 3 % of requests take
// 10× (tail10) or 20× (tail20) longer to their first token. The same 2,000 requests run plain and
// hedged at the live p95; reported: TTFT p50/p95/p99/max and the extra requests hedging cost.
// Note the bound: a rescued request still waits the delay (≈ p95) plus a backup's TTFT (≈ median),
// so with a 10× tail the p99 can shrink by at most about 10 × median / (p95 + median) ≈ 4–5×. Each
// row also reports what an ideal hedger at p95 (no overhead, no budget) reaches on the same samples.
import { defer, filter, take, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type Middleware, type Transport, withMiddleware } from '../src/core/transport';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { hedge } from '../src/middleware/hedge';
import { measure } from '../src/middleware/measure';
import { simulatedTransport } from '../src/simulator/simulatedTransport';
import { round } from './lib/stats';
import { writeResults } from './lib/writeResults';

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 2000);
const SPACING_MS = 50;
const body = { ttftMs: { median: 300, p95: 450 }, tokensPerSecond: 100, jitter: 0, outputTokens: 10 };
const profiles = {
  tail10: { ...body, tail: { probability: 0.03, multiplier: 10 } },
  tail20: { ...body, tail: { probability: 0.03, multiplier: 20 } },
};

interface Outcome {
  ttft: number[];
  upstreamRequests: number;
  hedges: number;
}

function run(model: string, seed: number, hedged: (registry: LatencyRegistry) => Middleware[]): Outcome {
  const outcome: Outcome = { ttft: [], upstreamRequests: 0, hedges: 0 };
  const scheduler = new TestScheduler(() => undefined);
  scheduler.run(() => {
    const sim = simulatedTransport({ profiles, seed });
    const counted: Transport = (r) => defer(() => ((outcome.upstreamRequests++), sim(r)));
    const registry = new LatencyRegistry({ window: { requests: 500 } });
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

function percentiles(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: round(at(50), 1), p95: round(at(95), 1), p99: round(at(99), 1), max: round(sorted.at(-1)!, 1) };
}

const cases = Object.keys(profiles).flatMap((model) => [1, 2, 3].map((seed) => ({ model, seed })));
const rows = cases.map(({ model, seed }) => {
  const plain = run(model, seed, () => []);
  let hedges = 0;
  const hedgedRun = run(model, seed, (registry) => [
    hedge({ after: 'p95', registry, minSamples: 50, budget: { ratio: 0.1 }, onHedge: (e) => void (e.type === 'started' && hedges++) }),
  ]);
  const a = percentiles(plain.ttft);
  const b = percentiles(hedgedRun.ttft);
  const ideal = idealHedgedP99(plain.ttft, a.p95);
  return {
    profile: model,
    seed,
    requests: REQUESTS,
    plain: a,
    hedged: b,
    p99Improvement: round(a.p99 / b.p99, 2),
    // The best hedging at p95 could do on this run (see idealHedgedP99), and what that would cut.
    idealHedgedP99: ideal,
    idealP99Improvement: round(a.p99 / ideal, 2),
    extraRequests: round((hedgedRun.upstreamRequests - REQUESTS) / REQUESTS, 4),
    hedges,
  };
});

for (const row of rows) {
  console.log(
    `${row.profile} seed ${row.seed}: TTFT p50 ${row.plain.p50} → ${row.hedged.p50} ms, p95 ${row.plain.p95} → ${row.hedged.p95} ms, ` +
      `p99 ${row.plain.p99} → ${row.hedged.p99} ms (${row.p99Improvement}×; an ideal hedger at p95: ${row.idealHedgedP99} ms, ${row.idealP99Improvement}×), max ${row.plain.max} → ${row.hedged.max} ms; ` +
      `extra requests ${(row.extraRequests * 100).toFixed(1)} %`,
  );
}
const file = writeResults('hedge', { profiles, spacingMs: SPACING_MS, after: 'p95', budget: { ratio: 0.1 }, rows });
console.log(`written to ${file}`);

/**
 * The p99 an ideal hedger at p95 would reach on these same plain samples: no overhead, no budget,
 * the backup sent exactly at the plain run's p95 to a server whose first token is an independent
 * draw from the same distribution (another sample of the run). A request's time is then
 * min(own, p95 + backup's). Reported as the median over 21 pairings of requests with backups.
 */
function idealHedgedP99(ttft: readonly number[], p95: number): number {
  const n = ttft.length;
  const p99s = Array.from({ length: 21 }, (_, k) => {
    const shift = 1 + Math.floor(((k + 1) * n) / 23);
    return percentiles(ttft.map((own, i) => (own <= p95 ? own : Math.min(own, p95 + ttft[(i + shift) % n]!)))).p99;
  });
  return p99s.sort((x, y) => x - y)[10]!;
}
