import OpenAI from 'openai';
import { lastValueFrom, toArray } from 'rxjs';
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
});
