import type { ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { lastValueFrom, toArray } from 'rxjs';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import { openaiTransport } from '../../src/openai/openaiTransport';
import { sseTransport } from '../../src/transport/sse';
import { describeFaultRulesOverSockets } from '../helpers/faultRules';
import { startEventStream, startLocalServer, textChunk, type LocalServer } from '../helpers/localServer';
import { chatRequest, describeTransportOverSockets, failure, httpErrorCases } from '../helpers/transportContract';

describeTransportOverSockets('openaiTransport(new OpenAI(...))', (baseURL) => openaiTransport(new OpenAI({ baseURL, apiKey: 'sk-test' })));
describeTransportOverSockets('openaiTransport({ baseURL, apiKey })', (baseURL) => openaiTransport({ baseURL, apiKey: 'sk-test' }));
describeFaultRulesOverSockets('openaiTransport(new OpenAI(...))', (baseURL) => openaiTransport(new OpenAI({ baseURL, apiKey: 'sk-test' })));

describe('openaiTransport', () => {
  let server: LocalServer;
  beforeAll(async () => {
    server = await startLocalServer();
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  const fail = (status: number) =>
    server.handle((_request, response) => {
      response.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0' });
      response.end(JSON.stringify({ error: { message: 'try again', type: 'server_error', code: null } }));
    });

  it.each([500, 429, 503])('sends a request that fails with %i exactly once, whatever maxRetries the client has', async (status) => {
    fail(status);
    const withRetries = openaiTransport(new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 5 }));
    const fromOptions = openaiTransport({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 5 });

    await failure(withRetries(chatRequest));
    expect(server.requests).toHaveLength(1);
    await failure(fromOptions(chatRequest));
    expect(server.requests).toHaveLength(2);
  });

  it('raises the same HTTP errors as sseTransport', async () => {
    const viaSdk = openaiTransport(new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test' }));
    const viaFetch = sseTransport({ baseURL: server.baseURL, apiKey: 'sk-test' });
    for (const c of httpErrorCases().filter((c) => c.retryAfterMs === undefined || typeof c.retryAfterMs === 'number')) {
      server.handle((_request, response) => {
        response.writeHead(c.status, c.headers);
        response.end(c.body);
      });
      const { raw: _sdkRaw, ...sdk } = (await failure(viaSdk(chatRequest))).error.toJSON();
      const { raw: _fetchRaw, ...fetched } = (await failure(viaFetch(chatRequest))).error.toJSON();
      expect({ case: c.name, ...sdk }).toEqual({ case: c.name, ...fetched });
    }
  });

  it('keeps the code, status and request id of an error body without an `error` member (vLLM)', async () => {
    server.handle((_request, response) => {
      response.writeHead(404, { 'content-type': 'application/json', 'x-request-id': 'req_vllm' });
      response.end(JSON.stringify({ object: 'error', message: 'The model `llama-9` does not exist.', type: 'NotFoundError', param: null, code: 404 }));
    });

    const { error } = await failure(openaiTransport(new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test' }))(chatRequest));

    expect(error).toMatchObject({ code: 'bad-request', status: 404, requestId: 'req_vllm', tokensEmitted: false });
    // The SDK keeps only an `error` member of a JSON body; sseTransport reads the body itself.
    const viaFetch = await failure(sseTransport({ baseURL: server.baseURL })(chatRequest));
    expect(viaFetch.error.message).toContain('The model `llama-9` does not exist.');
  });

  it('passes vendor fields through the SDK to the wire, and honours includeUsage: false', async () => {
    server.handle((_request, response) => {
      startEventStream(response);
      response.end(`${textChunk('ok', 'stop')}data: [DONE]\n\n`);
    });
    const transport = openaiTransport({ baseURL: server.baseURL, apiKey: 'sk-test', includeUsage: false });

    await lastValueFrom(transport({ ...chatRequest, top_k: 20, chat_template_kwargs: { enable_thinking: false } } as never).pipe(toArray()));

    expect(JSON.parse(server.requests[0]!.body)).toEqual({
      ...chatRequest,
      top_k: 20,
      chat_template_kwargs: { enable_thinking: false },
      stream: true,
    });
    expect(server.requests[0]!.headers['authorization']).toBe('Bearer sk-test');
  });

  it('sends nothing of the request context', async () => {
    server.handle((_request, response) => {
      startEventStream(response);
      response.end(`${textChunk('ok', 'stop')}data: [DONE]\n\n`);
    });
    const transport = openaiTransport({ baseURL: server.baseURL, apiKey: 'sk-test' });

    await lastValueFrom(transport(chatRequest, { step: 'summary', lane: 'background', attributes: { tenant: 'acme' }, deadline: 5000 }).pipe(toArray()));

    expect(JSON.parse(server.requests[0]!.body)).toEqual({ ...chatRequest, stream: true, stream_options: { include_usage: true } });
    expect(JSON.stringify(server.requests[0]!.headers)).not.toMatch(/summary|background|acme/);
  });

  it('a server that is not listening → connection-refused, nothing emitted', async () => {
    const closed = await startLocalServer();
    await closed.close();

    const { events, error } = await failure(openaiTransport({ baseURL: closed.baseURL, apiKey: 'sk-test' })(chatRequest));

    expect(events).toEqual([]);
    expect(error.code).toBe('connection-refused');
    expect(error.message).toContain(`Nothing accepted the connection to ${closed.baseURL}/chat/completions`);
    expect(error.tokensEmitted).toBe(false);
  });

  it('rejects options that cannot make a client with invalid-config, as sseTransport does', () => {
    const invalid = expect.objectContaining({ code: 'invalid-config' });
    expect(() => openaiTransport({ baseURL: 'ftp://example.test', apiKey: 'sk-test' })).toThrow(expect.objectContaining({ code: 'invalid-config', path: 'baseURL' }));
    expect(() => openaiTransport({ apiKey: 'sk-test', fetch: 42 as never })).toThrow(expect.objectContaining({ code: 'invalid-config', path: 'fetch' }));
    const key = process.env['OPENAI_API_KEY'];
    delete process.env['OPENAI_API_KEY'];
    try {
      expect(() => openaiTransport({ baseURL: server.baseURL })).toThrow(invalid);
      expect(() => openaiTransport({ baseURL: server.baseURL })).toThrow(/Missing credentials/);
    } finally {
      if (key !== undefined) process.env['OPENAI_API_KEY'] = key;
    }
  });

  describe('on startDirectExchange (the decoder delivers to the caller’s subscriber)', () => {
    // A transport whose SDK fetches with the real fetch, keeping the signal of each request (the
    // SDK's own, which it aborts when the transport aborts).
    const recording = (signals: AbortSignal[]) =>
      openaiTransport({
        baseURL: server.baseURL,
        apiKey: 'sk-test',
        fetch: (url, init) => {
          signals.push(init!.signal!);
          return fetch(url, init);
        },
      });
    const json = JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }] });
    const answerJson = (_request: unknown, response: ServerResponse) => {
      response.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_json' });
      response.end(json);
    };

    it('does not abort a finished streamed answer: the body the server ends after the answer completed is read to its end', async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      server.handle(async (_request, response) => {
        startEventStream(response);
        response.write(`${textChunk('Hi', 'stop')}data: [DONE]\n\n`);
        await released; // the body ends only once the caller has the whole answer
        response.end();
      });
      const signals: AbortSignal[] = [];

      const events = await lastValueFrom(recording(signals)(chatRequest).pipe(toArray()));
      expect(signals.map((signal) => signal.aborted)).toEqual([false]);
      release();

      expect(events.map((event) => event.type)).toEqual(['text', 'finish']);
      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: false });
      expect(signals[0]!.aborted).toBe(false);
    });

    it('does not abort a finished JSON answer, asked for (stream: false) or sent where a stream was asked', async () => {
      server.handle(answerJson);
      const signals: AbortSignal[] = [];
      const transport = recording(signals);

      const asked = await lastValueFrom(transport({ ...chatRequest, stream: false }).pipe(toArray()));
      const unasked = await lastValueFrom(transport(chatRequest).pipe(toArray()));

      expect([asked, unasked].map((events) => events.map((event) => event.type))).toEqual([
        ['text', 'finish'],
        ['text', 'finish'],
      ]);
      expect(signals.map((signal) => signal.aborted)).toEqual([false, false]);
    });

    // A request that says `stream: false` reaches the SDK as the caller's own object (checked, not copied): the SDK
    // must only serialise it. Frozen all the way down, any write into it throws.
    it('sends a stream: false request as it is, without writing into the caller’s object', async () => {
      server.handle(answerJson);
      const request = deepFreeze({ ...chatRequest, stream: false as const, messages: chatRequest.messages.map((message) => ({ ...message })) });

      const events = await lastValueFrom(openaiTransport({ baseURL: server.baseURL, apiKey: 'sk-test' })(request).pipe(toArray()));

      expect(events.map((event) => event.type)).toEqual(['text', 'finish']);
      expect(JSON.parse(server.requests[0]!.body)).toEqual(request);
    });

    it('aborts a stream unsubscribed mid-answer: the SDK’s fetch sees the abort and the server the client leave', async () => {
      server.handle((_request, response) => {
        startEventStream(response);
        response.write(textChunk('Hello')); // ...and never ends
      });
      const signals: AbortSignal[] = [];

      const first = await new Promise<string>((resolve) => {
        const subscription = recording(signals)(chatRequest).subscribe((event) => {
          subscription.unsubscribe();
          resolve(event.type);
        });
      });

      expect(first).toBe('text');
      expect(signals[0]!.aborted).toBe(true);
      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
    });

    it('calls onHeaders once with the status and headers, before the first event, for a streamed and a JSON answer', async () => {
      const seen: string[] = [];
      const onHeaders = (status: number, headers: Readonly<Record<string, string>>) => seen.push(`headers ${status} ${headers['x-request-id']}`);
      const transport = openaiTransport({ baseURL: server.baseURL, apiKey: 'sk-test' });
      const run = async (request: LlmRequest) => {
        const events = await lastValueFrom(transport(request, { onHeaders }).pipe(toArray()));
        seen.push(...events.map((event) => event.type));
      };

      server.handle((_request, response) => {
        startEventStream(response, { 'x-request-id': 'req_stream' });
        response.end(`${textChunk('Hi', 'stop')}data: [DONE]\n\n`);
      });
      await run(chatRequest);
      server.handle(answerJson);
      await run({ ...chatRequest, stream: false });

      expect(seen).toEqual(['headers 200 req_stream', 'text', 'finish', 'headers 200 req_json', 'text', 'finish']);
    });

    it('an onHeaders that throws errors the request with its error, emits nothing and aborts it', async () => {
      server.handle((_request, response) => {
        startEventStream(response);
        response.write(textChunk('Hello')); // ...and never ends: only an abort closes it
      });
      const signals: AbortSignal[] = [];
      const thrown = new Error('onHeaders failed');
      const events: LlmEvent[] = [];

      const error = await new Promise<unknown>((resolve) =>
        recording(signals)(chatRequest, {
          onHeaders: () => {
            throw thrown;
          },
        }).subscribe({ next: (event) => events.push(event), error: resolve }),
      );

      expect(error).toBe(thrown);
      expect(events).toEqual([]);
      expect(signals[0]!.aborted).toBe(true);
      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
    });

    it('an invalid request errors with invalid-request on subscribe and never reaches the SDK; a valid one reaches it once per subscription', async () => {
      server.handle(answerJson);
      const client = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test' });
      const create = jest.spyOn(client.chat.completions, 'create');
      const transport = openaiTransport(client);
      const invalid = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: [{ type: 'text' }] }] } as unknown as LlmRequest;

      const errors: unknown[] = [];
      transport(invalid).subscribe({ error: (error: unknown) => errors.push(error) });

      expect(errors).toEqual([expect.objectContaining({ code: 'invalid-request', path: 'messages.0.content.0.text' })]); // at once, as before
      expect(create).not.toHaveBeenCalled();

      const events$ = transport(chatRequest);
      expect(create).not.toHaveBeenCalled(); // cold
      await lastValueFrom(events$.pipe(toArray()));
      expect(create).toHaveBeenCalledTimes(1);
      expect(create).toHaveBeenCalledWith(
        { ...chatRequest, stream: true, stream_options: { include_usage: true } },
        expect.objectContaining({ signal: expect.any(AbortSignal), maxRetries: 0 }),
      );
      expect(server.requests).toHaveLength(1);
    });
  });
});

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
