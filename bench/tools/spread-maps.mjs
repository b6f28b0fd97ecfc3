// Why rxllm copies per-request objects with withFields() (src/internal/withFields.ts) and not `{ ...base, key: v }`:
// on Node 20 (V8 11.3) a literal that spreads an object and then sets a property gets a new hidden class (map) each
// time it runs, so every property read of such objects misses V8's inline caches. For each way of copying a
// request with one more field, this prints how many of 50 copies share their map with the copy before, the time to
// build a copy, to read 12 of its keys (as validation does, most of them absent), and to validate it.
//
//   npm run build && node --allow-natives-syntax bench/tools/spread-maps.mjs
import { llmRequestSchema } from '../../dist/esm-node/index.js';

const request = (i) => ({
  model: `m${i % 3}`,
  max_tokens: 10,
  messages: [
    { role: 'system', content: 'Classify the sentiment of the text.' },
    { role: 'user', content: `The new release fixed the crash on start-up (${i}).` },
  ],
});
const ways = {
  '{ ...request, stream: false }': (r) => ({ ...r, stream: false }),
  'Object.assign({}, request, { stream: false })': (r) => Object.assign({}, r, { stream: false }),
  '{ ...request } (no field added)': (r) => ({ ...r }),
};
const keys = ['model', 'messages', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'stop', 'n', 'seed', 'tools', 'stream', 'user'];
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)');
const validate = llmRequestSchema['~standard'].validate;
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const only = process.argv[2];

for (const [name, copy] of Object.entries(ways)) {
  if (only && !name.includes(only)) continue;
  const copies = Array.from({ length: 50 }, (_, i) => copy(request(i)));
  const shared = copies.filter((c, i) => i > 0 && sameMap(c, copies[i - 1])).length;
  const build = [], read = [], check = [];
  for (let round = 0; round < 4000; round++) {
    const sources = [request(round), request(round + 1), request(round + 2)];
    let t = process.hrtime.bigint();
    const made = sources.map(copy);
    build.push(Number(process.hrtime.bigint() - t) / 3);
    t = process.hrtime.bigint();
    let present = 0;
    for (const c of made) for (const key of keys) if (c[key] !== undefined) present++;
    read.push(Number(process.hrtime.bigint() - t) / 3);
    t = process.hrtime.bigint();
    for (const c of made) validate(c);
    check.push(Number(process.hrtime.bigint() - t) / 3);
    if (present < 9) throw new Error('a copy lost a field');
  }
  console.log(`${name.padEnd(46)} same map ${String(shared).padStart(2)}/49  build ${median(build).toFixed(0).padStart(4)} ns  read 12 keys ${median(read).toFixed(0).padStart(5)} ns  validate ${median(check).toFixed(0).padStart(5)} ns`);
}
