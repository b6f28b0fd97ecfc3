#!/usr/bin/env node
// `npm run check:package`: the package as the registry would get it, checked by the tools the ecosystem
// uses: publint (package.json fields, exports, files) and @arethetypeswrong/cli (types resolve, and say
// the right module kind, under node10, node16 from CJS and ESM, and bundler). Run after `npm run build`.
//
// It packs once with --ignore-scripts and hands the same tarball to both tools: `attw --pack` would run
// `npm pack` with scripts, and so `prepare`, rebuilding dist/ a second time in CI.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');

const root = resolve(__dirname, '..');
if (!existsSync(join(root, 'dist', 'cjs', 'index.js')) || !existsSync(join(root, 'dist', 'esm', 'index.js'))) {
  console.error('check:package: dist/ is missing: run `npm run build` first.');
  process.exit(1);
}

const bin = (pkg, name) => join(root, 'node_modules', pkg, ...name);
const dir = mkdtempSync(join(tmpdir(), 'rxllm-check-'));
let failed = false;
try {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }),
  );
  const tarball = join(dir, packed.filename);
  console.log(`${packed.filename}: ${(packed.size / 1000).toFixed(1)} kB packed, ${(packed.unpackedSize / 1000).toFixed(1)} kB unpacked, ${packed.entryCount} files`);

  // What must never be shipped: source maps (src/ is not in the package, so they would point at nothing)
  // and the ESM copy of the CLI (only `bin`, which is CommonJS, reaches the CLI).
  const stray = packed.files.map((file) => file.path).filter((path) => path.endsWith('.map') || path.startsWith('dist/esm/cli/') || path.startsWith('dist/esm-node/cli/'));
  if (stray.length > 0) {
    console.error(`check:package: the package ships files nothing can use:\n  ${stray.join('\n  ')}`);
    failed = true;
  }

  const run = (label, file, args) => {
    console.log(`\n$ ${label}`);
    try {
      execFileSync(process.execPath, [file, ...args], { cwd: root, stdio: 'inherit' });
    } catch {
      failed = true;
    }
  };
  // --strict: warnings fail too; suggestions are printed but do not fail.
  run('publint --strict', bin('publint', ['src', 'cli.js']), ['run', tarball, '--strict']);
  // The default "strict" profile: every entry point under node10, node16 (CJS and ESM) and bundler.
  run('attw', bin('@arethetypeswrong/cli', ['dist', 'index.js']), [tarball, '--format', 'table-flipped']);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
if (failed) {
  console.error('\ncheck:package: failed (see above).');
  process.exit(1);
}
console.log('\ncheck:package: publint and attw pass.');
