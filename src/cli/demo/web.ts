import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { asyncScheduler, tap } from 'rxjs';
import { RxllmError } from '../../core/errors.js';
import { waterfallHtml } from '../../metrics/waterfallHtml.js';
import type { SimulatorServer } from '../../node/simulatorServer.js';
import { toServerSentEvents } from '../../node/toServerSentEvents.js';
import { DEMO_PAGE_HTML } from './page.js';
import { DEMO_MODES, runSnapshots, snapshotRows, type DemoMode, type RunSnapshot } from './runSnapshot.js';
import { endpointConfig, openEndpoint } from '../openEndpoint.js';
import { contentAnalysisPipeline, SAMPLE_TEXTS } from './pipeline.js';
import type { DemoIo } from './types.js';

/** Options for {@link runWebDemo}. */
export interface WebDemoOptions {
  /** Port for the page; 0 picks a free one. @defaultValue 0 */
  port?: number;
  /** Interface to listen on. @defaultValue "127.0.0.1" */
  host?: string;
  /** The simulated world's seed (without OPENAI_BASE_URL or OPENAI_API_KEY). @defaultValue 1 */
  seed?: number;
  /** Path of a JSON file of simulator latency profiles, merged over the built-in ones. */
  profiles?: string;
  /** Model for every step. @defaultValue "gpt-4o-mini" */
  model?: string;
  /** Where to print the address; `env` decides simulator or real endpoint (OPENAI_API_KEY, OPENAI_BASE_URL). */
  io: DemoIo;
}

/** A running web demo. */
export interface WebDemo {
  /** The page's address: `http://127.0.0.1:PORT/`. */
  readonly url: string;
  /** Where the pipeline's requests go, as shown on the page. */
  readonly endpoint: string;
  /** The built-in simulator the pipeline runs on, when neither OPENAI_BASE_URL nor OPENAI_API_KEY was set. */
  readonly simulator?: SimulatorServer;
  /** Stops serving: open streams are cut (aborting their requests), then the simulator stops. */
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 64 * 1024;
const MAX_TEXT_CHARS = 20_000;

/**
 * `rxllm demo --web`: serves a page on 127.0.0.1 where you paste a text and watch the
 * content-analysis pipeline run live: each branch streaming, a live waterfall, and sequential
 * against parallel side by side. With neither OPENAI_BASE_URL nor OPENAI_API_KEY it starts the built-in simulator, so it
 * works offline.
 *
 * Routes: `GET /` (the page), `GET /api/info`, `POST /api/run` (`{ text, mode }` →
 * Server-Sent Events of {@link RunSnapshot}s, via `toServerSentEvents`; closing the page aborts
 * the run's requests), `GET /report?mode=graph|parallel|sequential` (the last finished run of
 * that mode as a `waterfallHtml` report).
 *
 * Resolves once listening. Requests whose `Host` is not the loopback address are refused when
 * listening on loopback (a DNS-rebinding page must not spend your API key).
 */
export async function runWebDemo(options: WebDemoOptions): Promise<WebDemo> {
  const { io } = options;
  const port = options.port ?? 0;
  const host = options.host ?? '127.0.0.1';
  const model = options.model ?? 'gpt-4o-mini';
  const seed = options.seed ?? 1;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RxllmError('invalid-config', `--port must be an integer 0–65535, got ${String(port)}.`);
  if (!Number.isInteger(seed)) throw new RxllmError('invalid-config', `--seed must be an integer, got ${String(seed)}.`);

  const { transport, simulator, ...opened } = await openEndpoint(endpointConfig(io.env, {}, { seed, ...(options.profiles ? { profiles: options.profiles } : {}) }));
  const endpoint = simulator ? `built-in simulator (seed ${seed})` : opened.label;
  const pipeline = contentAnalysisPipeline(() => transport, model);
  // The last finished run of each mode, for /report: one record per mode, so memory stays bounded.
  const lastRuns = new Map<DemoMode, RunSnapshot>();
  const loopback = isLoopback(host);

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: error instanceof Error ? error.message : String(error) } });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (loopback && !isLoopbackHost(req.headers.host)) {
      sendJson(res, 403, { error: { message: 'This demo answers only to 127.0.0.1 / localhost.' } });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://demo');
    const route = `${req.method ?? 'GET'} ${url.pathname}`;
    if (route === 'GET /') {
      send(res, 200, 'text/html; charset=utf-8', DEMO_PAGE_HTML, {
        // The page needs nothing from elsewhere; the policy makes sure of it.
        'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
      });
      return;
    }
    if (route === 'GET /api/info') {
      sendJson(res, 200, { model, endpoint, samples: SAMPLE_TEXTS });
      return;
    }
    if (route === 'POST /api/run') {
      const body = await readRunRequest(req);
      if ('error' in body) {
        sendJson(res, 400, { error: { message: body.error } });
        return;
      }
      const run$ = runSnapshots(pipeline, body.mode, body.text, asyncScheduler).pipe(
        tap((snapshot) => {
          if (snapshot.status === 'done') lastRuns.set(body.mode, snapshot);
        }),
      );
      // Snapshots replace each other: a slow page gets the newest, never a backlog.
      toServerSentEvents(run$, res, { whenSlow: 'latest' });
      return;
    }
    if (route === 'GET /report') {
      const mode = url.searchParams.get('mode') ?? 'graph';
      const run = (DEMO_MODES as readonly string[]).includes(mode) ? lastRuns.get(mode as DemoMode) : undefined;
      if (!run) {
        send(res, 404, 'text/plain; charset=utf-8', `No finished ${mode} run yet: run the pipeline on the page first.\n`);
        return;
      }
      send(res, 200, 'text/html; charset=utf-8', waterfallHtml(snapshotRows(run), { title: `rxllm · ${mode} run`, subtitle: `${endpoint} · ${model}` }));
      return;
    }
    sendJson(res, 404, { error: { message: `Nothing at ${route}. The page is at /.` } });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new RxllmError('invalid-config', `The web demo could not listen on ${host}:${port}: ${error.message}.`, { cause: error })));
    server.listen(port, host, () => resolve());
  }).catch(async (error: unknown) => {
    await simulator?.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/`;
  io.stdout.write(`rxllm demo --web: open ${url}\n  the pipeline runs on ${endpoint}, model ${model}. Ctrl+C stops.\n`);

  return {
    url,
    endpoint,
    ...(simulator ? { simulator } : {}),
    close: async () => {
      // Cutting the page's connections ends their runs, which aborts their upstream requests.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await simulator?.close();
    },
  };
}

async function readRunRequest(req: IncomingMessage): Promise<{ text: string; mode: DemoMode } | { error: string }> {
  if (!(req.headers['content-type'] ?? '').includes('application/json')) return { error: 'Send JSON: content-type application/json.' };
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > MAX_BODY_BYTES) return { error: `The request is over ${MAX_BODY_BYTES / 1024} KiB.` };
    parts.push(part);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    return { error: 'The body is not JSON.' };
  }
  const { text, mode } = (typeof body === 'object' && body !== null ? body : {}) as { text?: unknown; mode?: unknown };
  if (typeof text !== 'string' || text.trim() === '') return { error: 'Give a non-empty `text` to analyse.' };
  if (text.length > MAX_TEXT_CHARS) return { error: `The text is over ${MAX_TEXT_CHARS} characters; paste a shorter one.` };
  if (typeof mode !== 'string' || !(DEMO_MODES as readonly string[]).includes(mode)) return { error: `\`mode\` must be one of ${DEMO_MODES.join(', ')}.` };
  return { text: text.trim(), mode: mode as DemoMode };
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

function isLoopbackHost(header: string | undefined): boolean {
  if (!header) return false;
  const name = header.startsWith('[') ? header.slice(0, header.indexOf(']') + 1) : header.replace(/:\d+$/, '');
  return name === '127.0.0.1' || name === 'localhost' || name === '[::1]';
}
