/*
 * The behaviour every HTTP transport owes over a real socket, as one suite that
 * spec/transport/sse.spec.ts and spec/openai/openaiTransport.spec.ts both run.
 */
import { firstValueFrom, lastValueFrom, take, tap, toArray, type Observable } from 'rxjs';
import { isRxllmError, type RxllmError, type RxllmErrorCode } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import { startEventStream, startLocalServer, textChunk, type LocalServer } from './localServer';

export const chatRequest: LlmRequest = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] };

/** An HTTP error a server may answer with, and the error a transport must raise for it. */
export interface HttpErrorCase {
  name: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  code: RxllmErrorCode;
  /** The provider's words, which the error message must keep. */
  providerMessage: string;
  providerCode?: string;
  /** The wait the error must report: exact, or a [min, max] range for HTTP dates. */
  retryAfterMs?: number | [number, number];
}

const openaiError = (message: string, type: string, code: string | null) =>
  JSON.stringify({ error: { message, type, param: null, code } });

export function httpErrorCases(): HttpErrorCase[] {
  return [
    {
      name: '401 invalid key',
      status: 401,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_401a' },
      body: openaiError('Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key'),
      code: 'auth',
      providerMessage: 'Incorrect API key provided: sk-test.',
      providerCode: 'invalid_api_key',
    },
    {
      name: '403 model not allowed',
      status: 403,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_403a' },
      body: openaiError('Project proj_abc does not have access to model gpt-4o', 'invalid_request_error', 'model_not_found'),
      code: 'auth',
      providerMessage: 'Project proj_abc does not have access to model gpt-4o',
      providerCode: 'model_not_found',
    },
    {
      name: '400 context length',
      status: 400,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_400a' },
      body: openaiError("This model's maximum context length is 128000 tokens. However, your messages resulted in 130012 tokens.", 'invalid_request_error', 'context_length_exceeded'),
      code: 'bad-request',
      providerMessage: "This model's maximum context length is 128000 tokens.",
      providerCode: 'context_length_exceeded',
    },
    {
      name: '404 unknown model',
      status: 404,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_404a' },
      body: openaiError('The model `gpt-9` does not exist or you do not have access to it.', 'invalid_request_error', 'model_not_found'),
      code: 'bad-request',
      providerMessage: 'The model `gpt-9` does not exist',
      providerCode: 'model_not_found',
    },
    {
      name: '422 unprocessable (LiteLLM)',
      status: 422,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_422a' },
      body: JSON.stringify({ error: { message: 'litellm.UnprocessableEntityError: messages.0.content is required', type: 'invalid_request_error', param: null, code: '422' } }),
      code: 'bad-request',
      providerMessage: 'messages.0.content is required',
      providerCode: '422',
    },
    {
      name: '429 with retry-after in seconds',
      status: 429,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_429s', 'retry-after': '2' },
      body: openaiError('Rate limit reached for gpt-4o-mini in organization org-abc on requests per min (RPM): Limit 3, Used 3, Requested 1.', 'requests', 'rate_limit_exceeded'),
      code: 'rate-limited',
      providerMessage: 'Rate limit reached for gpt-4o-mini',
      providerCode: 'rate_limit_exceeded',
      retryAfterMs: 2000,
    },
    {
      name: '429 with retry-after-ms',
      status: 429,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_429m', 'retry-after-ms': '1500', 'retry-after': '2' },
      body: openaiError('Rate limit reached for requests', 'requests', 'rate_limit_exceeded'),
      code: 'rate-limited',
      providerMessage: 'Rate limit reached for requests',
      providerCode: 'rate_limit_exceeded',
      retryAfterMs: 1500,
    },
    {
      name: '429 with retry-after as an HTTP date',
      status: 429,
      // HTTP dates have whole seconds; the range allows for that and a slow machine.
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_429d', 'retry-after': new Date(Date.now() + 60_000).toUTCString() },
      body: openaiError('Too many requests', 'requests', 'rate_limit_exceeded'),
      code: 'rate-limited',
      providerMessage: 'Too many requests',
      providerCode: 'rate_limit_exceeded',
      retryAfterMs: [50_000, 60_000],
    },
    {
      name: '500 server error',
      status: 500,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_500a' },
      body: openaiError('The server had an error while processing your request. Sorry about that!', 'server_error', null),
      code: 'server',
      providerMessage: 'The server had an error while processing your request.',
      providerCode: 'server_error',
    },
    {
      name: '502 from a proxy, with an HTML body',
      status: 502,
      headers: { 'content-type': 'text/html', 'x-request-id': 'req_502a' },
      body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n',
      code: 'server',
      providerMessage: '<h1>502 Bad Gateway</h1>',
    },
    {
      name: '503 overloaded',
      status: 503,
      headers: { 'content-type': 'application/json', 'x-request-id': 'req_503a' },
      body: openaiError('The engine is currently overloaded, please try again later.', 'server_error', 'overloaded'),
      code: 'server',
      providerMessage: 'The engine is currently overloaded',
      providerCode: 'overloaded',
    },
  ];
}

/** Resolves with the error the observable fails with (and the events before it). */
export function failure(events$: Observable<LlmEvent>): Promise<{ events: LlmEvent[]; error: RxllmError }> {
  return new Promise((resolve, reject) => {
    const events: LlmEvent[] = [];
    events$.subscribe({
      next: (event) => events.push(event),
      error: (error: unknown) => (isRxllmError(error) ? resolve({ events, error }) : reject(error)),
      complete: () => reject(new Error(`completed without an error after ${events.length} events`)),
    });
  });
}

/** Calls `subscribe` when the first event arrives; resolves with the events seen until then. */
function firstEvent(events$: Observable<LlmEvent>): { subscription: { unsubscribe(): void }; first: Promise<LlmEvent> } {
  let resolveFirst!: (event: LlmEvent) => void;
  let rejectFirst!: (error: unknown) => void;
  const first = new Promise<LlmEvent>((resolve, reject) => {
    resolveFirst = resolve;
    rejectFirst = reject;
  });
  const subscription = events$.subscribe({ next: resolveFirst, error: rejectFirst });
  return { subscription, first };
}

/**
 * The socket-level contract: success, HTTP errors, a reset mid-event, cancellation,
 * validation before sending, coldness.
 */
export function describeTransportOverSockets(name: string, makeTransport: (baseURL: string) => Transport): void {
  describe(`${name} over a real socket`, () => {
    let server: LocalServer;
    let transport: Transport;

    beforeAll(async () => {
      server = await startLocalServer();
      transport = makeTransport(server.baseURL);
    });
    afterAll(() => server.close());
    beforeEach(() => {
      server.requests.length = 0;
    });

    it('POSTs one streaming request per subscription and emits the answer', async () => {
      server.handle((_request, response) => {
        startEventStream(response);
        response.write(textChunk('Hello'));
        response.write(textChunk(' there', 'stop'));
        response.end('data: [DONE]\n\n');
      });
      const events$ = transport(chatRequest);
      expect(server.requests).toHaveLength(0); // cold: nothing sent before subscribe

      const events = await lastValueFrom(events$.pipe(toArray()));
      await lastValueFrom(events$.pipe(toArray()));

      expect(events).toEqual([
        { type: 'text', choice: 0, text: 'Hello' },
        { type: 'text', choice: 0, text: ' there' },
        { type: 'finish', choice: 0, reason: 'stop' },
      ]);
      expect(server.requests).toHaveLength(2);
      const [seen] = server.requests;
      expect(seen!.method).toBe('POST');
      expect(seen!.url).toBe('/v1/chat/completions');
      expect(JSON.parse(seen!.body)).toEqual({ ...chatRequest, stream: true, stream_options: { include_usage: true } });
    });

    it.each(httpErrorCases().map((c) => [c.name, c] as const))('HTTP %s → a typed error with the provider message', async (_name, c) => {
      server.handle((_request, response) => {
        response.writeHead(c.status, c.headers);
        response.end(c.body);
      });

      const { events, error } = await failure(transport(chatRequest));

      expect(events).toEqual([]);
      expect(error.code).toBe(c.code);
      expect(error.status).toBe(c.status);
      expect(error.requestId).toBe(c.headers['x-request-id']);
      expect(error.message).toContain(c.providerMessage);
      expect(error.message.startsWith(`${c.status} `)).toBe(true);
      expect(error.message.startsWith(`${c.status} ${c.status} `)).toBe(false);
      expect(error.providerCode).toBe(c.providerCode);
      expect(error.tokensEmitted).toBe(false);
      if (Array.isArray(c.retryAfterMs)) {
        expect(error.retryAfterMs).toBeGreaterThanOrEqual(c.retryAfterMs[0]);
        expect(error.retryAfterMs).toBeLessThanOrEqual(c.retryAfterMs[1]);
      } else {
        expect(error.retryAfterMs).toBe(c.retryAfterMs);
      }
      expect(server.requests).toHaveLength(1); // no retries inside the transport
    });

    it('a connection reset mid-event → connection-lost with the partial text', async () => {
      let sentFirst!: () => void;
      const clientHasFirst = new Promise<void>((resolve) => (sentFirst = resolve));
      server.handle(async (_request, response) => {
        startEventStream(response);
        response.write(textChunk('Hello'));
        await clientHasFirst;
        response.write('data: {"id":"chatcmpl-local","choices":[{"index":0,"delta":{"content":" wor');
        setImmediate(() => response.socket?.resetAndDestroy());
      });

      const { events, error } = await failure(transport(chatRequest).pipe(tap(() => sentFirst())));

      expect(events).toEqual([{ type: 'text', choice: 0, text: 'Hello' }]);
      expect(error.code).toBe('connection-lost');
      expect(error.partialText).toBe('Hello');
      expect(error.tokensEmitted).toBe(true);
      expect(error.status).toBe(200);
    });

    it('a port nothing listens on → connection-refused (not connection-lost), nothing emitted', async () => {
      // A real port, freed: the kernel refuses the connection (ECONNREFUSED), as for a server that is down.
      const gone = await startLocalServer();
      await gone.close();

      const { events, error } = await failure(makeTransport(gone.baseURL)(chatRequest));

      expect(events).toEqual([]);
      expect(error.code).toBe('connection-refused');
      expect(error.message).toContain(new URL(gone.baseURL).host);
      expect(error.message).toContain('ECONNREFUSED');
      expect(error.tokensEmitted).toBe(false);
      expect(error.status).toBeUndefined();
    });

    it('unsubscribing mid-stream closes the connection: the server sees the client leave', async () => {
      server.handle((_request, response) => {
        startEventStream(response);
        response.write(textChunk('Hello'));
        // ...and never ends the response.
      });

      const { subscription, first } = firstEvent(transport(chatRequest));
      expect(await first).toEqual({ type: 'text', choice: 0, text: 'Hello' });
      subscription.unsubscribe();

      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
    });

    it('unsubscribing before the response headers arrive aborts the request', async () => {
      let received!: () => void;
      const requestArrived = new Promise<void>((resolve) => (received = resolve));
      server.handle(() => {
        received(); // ...and never answers.
      });

      const subscription = transport(chatRequest).subscribe({ error: () => undefined });
      await requestArrived;
      subscription.unsubscribe();

      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
    });

    it('take(1) takes the first event and cancels the rest', async () => {
      server.handle((_request, response) => {
        startEventStream(response);
        response.write(textChunk('Hello'));
      });

      const first = await firstValueFrom(transport(chatRequest).pipe(take(1)));

      expect(first).toEqual({ type: 'text', choice: 0, text: 'Hello' });
      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
    });

    it('an invalid request fails with invalid-request naming the path, and sends nothing', async () => {
      const invalid = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text' }] }] } as unknown as LlmRequest;

      const { error } = await failure(transport(invalid));

      expect(error.code).toBe('invalid-request');
      expect(error.path).toBe('messages.0.content.0.text');
      await new Promise((resolve) => setTimeout(resolve, 20)); // a quiet period before a negative check: time for a stray request to arrive
      expect(server.requests).toHaveLength(0);
    });
  });
}
