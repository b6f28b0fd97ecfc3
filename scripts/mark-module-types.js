// Each half of the dual build gets its own package.json so Node reads dist/esm as ESM
// and dist/cjs as CommonJS whatever the root package.json says.
const { writeFileSync, chmodSync } = require('node:fs');
const { join } = require('node:path');
const dist = join(__dirname, '..', 'dist');
writeFileSync(join(dist, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
writeFileSync(join(dist, 'esm', 'package.json'), JSON.stringify({ type: 'module' }) + '\n');
chmodSync(join(dist, 'cjs', 'cli', 'main.js'), 0o755);
