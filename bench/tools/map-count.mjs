// How many hidden classes (V8 maps) a request creates in steady state: runs 300 warm-up requests, then 400 more,
// each with V8's map log on (`--log-maps`), and prints the map events per request of the 400 (the difference between
// a run with and without them). In memory, no sockets: fetch answers at once with a 64-token stream or a JSON body.
// A per-request copy that gets a map of its own shows here as one event per request (docs/performance.md, "Hidden
// classes: one per copy").
//
//   npm run build && node bench/tools/map-count.mjs [stream|stack|pipeline|steprun] [dist/esm-node/index.js]
//
// stream: sseTransport + tokens(); stack: the same through dedupe() + cache() + retry() + timeouts() + measure(),
// every request a cache miss; pipeline: parallel().value() of three steps (three requests); steprun: step().run().
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const WARM_UP = 300;
const COUNTED = 400;

if (process.argv[2] === '--child') await child(process.argv[3], process.argv[4], Number(process.argv[5]));
else parent(process.argv[2] ?? 'stream', process.argv[3] ?? 'dist/esm-node/index.js');

function parent(kind, build) {
  const dir = mkdtempSync(join(tmpdir(), 'rxllm-maps-'));
  try {
    const events = (n) => {
      const log = join(dir, `maps-${n}.log`);
      const run = spawnSync(
        process.execPath,
        ['--max-semi-space-size=256', '--log-maps', `--logfile=${log}`, '--no-logfile-per-isolate', fileURLToPath(import.meta.url), '--child', kind, build, String(n)],
        { encoding: 'utf8' },
      );
      if (run.status !== 0) throw new Error(run.stderr);
      return readFileSync(log, 'utf8').split('\n').filter((line) => line.startsWith('map,')).length;
    };
    const perRequest = (events(COUNTED) - events(0)) / COUNTED;
    console.log(`${kind} (${build}): ${perRequest.toFixed(1)} map events per request`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(kind, build, counted) {
  const { sseTransport, tokens, step, parallel, withMiddleware, dedupe, cache, retry, timeouts, measure } = await import(pathToFileURL(resolve(build)).href);
  const { LatencyRegistry } = await import(pathToFileURL(resolve(build, '../metrics/index.js')).href);
  const TOKENS = 64;
  const chunk = (delta, finish) =>
    `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  let sse = chunk({ role: 'assistant', content: '' }, null);
  for (let i = 0; i < TOKENS; i++) sse += chunk({ content: 'tok ' }, null);
  sse += chunk({}, 'stop');
  sse += `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: TOKENS, total_tokens: 5 + TOKENS } })}\n\n`;
  sse += 'data: [DONE]\n\n';
  const stream = new TextEncoder().encode(sse);
  const json = new TextEncoder().encode(
    JSON.stringify({ id: 'c', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'An answer.' }, finish_reason: 'stop' }], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } }),
  );
  const memoryFetch = async (url, init) =>
    JSON.parse(init.body).stream
      ? new Response(stream, { headers: { 'content-type': 'text/event-stream' } })
      : new Response(json, { headers: { 'content-type': 'application/json' } });
  const llm = sseTransport({ baseURL: 'http://x/v1', apiKey: 'k', fetch: memoryFetch });
  const request = (i) => ({ model: 'm', messages: [{ role: 'user', content: `Request ${i}` }], max_tokens: 64 });
  const done = (observable, next = () => {}) => new Promise((resolve, reject) => observable.subscribe({ next, error: reject, complete: resolve }));
  const pipeline = parallel(Object.fromEntries(['a', 'b', 'c'].map((name) => [name, step(name, request, { transport: llm })])));
  const single = step('s', request, { transport: llm });
  const resilient = withMiddleware(
    llm,
    dedupe(),
    cache({ ttl: 60_000 }),
    retry({ maxRetries: 2 }),
    timeouts({ headers: 30_000, firstToken: 30_000, idle: 30_000, total: 120_000 }),
    measure({ registry: new LatencyRegistry() }),
  );
  const runs = {
    stream: (i) => done(llm(request(i)).pipe(tokens())),
    stack: (i) => done(resilient(request(i)).pipe(tokens())),
    pipeline: (i) => done(pipeline.value(i)),
    steprun: (i) => done(single.run(i), (state) => state.textSoFar.length),
  };
  const run = runs[kind];
  if (!run) throw new Error(`unknown kind ${kind}: stream, stack, pipeline or steprun`);
  for (let i = 0; i < WARM_UP + counted; i++) await run(i);
}
