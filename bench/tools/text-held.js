// What a caller of textSoFar() and text() keeps, and pays per token: 50 answers of 2,000 in-memory text events
// each, the last value of each kept, heap retained per answer after a full GC; then CPU per token over 500 answers
// after 200 of warm-up. Compare two builds by running it on each (docs/performance.md, "textSoFar() and text()"):
//
//   npm run build && node --expose-gc bench/tools/text-held.js dist [other/dist]
'use strict';
const path = require('node:path');

const events = [];
for (let i = 0; i < 2000; i++) events.push({ type: 'text', choice: 0, text: `tok${i % 10} ` });
events.push({ type: 'finish', choice: 0, reason: 'stop' });

for (const dist of process.argv.slice(2)) {
  const dir = path.resolve(dist);
  const { textSoFar, text } = require(path.join(dir, 'cjs', 'index.js'));
  const { from } = require(require.resolve('rxjs', { paths: [dir] }));
  const row = [['textSoFar', textSoFar], ['text', text]].map(([name, operator]) => `${name}: ${held(from, operator)} KB held, ${cpu(from, operator)} ns/token`);
  console.log(`${dist}  ${row.join('; ')}`);
}

function held(from, operator) {
  const kept = [];
  global.gc();
  const before = process.memoryUsage().heapUsed;
  for (let answer = 0; answer < 50; answer++) {
    let last;
    from(events).pipe(operator()).subscribe((value) => (last = value));
    kept.push(last);
  }
  global.gc();
  return ((process.memoryUsage().heapUsed - before) / kept.length / 1024).toFixed(1);
}

function cpu(from, operator) {
  for (let answer = 0; answer < 200; answer++) from(events).pipe(operator()).subscribe(() => undefined);
  const start = process.cpuUsage();
  for (let answer = 0; answer < 500; answer++) from(events).pipe(operator()).subscribe(() => undefined);
  const used = process.cpuUsage(start);
  return (((used.user + used.system) / 500 / 2000) * 1000).toFixed(1);
}
