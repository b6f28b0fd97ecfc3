// Each half of the dual build gets its own package.json so Node reads dist/esm as ESM
// and dist/cjs as CommonJS whatever the root package.json says. Bundlers read `sideEffects`
// from the nearest package.json too, so it is repeated here: without it a bundler resolving
// a file under dist/ would stop at this file and never see the root's `"sideEffects": false`.
const { writeFileSync, chmodSync } = require('node:fs');
const { join } = require('node:path');
const dist = join(__dirname, '..', 'dist');
const { sideEffects } = require('../package.json');
writeFileSync(join(dist, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs', sideEffects }) + '\n');
for (const half of ['esm', 'esm-node']) writeFileSync(join(dist, half, 'package.json'), JSON.stringify({ type: 'module', sideEffects }) + '\n');
chmodSync(join(dist, 'cjs', 'cli', 'main.js'), 0o755);
