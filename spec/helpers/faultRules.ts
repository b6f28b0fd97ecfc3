/*
 * The fault rules of issue 16 over a real socket: what each transport reports (codes, provider
 * fields, readable headers, headers arriving) and what retry() + timeouts() above it then do, as
 * one suite that spec/transport/sse.spec.ts and spec/openai/openaiTransport.spec.ts both run.
 */
import type { ServerResponse } from 'node:http';
import { asyncScheduler, lastValueFrom, toArray } from 'rxjs';
import type { RequestContext } from '../../src/core/context';
import type { LlmEvent } from '../../src/core/events';
import { withMiddleware, type Transport } from '../../src/core/transport';
import { retry, type RetryConfig, type RetryInfo } from '../../src/middleware/retry';
import { timeouts, type TimeoutsConfig } from '../../src/middleware/timeouts';
import { startEventStream, startLocalServer, textChunk, type Handler, type LocalServer } from './localServer';
import { chatRequest, failure } from './transportContract';

const openaiError = (status: number, headers: Record<string, string>, error: Record<string, unknown>) => (response: ServerResponse) => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify({ error }));
};

const answer = (response: ServerResponse) => {
  startEventStream(response);
  response.write(textChunk('Hello', 'stop'));
  response.end('data: [DONE]\n\n');
};

const quota = openaiError(429, { 'x-request-id': 'req_quota', 'retry-after': '1' }, {
  message: 'You exceeded your current quota, please check your plan and billing details.',
  type: 'insufficient_quota',
  param: null,
  code: 'insufficient_quota',
});

/** Answers every request with `respond`. */
const always =
  (respond: (response: ServerResponse) => void): Handler =>
  (_request, response) =>
    respond(response);

/** Answers the first `failures` requests with `fail`, the rest with a short answer. */
const failThenAnswer =
  (server: LocalServer, fail: (response: ServerResponse) => void, failures = 1): Handler =>
  (_request, response) =>
    server.requests.length <= failures ? fail(response) : answer(response);

const HELLO: LlmEvent[] = [
  { type: 'text', choice: 0, text: 'Hello' },
  { type: 'finish', choice: 0, reason: 'stop' },
];

export function describeFaultRulesOverSockets(name: string, makeTransport: (baseURL: string) => Transport): void {
  describe(`${name}: fault rules over a real socket`, () => {
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

    /** The transport under retry() and timeouts(), as the README composes them. */
    const stack = (retryConfig: RetryConfig = {}, timeoutsConfig?: TimeoutsConfig) =>
      timeoutsConfig
        ? withMiddleware(transport, retry({ backoff: { initialMs: 5, jitter: 0 }, ...retryConfig }), timeouts(timeoutsConfig))
        : withMiddleware(transport, retry({ backoff: { initialMs: 5, jitter: 0 }, ...retryConfig }));
    const answered = (llm: Transport, context?: RequestContext) => lastValueFrom(llm(chatRequest, context).pipe(toArray()));

    describe('errors carry what a policy needs', () => {
      it('the provider code, type and param, and the readable headers without echoed credentials', async () => {
        server.handle(
          always(openaiError(
            400,
            { 'x-request-id': 'req_400', 'x-should-retry': 'false', 'set-cookie': '__cf_bm=secret; path=/', 'x-api-key': 'sk-echo', 'x-ratelimit-remaining-tokens': '9000' },
            { message: "Invalid type for 'max_tokens'", type: 'invalid_request_error', param: 'max_tokens', code: 'invalid_type' },
          )),
        );

        const { error } = await failure(transport(chatRequest));

        expect(error).toMatchObject({ code: 'bad-request', status: 400, providerCode: 'invalid_type', providerType: 'invalid_request_error', providerParam: 'max_tokens' });
        expect(error.headers).toMatchObject({ 'x-request-id': 'req_400', 'x-should-retry': 'false', 'x-ratelimit-remaining-tokens': '9000' });
        expect(Object.keys(error.headers!).filter((header) => /cookie|api-key|authorization/.test(header))).toEqual([]);
        expect(Object.isFrozen(error.headers)).toBe(true);
        expect(JSON.stringify(error.toJSON())).not.toMatch(/secret|sk-echo/);
      });

      it('an error inside a 200 stream carries the response headers too', async () => {
        server.handle((_request, response) => {
          startEventStream(response, { 'x-request-id': 'req_mid', 'x-should-retry': 'true' });
          response.end(`data: ${JSON.stringify({ error: { message: 'The server had an error', type: 'server_error' } })}\n\n`);
        });

        const { error } = await failure(transport(chatRequest));

        expect(error).toMatchObject({ code: 'stream-error', status: 200, requestId: 'req_mid', headers: expect.objectContaining({ 'x-should-retry': 'true' }) });
      });

      it('tells the context’s onHeaders when the headers arrive, before the first event, once per request', async () => {
        const seen: string[] = [];
        server.handle((_request, response) => {
          startEventStream(response, { 'x-request-id': 'req_h' });
          response.write(textChunk('Hello', 'stop'));
          response.end('data: [DONE]\n\n');
        });

        const onHeaders = (status: number, headers: Readonly<Record<string, string>>) => seen.push(`headers ${status} ${headers['x-request-id']}`);
        await lastValueFrom(transport(chatRequest, { onHeaders }).pipe(toArray())).then((events) => seen.push(...events.map((e) => e.type)));

        expect(seen).toEqual(['headers 200 req_h', 'text', 'finish']);
      });
    });

    describe('quota is not a rate limit', () => {
      it('a 429 insufficient_quota is quota-exceeded with billing advice, and is not retried', async () => {
        server.handle(always(quota));

        const { error } = await failure(stack({ maxRetries: 2 })(chatRequest));

        expect(error).toMatchObject({ code: 'quota-exceeded', status: 429, providerCode: 'insufficient_quota', providerType: 'insufficient_quota', tokensEmitted: false });
        expect(error.message).toContain('check the plan and billing details');
        expect(error.message).not.toContain('retry later');
        expect(server.requests).toHaveLength(1);
      });
    });

    describe('x-should-retry', () => {
      it('false: a 500 is not retried', async () => {
        server.handle(always(openaiError(500, { 'x-should-retry': 'false' }, { message: 'The server had an error', type: 'server_error', code: null })));

        const { error } = await failure(stack({ maxRetries: 2 })(chatRequest));

        expect(error).toMatchObject({ code: 'server', status: 500, headers: expect.objectContaining({ 'x-should-retry': 'false' }) });
        expect(server.requests).toHaveLength(1);
      });

      it('true: a 400 is retried, and the next attempt answers', async () => {
        server.handle(failThenAnswer(server, openaiError(400, { 'x-should-retry': 'true' }, { message: 'Try again', type: 'invalid_request_error', code: null })));

        await expect(answered(stack({ maxRetries: 2 }))).resolves.toEqual(HELLO);
        expect(server.requests).toHaveLength(2);
      });

      it('absent: a 500 is retried, a 400 is not (the status decides)', async () => {
        server.handle(failThenAnswer(server, openaiError(500, {}, { message: 'boom', type: 'server_error', code: null })));
        await expect(answered(stack())).resolves.toEqual(HELLO);
        expect(server.requests).toHaveLength(2);

        server.requests.length = 0;
        server.handle(always(openaiError(400, {}, { message: 'bad', type: 'invalid_request_error', code: null })));
        await expect(failure(stack()(chatRequest))).resolves.toMatchObject({ error: { code: 'bad-request' } });
        expect(server.requests).toHaveLength(1);
      });
    });

    describe('connection failures before the first token', () => {
      it('a reset before the headers is retried', async () => {
        server.handle(failThenAnswer(server, (response) => response.socket?.resetAndDestroy()));

        await expect(answered(stack())).resolves.toEqual(HELLO);
        expect(server.requests).toHaveLength(2);
      });
    });

    describe('timeouts: each limit, and whether retry() tries again', () => {
      // Long enough for a busy 2-core machine to deliver headers well within `headers`, short enough to keep the suite fast.
      const HEADERS_MS = 300;
      const stallBeforeHeaders = (_response: ServerResponse) => undefined; // never writes the head
      const stallAfterHeaders = (response: ServerResponse) => startEventStream(response); // head, then nothing
      const keepAliveOnly = (response: ServerResponse) => {
        startEventStream(response);
        const beat = setInterval(() => response.write(': keep-alive\n\n'), 20);
        response.on('close', () => clearInterval(beat));
      };

      it('headers: a server that stalls before its headers is cut at `headers` and the request retried', async () => {
        server.handle(always(stallBeforeHeaders));
        const { error } = await failure(stack({ maxRetries: 0 }, { headers: HEADERS_MS, firstToken: 5_000 })(chatRequest));
        expect(error).toMatchObject({ code: 'timeout', limit: 'headers', tokensEmitted: false, message: expect.stringContaining('No response headers') });
        expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });

        server.requests.length = 0;
        server.handle(failThenAnswer(server, stallBeforeHeaders));
        await expect(answered(stack({ maxRetries: 1 }, { headers: HEADERS_MS, firstToken: 5_000 }))).resolves.toEqual(HELLO);
        expect(server.requests).toHaveLength(2);
      });

      it('firstToken, not headers: a server that sends its headers and then nothing', async () => {
        server.handle(always(stallAfterHeaders));
        const { error } = await failure(stack({ maxRetries: 0 }, { headers: HEADERS_MS, firstToken: HEADERS_MS * 3 })(chatRequest));
        expect(error).toMatchObject({ code: 'timeout', limit: 'firstToken', tokensEmitted: false });
        expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });

        server.requests.length = 0;
        server.handle(failThenAnswer(server, stallAfterHeaders));
        await expect(answered(stack({ maxRetries: 1 }, { headers: HEADERS_MS, firstToken: HEADERS_MS * 3 }))).resolves.toEqual(HELLO);
        expect(server.requests).toHaveLength(2);
      });

      it('idle: a stall after the first token is cut, and never retried', async () => {
        server.handle((_request, response) => {
          startEventStream(response);
          response.write(textChunk('Hel'));
        });

        const { events, error } = await failure(stack({ maxRetries: 2 }, { idle: 100 })(chatRequest));

        expect(events).toEqual([{ type: 'text', choice: 0, text: 'Hel' }]);
        expect(error).toMatchObject({ code: 'timeout', limit: 'idle', tokensEmitted: true, partialText: 'Hel' });
        expect(server.requests).toHaveLength(1);
      });

      it('total: final even before the first token (keep-alive comments and no content)', async () => {
        server.handle(always(keepAliveOnly));

        const { error } = await failure(stack({ maxRetries: 2 }, { total: 150 })(chatRequest));

        expect(error).toMatchObject({ code: 'timeout', limit: 'total', tokensEmitted: false });
        expect(server.requests).toHaveLength(1);
        expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
      });

      it('deadline: the context’s deadline ends the request, and it is final', async () => {
        server.handle(always(keepAliveOnly));

        const { error } = await failure(stack({ maxRetries: 2 }, { firstToken: 5_000 })(chatRequest, { deadline: asyncScheduler.now() + 150 }));

        expect(error).toMatchObject({ code: 'timeout', limit: 'deadline', tokensEmitted: false });
        expect(server.requests).toHaveLength(1);
      });
    });

    describe('Retry-After', () => {
      const rateLimited = (headers: Record<string, string>) =>
        openaiError(429, headers, { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' });
      const timed = async (llm: Transport) => {
        const started = Date.now();
        const events = await answered(llm);
        return { events, elapsed: Date.now() - started };
      };

      it('in seconds: waits that long, then retries', async () => {
        const waits: RetryInfo[] = [];
        server.handle(failThenAnswer(server, rateLimited({ 'retry-after': '1' })));

        const { events, elapsed } = await timed(stack({ onRetry: (info) => waits.push(info) }));

        expect(events).toEqual(HELLO);
        expect(waits.map(({ delayMs, reason }) => ({ delayMs, reason }))).toEqual([{ delayMs: 1000, reason: 'retry-after' }]);
        expect(elapsed).toBeGreaterThanOrEqual(990);
        expect(server.requests).toHaveLength(2);
      });

      it('in milliseconds (retry-after-ms, over retry-after): waits that long, then retries', async () => {
        const waits: RetryInfo[] = [];
        server.handle(failThenAnswer(server, rateLimited({ 'retry-after-ms': '60', 'retry-after': '30' })));

        const { events, elapsed } = await timed(stack({ onRetry: (info) => waits.push(info) }));

        expect(events).toEqual(HELLO);
        expect(waits.map(({ delayMs, reason }) => ({ delayMs, reason }))).toEqual([{ delayMs: 60, reason: 'retry-after' }]);
        expect(elapsed).toBeGreaterThanOrEqual(55);
        expect(server.requests).toHaveLength(2);
      });

      it('as an HTTP date: waits until then', async () => {
        const waits: RetryInfo[] = [];
        // HTTP dates have whole seconds: two seconds ahead is a wait of 1–2 s.
        server.handle(failThenAnswer(server, rateLimited({ 'retry-after': new Date(Date.now() + 2_000).toUTCString() })));

        const { events, elapsed } = await timed(stack({ onRetry: (info) => waits.push(info) }));

        expect(events).toEqual(HELLO);
        expect(waits).toHaveLength(1);
        expect(waits[0]!.reason).toBe('retry-after');
        expect(waits[0]!.delayMs).toBeGreaterThan(900);
        expect(waits[0]!.delayMs).toBeLessThanOrEqual(2_000);
        expect(elapsed).toBeGreaterThanOrEqual(waits[0]!.delayMs - 10);
        expect(server.requests).toHaveLength(2);
      });

      it('over the cap: fails at once with rate-limited and the wait asked for, without sleeping', async () => {
        server.handle(always(rateLimited({ 'retry-after': '120', 'x-request-id': 'req_cap' })));
        const started = Date.now();

        const { error } = await failure(stack()(chatRequest));

        expect(error).toMatchObject({ code: 'rate-limited', status: 429, retryAfterMs: 120_000, requestId: 'req_cap', providerCode: 'rate_limit_exceeded' });
        expect(error.message).toContain("longer than retry()'s cap of 60 s");
        expect(Date.now() - started).toBeLessThan(1_000);
        expect(server.requests).toHaveLength(1);

        server.requests.length = 0;
        server.handle(always(rateLimited({ 'retry-after-ms': '500' })));
        await expect(failure(stack({ maxRetryAfterMs: 100 })(chatRequest))).resolves.toMatchObject({ error: { code: 'rate-limited', retryAfterMs: 500 } });
        expect(server.requests).toHaveLength(1);
      });
    });
  });
}
