/**
 * Measuring a pipeline: per-step time to first token, total time and tokens per second as
 * p50/p95/p99, a waterfall of one run (terminal and HTML), Prometheus text, and a latency
 * regression check between two builds.
 *
 * A support-reply graph (classify and summarize the ticket at once, then draft a reply from both)
 * runs 12 times at once on the in-process simulator, every step sent through ONE middleware stack
 * with one `measure()`: `step()` names its step in each request's context, and `measure()` files the
 * request under it, so the percentiles are still per step.
 * Then the same load runs against a "new build" whose large model got slower, and
 * `compareSnapshots` catches it.
 *
 *   npx ts-node examples/measure.ts [report.html]
 *
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { last, lastValueFrom, map, mergeMap, range, toArray } from 'rxjs';
import { z } from 'zod';
import { graph, measure, step, withMiddleware, type Transport } from 'rxllm';
import { compareSnapshots, LatencyRegistry, prometheusText, renderWaterfall, snapshotTable, timelineFromGraph, waterfallHtml } from 'rxllm/metrics';
import { simulatedTransport, type SimulatorProfiles } from 'rxllm/simulator';

const RUNS = 12;
const ticket = `My order #4821 arrived with a cracked screen. I was charged twice for shipping
and nobody answered my two emails. I need a replacement before Friday.`;

/** The pipeline: one stack for every step; each request is measured under its step's name. */
function supportReply(transport: Transport, latency: LatencyRegistry) {
  const llm = withMiddleware(transport, measure({ registry: latency }));
  const classify = step(
    'classify',
    (text: string) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Classify this ticket as billing, shipping, damage or other:\n\n${text}` }] }),
    { transport: llm, output: z.enum(['billing', 'shipping', 'damage', 'other']), reasks: 1 },
  );
  const summary = step(
    'summary',
    (text: string) => ({ model: 'gpt-4o', messages: [{ role: 'user', content: `Summarize this ticket in two sentences:\n\n${text}` }] }),
    { transport: llm },
  );
  const draft = step(
    'draft',
    ({ category, summary }: { category: string; summary: string }) => ({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: `Write a short reply to a ${category} ticket. Summary: ${summary}` }],
    }),
    { transport: llm },
  );
  return graph<string, { classify: string; summary: string; draft: string }>({
    nodes: {
      classify,
      summary,
      draft: { after: ['classify', 'summary'], run: (_, inputs) => draft.run({ category: inputs.classify, summary: inputs.summary }) },
    },
  });
}

/** Runs the pipeline `RUNS` times at once (a server under load) and returns the final state of each run. */
async function load(profiles: SimulatorProfiles, latency: LatencyRegistry) {
  const pipeline = supportReply(simulatedTransport({ seed: 7, profiles }), latency);
  const finalState = pipeline.run(ticket).pipe(
    last(),
    map((state) => {
      // A run's last state is `done`, or `failed` (the run then errors instead, so this is `done`).
      if (state.status !== 'done') throw new Error(`run ended ${state.status}`);
      return state;
    }),
  );
  return lastValueFrom(range(0, RUNS).pipe(mergeMap(() => finalState), toArray()));
}

async function main(): Promise<void> {
  const color = process.stdout.isTTY === true;
  const baseline = new LatencyRegistry();
  const runs = await load({}, baseline);

  const slowest = runs.reduce((a, b) => (b.endedAt - b.startedAt > a.endedAt - a.startedAt ? b : a));
  const timeline = timelineFromGraph(slowest);
  console.log(renderWaterfall(timeline, { color, title: `The slowest of ${RUNS} concurrent runs`, width: process.stdout.columns ?? 100 }));
  console.log();
  console.log(snapshotTable(baseline.snapshot(), { color }));
  console.log();
  console.log(snapshotTable(baseline.snapshot(), { color, by: 'model' }));

  // What a /metrics endpoint would serve (the first lines).
  console.log('\n' + prometheusText(baseline).split('\n').slice(0, 12).join('\n') + '\n  …');

  const report = process.argv[2] ?? join(tmpdir(), 'rxllm-measure.html');
  writeFileSync(
    report,
    waterfallHtml(timeline, {
      title: 'Support reply: the slowest run',
      subtitle: `${RUNS} concurrent runs on the simulator (seed 7); percentiles over every run`,
      snapshot: baseline.snapshot(),
    }),
  );
  console.log(`\nHTML waterfall written to ${report}`);

  // The "new build": gpt-4o got slower. The check a CI job would run against the saved baseline.
  const candidate = new LatencyRegistry();
  await load({ 'gpt-4o': { ttftMs: { median: 1400, p95: 2600 } } }, candidate);
  const saved = JSON.parse(JSON.stringify(baseline.snapshot()));
  const verdict = compareSnapshots(saved, candidate.snapshot(), { threshold: 0.25, metrics: ['ttft'] });
  console.log('\n' + verdict.text);
  if (verdict.ok) throw new Error('expected the slower gpt-4o to be flagged');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
