// How long a 3-step pipeline takes to send its requests, beside the floor (three fetch() calls in Promise.all):
// the time from starting the run to each fetch() call, with a fetch that never answers, so only the client's own
// set-up is timed (validation, the JSON body, the AbortController, the step and parallel() machinery). With GC=1
// a full collection runs before each sample, as the peers' harness does before its pipeline runs; without, steady.
// The slowest step of the harness's seed pipeline is the second one sent, so its request waits for the first
// two set-ups: that wait is part of the "overhead over the slowest step" row (docs/performance.md).
//
// With HOLD=1 one more run is started first and kept in flight throughout: its objects, and so their hidden classes,
// survive every collection, which tells the cost of classes V8 drops at a collection from the cost of running code
// cold (docs/performance.md, "Goals not reached, and why").
//
//   npm run build && node --expose-gc bench/tools/pipeline-setup.mjs          # steady
//   npm run build && GC=1 node --expose-gc bench/tools/pipeline-setup.mjs     # after a full GC
//   npm run build && GC=1 HOLD=1 node --expose-gc bench/tools/pipeline-setup.mjs
import { parallel, sseTransport, step } from '../../dist/esm-node/index.js';

const steps = [
  { id: 'classify', model: 'm1', max_tokens: 10, system: 'Classify the sentiment of the text.' },
  { id: 'summarize', model: 'm2', max_tokens: 100, system: 'Summarize the text in one sentence.' },
  { id: 'keywords', model: 'm3', max_tokens: 50, system: 'List the keywords of the text.' },
];
const input = 'The new release fixed the crash on start-up, and the app now opens twice as fast.';
const messages = (s) => [
  { role: 'system', content: s.system },
  { role: 'user', content: input },
];

let calls = [];
let startedAt = 0;
const neverAnswers = () => {
  calls.push(performance.now() - startedAt);
  return new Promise(() => {});
};

const transport = sseTransport({ baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k', fetch: neverAnswers });
const pipeline = parallel(
  Object.fromEntries(steps.map((s) => [s.id, step(s.id, () => ({ model: s.model, max_tokens: s.max_tokens, messages: messages(s) }), { transport })])),
);
const clients = {
  floor: () => {
    void Promise.all(steps.map((s) => neverAnswers('u', { method: 'POST', headers: {}, body: JSON.stringify({ model: s.model, max_tokens: s.max_tokens, messages: messages(s) }) })));
    return () => undefined;
  },
  rxllm: () => {
    const run = pipeline.value(input).subscribe();
    return () => run.unsubscribe();
  },
};

const held = process.env.HOLD ? [clients.floor(), clients.rxllm()] : [];
const samples = { floor: [], rxllm: [] };
for (let round = 0; round < 80; round++) {
  for (const name of round % 2 ? ['floor', 'rxllm'] : ['rxllm', 'floor']) {
    if (process.env.GC) globalThis.gc();
    calls = [];
    startedAt = performance.now();
    const stop = clients[name]();
    if (round >= 10) samples[name].push(calls.slice());
    stop();
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
console.log(`${process.env.GC ? 'after a full GC' : 'steady'}${held.length ? ', one run held' : ''}: µs from the start of a run to each fetch() call, median of ${samples.floor.length}`);
for (const [name, runs] of Object.entries(samples)) {
  console.log(`  ${name.padEnd(6)} ${[0, 1, 2].map((i) => `${(median(runs.map((run) => run[i])) * 1000).toFixed(0)}`.padStart(5)).join('  ')}`);
}
