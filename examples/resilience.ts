/**
 * Timeouts, retries, fallback, hedging and latency-aware routing on the in-process simulator.
 *
 * A flaky primary (its first two requests get a 503, one in ten stalls) is wrapped in
 * `retry()` + `timeouts()` and backed by a second deployment through `fallback()`. Then a
 * `fast` tier with two deployments is routed by live p95 and hedged at the live p95 on top.
 *
 *   npx ts-node examples/resilience.ts
 *
 */
import { lastValueFrom, mergeMap, range, toArray } from 'rxjs';
import { fallback, hedge, measure, retry, route, text, timeouts, withMiddleware } from 'rxllm';
import { LatencyRegistry, snapshotTable } from 'rxllm/metrics';
import { simulatedTransport } from 'rxllm/simulator';

const sim = simulatedTransport({
  seed: 4,
  profiles: {
    flaky: { faults: [{ type: 'status', status: 503, firstRequests: 2 }, { type: 'stall', probability: 0.1 }] },
  },
});
const messages = [{ role: 'user' as const, content: 'Summarize: the order arrived late and damaged.' }];

async function main(): Promise<void> {
  // 1. retry + timeouts on the primary, fallback to another deployment.
  const primary = withMiddleware(
    sim,
    retry({ maxRetries: 2, onRetry: (i) => console.log(`retry ${i.attempt} in ${Math.round(i.delayMs)} ms (${i.reason})`) }),
    timeouts({ firstToken: 2_000, idle: 1_000, total: 20_000 }),
  );
  const llm = fallback(
    [
      { name: 'flaky', transport: primary, model: 'flaky' },
      { name: 'eastus', transport: sim, model: 'gpt-4o-mini@eastus' },
    ],
    { onServed: ({ name }) => console.log(`served by ${name}`) },
  );
  console.log(await lastValueFrom(llm({ model: 'flaky', messages }).pipe(text())));

  // 2. route the `fast` tier by live p95, hedge at the live p95, measure every attempt.
  const latency = new LatencyRegistry({ window: { requests: 200 } });
  const decisions = new Map<string, number>();
  let hedges = 0;
  const fast = withMiddleware(
    sim,
    route({
      tiers: { fast: ['gpt-4o-mini@eastus', 'gpt-4o-mini@westeurope'], balanced: ['gpt-4o'] },
      registry: latency,
      onDecision: (d) => decisions.set(`${d.candidate} (${d.reason})`, (decisions.get(`${d.candidate} (${d.reason})`) ?? 0) + 1),
    }),
    hedge({ after: 'p95', registry: latency, onHedge: (e) => void (e.type === 'started' && hedges++) }),
    measure({ registry: latency }),
  );
  await lastValueFrom(range(0, 60).pipe(mergeMap(() => fast({ model: 'fast', messages }).pipe(text()), 6), toArray()));
  console.log('routing decisions:', Object.fromEntries(decisions), `hedges: ${hedges}`);
  console.log(snapshotTable(latency.snapshot()));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
