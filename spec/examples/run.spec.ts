/*
 * Every example under examples/ runs as examples/README.md says (`npx ts-node examples/<name>.ts`,
 * after `npm run build`), on the simulator, with no key and no network, and prints what it
 * promises. Each runs in a child process against the built package: `rxllm`, `rxllm/node`, ...
 * resolve through the package's own "exports" to dist/, as in a user's app. The examples are
 * type-checked the same way by `npm run check:examples` (examples/tsconfig.json).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { startRedisServer } from '../helpers/redisServer';

const root = resolve(__dirname, '..', '..');
const examples = join(root, 'examples');

/** What each example must print; a new example without an entry here fails the last test. */
const expectations: Record<string, { args?: (dir: string) => string[]; redis?: true; prints: RegExp[] }> = {
  'content-analysis.ts': { prints: [/^sequential +\d+ ms \{"sentiment":/m, /^parallel +\d+ ms \{"sentiment":/m, /speed-up \d+\.\d\d×/] },
  'dedupe-cache-prefetch.ts': {
    prints: [/10 identical requests at once: 10 upstream calls without dedupe\(\), 1 with it/, /from the cache \(same text: true\)/, /when prefetched/],
  },
  'graph-deadline.ts': {
    prints: [/reply +sent with \d+ ms left/, /done in \d+ ms; critical path \w+ → reply/, /deadline 1\.2 s:\n[\s\S]*(timeout in node "\w+"|finished in time)/],
  },
  'load-control.ts': { prints: [/^40 labels, 2 answers$/m, /upstream requests: \d+ \(instead of 42 \)/, /40 vectors of 1536 numbers/] },
  'measure.ts': {
    args: (dir) => [join(dir, 'report.html')],
    prints: [/The slowest of 12 concurrent runs/, /Latency by step/, /HTML waterfall written to .*report\.html/, /latency regressions? in \d+ checks/],
  },
  'redis-cache.ts': {
    redis: true,
    prints: [/instance A: \d+ ms from the model; instance B: [\d.]+ ms from Redis \(same events: true\)/, /^key example:llm:[0-9a-f]{64}: string, expires in \d+ ms/m],
  },
  'resumable-stream.ts': {
    redis: true,
    prints: [
      /^requests: A → B \(Last-Event-ID: \d+\)$/m,
      /the text equals the uninterrupted answer: true/,
      /^model calls: instance A 1, instance B 0$/m,
      /^key example:resume:\{[0-9a-f]{64}\}:events: stream, \d+ entries, expires in \d+ ms/m,
    ],
  },
  'redis-limits.ts': {
    redis: true,
    prints: [
      /concurrency: 2 instances × 10 requests, limit 3 shared: the server answered 20 with at most 3 in flight at once/,
      /rate: 2 instances × 3 requests, 6000 tokens a minute shared: [1-6] of 6 waited, the longest \d+ ms/,
      /^key example:limits:rate:buckets: hash, expires in \d+ ms/m,
    ],
  },
  'redis-latency.ts': {
    redis: true,
    prints: [
      /^instance A → westeurope \(fastest; p95 TTFT eastus \d+ ms, westeurope \d+ ms\)$/m,
      /^instance B → westeurope \(fastest;/m,
      /instance B had 0 samples of its own before deciding; it avoided eastus: true/,
      /^key example:\d+:latency:\{[0-9a-f]{8}\}:instances: set, expires in \d+ ms$/m,
    ],
  },
  'redis-single-flight.ts': {
    redis: true,
    prints: [/3 instances × 10 identical requests: 1 upstream call, 30 answers, same text: true/, /^key example:flight:\{[0-9a-f]{64}\}:s:[0-9a-f]{12}:[0-9a-f]{12}: stream, expires in \d+ ms/m],
  },
  'resilience.ts': { prints: [/^retry 1 in \d+ ms/m, /^served by \w+/m, /routing decisions:/, /Latency by step/] },
  'simulator.ts': { prints: [/sequential: \d+ ms, parallel: \d+ ms/, /cancelled after .*aborts=1, inFlight=0/, /injected fault: rate-limited/] },
  'streaming-server.ts': { prints: [/streams the analysis as Server-Sent Events/, /done in \d+ ms: \{"sentiment":"\w+","summary":".+","keywords":\[/] },
  'testing.ts': { prints: [/analyze\(\): parallel steps: completed at 900 ms/, /^all checks passed$/m] },
};

/** Every .ts file under examples/, relative to it. */
function exampleFiles(dir = examples): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return exampleFiles(path);
    return name.endsWith('.ts') ? [relative(examples, path)] : [];
  });
}

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    // The command examples/README.md gives (`npx ts-node examples/x.ts`), without npx's own start-up.
    execFile(
      process.execPath,
      ['-r', 'ts-node/register', join('examples', file), ...args],
      { cwd: root, encoding: 'utf8', timeout: 100_000, env: { ...process.env, OPENAI_API_KEY: '', FORCE_COLOR: '0', ...env } },
      (error, stdout, stderr) => done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let dir: string;

beforeAll(() => {
  if (!existsSync(join(root, 'dist', 'cjs', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` before this test (the examples import the built package; CI builds first).');
  }
  dir = mkdtempSync(join(tmpdir(), 'rxllm-examples-'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('examples/', () => {
  it('import only the public entry points (no ../src, no deep rxllm paths)', () => {
    const allowed = /^(rxllm(\/(node|testing|openai|metrics|simulator|redis))?|rxjs(\/testing)?|zod|ioredis|node:[\w/]+|@angular\/[\w/-]+|\.\/[\w.-]+)$/;
    const offending: string[] = [];
    for (const file of exampleFiles()) {
      const source = readFileSync(join(examples, file), 'utf8');
      for (const [, specifier] of source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        if (!allowed.test(specifier!)) offending.push(`${file}: ${specifier}`);
      }
      for (const [, specifier] of source.matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        if (!allowed.test(specifier!)) offending.push(`${file}: ${specifier}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('every runnable example has an expectation here and a line in examples/README.md', () => {
    const readme = readFileSync(join(examples, 'README.md'), 'utf8');
    const runnable = exampleFiles().filter((file) => !file.startsWith('angular'));
    expect(runnable.sort()).toEqual(Object.keys(expectations).sort());
    for (const file of runnable) expect(readme).toContain(`npx ts-node examples/${file}`);
  });

  for (const [file, { args, redis, prints }] of Object.entries(expectations)) {
    it(`${file} runs on the simulator and prints what it promises`, async () => {
      // The Redis example gets a real redis-server of its own (started and stopped by pid, like spec/redis).
      const server = redis ? await startRedisServer() : undefined;
      const { code, stdout, stderr } = await run(file, args?.(dir) ?? [], server ? { REDIS_URL: server.url } : {}).finally(() => server?.close());
      if (code !== 0) throw new Error(`examples/${file} exited ${code}:\n${stderr || stdout}`);
      for (const pattern of prints) expect(stdout).toMatch(pattern);
      if (file === 'measure.ts') expect(readFileSync(join(dir, 'report.html'), 'utf8')).toContain('<html');
    }, 120_000);
  }
});
