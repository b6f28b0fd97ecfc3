/*
 * The packed package, as a user installs it: `npm pack` the built dist/, unpack the tarball
 * into a temp node_modules (its dependencies linked from this project's, so no network is
 * needed), and load it from CommonJS and ESM in child processes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const exportsToCheck = ['sseTransport', 'parseRequest', 'isRxllmError', 'RxllmError', 'withMiddleware', 'textSoFar', 'result', 'fromEventStream'];

let dir: string;
let installed: string;
let packedFiles: string[];

function node(script: string, file: string, args: string[] = []): string {
  writeFileSync(join(dir, file), script);
  return execFileSync(process.execPath, [join(dir, file), ...args], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
}

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'cjs', 'index.js')) || !existsSync(join(root, 'dist', 'esm', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (CI builds before it runs the tests).');
  }
  dir = mkdtempSync(join(tmpdir(), 'rxllm-pack-'));
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
  ) as { filename: string; files: { path: string }[] }[];
  packedFiles = packed[0]!.files.map((file) => file.path);

  mkdirSync(join(dir, 'node_modules'));
  execFileSync('tar', ['-xzf', join(dir, packed[0]!.filename), '-C', dir]);
  installed = join(dir, 'node_modules', 'rxllm');
  renameSync(join(dir, 'package'), installed);

  // Dependencies and peers, linked from this project's node_modules as an install would place them.
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  for (const name of Object.keys({ ...manifest['dependencies'], ...manifest['peerDependencies'] })) {
    const target = join(root, 'node_modules', name);
    if (!existsSync(target)) continue;
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(target, join(dir, 'node_modules', name), 'dir');
  }
}, 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('packs only the build, the README and the manifest', () => {
  expect(packedFiles).toContain('package.json');
  expect(packedFiles).toContain('dist/cjs/index.js');
  expect(packedFiles).toContain('dist/esm/index.js');
  expect(packedFiles).toContain('dist/cjs/index.d.ts');
  expect(packedFiles.filter((file) => !/^(dist\/|package\.json$|README\.md$|LICENSE)/.test(file))).toEqual([]);
});

it('loads with require() from CommonJS, rxllm and rxllm/openai', () => {
  const out = node(
    `const rxllm = require('rxllm');
     const openai = require('rxllm/openai');
     const names = ${JSON.stringify(exportsToCheck)};
     console.log(JSON.stringify({
       types: names.map((name) => typeof rxllm[name]),
       openaiTransport: typeof openai.openaiTransport,
       file: require.resolve('rxllm'),
     }));`,
    'check.cjs',
  );
  const result = JSON.parse(out) as { types: string[]; openaiTransport: string; file: string };
  expect(result.types).toEqual(exportsToCheck.map(() => 'function'));
  expect(result.openaiTransport).toBe('function');
  expect(result.file).toBe(join(installed, 'dist', 'cjs', 'index.js'));
});

it('loads with import() from ESM, rxllm and rxllm/openai', () => {
  const out = node(
    `const rxllm = await import('rxllm');
     const openai = await import('rxllm/openai');
     const names = ${JSON.stringify(exportsToCheck)};
     console.log(JSON.stringify({
       types: names.map((name) => typeof rxllm[name]),
       openaiTransport: typeof openai.openaiTransport,
       file: import.meta.resolve('rxllm'),
       works: rxllm.isRxllmError(new rxllm.RxllmError('auth', 'x')),
     }));`,
    'check.mjs',
  );
  const result = JSON.parse(out) as { types: string[]; openaiTransport: string; file: string; works: boolean };
  expect(result.types).toEqual(exportsToCheck.map(() => 'function'));
  expect(result.openaiTransport).toBe('function');
  expect(result.file).toBe(`file://${join(installed, 'dist', 'esm', 'index.js')}`);
  expect(result.works).toBe(true);
});

it('an error from the CommonJS build is recognised by the ESM build (two copies, one brand)', () => {
  const out = node(
    `import { createRequire } from 'node:module';
     const cjs = createRequire(import.meta.url)('rxllm');
     const esm = await import('rxllm');
     const error = new cjs.RxllmError('rate-limited', '429');
     console.log(JSON.stringify([error instanceof esm.RxllmError, esm.isRxllmError(error)]));`,
    'dual.mjs',
  );
  expect(JSON.parse(out)).toEqual([false, true]);
});

it('has an rxllm bin that prints help', () => {
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  const bin = join(installed, manifest.bin['rxllm']!);

  expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  const help = execFileSync(process.execPath, [bin, '--help'], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
  expect(help).toContain('Usage:');
  expect(help).toContain('rxllm chat');
});
