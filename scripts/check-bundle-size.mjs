#!/usr/bin/env node
// The bundle-size check (issue 15): bundles three real consumers of the built package with esbuild
// (ESM build, minified, for the browser, as an app's bundler would) and compares each one's gzip
// size with its budget in scripts/bundle-size/budgets.json. rxjs and the user's schema library
// (zod, valibot) are marked external: the figures are what rxllm itself adds to an app.
//
//   npm run check:size            check against the budgets (exit 1 over budget)
//   npm run check:size -- --why   also list each bundle's largest inputs
//
// Run `npm run build` first. A budget is raised deliberately, in the same commit as the change
// that needs it, with the reason in the message.
import { build } from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const consumers = join(root, 'scripts', 'bundle-size');
const budgets = JSON.parse(readFileSync(join(consumers, 'budgets.json'), 'utf8'));
const why = process.argv.includes('--why');

if (!existsSync(join(root, 'dist', 'esm', 'index.js'))) {
  console.error('check-bundle-size: dist/esm is missing; run `npm run build` first.');
  process.exit(1);
}

// Each entry point as the package's "exports" maps it for `import`.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const alias = Object.fromEntries(
  Object.entries(pkg.exports)
    .filter(([subpath, target]) => typeof target === 'object' && target.import)
    .map(([subpath, target]) => [join('rxllm', subpath).replace(/\/\.$/, '').replace(/^rxllm\/?$/, 'rxllm'), join(root, target.import.default)]),
);

const external = ['rxjs', 'rxjs/*', 'zod', 'zod/*', 'valibot'];
let failed = false;
const rows = [];
for (const [name, budget] of Object.entries(budgets.gzipBytes)) {
  const result = await build({
    entryPoints: [join(consumers, `${name}.ts`)],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    alias,
    external,
    logLevel: 'error',
  });
  const code = result.outputFiles[0].contents;
  const gzip = gzipSync(code, { level: 9 }).length;
  const over = gzip > budget;
  failed ||= over;
  rows.push({ consumer: name, 'min bytes': code.length, 'gzip bytes': gzip, budget, '': over ? 'OVER BUDGET' : 'ok' });
  if (why || over) {
    const inputs = Object.values(result.metafile.outputs)[0].inputs;
    const largest = Object.entries(inputs)
      .map(([file, { bytesInOutput }]) => [relative(root, join(root, file)), bytesInOutput])
      .sort((a, b) => b[1] - a[1])
      .slice(0, 12);
    console.log(`\n${name}: largest inputs (minified bytes in the bundle)`);
    for (const [file, bytes] of largest) console.log(`  ${String(bytes).padStart(7)}  ${file}`);
  }
}
console.log('');
console.table(rows);
if (failed) {
  console.error(
    'check-bundle-size: a consumer bundle is over its budget (scripts/bundle-size/budgets.json). ' +
      'The inputs above show what it pulls in: load it lazily or from the entry that needs it, or raise the budget deliberately.',
  );
  process.exit(1);
}
