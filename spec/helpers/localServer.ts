/*
 * A real HTTP server on 127.0.0.1 (port 0) for transport tests: counts requests, records
 * whether the client closed a response before the server ended it, and closes every socket
 * on close().
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the server saw it. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Resolves when the response closes: `clientClosedFirst` is true if the client went away before the server ended it. */
  closed: Promise<{ clientClosedFirst: boolean }>;
}

export type Handler = (request: SeenRequest, response: ServerResponse) => void | Promise<void>;

export interface LocalServer {
  /** `http://127.0.0.1:PORT/v1` */
  baseURL: string;
  requests: SeenRequest[];
  /** Replaces the handler for the requests that follow. */
  handle(handler: Handler): void;
  close(): Promise<void>;
}

export async function startLocalServer(initial: Handler = (_request, response) => void response.end()): Promise<LocalServer> {
  let handler = initial;
  const requests: SeenRequest[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const closed = new Promise<{ clientClosedFirst: boolean }>((resolve) => {
        res.on('close', () => resolve({ clientClosedFirst: !res.writableFinished }));
      });
      const seen: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(parts).toString('utf8'),
        closed,
      };
      requests.push(seen);
      Promise.resolve(handler(seen, res)).catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    requests,
    handle(next) {
      handler = next;
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

/** Writes the headers of an event stream (flushed at once, as a streaming server does). */
export function startEventStream(response: ServerResponse, headers: Record<string, string> = {}): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...headers });
  response.flushHeaders();
}

/** One OpenAI-style chunk carrying a text delta (and optionally a finish_reason), as an SSE event. */
export function textChunk(text: string, finishReason: string | null = null): string {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-local',
    object: 'chat.completion.chunk',
    created: 1741570000,
    model: 'gpt-4o-mini',
    choices: [{ index: 0, delta: { content: text }, finish_reason: finishReason }],
  })}\n\n`;
}
