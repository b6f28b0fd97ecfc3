/*
 * Testing your own pipelines with rxllm/testing: a parallel pipeline's wall time and a cancellation,
 * proved in virtual time (the whole file runs in a few milliseconds, whatever the scripted latencies).
 *
 * Run: npx ts-node examples/testing.ts   (prints a request waterfall; exits 1 if a check fails)
 */
import assert from 'node:assert/strict';
import { forkJoin, type Observable, switchMap } from 'rxjs';
import { text, type LlmRequest, type Transport } from 'rxllm';
import { runInVirtualTime, scriptedTransport, textScript, type VirtualRun } from 'rxllm/testing';

/* ---- the code under test: an app's pipelines, written against any Transport ---- */

const ask = (model: string, content: string): LlmRequest => ({ model, messages: [{ role: 'user', content }] });

/** Three independent steps at once: the answer should take as long as the slowest, not the sum. */
function analyze(llm: Transport, review: string): Observable<{ sentiment: string; summary: string; keywords: string }> {
  return forkJoin({
    sentiment: llm(ask('gpt-4o-mini', `Sentiment of: ${review}`)).pipe(text()),
    summary: llm(ask('gpt-4o', `Summarize: ${review}`)).pipe(text()),
    keywords: llm(ask('gpt-4o-mini-kw', `Keywords of: ${review}`)).pipe(text()),
  });
}

/** A search box: each new query replaces the previous one, whose requests must be cancelled. */
function liveAnalysis(llm: Transport, queries: Observable<string>) {
  return queries.pipe(switchMap((query) => analyze(llm, query)));
}

/* ---- the tests ---- */

const llm = scriptedTransport({
  'gpt-4o-mini': textScript('positive', { at: 300 }),
  'gpt-4o': textScript('Great battery, weak camera.', { at: 750, every: 50 }), // 4 tokens, the last at 900
  'gpt-4o-mini-kw': [{ at: 450, text: 'battery, ' }, { at: 600, text: 'camera' }, { at: 600, finish: 'stop' }],
});

// 1. Wall time of the parallel pipeline: 900 ms (the slowest step), not 300 + 900 + 600.
const parallel = runInVirtualTime(analyze(llm, 'Great battery, weak camera.'), { transport: llm });
assert.equal(parallel.completedAt, 900);
assert.deepEqual(parallel.values, [{ sentiment: 'positive', summary: 'Great battery, weak camera.', keywords: 'battery, camera' }]);
assert.deepEqual(
  parallel.requests.map((r) => r.subscribedAt),
  [0, 0, 0],
  'all three requests start at once',
);
printWaterfall('analyze(): parallel steps', parallel);

// 2. Cancellation: a second query at 400 ms cancels every request of the first one still running.
const cancelled = runInVirtualTime(
  ({ hot }) => liveAnalysis(llm, hot('a 399ms b', { a: 'first review', b: 'second review' })),
  { transport: llm },
);
const firstQuery = cancelled.requests.filter((r) => r.subscribedAt === 0);
assert.deepEqual(
  firstQuery.map((r) => [r.model, r.outcome, r.endedAt]),
  [
    ['gpt-4o-mini', 'completed', 300],
    ['gpt-4o', 'cancelled', 400],
    ['gpt-4o-mini-kw', 'cancelled', 400],
  ],
);
assert.equal(cancelled.requests.length, 6, 'exactly six requests were sent');
assert.equal(cancelled.completedAt, undefined, 'the query stream is still open');
assert.deepEqual(cancelled.emissions.map((e) => e.at), [1300]);
assert.equal(llm.inFlight, 0, 'nothing is left running');
printWaterfall('liveAnalysis(): a new query at 400 ms', cancelled);

console.log('all checks passed');

/** One line per request: `=` while open, then how it ended. */
function printWaterfall(title: string, run: VirtualRun<unknown>): void {
  const scale = 50; // ms per character
  console.log(`\n${title}: ${run.completedAt === undefined ? 'still open (it waits for more queries)' : `completed at ${run.completedAt} ms`}`);
  for (const r of run.requests) {
    const end = r.endedAt ?? r.subscribedAt;
    const bar = ' '.repeat(r.subscribedAt / scale) + '='.repeat(Math.max(1, (end - r.subscribedAt) / scale));
    console.log(`  ${r.model.padEnd(15)} ${bar.padEnd(30)} ${r.subscribedAt}–${end} ms ${r.outcome}`);
  }
}
