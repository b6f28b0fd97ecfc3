/*
 * The packed package, as a user installs it: `npm pack` the built dist/, unpack the tarball
 * into a temp node_modules (its dependencies linked from this project's, so no network is
 * needed), load it from CommonJS and ESM in child processes, and compile consumers with tsc.
 * The optional peer @opentelemetry/api is left out, as in an app that does not use OpenTelemetry.
 * A second, bare install also leaves out the optional peer openai: an app on the simulator or on
 * sseTransport, which compiles and runs without it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = resolve(__dirname, '..');
const exportsToCheck = ['sseTransport', 'parseRequest', 'isRxllmError', 'RxllmError', 'withMiddleware', 'textSoFar', 'result', 'fromEventStream'];
// One value from every subpath entry point: each must load from CommonJS and ESM.
const subpathExports = { metrics: 'LatencyRegistry', simulator: 'simulatedTransport', openai: 'openaiTransport', testing: 'scriptedTransport', node: 'toServerSentEvents' };
const OTEL = '@opentelemetry/api';
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

let dir: string;
let installed: string;
let packedFiles: string[];
/** An install without the optional peers openai and @opentelemetry/api (its own temp dir: resolution must not find `dir`'s). */
let bare: string;

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
  const tarball = join(dir, packed[0]!.filename);

  installed = install(dir, tarball, [OTEL]);
  bare = mkdtempSync(join(tmpdir(), 'rxllm-bare-'));
  install(bare, tarball, [OTEL, 'openai']);
}, 60_000);

/** Unpacks the tarball as `into`/node_modules/rxllm and links its dependencies and peers but `without`; returns the package dir. */
function install(into: string, tarball: string, without: string[]): string {
  mkdirSync(join(into, 'node_modules'));
  execFileSync('tar', ['-xzf', tarball, '-C', into]);
  const pkg = join(into, 'node_modules', 'rxllm');
  renameSync(join(into, 'package'), pkg);

  // Dependencies and peers, linked from this project's node_modules as an install would place them.
  const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
  for (const name of Object.keys({ ...manifest['dependencies'], ...manifest['peerDependencies'] })) {
    if (!without.includes(name)) link(into, name);
  }
  // What a TypeScript consumer in Node has beside the package.
  link(into, '@types/node');
  return pkg;
}

function link(into: string, name: string): void {
  const target = join(root, 'node_modules', name);
  if (!existsSync(target)) return;
  mkdirSync(dirname(join(into, 'node_modules', name)), { recursive: true });
  symlinkSync(target, join(into, 'node_modules', name), 'dir');
}

/**
 * Type-checks `files` (name -> source) as a consumer project with these compiler options, in the
 * install at `at`; returns tsc's output. With `outDir` in the options it also emits there, to run.
 */
function typecheck(name: string, compilerOptions: Record<string, unknown>, files: Record<string, string>, at = dir): { ok: boolean; output: string } {
  const project = join(at, name);
  mkdirSync(project, { recursive: true });
  for (const [file, source] of Object.entries(files)) writeFileSync(join(project, file), source);
  const emit = compilerOptions['outDir'] === undefined ? { noEmit: true } : {};
  writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', ...emit, ...compilerOptions }, files: Object.keys(files) }));
  try {
    return { ok: true, output: execFileSync(process.execPath, [tsc, '-p', project], { cwd: at, encoding: 'utf8', timeout: 150_000 }) };
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${stdout ?? ''}${stderr ?? ''}` || String(error) };
  }
}

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (bare) rmSync(bare, { recursive: true, force: true });
});

it('packs only the build, the README, the changelog and the manifest', () => {
  expect(packedFiles).toContain('package.json');
  expect(packedFiles).toContain('dist/cjs/index.js');
  expect(packedFiles).toContain('dist/esm/index.js');
  expect(packedFiles).toContain('dist/cjs/index.d.ts');
  expect(packedFiles.filter((file) => !/^(dist\/|package\.json$|README\.md$|CHANGELOG\.md$|LICENSE)/.test(file))).toEqual([]);
});

it('ships no source maps (src/ is not packed, so they would point at nothing) and no ESM copy of the CLI (only the CommonJS `bin` reaches it)', () => {
  expect(packedFiles.filter((file) => file.endsWith('.map'))).toEqual([]);
  expect(packedFiles.filter((file) => file.startsWith('dist/esm/cli/'))).toEqual([]);
  expect(packedFiles).toContain('dist/cjs/cli/main.js');
});

it('marks each build side-effect free for bundlers, which read the nearest package.json', () => {
  for (const half of ['cjs', 'esm', 'esm-node']) {
    const nearest = JSON.parse(readFileSync(join(installed, 'dist', half, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect([half, nearest]).toEqual([half, { type: half === 'cjs' ? 'commonjs' : 'module', sideEffects: false }]);
  }
});

it('loads every subpath entry point from CommonJS and ESM', () => {
  const out = node(
    `import { createRequire } from 'node:module';
     const require = createRequire(import.meta.url);
     const entries = ${JSON.stringify(subpathExports)};
     const result = {};
     for (const [subpath, name] of Object.entries(entries)) {
       result[subpath] = [typeof require('rxllm/' + subpath)[name], typeof (await import('rxllm/' + subpath))[name]];
     }
     console.log(JSON.stringify(result));`,
    'subpaths.mjs',
  );
  expect(JSON.parse(out)).toEqual(Object.fromEntries(Object.keys(subpathExports).map((subpath) => [subpath, ['function', 'function']])));
});

it('records into a LatencyHistogram from ESM and CommonJS', () => {
  const out = node(
    `import { createRequire } from 'node:module';
     const builds = [createRequire(import.meta.url)('rxllm/metrics'), await import('rxllm/metrics')];
     console.log(JSON.stringify(builds.map(({ LatencyHistogram }) => {
       const histogram = new LatencyHistogram();
       for (const ms of [120, 180, 95, 2400]) histogram.record(ms);
       return histogram.summary();
     })));`,
    'histogram.mjs',
  );
  const summary = { count: 4, mean: 698.75, min: 95, p50: 120, p95: 2401, p99: 2401, max: 2401 };
  expect(JSON.parse(out)).toEqual([summary, summary]);
});

/** The files a fresh process has loaded after `code`, from require.cache (real paths: linked packages resolve into this project's node_modules). */
function loadedBy(code: string, file: string): string[] {
  const out = node(`${code}\nconsole.log(JSON.stringify(Object.keys(require.cache)));`, file);
  return JSON.parse(out) as string[];
}

/** The packages those files belong to (`rxjs`, `@scope/name`): the name after a path's last node_modules/. */
function packagesOf(files: string[]): string[] {
  return [...new Set(files.flatMap((file) => /.*node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1] ?? []))].sort();
}

// The import cost of the root entry (issue 15: ≤ 30 ms and ≤ +8 MB beyond rxjs), asserted by what
// it loads rather than by a timing: rxjs, eventsource-parser and rxllm's own files. The two libraries
// the house does not re-write, an LRU (lru-cache) and HdrHistogram (hdr-histogram-js), load at their
// first use in CommonJS (src/internal/lruCacheClass.ts, int32HistogramClass.ts), synchronously.
describe('the root entry in CommonJS loads neither lru-cache nor hdr-histogram-js until they are used', () => {
  let steps: { atImport: string[]; afterStore: string[]; afterCache: string[]; afterHistogram: string[]; afterLimit: string[] };
  let results: { stats: unknown; hit: boolean; calls: number; replayed: string[]; p50: number; lanes: string[] };

  beforeAll(() => {
    const out = node(
      `const files = () => Object.keys(require.cache);
       const { of } = require('rxjs');
       const rxllm = require('rxllm');
       const atImport = files();
       const store = rxllm.memoryCacheStore({ maxEntries: 1 });
       store.set('a', { events: [], bytes: 1 });
       store.set('b', { events: [], bytes: 1 });
       const afterStore = files();
       // cache()'s own store, and a hit served synchronously (in the subscribe call) on the second ask.
       let calls = 0;
       const llm = rxllm.withMiddleware(() => (calls++, of({ type: 'text', choice: 0, text: 'hi' }, { type: 'finish', choice: 0, reason: 'stop' })), rxllm.cache({ ttl: 60000 }));
       const ask = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
       llm(ask).subscribe();
       const replayed = [];
       llm(ask).subscribe((event) => replayed.push(event.type));
       const afterCache = files();
       const { LatencyRegistry } = require('rxllm/metrics');
       const registry = new LatencyRegistry();
       registry.record({ step: 's', model: 'm', start: 0, firstToken: 120, end: 300, outcome: 'ok', outputTokens: 1, outputTokensFrom: 'counted', finishReasons: ['stop'] });
       const afterHistogram = files();
       const limiter = rxllm.limit({ concurrency: 2 });
       const afterLimit = files();
       console.log(JSON.stringify({
         steps: { atImport, afterStore, afterCache, afterHistogram, afterLimit },
         results: { stats: store.stats(), hit: store.get('b') !== undefined, calls, replayed, p50: registry.percentile({ metric: 'ttft', p: 50 }), lanes: Object.keys(limiter.stats().lanes) },
       }));`,
      'lazy.cjs',
    );
    ({ steps, results } = JSON.parse(out) as { steps: typeof steps; results: typeof results });
  });

  const ours = (files: string[]): string[] => {
    const prefix = join(dir, 'node_modules', 'rxllm', 'dist', 'cjs') + '/';
    return files.filter((file) => file.startsWith(prefix)).map((file) => file.slice(prefix.length));
  };
  const hdrFiles = (files: string[]): string[] => files.filter((file) => file.includes('/hdr-histogram-js/')).map((file) => file.replace(/.*\/hdr-histogram-js\//, ''));

  it('require() loads rxjs, eventsource-parser and its own files: no lru-cache, no hdr-histogram-js, no zod, no optional peer', () => {
    expect(packagesOf(steps.atImport)).toEqual(['eventsource-parser', 'rxjs', 'rxllm']);
  });

  // The build is bundled (scripts/bundle.mjs): the entry file and the shared chunks of the modules it reaches.
  it('require() loads the root bundle and shared chunks only, in a handful of files', () => {
    const loaded = ours(steps.atImport);
    expect(loaded).toContain('index.js');
    expect(loaded.filter((file) => file !== 'index.js' && !file.startsWith('shared/'))).toEqual([]);
    // 73 files before bundling (13 after, round 6); the chunk count follows how rollup groups modules by the entry points that use them.
    expect(loaded.length).toBeLessThanOrEqual(15);
  });

  it("require() loads no code of the simulator, the servers, the test kit, the SDK and Redis clients or the CLI", () => {
    const code = ours(steps.atImport).map((file) => readFileSync(join(installed, 'dist', 'cjs', file), 'utf8'));
    // One function each of those entry points defines and the root entry never reaches.
    const others = ['simulatedTransport', 'startSimulatorServer', 'toServerSentEvents', 'scriptedTransport', 'openaiTransport', 'redisCacheStore', 'runDemo'];
    const defined = others.filter((name) => code.some((text) => new RegExp(`function ${name}\\(`).test(text)));
    expect(defined).toEqual([]);
    // The markers are real: each is defined in the files of its own entry point.
    const everything = ['simulator', 'node', 'testing', 'openai', 'redis', 'shared', 'cli']
      .flatMap((folder) =>
        readdirSync(join(installed, 'dist', 'cjs', folder))
          .filter((file) => file.endsWith('.js'))
          .map((file) => readFileSync(join(installed, 'dist', 'cjs', folder, file), 'utf8')),
      )
      .join('\n');
    expect(others.filter((name) => !new RegExp(`function ${name}\\(`).test(everything))).toEqual([]);
  });

  it('the first memoryCacheStore() loads lru-cache (and nothing else), which evicts as an LRU does', () => {
    expect(packagesOf(steps.afterStore)).toEqual(['eventsource-parser', 'lru-cache', 'rxjs', 'rxllm']);
    expect(results.stats).toEqual({ entries: 1, bytes: 1, evictions: 1 });
    expect(results.hit).toBe(true);
  });

  it("cache()'s own store works: the second ask is a hit, replayed synchronously, without a second upstream call", () => {
    expect(results.calls).toBe(1);
    expect(results.replayed).toEqual(['text', 'finish']);
    expect(packagesOf(steps.afterCache)).not.toContain('hdr-histogram-js');
  });

  it("the first histogram (a LatencyRegistry's record, or limit()'s lanes) loads hdr-histogram-js's 32-bit class alone, which works", () => {
    expect(packagesOf(steps.afterHistogram)).toEqual(['eventsource-parser', 'hdr-histogram-js', 'lru-cache', 'rxjs', 'rxllm']);
    const hdr = hdrFiles(steps.afterLimit);
    expect(hdr).toContain('dist/Int32Histogram.js');
    // Not the package index: no WebAssembly blob, no pako, no log encoders.
    expect(hdr).not.toContain('dist/index.js');
    expect(hdr.filter((file) => /wasm|encoding|ZigZag|Log/i.test(file))).toEqual([]);
    expect(results.p50).toBe(120);
    expect(results.lanes).toEqual(['interactive', 'background']);
  });
});

// One consumer of the memory cache and a histogram, for ESM in Node and for the bundles below: a cached
// answer asked twice (the second a hit, replayed in the subscribe call), a LatencyHistogram and limit()'s lanes.
const consumerBody = `
const calls = [];
const upstream = (request) => {
  calls.push(request.model);
  return of({ type: 'text', choice: 0, text: 'hi' }, { type: 'finish', choice: 0, reason: 'stop' });
};
const llm = withMiddleware(upstream, cache({ ttl: 60000 }));
const ask = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
const first = [];
llm(ask).subscribe((event) => first.push(event.type));
const hit = [];
llm(ask).subscribe((event) => hit.push(event.type));
const store = memoryCacheStore({ maxEntries: 1 });
store.set('a', { events: [], bytes: 1 });
store.set('b', { events: [], bytes: 1 });
const histogram = new LatencyHistogram();
for (const ms of [120, 180, 95, 2400]) histogram.record(ms);
const limiter = limit({ concurrency: 2 });
console.log(JSON.stringify({ calls: calls.length, first, hit, stats: store.stats(), p50: histogram.percentile(50), lanes: Object.keys(limiter.stats().lanes) }));
`;
const consumerPrints = { calls: 1, first: ['text', 'finish'], hit: ['text', 'finish'], stats: { entries: 1, bytes: 1, evictions: 1 }, p50: 120, lanes: ['interactive', 'background'] };
const esmConsumer = `import { of } from 'rxjs';\nimport { cache, limit, memoryCacheStore, withMiddleware } from 'rxllm';\nimport { LatencyHistogram } from 'rxllm/metrics';\n${consumerBody}`;
const cjsConsumer = `const { of } = require('rxjs');\nconst { cache, limit, memoryCacheStore, withMiddleware } = require('rxllm');\nconst { LatencyHistogram } = require('rxllm/metrics');\n${consumerBody}`;

// The ES module half imports lru-cache and hdr-histogram-js statically (src/internal/*.esm.ts, for bundlers):
// `import('rxllm')` in Node loads them at import. What matters here is that it works, a hit synchronously.
it('import() from ESM: the memory cache (a synchronous hit), a histogram and limit() work', () => {
  expect(JSON.parse(node(esmConsumer, 'consumer.mjs'))).toEqual(consumerPrints);
});

// What a bundler makes of the per-format loaders: esbuild bundles of the consumer above (everything inlined,
// rxjs too), for Node as CommonJS (from require(): the dist/cjs loaders' require() at first use) and as an ES
// module (from import: dist/esm's static imports, so lru-cache's ES module build, which imports
// node:diagnostics_channel as a module), and for the browser. Each Node bundle runs from a directory with no
// node_modules above it, so nothing resolves at run time.
describe('esbuild bundles of a consumer of the memory cache and a histogram', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'rxllm-bundles-'));
    writeFileSync(join(dir, 'bundle-consumer.mjs'), esmConsumer);
    writeFileSync(join(dir, 'bundle-consumer.cjs'), cjsConsumer);
  });
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it.each([
    ['cjs', 'node', 'bundle-consumer.cjs', 'cjs-node.cjs'],
    ['esm', 'node', 'bundle-consumer.mjs', 'esm-node.mjs'],
    ['esm', 'browser', 'bundle-consumer.mjs', 'esm-browser.mjs'],
  ] as const)('format %s, platform %s: builds, and runs correctly without node_modules', (format, platform, entry, outfile) => {
    // esbuild is loaded here, not at the top: the other tests do not need it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { buildSync } = require('esbuild') as typeof import('esbuild');
    const result = buildSync({
      entryPoints: [join(dir, entry)],
      absWorkingDir: dir,
      bundle: true,
      format,
      platform,
      target: 'es2022',
      outfile: join(out, outfile),
      logLevel: 'silent',
      metafile: true,
    });
    expect(result.errors).toEqual([]);
    expect(existsSync(join(out, 'node_modules'))).toBe(false);
    const inputs = Object.keys(result.metafile.inputs);
    const half = entry.endsWith('.cjs') ? 'cjs' : 'esm';
    // Each bundle takes the build its consumer resolves to (a bundler for Node matches the `node` condition, and
    // gets the bundle Node itself imports), and lru-cache's matching build.
    const build = half === 'cjs' ? 'cjs' : platform === 'node' ? 'esm-node' : 'esm';
    const ours = inputs.filter((file) => file.startsWith('node_modules/rxllm/'));
    expect([...new Set(ours.map((file) => /^node_modules\/rxllm\/dist\/([^/]+)\//.exec(file)?.[1]))]).toEqual([build]);
    // A browser bundler gets one file per module, so it drops the modules an app does not use by file.
    if (build === 'esm') expect(ours).toContain('node_modules/rxllm/dist/esm/internal/lruCacheClass.js');
    expect(inputs.filter((file) => /lru-cache\/dist\/[^/]+\/[^/]+\/index/.test(file)).map((file) => file.replace(/.*lru-cache\/dist\//, ''))).toEqual([
      `${half === 'cjs' ? 'commonjs' : 'esm'}/${platform}/index.min.js`,
    ]);
    // The browser bundle is for a browser, but it needs nothing of Node's: Node runs it too.
    const printed = execFileSync(process.execPath, [join(out, outfile)], { cwd: out, encoding: 'utf8', timeout: 15_000 });
    expect(JSON.parse(printed)).toEqual(consumerPrints);
  });
});

it('loads no schema library and no optional peer from any entry point but the one that needs it', () => {
  const peers = ['zod', 'valibot', 'openai', 'ioredis', '@opentelemetry/api', 'pako'];
  for (const entry of ['metrics', 'simulator', 'testing', 'node']) {
    const loaded = packagesOf(loadedBy(`require('rxllm/${entry}');`, `loaded-${entry}.cjs`));
    expect([entry, loaded.filter((name) => peers.includes(name))]).toEqual([entry, []]);
  }
  expect(packagesOf(loadedBy(`require('rxllm/openai');`, 'loaded-openai.cjs'))).toContain('openai');
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
  // Node matches the `node` condition: the bundle (bundlers for the browser take dist/esm, one file per module).
  expect(result.file).toBe(`file://${join(installed, 'dist', 'esm-node', 'index.js')}`);
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

// tsc is slow on a busy machine (a full check of @types/node, rxjs and zod is ~20 s of CPU), so the
// matrix that checks library files (skipLibCheck: false) is one project per moduleResolution, CommonJS
// and ESM files together in it; the every-entry-point checks skip library files.
describe('compiled by tsc', () => {
  // A consumer that runs: a parallel pair on rxllm/testing's scripted transport and one simulated
  // answer, both in virtual time (so at once), with a value and a type from every entry point
  // that needs neither optional peer. Its one printed line is checked below.
  const runnable = `
import { forkJoin } from 'rxjs';
import { measure, sseTransport, text, withMiddleware, type LimitStats, type LlmEvent, type LlmRequest, type MeasureConfig, type RequestContext, type Transport } from 'rxllm';
import { simulatedTransport, type SimulatorProfiles } from 'rxllm/simulator';
import { runInVirtualTime, scriptedTransport, textScript, type Script } from 'rxllm/testing';
import { toServerSentEvents, type SimulatorServerConfig } from 'rxllm/node';

const ask = (model: string): LlmRequest => ({ model, messages: [{ role: 'user', content: 'Classify the sentiment as positive or negative: I love it' }] });
const scripted = scriptedTransport({ fast: textScript('positive', { at: 300 }), slow: textScript('A short summary.', { at: 900 }) });
const llm: Transport = withMiddleware(scripted);
const context: RequestContext = { step: 'classify' };
const pair = runInVirtualTime(forkJoin([llm(ask('fast'), context).pipe(text()), llm(ask('slow')).pipe(text())]), { transport: scripted });
const simulated = runInVirtualTime(simulatedTransport({ seed: 7 })(ask('gpt-4o-mini')).pipe(text()));

const profiles: SimulatorProfiles = {};
const server: SimulatorServerConfig = { profiles };
const script: Script | undefined = undefined;
const events: LlmEvent[] = [];
const config: MeasureConfig | undefined = undefined;
const limits: LimitStats | undefined = undefined;
export const unused = [measure, sseTransport({ baseURL: 'http://127.0.0.1:1/v1' }), toServerSentEvents, server, script, events, config, limits];
console.log(JSON.stringify({ pair: pair.values, pairAt: pair.completedAt, simulated: typeof simulated.values[0], simulatedDone: simulated.completedAt !== undefined }));
`;
  const printed = { pair: [['positive', 'A short summary.']], pairAt: 900, simulated: 'string', simulatedDone: true };

  // [moduleResolution, module kinds, compiler options, files, the emitted files to run with node (none for bundler: a bundler runs those)]
  const matrix: [string, string, Record<string, unknown>, string[], string[]][] = [
    ['node16', 'CommonJS .cts and ESM .mts', { module: 'node16', moduleResolution: 'node16' }, ['all.cts', 'all.mts'], ['all.cjs', 'all.mjs']],
    ['nodenext', 'CommonJS .cts and ESM .mts', { module: 'nodenext', moduleResolution: 'nodenext' }, ['all.cts', 'all.mts'], ['all.cjs', 'all.mjs']],
    // bundler takes only ESM syntax (module esnext or preserve); what it emits is for a bundler to run.
    ['bundler', 'ESM', { module: 'esnext', moduleResolution: 'bundler' }, ['all.ts'], []],
    // node10 (TypeScript's default for module: commonjs) ignores `exports`: the subpaths resolve through `typesVersions`.
    // esModuleInterop (tsc --init's default) because zod's own .d.cts files default-import CommonJS modules (TS1259 without it).
    ['node10', 'CommonJS', { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true }, ['all.ts'], ['all.js']],
  ];

  it.each(matrix)(
    'compiles with skipLibCheck: false under moduleResolution %s (%s), without openai or @opentelemetry/api installed, and runs in Node',
    (name, _kinds, options, files, outputs) => {
      expect(existsSync(join(bare, 'node_modules', OTEL))).toBe(false);
      expect(existsSync(join(bare, 'node_modules', 'openai'))).toBe(false);
      const result = typecheck(
        `strict-${name}`,
        { ...options, skipLibCheck: false, types: ['node'], outDir: 'out' },
        Object.fromEntries(files.map((file) => [file, runnable])),
        bare,
      );
      expect(result).toEqual({ ok: true, output: '' });
      for (const output of outputs) {
        const out = execFileSync(process.execPath, [join(bare, `strict-${name}`, 'out', output)], { cwd: bare, encoding: 'utf8', timeout: 15_000 });
        expect(JSON.parse(out)).toEqual(printed);
      }
    },
    180_000,
  );

  it('a consumer of rxllm/metrics with skipLibCheck: false needs @opentelemetry/api (why the exporters left the root)', () => {
    const result = typecheck(
      'metrics-only',
      { module: 'node16', moduleResolution: 'node16', skipLibCheck: false, types: [] },
      { 'metrics.cts': `import { recordSpans } from 'rxllm/metrics';\nexport const used = recordSpans;\n` },
    );
    expect(result.ok).toBe(false);
    expect(result.output).toContain(`Cannot find module '${OTEL}'`);
  }, 180_000);

  // Every subpath entry point, a value and a type each, as a consumer writes them (with openai installed).
  const consumer = `
import { withMiddleware, type LlmEvent, type RequestContext, type Transport } from 'rxllm';
import { LatencyHistogram, LatencyRegistry, type Distribution } from 'rxllm/metrics';
import { simulatedTransport, type SimulatorProfiles } from 'rxllm/simulator';
import { scriptedTransport, type Script } from 'rxllm/testing';
import { toServerSentEvents, type SimulatorServerConfig } from 'rxllm/node';
import { openaiTransport, type OpenAITransportConfig } from 'rxllm/openai';
const transport: Transport = withMiddleware(simulatedTransport({ seed: 1 }));
const context: RequestContext = { step: 'draft' };
const profiles: SimulatorProfiles = {};
const events: LlmEvent[] = [];
const registry = new LatencyRegistry();
const wait: Distribution | undefined = new LatencyHistogram().summary();
const script: Script | undefined = undefined;
const server: SimulatorServerConfig = { profiles };
const openai: OpenAITransportConfig | undefined = undefined;
export const used = [transport, context, events, registry, wait, scriptedTransport, script, toServerSentEvents, server, openaiTransport, openai];
`;

  it.each(matrix.map(([name, kinds, options, files]) => [name, kinds, options, files] as const))(
    'every entry point resolves with its types under moduleResolution %s (%s)',
    (name, _kinds, options, files) => {
      const result = typecheck(`all-${name}`, { ...options, skipLibCheck: true, types: [] }, Object.fromEntries(files.map((file) => [file, consumer])));
      expect(result).toEqual({ ok: true, output: '' });
    },
    180_000,
  );
});
