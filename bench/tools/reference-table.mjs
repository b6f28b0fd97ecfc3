// Pools several peers'-harness runs of the pipeline rows (each figure divided by the floor's, `fetch-all`, of its
// own run) and prints, per adapter, every run's ratio and their median: for runs with the reference clients of
// bench/peer-adapters (docs/performance.md, "The smallest client of the same kind"), whose single runs move by
// ±0.1× on this machine.
//
//   node bench/tools/reference-table.mjs bench/peer-results/reference-pipeline-*.json
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const files = process.argv.slice(2);
if (files.length === 0) throw new Error('usage: node bench/tools/reference-table.mjs <run.json>...');
const rows = [
  ['pipeline overhead over the slowest step (p50)', (run) => run.pipeline.rows, (row) => row.overheadVsServerMs.p50],
  ['pipeline at zero latency, wall (p50)', (run) => run.pipelineZero, (row) => row.wallMs.p50],
  ['pipeline at zero latency, client CPU (p50)', (run) => run.pipelineZero, (row) => row.clientCpuMs.p50],
];
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

console.log(`${files.length} runs:`);
for (const file of files) {
  const versions = JSON.parse(readFileSync(file, 'utf8')).versions ?? {};
  console.log(`  ${basename(file)}  rxllm ${versions['rxllm'] ?? '?'} at ${versions['rxllm commit'] ?? '?'}`);
}
for (const [title, rowsOf, figure] of rows) {
  const ratios = new Map();
  for (const file of files) {
    const runRows = rowsOf(JSON.parse(readFileSync(file, 'utf8')));
    const floor = runRows.find((row) => row.adapter === 'fetch-all');
    if (!floor) throw new Error(`${file}: no fetch-all row`);
    for (const row of runRows) ratios.set(row.adapter, [...(ratios.get(row.adapter) ?? []), figure(row) / figure(floor)]);
  }
  console.log(`\n${title}, / the floor's of the same run:`);
  for (const [adapter, values] of ratios) {
    const sorted = [...values].sort((a, b) => a - b);
    console.log(`  ${adapter.padEnd(22)} median ${median(values).toFixed(2)}×   runs ${sorted.map((v) => v.toFixed(2)).join(' ')}`);
  }
}
