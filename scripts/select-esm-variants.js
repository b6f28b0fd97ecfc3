// Per-format variants (run by `npm run build` after tsc): a source file X.esm.ts beside X.ts is the ES module
// build's X. tsc compiles both into both halves; this script moves X.esm's output over X's in dist/esm and
// deletes it from dist/cjs. Importers name only './X.js', so Node, TypeScript, Jest, ts-node and every bundler
// resolve one plain relative path, and the choice is made here, once, by the half a file ships in. (The bundle of
// the ES module half for Node, dist/esm-node, applies the same rule while it resolves imports: scripts/bundle.mjs.)
//
// What it is for (src/internal/lruCacheClass.ts): CommonJS loads lru-cache and hdr-histogram-js at their first
// use with require(); an ES module cannot require() synchronously in a way bundlers follow, so its variant
// imports them statically. A `#imports` map with `require`/`import` conditions would choose the same way, but
// Node reads `imports` from the nearest package.json, which is dist/cjs/package.json or dist/esm/package.json
// (scripts/mark-module-types.js), not the root one; and ts-node's resolver (the repo's examples and CLI) does
// not take `#` specifiers.
const { existsSync, readdirSync, renameSync, rmSync } = require('node:fs');
const { join, relative } = require('node:path');

const dist = join(__dirname, '..', 'dist');
const suffix = '.esm';

/** Every X.esm.js under `dir`, as the path without `.esm.js`. */
function variants(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(`${suffix}.js`))
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name.slice(0, -`${suffix}.js`.length)));
}

const moved = [];
for (const base of variants(join(dist, 'esm'))) {
  for (const ext of ['.js', '.d.ts']) {
    if (!existsSync(`${base}${ext}`)) {
      throw new Error(`select-esm-variants: ${relative(dist, `${base}${suffix}${ext}`)} has no ${relative(dist, `${base}${ext}`)} to replace: name it after the file whose ES module variant it is.`);
    }
    renameSync(`${base}${suffix}${ext}`, `${base}${ext}`);
  }
  moved.push(relative(join(dist, 'esm'), base));
}
for (const base of variants(join(dist, 'cjs'))) {
  for (const ext of ['.js', '.d.ts']) rmSync(`${base}${suffix}${ext}`, { force: true });
}
console.log(`select-esm-variants: dist/esm takes the ES module variant of ${moved.join(', ') || 'nothing'}`);
