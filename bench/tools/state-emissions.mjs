// What a run()'s states cost per token: step().run() and parallel().run() over a transport that emits 2,000 text
// events at once (no sockets), each state's status read. ns per token, median of 270 runs after 30
// warm-up runs; with GC=1 a full collection runs before each run. Pass two builds (comma-separated) to compare them,
// each in its own process, interleaved (docs/performance.md, "Hidden classes: one per copy").
//
//   npm run build && node --expose-gc bench/tools/state-emissions.mjs [dist/esm-node/index.js,other/dist/esm-node/index.js]
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const TOKENS = 2000;

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4]);
else parent((process.argv[2] ?? 'dist/esm-node/index.js').split(','));

function parent(builds) {
  for (const what of ['step', 'parallel'])
    for (const gc of ['', '1'])
      for (const build of builds) {
        const run = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', build, what], {
          encoding: 'utf8',
          env: { ...process.env, GC: gc },
        });
        if (run.status !== 0) throw new Error(run.stderr);
        console.log(`${what.padEnd(8)} ${gc ? 'after a GC' : 'steady    '} ${build.padEnd(40)} ${run.stdout.trim()}`);
      }
}

async function child(build, what) {
  const { Observable } = await import('rxjs');
  const { step, parallel } = await import(pathToFileURL(resolve(build)).href);
  const events = [...Array.from({ length: TOKENS }, (_, i) => ({ type: 'text', choice: 0, text: `t${i} ` })), { type: 'finish', choice: 0, reason: 'stop' }];
  const transport = () =>
    new Observable((subscriber) => {
      for (const event of events) subscriber.next(event);
      subscriber.complete();
    });
  const ask = (name) => step(name, (q) => ({ model: 'm', messages: [{ role: 'user', content: q }] }), { transport });
  // parallel(): two steps of 2,000 tokens each; the figure is per token of one step, as for step().
  const runner = what === 'parallel' ? parallel({ a: ask('a'), b: ask('b') }) : ask('a');
  const times = [];
  let read = 0;
  for (let round = 0; round < 300; round++) {
    if (process.env.GC) globalThis.gc();
    const t0 = process.hrtime.bigint();
    runner.run('q').subscribe((state) => {
      if (state.status === 'streaming') read++;
    });
    if (round >= 30) times.push(Number(process.hrtime.bigint() - t0) / TOKENS);
  }
  if (read === 0) throw new Error('no streaming state was read');
  times.sort((a, b) => a - b);
  const q = (p) => times[Math.floor(times.length * p)].toFixed(0);
  console.log(`ns per token: median ${q(0.5)} (p25 ${q(0.25)}, p75 ${q(0.75)})`);
}
