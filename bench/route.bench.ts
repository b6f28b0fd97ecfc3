// Latency-aware routing among three deployments of one model, in virtual time on the simulator.
// 600 requests, one every 100 ms; deployment "a" is the fastest until request 300, when its time to
// first token jumps to 1.5 s. Reported: the share of traffic the fastest deployment gets before the
// slowdown (overall, and after the first 50 requests), what the warm-up cost (requests to the slower
// deployments among the first 50), and how many requests it takes the router to move away afterwards.
// Answers end about 350–900 ms after they are sent, so several requests are out before a
// deployment's first sample lands: route() probes each deployment 5 times (minSamples), counting
// the probes it has out, and sends the rest to the fastest deployment known by then.
import { TestScheduler } from 'rxjs/testing';
import { type Transport, withMiddleware } from '../src/core/transport';
import { LatencyRegistry } from '../src/metrics/LatencyRegistry';
import { measure } from '../src/middleware/measure';
import { route, type RouteDecision } from '../src/middleware/route';
import { createRng } from '../src/simulator/prng';
import { simulatedTransport } from '../src/simulator/simulatedTransport';
import { round } from './lib/stats';
import { writeResults } from './lib/writeResults';

const REQUESTS = 600;
const SLOWDOWN_AT = 300;
const profiles = {
  'dep-a': { ttftMs: { median: 250, p95: 350 }, tokensPerSecond: 100, outputTokens: 10 },
  'dep-b': { ttftMs: { median: 400, p95: 550 }, tokensPerSecond: 100, outputTokens: 10 },
  'dep-c': { ttftMs: { median: 600, p95: 800 }, tokensPerSecond: 100, outputTokens: 10 },
};

function run(seed: number, percentile: number) {
  const decisions: RouteDecision[] = [];
  const scheduler = new TestScheduler(() => undefined);
  scheduler.run(() => {
    const sim = simulatedTransport({ profiles, seed });
    let slowed = false;
    // The slowdown: from then on, deployment a's requests ask the simulator for a 1.5 s first token.
    const upstream: Transport = (r) => sim(slowed && r.model === 'dep-a' ? { ...r, rxllm_sim: 'ttft=1500' } : r);
    const registry = new LatencyRegistry({ window: { requests: 50 } });
    const llm = withMiddleware(
      upstream,
      route({ tiers: { fast: ['dep-a', 'dep-b', 'dep-c'] }, registry, percentile, explore: 0.05, random: seededExploration(seed), onDecision: (d) => decisions.push(d) }),
      measure({ registry }),
    );
    for (let i = 0; i < REQUESTS; i++) {
      scheduler.schedule(() => {
        if (i === SLOWDOWN_AT) slowed = true;
        llm({ model: 'fast', messages: [{ role: 'user', content: 'Tell me a story' }] }).subscribe();
      }, i * 100);
    }
  });
  const chosen = decisions.map((d) => d.candidate);
  const before = chosen.slice(0, SLOWDOWN_AT);
  const after = chosen.slice(SLOWDOWN_AT);
  // Moved away: the first request after which deployment a gets no more than exploration traffic (≤ 1 in 10).
  const movedAfter = after.findIndex((_, i) => after.slice(i, i + 50).filter((c) => c === 'dep-a').length <= 5);
  return {
    seed,
    percentile,
    shareToFastestBefore: round(before.filter((c) => c === 'dep-a').length / before.length, 3),
    shareToFastestSteady: round(before.slice(50).filter((c) => c === 'dep-a').length / (before.length - 50), 3),
    // The warm-up's cost: 5 probes each to b and c, plus any exploration once two deployments are known.
    toSlowerInFirst50: before.slice(0, 50).filter((c) => c !== 'dep-a').length,
    requestsToMoveAway: movedAfter,
    // The router's own switch: the first request after the slowdown sent elsewhere as the fastest
    // (requestsToMoveAway can come a few requests earlier, when no exploration follows the switch).
    requestsToSwitch: decisions.slice(SLOWDOWN_AT).findIndex((d) => d.reason === 'fastest' && d.candidate !== 'dep-a'),
    shareToNewFastestAfterMove: round(after.slice(movedAfter).filter((c) => c === 'dep-b').length / (after.length - movedAfter), 3),
  };
}

const rows = [50, 95].flatMap((p) => [1, 2, 3].map((seed) => run(seed, p)));
for (const row of rows) {
  console.log(
    `p${row.percentile} seed ${row.seed}: ${(row.shareToFastestBefore * 100).toFixed(1)} % to the fastest ` +
      `(${(row.shareToFastestSteady * 100).toFixed(1)} % after the first 50; ${row.toSlowerInFirst50} of the first 50 to the slower); ` +
      `moved away ${row.requestsToMoveAway} requests after it slowed (switched at ${row.requestsToSwitch}); then ${(row.shareToNewFastestAfterMove * 100).toFixed(1)} % to the new fastest`,
  );
}
// The same run over 40 seeds: how reliably the fastest gets its ≥ 90 %, not just on three seeds.
const sweep = [50, 95].map((percentile) => {
  const shares = Array.from({ length: 40 }, (_, i) => run(i + 1, percentile).shareToFastestBefore).sort((a, b) => a - b);
  return { percentile, seeds: shares.length, min: shares[0]!, median: shares[shares.length >> 1]!, below90: shares.filter((s) => s < 0.9).length };
});
for (const row of sweep) {
  console.log(`p${row.percentile} over ${row.seeds} seeds: share to the fastest min ${(row.min * 100).toFixed(1)} %, median ${(row.median * 100).toFixed(1)} %, ${row.below90} below 90 %`);
}
console.log(`written to ${writeResults('route', { profiles, requests: REQUESTS, slowdownAt: SLOWDOWN_AT, spacingMs: 100, window: { requests: 50 }, rows, sweep })}`);

/** Exploration draws from the simulator's seeded generator, so they are the same on every run. */
function seededExploration(seed: number): () => number {
  const rng = createRng('route-exploration', seed);
  return () => rng.next();
}
