// What a streamed request costs rxllm to set up and tear down, beside the floor of the peers'
// harness (raw fetch + eventsource-parser), with no sockets: both read the same in-memory
// `text/event-stream` Response from a fetch that answers at once, so what differs is the client's
// own per-request JavaScript (validation, body, AbortController, Observables, decoder, teardown).
//
//   npm run build && node --expose-gc --max-semi-space-size=256 bench/request-setup.mjs [dist/esm/index.js,other/dist/esm/index.js] [tokens]
//
// Prints, per client, the median over 15 rounds of 500 concurrent requests: CPU µs per request
// (process.cpuUsage), its ratio to the floor of the same round, and heap bytes allocated per
// request (no collection runs inside a round with the semi-space size above). Pass two builds
// (comma-separated) to compare them in one process. See docs/performance.md, "Fan-out".
import { streamFloor } from './peer-adapters/fetch-esp-abortable.mjs';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

const builds = (process.argv[2] ?? 'dist/esm/index.js').split(',');
const TOKENS = Number(process.argv[3] ?? 1);
const N = 500;
const ROUNDS = 15;

const chunk = (delta, finish, extra = {}) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
let sse = '';
for (let i = 0; i < TOKENS; i++) sse += chunk({ content: 'tok ' }, null);
sse += chunk({}, 'stop');
sse += `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: TOKENS, total_tokens: 5 + TOKENS } })}\n\n`;
sse += 'data: [DONE]\n\n';
const bytes = new TextEncoder().encode(sse);
const memoryFetch = async () => new Response(bytes, { headers: { 'content-type': 'text/event-stream' } });

// The harness's floor adapter (fetch-eventsource-parser.mjs), on the same fetch.
const floor = { stream: (req, onDelta) => streamFloor({ url: 'http://x/v1/chat/completions', headers: {}, fetch: memoryFetch }, req, onDelta) };

const clients = [['floor', floor]];
for (const build of builds) {
  const { sseTransport, tokens } = await import(pathToFileURL(resolve(build)).href);
  const llm = sseTransport({ baseURL: 'http://x/v1', apiKey: 'k', fetch: memoryFetch });
  const stream = (req, onDelta) => new Promise((res, rej) => llm(req).pipe(tokens()).subscribe({ next: onDelta, error: rej, complete: res }));
  clients.push([build, { stream }]);
}

const request = (i) => ({ model: 'm', messages: [{ role: 'user', content: `Fan-out request ${i}: stream a short answer.` }], max_tokens: 64 });
const burst = (client) => Promise.all(Array.from({ length: N }, (_, i) => client.stream(request(i), () => {})));
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

for (const [, client] of clients) for (let w = 0; w < 20; w++) await burst(client);
const cpu = clients.map(() => []);
const alloc = clients.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  for (let k0 = 0; k0 < clients.length; k0++) {
    const k = r % 2 ? clients.length - 1 - k0 : k0; // alternate the order between rounds
    globalThis.gc?.();
    await new Promise((done) => setTimeout(done, 5));
    const h0 = process.memoryUsage().heapUsed;
    const c0 = process.cpuUsage();
    await burst(clients[k][1]);
    const c = process.cpuUsage(c0);
    const h1 = process.memoryUsage().heapUsed;
    cpu[k].push((c.user + c.system) / N);
    alloc[k].push((h1 - h0) / N);
  }
}
for (const [k, [name]] of clients.entries()) {
  const ratio = median(cpu[k].map((x, r) => x / cpu[0][r]));
  console.log(`${name.padEnd(40)} ${median(cpu[k]).toFixed(1).padStart(7)} µs/request  ${ratio.toFixed(2)}× floor  ${Math.round(median(alloc[k]))} B allocated/request`);
}
process.exit(0);
