/*
 * One "app instance" for the resumable-stream specs: a real HTTP server whose GET /answers/<id> streams
 * a scripted answer with toServerSentEvents({ resume: { store, streamId: id } }). Several instances share
 * one store (a memory store in one process, or Redis). `dropAfter` makes the instance destroy the socket
 * after that many events of its first response: the connection dropping mid-answer.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { concatMap, delay, from, type Observable, of, tap } from 'rxjs';
import type { ResumeStore } from '../../src/cache/ResumeStore';
import { toServerSentEvents } from '../../src/node/toServerSentEvents';

/** The answer every instance streams: 24 tokens. */
export const ANSWER_TOKENS: readonly string[] = Array.from({ length: 24 }, (_, i) => `word${i + 1}${i % 5 === 4 ? '.' : ''} `);
export const ANSWER_TEXT = ANSWER_TOKENS.join('');

export interface ResumableApp {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** How many times this instance ran the answer's source (an upstream LLM call each). */
  runs: number;
  /** Each request's Last-Event-ID header (or undefined), in order. */
  lastEventIds: (string | undefined)[];
  close(): Promise<void>;
}

export interface ResumableAppOptions {
  store: ResumeStore;
  /** Destroy the socket of the first response after this many value events. */
  dropAfter?: number;
  /** Milliseconds between tokens. @defaultValue 15 */
  tokenMs?: number;
  /** Sent as `retry:`. */
  retryMs?: number;
}

export async function startResumableApp(options: ResumableAppOptions): Promise<ResumableApp> {
  const tokenMs = options.tokenMs ?? 15;
  let responses = 0;
  const app: ResumableApp = { url: '', runs: 0, lastEventIds: [], close: async () => undefined };
  const answer$ = (): Observable<{ text: string }> =>
    from(ANSWER_TOKENS).pipe(
      concatMap((token) => of({ text: token }).pipe(delay(tokenMs))),
    );
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const id = /^\/answers\/([\w-]+)/.exec(req.url ?? '')?.[1];
    if (!id) {
      res.writeHead(404).end();
      return;
    }
    const header = req.headers['last-event-id'];
    app.lastEventIds.push(typeof header === 'string' ? header : undefined);
    const first = responses++ === 0;
    if (first && options.dropAfter !== undefined) dropAfter(res, options.dropAfter);
    // Counted on subscribe: one run = one upstream call.
    const counted = answer$().pipe(tap({ subscribe: () => app.runs++ }));
    toServerSentEvents(counted, res, { resume: { store: options.store, streamId: id }, ...(options.retryMs === undefined ? {} : { retryMs: options.retryMs }) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  app.close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return app;
}

/** Destroys the response's socket right after its `count`-th value event was written. */
function dropAfter(res: ServerResponse, count: number): void {
  let events = 0;
  const write = res.write.bind(res) as (chunk: unknown) => boolean;
  (res as { write: (chunk: unknown) => boolean }).write = (chunk) => {
    const ok = write(chunk);
    const text = Buffer.from(chunk as Uint8Array).toString('utf8');
    if (/^id: /m.test(text) && !/^event: /m.test(text) && ++events === count) {
      // After the bytes are on their way: the client gets `count` events, then the connection dies.
      setTimeout(() => res.socket?.destroy(), 5);
    }
    return ok;
  };
}

/** The Server-Sent Events of a body, with only the fields that matter here. */
export function parseFrames(body: string): { id?: string; event?: string; data: string }[] {
  return body
    .split('\n\n')
    .filter((block) => block.trim() !== '' && !block.startsWith(':') && !block.startsWith('retry:'))
    .map((block) => {
      const frame: { id?: string; event?: string; data: string } = { data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        const [field, ...rest] = line.split(': ');
        const value = rest.join(': ');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') data.push(value);
      }
      frame.data = data.join('\n');
      return frame;
    });
}

/** A GET of `url` with optional headers: the status and the whole body. */
export async function getText(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { headers });
  return { status: response.status, body: await response.text() };
}

/** Reads `url` until `count` value events arrived, then aborts: the client dropping mid-answer. Returns their frames. */
export async function readThenDrop(url: string, count: number): Promise<{ id?: string; event?: string; data: string }[]> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    const complete = text.slice(0, text.lastIndexOf('\n\n') + 2);
    const frames = parseFrames(complete).filter((frame) => frame.event === undefined);
    if (frames.length >= count) {
      controller.abort();
      return frames.slice(0, count);
    }
  }
  throw new Error(`the stream ended before ${count} events`);
}
