// What loading rxllm costs a fresh process, beyond rxjs (which every rxllm app loads anyway): CPU, wall time, RSS
// and files, for `require('rxllm')` (dist/cjs) and `import('rxllm')` in Node (dist/esm-node when the build has it,
// else dist/esm). Each sample is a new process that loads rxjs first, then rxllm's root entry; builds and modes
// are interleaved, so every build sees the same machine noise (docs/performance.md, "The import").
//
//   npm run build && node bench/tools/import-cost.js [runs=11] dist [other/dist ...]
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const path = require('node:path');

if (process.argv[2] === '--child') child(process.argv[3], process.argv[4]);
else parent();

function parent() {
  const runs = Number.isInteger(Number(process.argv[2])) ? Number(process.argv[2]) : 11;
  const builds = process.argv.slice(Number.isInteger(Number(process.argv[2])) ? 3 : 2);
  if (builds.length === 0) builds.push('dist');
  const samples = new Map();
  for (let run = 0; run < runs; run++) {
    for (const mode of ['require', 'import']) {
      for (const build of builds) {
        const out = execFileSync(process.execPath, [__filename, '--child', path.resolve(build), mode], { encoding: 'utf8' });
        const key = `${build} ${mode}`;
        samples.set(key, [...(samples.get(key) ?? []), JSON.parse(out)]);
      }
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`${runs} fresh processes per row, rxjs loaded first; medians (CPU min..max)`);
  for (const [key, rows] of samples) {
    const cpu = rows.map((row) => row.cpuMs);
    console.log(
      `${key.padEnd(40)} CPU ${median(cpu).toFixed(1)} ms (${Math.min(...cpu).toFixed(1)}..${Math.max(...cpu).toFixed(1)})` +
        `  wall ${median(rows.map((row) => row.wallMs)).toFixed(1)} ms  RSS +${median(rows.map((row) => row.rssMb)).toFixed(2)} MB` +
        (key.endsWith(' require') ? `  ${median(rows.map((row) => row.files))} files of rxllm` : ''),
    );
  }
}

function child(dist, mode) {
  require(require.resolve('rxjs', { paths: [dist] }));
  const rss = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const report = () => {
    const used = process.cpuUsage(cpu);
    // require.cache lists the CommonJS files loaded; an ES module graph is not listed there (import rows show no count).
    const files = Object.keys(require.cache).filter((file) => file.startsWith(dist + path.sep)).length;
    process.stdout.write(
      JSON.stringify({ wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000, rssMb: (process.memoryUsage().rss - rss) / 1e6, files }),
    );
  };
  if (mode === 'require') {
    require(path.join(dist, 'cjs', 'index.js'));
    report();
  } else {
    const esm = existsSync(path.join(dist, 'esm-node')) ? 'esm-node' : 'esm';
    import(path.join(dist, esm, 'index.js')).then(report);
  }
}
