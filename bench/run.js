// `npm run bench`: compiles bench/ and src/ together (so benches import the sources, as tests do)
// and runs each benchmark in its own process. Each writes its results to bench/results/<name>.json.
const { execFileSync } = require('node:child_process');
const { readdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(__dirname, 'tsconfig.json')], {
  stdio: 'inherit',
});
const only = process.argv.slice(2);
const benches = readdirSync(__dirname)
  .filter((file) => file.endsWith('.bench.ts'))
  .map((file) => file.replace(/\.bench\.ts$/, ''))
  .filter((name) => only.length === 0 || only.includes(name));
for (const name of benches) {
  console.log(`\n=== ${name}`);
  execFileSync(process.execPath, ['--expose-gc', join(__dirname, '.out/bench', `${name}.bench.js`)], { stdio: 'inherit' });
}
