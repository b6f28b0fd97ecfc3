import { config, firstValueFrom, lastValueFrom, toArray } from 'rxjs';
import { isRxllmError } from '../../src/core/errors';
import { sseTransport, wireBody } from '../../src/transport/sse';
import { chunkedResponse, fakeFetch } from '../helpers/chunkedFetch';
import { describeFaultRulesOverSockets } from '../helpers/faultRules';
import { startEventStream, startLocalServer, textChunk } from '../helpers/localServer';
import { chatRequest, describeTransportOverSockets, failure } from '../helpers/transportContract';

describeTransportOverSockets('sseTransport', (baseURL) => sseTransport({ baseURL, apiKey: 'sk-test' }));
describeFaultRulesOverSockets('sseTransport', (baseURL) => sseTransport({ baseURL, apiKey: 'sk-test' }));

const doneStream = () =>
  chunkedResponse([new TextEncoder().encode('data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')], {
    headers: { 'content-type': 'text/event-stream' },
  });

describe('sseTransport', () => {
  it('sends the key, the extra headers and the JSON body to <baseURL>/chat/completions', async () => {
    const fetch = fakeFetch(doneStream);
    const transport = sseTransport({ baseURL: 'https://example.test/v1/', apiKey: 'sk-abc', headers: { 'api-key': 'azure-key' }, fetch });

    await lastValueFrom(transport({ ...chatRequest, temperature: 0.2, vendor_flag: true } as never).pipe(toArray()));

    expect(fetch.calls).toHaveLength(1);
    const [call] = fetch.calls;
    expect(call!.url).toBe('https://example.test/v1/chat/completions');
    expect(call!.headers.get('authorization')).toBe('Bearer sk-abc');
    expect(call!.headers.get('api-key')).toBe('azure-key');
    expect(call!.headers.get('content-type')).toBe('application/json');
    expect(call!.body).toEqual({ ...chatRequest, temperature: 0.2, vendor_flag: true, stream: true, stream_options: { include_usage: true } });
  });

  it('sends nothing of the request context: the same body and headers as without one', async () => {
    const fetch = fakeFetch(doneStream);
    const transport = sseTransport({ fetch });
    const context = { step: 'summary', lane: 'background', attributes: { tenant: 'acme', scope: 'acme' }, deadline: 5000 };

    await lastValueFrom(transport(chatRequest, context).pipe(toArray()));
    await lastValueFrom(transport(chatRequest).pipe(toArray()));

    const [withContext, without] = fetch.calls;
    expect(withContext!.body).toEqual(without!.body);
    expect([...withContext!.headers]).toEqual([...without!.headers]);
  });

  it('sends no authorization header without a key', async () => {
    const fetch = fakeFetch(doneStream);
    await lastValueFrom(sseTransport({ baseURL: 'http://127.0.0.1:1/v1', fetch })(chatRequest).pipe(toArray()));
    expect(fetch.calls[0]!.headers.get('authorization')).toBeNull();
  });

  it('sends the caller’s Authorization and Content-Type instead of its own, whatever their case', async () => {
    const fetch = fakeFetch(doneStream);
    const headers = { Authorization: 'Bearer from-header', 'Content-Type': 'application/json; charset=utf-8' };
    await lastValueFrom(sseTransport({ apiKey: 'sk-abc', headers, fetch })(chatRequest).pipe(toArray()));
    expect(fetch.calls[0]!.headers.get('authorization')).toBe('Bearer from-header');
    expect(fetch.calls[0]!.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  it('an aborted stream sends nothing after close: onStoppedNotification sees no notification', async () => {
    const server = await startLocalServer((_request, response) => {
      startEventStream(response);
      response.write(textChunk('Hello')); // ...and never ends
    });
    const stopped: unknown[] = [];
    const previous = config.onStoppedNotification;
    config.onStoppedNotification = (notification) => stopped.push(notification);
    try {
      const first = await firstValueFrom(sseTransport({ baseURL: server.baseURL })(chatRequest)); // unsubscribes: the fetch is aborted
      expect(await server.requests[0]!.closed).toEqual({ clientClosedFirst: true });
      // A quiet period before a negative check: the aborted read's rejection, and RxJS's 0 ms timer for a stopped notification, come well within it.
      await new Promise((resolve) => setTimeout(resolve, 50));

      expect(first).toEqual({ type: 'text', choice: 0, text: 'Hello' });
      expect(stopped).toEqual([]);
    } finally {
      config.onStoppedNotification = previous;
      await server.close();
    }
  });

  it('rejects a baseURL that is not http(s), and a missing fetch, with invalid-config', () => {
    expect(() => sseTransport({ baseURL: 'ftp://example.test' })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
    expect(() => sseTransport({ fetch: 42 as never })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });

  it('a fetch that throws synchronously becomes connection-lost', async () => {
    const transport = sseTransport({
      fetch: () => {
        throw new TypeError('fetch is broken');
      },
    });
    const { error } = await failure(transport(chatRequest));
    expect(error.code).toBe('connection-lost');
    expect(error.message).toContain('fetch is broken');
    expect(error.tokensEmitted).toBe(false);
  });

  it('a server that is not listening → connection-refused, nothing emitted', async () => {
    const server = await startLocalServer();
    const { baseURL } = server;
    await server.close();

    const { events, error } = await failure(sseTransport({ baseURL })(chatRequest));

    expect(events).toEqual([]);
    expect(isRxllmError(error)).toBe(true);
    expect(error.code).toBe('connection-refused');
    expect(error.message).toContain(baseURL);
    expect(error.tokensEmitted).toBe(false);
  });
});

describe('wireBody', () => {
  it('streams with usage by default, keeps the caller’s stream_options, and leaves stream: false alone', () => {
    expect(wireBody(chatRequest, true)).toEqual({ ...chatRequest, stream: true, stream_options: { include_usage: true } });
    expect(wireBody(chatRequest, false)).toEqual({ ...chatRequest, stream: true });
    expect(wireBody({ ...chatRequest, stream_options: { include_usage: false } }, true)).toEqual({
      ...chatRequest,
      stream: true,
      stream_options: { include_usage: false },
    });
    expect(wireBody({ ...chatRequest, stream: false }, true)).toEqual({ ...chatRequest, stream: false });
  });
});
