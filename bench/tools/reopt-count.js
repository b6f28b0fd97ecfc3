// Counts what V8 re-optimizes per streamed answer after a full GC, by function (docs/performance.md,
// "CPU per token after a full GC"). Usage, after `node bench/run.js none` has compiled bench/.out:
//
//   node bench/tools/reopt-count.js [floor|rxllm|openai] [requests=10]
//
// It runs itself in a child under `--trace-opt --trace-deopt --trace-file-names`: 3 warm-up
// requests, then per request gc(), 20 ms, one 2,000-token answer from bench/lib/tokenServer through
// the floor (fetch + eventsource-parser), sseTransport + tokens() (rxllm) or openaiTransport over
// the official SDK + tokens() (openai), 50 ms for the background
// compiles to land; and prints, per request, the optimizations, aborted optimizations and deopts,
// the CPU by thread (main / V8's other threads, from /proc/self/task/*/schedstat), and which
// functions were optimized, with the milliseconds V8's compiler took for them per request (`compile`: all of the
// request's optimizations, as --trace-opt reports them). "own" = the client's code: rxllm's src/ and RxJS (or the
// floor's callback). With HOLD=1 (rxllm only) one more sseTransport + tokens() request is kept in flight throughout (a
// body that sends two chunks and never ends): its objects, and so their hidden classes, survive every collection.
// HOLD=own keeps only rxllm's own objects of the per-token path alive (no request, no fetch, no body stream).
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const out = path.join(__dirname, '..', '.out');
const TOKENS = 2000;

if (process.argv[2] === '--child') child(process.argv[3], Number(process.argv[4]));
else parent(process.argv[2] ?? 'rxllm', Number(process.argv[3] ?? 10));

function parent(which, requests) {
  const run = spawnSync(process.execPath, ['--expose-gc', '--trace-opt', '--trace-deopt', '--trace-file-names', __filename, '--child', which, String(requests)], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  if (run.status !== 0) throw new Error(run.stderr || `exit ${run.status}`);
  const perRequest = [];
  const byFunction = new Map();
  const compileByFunction = new Map();
  let current;
  for (const line of run.stdout.split('\n')) {
    if (line.startsWith('@@ START')) current = { opt: 0, optOwn: 0, aborted: 0, deopts: 0, compile: 0 };
    else if (line.startsWith('@@ END')) {
      const [, , , cpu, , main, , other] = line.split(' ');
      perRequest.push({ ...current, cpu: Number(cpu), main: Number(main), other: Number(other) });
      current = undefined;
    } else if (current) {
      const name = /<JSFunction (.*?) \(sfi/.exec(line)?.[1]?.replace(out + '/', '').replace('node:internal/deps/', '');
      if (!name) continue;
      const own = name.includes('src/') || name.includes('rxjs') || name.includes('reopt-count.js');
      // "[completed compiling ... took <prepare>, <execute>, <finalize> ms]": execute runs on a background thread.
      const took = /took ([\d.]+), ([\d.]+), ([\d.]+) ms/.exec(line);
      if (line.startsWith('[completed compiling') && took) {
        const ms = Number(took[1]) + Number(took[2]) + Number(took[3]);
        current.compile += ms;
        compileByFunction.set(name, (compileByFunction.get(name) ?? 0) + ms);
      }
      if (line.startsWith('[completed optimizing')) {
        current.opt++;
        if (own) current.optOwn++;
        byFunction.set(name, (byFunction.get(name) ?? 0) + 1);
      } else if (line.startsWith('[aborted optimizing')) current.aborted++;
      else if (line.startsWith('[bailout')) current.deopts++;
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const column = (key) => perRequest.map((request) => request[key]);
  console.log(`${which}: ${perRequest.length} requests after a full GC, medians (all)`);
  for (const key of ['opt', 'optOwn', 'aborted', 'deopts', 'cpu', 'main', 'other', 'compile']) {
    const values = column(key).map((value) => (key === 'compile' ? Number(value.toFixed(1)) : value));
    console.log(`  ${key.padEnd(8)} ${median(values)}  (${values.join(' ')})`);
  }
  console.log('  optimized per request, by function (count, compile ms):');
  for (const [name, count] of [...byFunction].sort((a, b) => b[1] - a[1])) {
    console.log(`    ${(count / perRequest.length).toFixed(2)}  ${((compileByFunction.get(name) ?? 0) / perRequest.length).toFixed(2).padStart(5)}  ${name}`);
  }
}

function threads() {
  let main = 0;
  let other = 0;
  for (const task of fs.readdirSync('/proc/self/task')) {
    try {
      const ns = Number(fs.readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ')[0]);
      if (Number(task) === process.pid) main += ns;
      else other += ns;
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return { main, other };
}

/** openaiTransport over the official SDK, loaded only when asked for (openai is an optional peer). */
function openaiTransport(baseURL) {
  const { openaiTransport } = require(path.join(out, 'src/openai/openaiTransport.js'));
  return openaiTransport({ baseURL, apiKey: 'bench' });
}

async function child(which, requests) {
  const { streamFloor } = require(path.join(out, 'bench/lib/floorClient.js'));
  const { sseTransport } = require(path.join(out, 'src/transport/sse.js'));
  const { tokens } = require(path.join(out, 'src/operators/tokens.js'));
  const { Observable } = require('rxjs');
  const request = {
    model: 'bench',
    messages: [
      { role: 'system', content: 'You are a verbose assistant.' },
      { role: 'user', content: 'Write a long essay about reactive streams and back-pressure.' },
    ],
    max_tokens: TOKENS,
  };
  const server = spawn(process.execPath, [path.join(out, 'bench/lib/tokenServer.js'), String(TOKENS)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => server.stdout.once('data', (data) => resolve(data.toString().trim())));
  const baseURL = `http://127.0.0.1:${port}/v1`;
  const floor = (onDelta) => streamFloor(baseURL, request, onDelta);
  const llm = which === 'openai' ? openaiTransport(baseURL) : sseTransport({ baseURL, apiKey: 'bench' });
  const rxllm = (onDelta) =>
    new Promise((resolve, reject) => llm(request).pipe(tokens()).subscribe({ next: onDelta, error: reject, complete: () => resolve(undefined) }));
  const client = which === 'floor' ? floor : rxllm;
  let held;
  if (process.env.HOLD === 'own' && which === 'rxllm') {
    // Only rxllm's own objects of the per-token path (the sink, its decoder and their PartialText, tokens()'s relay
    // and the subscriber it feeds), each past its first chunk so that its fields hold what a live one holds.
    const { ChatStreamSink } = require(path.join(out, 'src/transport/ChatStreamSink.js'));
    const chunk = JSON.stringify({ id: 'held', object: 'chat.completion.chunk', created: 1, model: 'bench', choices: [{ index: 0, delta: { content: 'held' }, finish_reason: null }] });
    held = new Observable((subscriber) => {
      new ChatStreamSink(subscriber, () => ({}), { finished: false }).next({ data: chunk });
    })
      .pipe(tokens())
      .subscribe(() => undefined);
  } else if (process.env.HOLD && which === 'rxllm') {
    const chunk = (text) =>
      `data: ${JSON.stringify({ id: 'held', object: 'chat.completion.chunk', created: 1, model: 'bench', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;
    const body = new TextEncoder().encode(chunk('held ') + chunk('open'));
    const neverEnds = async () => new Response(new ReadableStream({ start: (controller) => controller.enqueue(body) }), { headers: { 'content-type': 'text/event-stream' } });
    // Referenced until the end: an in-memory body nobody holds would be collected with its subscriber.
    held = sseTransport({ baseURL, apiKey: 'bench', fetch: neverEnds })(request).pipe(tokens()).subscribe(() => undefined);
  }
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  for (let i = 0; i < 3; i++) await client(() => undefined);
  for (let i = 0; i < requests; i++) {
    let text = '';
    gc();
    await sleep(20);
    console.log(`@@ START ${i}`);
    const before = threads();
    const cpu = process.cpuUsage();
    await client((delta) => (text += delta));
    const used = process.cpuUsage(cpu);
    const after = threads();
    await sleep(50);
    if (text.length < TOKENS) throw new Error(`got ${text.length} chars`);
    const perToken = (ns) => (ns / 1000 / TOKENS).toFixed(2);
    console.log(`@@ END ${i} ${((used.user + used.system) / TOKENS).toFixed(2)} main ${perToken(after.main - before.main)} other ${perToken(after.other - before.other)}`);
  }
  held?.unsubscribe();
  server.kill();
}
