import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, type Subscription } from 'rxjs';
import { isRxllmError, RxllmError } from '../core/errors.js';
import { parseRequest } from '../core/request.js';
import { defaultEmbeddingDimensions, embeddingVector } from '../simulator/embeddings.js';
import { planStep, requestOverride, Simulator } from '../simulator/plan.js';
import { playPlan } from '../simulator/playPlan.js';
import { parseProfileOverride, parseSimulatorProfiles, type SimulatorProfiles } from '../simulator/profiles.js';
import { countTokens } from '../simulator/tokenize.js';
import { completionBody, errorBody, streamWriter } from '../simulator/wire.js';

/** Options for {@link startSimulatorServer}. */
export interface SimulatorServerConfig {
  /** Port to listen on; 0 picks a free one (read it from `server.port`). @defaultValue 0 */
  port?: number;
  /** Interface to listen on. Loopback unless you say otherwise. @defaultValue "127.0.0.1" */
  host?: string;
  /**
   * Profiles merged over the built-in ones, or the path of a JSON file holding
   * them (`{ "my-model": { "ttftMs": { "median": 400, "p95": 900 } } }`).
   */
  profiles?: SimulatorProfiles | string;
  /** Seeds every random choice. The same seed and request give the same text and delays, whatever the request order (see `Simulator`). @defaultValue 1 */
  seed?: number;
}

/** What `GET /stats` reports: the API requests (chat and embeddings) since start or the last reset. */
export interface SimulatorStats {
  /** Requests received. */
  requests: number;
  /** Requests received, by the `model` they named. */
  requestsByModel: Record<string, number>;
  /** Requests being answered right now. */
  inFlight: number;
  /** The most requests in flight at once. */
  peakInFlight: number;
  /** Requests answered in full. */
  completed: number;
  /** Requests answered with an error status, or cut by an injected disconnect. */
  failed: number;
  /** Requests the client gave up on before the answer ended (closed the connection). */
  aborts: number;
}

/** A running simulator server. */
export interface SimulatorServer {
  /** `http://HOST:PORT`. */
  readonly url: string;
  /** `http://HOST:PORT/v1`: the `baseURL` for the `openai` SDK and `sseTransport`. */
  readonly baseURL: string;
  /** The interface it listens on (`127.0.0.1` unless configured). */
  readonly host: string;
  /** The port it listens on (a free one when asked for port 0). */
  readonly port: number;
  /** A snapshot of the counters (the same as `GET /stats`). */
  stats(): SimulatorStats;
  /** Zeroes the counters (the same as `POST /stats/reset`); requests in flight stay counted as in flight. */
  resetStats(): void;
  /** Stops listening and closes every open connection (open streams are cut). */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;
const PLANS_PER_TURN = 16;

/**
 * Starts the OpenAI-compatible simulator over HTTP: the same core as
 * `simulatedTransport`, played on real timers and written in OpenAI's exact wire
 * format, so the official `openai` SDK, `sseTransport` or any other client can be
 * tested end to end on real sockets, latency and faults included.
 *
 * Routes:
 * - `POST /v1/chat/completions`: streaming (a role chunk, content or tool-call
 *   chunks, a finish chunk, a usage chunk with `stream_options.include_usage`,
 *   `data: [DONE]`) and non-streaming. Per-request override: the header
 *   `x-rxllm-sim: ttft=300,tokens=50,tail_p=0.02` or the body field `rxllm_sim`.
 * - `POST /v1/embeddings`: string or array input; `encoding_format` `float` or
 *   `base64`; `dimensions`; deterministic vectors.
 * - `GET /v1/models`, `GET /v1/models/{id}`.
 * - `GET /stats` ({@link SimulatorStats}), `POST /stats/reset`.
 *
 * Errors use OpenAI's body shape (`{ "error": { message, type, param, code } }`),
 * with `retry-after` and `retry-after-ms` headers on injected 429s. A client that
 * closes its connection mid-answer is counted in `aborts`, and its timers stop.
 * CORS is open, so a web page on another port can call it.
 *
 * Resolves once listening. `close()` shuts it down, cutting open connections.
 *
 * @throws {@link rxllm!RxllmError | RxllmError} `invalid-config` for bad options or an unreadable profiles file.
 * @example
 * ```ts
 * import OpenAI from 'openai';
 * import { startSimulatorServer } from 'rxllm/node';
 * const server = await startSimulatorServer({ seed: 7 });
 * const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused' });
 * const answer = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] });
 * console.log(answer.choices[0]?.message.content, server.stats());
 * await server.close();
 * ```
 */
export async function startSimulatorServer(config: SimulatorServerConfig = {}): Promise<SimulatorServer> {
  const port = config.port ?? 0;
  const host = config.host ?? '127.0.0.1';
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RxllmError('invalid-config', `startSimulatorServer(): port must be an integer 0–65535, got ${String(port)}.`);
  }
  const profiles = typeof config.profiles === 'string' ? await readProfilesFile(config.profiles) : config.profiles;
  const simulator = new Simulator({ ...(profiles ? { profiles } : {}), ...(config.seed === undefined ? {} : { seed: config.seed }) });
  const stats = new StatsBook();
  // Playbacks in progress, so close() can stop their timers at once rather than when each socket's close event comes.
  const playbacks = new Set<Subscription>();
  const admissions: (() => void)[] = [];
  let closing = false;

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, errorBody(`Simulator failure: ${describe(error)}`, 'server_error'));
      else res.destroy();
    });
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'retry-after, retry-after-ms, x-request-id');
    const path = new URL(req.url ?? '/', 'http://simulator').pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': req.headers['access-control-request-headers'] ?? 'content-type, authorization, x-rxllm-sim',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    const routes: Record<string, Partial<Record<string, () => Promise<void> | void>>> = {
      '/v1/chat/completions': { POST: () => chat(req, res) },
      '/chat/completions': { POST: () => chat(req, res) },
      '/v1/embeddings': { POST: () => embeddings(req, res) },
      '/embeddings': { POST: () => embeddings(req, res) },
      '/v1/models': { GET: () => send(res, 200, JSON.stringify({ object: 'list', data: simulator.profiles.names().map(modelEntry) })) },
      '/stats': { GET: () => send(res, 200, JSON.stringify(stats.snapshot())) },
      '/stats/reset': {
        POST: () => {
          stats.reset();
          send(res, 200, JSON.stringify(stats.snapshot()));
        },
      },
    };
    const modelPath = /^\/v1\/models\/(.+)$/.exec(path);
    if (modelPath && method === 'GET') {
      const id = decodeURIComponent(modelPath[1]!);
      // As OpenAI does: a model that is not configured is a 404, so `models.retrieve()` can tell.
      // (Chat still answers any model through the `*` profile; only the listing is exact.)
      if (simulator.profiles.has(id) && id !== '*') return send(res, 200, JSON.stringify(modelEntry(id)));
      return send(res, 404, errorBody(`The model \`${id}\` does not exist or you do not have access to it. The simulator serves: ${simulator.profiles.names().filter((name) => name !== '*').join(', ')}.`, 'invalid_request_error', 'model_not_found'));
    }
    const handlers = routes[path];
    const handler = handlers?.[method];
    if (handler) return handler();
    if (handlers) return send(res, 405, errorBody(`Method ${method} is not allowed on ${path}; use ${Object.keys(handlers).join(' or ')}.`, 'invalid_request_error', 'method_not_allowed'));
    return send(res, 404, errorBody(`Unknown request URL: ${method} ${path}. The simulator serves /v1/chat/completions, /v1/embeddings, /v1/models and /stats.`, 'invalid_request_error', 'unknown_url'));
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = asyncScheduler.now();
    const tracker = stats.begin(res, () => closing);
    const prepared = await prepare(req, res, tracker, (body) => {
      const request = parseRequest(body);
      tracker.model(request.model);
      return { request, override: requestOverride(request, header(req, 'x-rxllm-sim')) };
    });
    if (!prepared) return;
    admit(res, () => {
      const { request, override } = prepared;
      const stream = request.stream === true;
      const plan = simulator.planChat(request, { stream, includeUsage: stream && request.stream_options?.include_usage === true, override });
      const wire = streamWriter(plan, Math.floor(asyncScheduler.now() / 1000));
      const { ending } = plan;
      if (stream && ending.type !== 'status' && !(ending.type === 'stall' && ending.beforeHeaders)) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': plan.requestId });
        res.flushHeaders();
      }
      let first = true;
      const playback = playPlan(plan, asyncScheduler, arrivedAt).subscribe((moment) => {
        if (moment.type === 'step') {
          res.write(wire.step(planStep(plan, moment.index), first));
          first = false;
          return;
        }
        const end = moment.ending;
        if (end.type === 'complete') {
          tracker.settle('completed');
          simulator.answered(plan);
          if (stream) res.end(wire.end());
          else send(res, 200, completionBody(plan, Math.floor(asyncScheduler.now() / 1000)), { 'x-request-id': plan.requestId });
        } else if (end.type === 'status') {
          tracker.settle('failed');
          res.writeHead(end.status, end.headers);
          res.end(end.body);
        } else if (end.type === 'disconnect') {
          tracker.settle('failed');
          cut(res);
        }
      });
      track(playback, res);
    });
  }

  /**
   * Runs a request's planning soon, at most PLANS_PER_TURN per event-loop turn: a burst of
   * requests (a benchmark opening 1,000 streams at once) would otherwise block the loop and
   * delay every stream already playing. Timings are unaffected, as each plan's clock starts
   * at its request's arrival.
   */
  function admit(res: ServerResponse, job: () => void): void {
    admissions.push(() => {
      if (!res.destroyed && !closing) job();
    });
    if (admissions.length === 1) setImmediate(admitSome);
  }

  function admitSome(): void {
    for (const job of admissions.splice(0, PLANS_PER_TURN)) job();
    if (admissions.length > 0) setImmediate(admitSome);
  }

  function track(playback: Subscription, res: ServerResponse): void {
    // The connection may have closed (or the server begun closing) while the body was being read.
    if (closing || res.destroyed) playback.unsubscribe();
    if (playback.closed) return;
    playbacks.add(playback);
    playback.add(() => playbacks.delete(playback));
    res.on('close', () => playback.unsubscribe());
  }

  async function embeddings(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrivedAt = asyncScheduler.now();
    const tracker = stats.begin(res, () => closing);
    const prepared = await prepare(req, res, tracker, (body) => {
      const request = parseEmbeddingsRequest(body);
      tracker.model(request.model);
      const overrideText = [header(req, 'x-rxllm-sim'), request.rxllm_sim].filter(Boolean).join(',');
      return { request, override: overrideText ? parseProfileOverride(overrideText) : undefined };
    });
    if (!prepared) return;
    const { request, override } = prepared;
    const plan = simulator.planEmbeddings(request.model, override);
    const playback = playPlan({ stepTimes: [], ending: plan.ending }, asyncScheduler, arrivedAt).subscribe((moment) => {
      if (moment.type !== 'end') return;
      const end = moment.ending;
      if (end.type === 'status') {
        tracker.settle('failed');
        res.writeHead(end.status, end.headers);
        res.end(end.body);
      } else if (end.type === 'disconnect') {
        tracker.settle('failed');
        cut(res);
      } else if (end.type === 'complete') {
        tracker.settle('completed');
        send(res, 200, embeddingsBody(request, simulator.seed), { 'x-request-id': plan.requestId });
      }
    });
    track(playback, res);
  }

  /** Reads and checks a JSON body; answers 400 (and returns undefined) when it is not acceptable. */
  async function prepare<T>(req: IncomingMessage, res: ServerResponse, tracker: Tracker, check: (body: unknown) => T): Promise<T | undefined> {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      tracker.settle('failed');
      if (isRxllmError(error)) send(res, 413, errorBody(error.message, 'invalid_request_error', 'request_too_large'));
      else send(res, 400, errorBody(`We could not parse the JSON body of your request: ${describe(error)}.`, 'invalid_request_error'));
      return undefined;
    }
    try {
      return check(body);
    } catch (error) {
      tracker.settle('failed');
      const param = isRxllmError(error) && error.path ? error.path : null;
      send(res, 400, errorBody(describe(error), 'invalid_request_error', null, param));
      return undefined;
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new RxllmError('invalid-config', `The simulator could not listen on ${host}:${port}: ${describe(error)}.`, { cause: error })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${urlHost}:${address.port}`;

  return {
    url,
    baseURL: `${url}/v1`,
    host: address.address,
    port: address.port,
    stats: () => stats.snapshot(),
    resetStats: () => stats.reset(),
    close: () => {
      closing = true;
      for (const playback of [...playbacks]) playback.unsubscribe();
      stats.settleAll();
      return closeServer(server);
    },
  };
}

type Outcome = 'completed' | 'failed' | 'aborted';

interface Tracker {
  model(name: string): void;
  settle(outcome: Outcome): void;
}

class StatsBook {
  private counters = StatsBook.zero();
  private inFlight = 0;
  private readonly open = new Set<Tracker>();

  private static zero() {
    return { requests: 0, requestsByModel: new Map<string, number>(), peakInFlight: 0, completed: 0, failed: 0, aborts: 0 };
  }

  /** Counts a request in; it leaves in-flight once settled, or as an abort when its connection closes first. */
  begin(res: ServerResponse, closing: () => boolean): Tracker {
    const counters = this.counters;
    counters.requests++;
    this.inFlight++;
    counters.peakInFlight = Math.max(counters.peakInFlight, this.inFlight);
    let settled = false;
    const tracker: Tracker = {
      model: (name) => this.counters.requestsByModel.set(name, (this.counters.requestsByModel.get(name) ?? 0) + 1),
      settle: (outcome) => {
        if (settled) return;
        settled = true;
        this.open.delete(tracker);
        this.inFlight--;
        // A closed server cuts its own connections; those are not client aborts.
        if (outcome === 'aborted' && closing()) return;
        this.counters[outcome === 'aborted' ? 'aborts' : outcome]++;
      },
    };
    this.open.add(tracker);
    res.on('close', () => tracker.settle('aborted'));
    return tracker;
  }

  /** Takes every open request out of flight (the server is closing; they are not counted as client aborts). */
  settleAll(): void {
    for (const tracker of [...this.open]) tracker.settle('aborted');
  }

  reset(): void {
    this.counters = StatsBook.zero();
    this.counters.peakInFlight = this.inFlight;
  }

  snapshot(): SimulatorStats {
    const { requests, requestsByModel, peakInFlight, completed, failed, aborts } = this.counters;
    return { requests, requestsByModel: Object.fromEntries(requestsByModel), inFlight: this.inFlight, peakInFlight, completed, failed, aborts };
  }
}

interface EmbeddingsRequest {
  model: string;
  inputs: string[];
  encoding: 'float' | 'base64';
  dimensions: number;
  rxllm_sim?: string;
}

function parseEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  const fail = (message: string, path: string) => new RxllmError('invalid-request', message, { path });
  if (typeof body !== 'object' || body === null) throw fail('The request body must be a JSON object.', '');
  const record = body as Record<string, unknown>;
  const model = record['model'];
  if (typeof model !== 'string' || model === '') throw fail('`model` is required: a model name such as "text-embedding-3-small".', 'model');
  const input = record['input'];
  const inputs = typeof input === 'string' ? [input] : Array.isArray(input) ? input : undefined;
  if (!inputs || inputs.length === 0) throw fail('`input` must be a string, an array of strings, or token arrays, and not empty.', 'input');
  const texts = inputs.every((item) => typeof item === 'number')
    ? [inputs.join(' ')]
    : inputs.map((item, i) => {
        if (typeof item === 'string') return item;
        if (Array.isArray(item) && item.every((token) => typeof token === 'number')) return item.join(' ');
        throw fail(`\`input[${i}]\` must be a string or an array of token ids.`, `input.${i}`);
      });
  const encoding = record['encoding_format'] ?? 'float';
  if (encoding !== 'float' && encoding !== 'base64') throw fail('`encoding_format` must be "float" or "base64".', 'encoding_format');
  const native = defaultEmbeddingDimensions(model);
  const dimensions = record['dimensions'] ?? native;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > native) {
    throw fail(`\`dimensions\` must be an integer from 1 to ${native} for ${model}.`, 'dimensions');
  }
  const sim = record['rxllm_sim'];
  if (sim !== undefined && typeof sim !== 'string') throw fail('rxllm_sim must be a string such as "ttft=50".', 'rxllm_sim');
  return { model, inputs: texts, encoding, dimensions, ...(sim === undefined ? {} : { rxllm_sim: sim }) };
}

function embeddingsBody(request: EmbeddingsRequest, seed: number): string {
  const data = request.inputs.map((text, index) => {
    const vector = embeddingVector(text, request.model, seed, request.dimensions);
    const embedding = request.encoding === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
    return { object: 'embedding', index, embedding };
  });
  const tokens = request.inputs.reduce((sum, text) => sum + countTokens(text), 0);
  return JSON.stringify({ object: 'list', data, model: request.model, usage: { prompt_tokens: tokens, total_tokens: tokens } });
}

function modelEntry(id: string): Record<string, unknown> {
  return { id, object: 'model', created: 1700000000, owned_by: 'rxllm-simulator' };
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Drops the connection the way a failing network does: whatever was written is flushed, then the socket closes. */
function cut(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  socket.end();
  socket.once('finish', () => socket.destroy());
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new RxllmError('invalid-request', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readProfilesFile(file: string): Promise<SimulatorProfiles> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RxllmError('invalid-config', `Could not read simulator profiles from ${file}: ${describe(cause)}.`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new RxllmError('invalid-config', `Simulator profiles file ${file} is not valid JSON: ${describe(cause)}.`, { cause });
  }
  try {
    return parseSimulatorProfiles(json);
  } catch (error) {
    throw isRxllmError(error) ? new RxllmError('invalid-config', `${file}: ${error.message}`, { cause: error.cause, ...(error.path ? { path: error.path } : {}) }) : error;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    // Streams in progress and idle keep-alive connections would hold close() open.
    server.closeAllConnections();
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
