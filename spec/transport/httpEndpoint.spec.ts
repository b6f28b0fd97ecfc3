import { baseURLOf, fetchOf, httpEndpoint, withHeaders } from '../../src/transport/httpEndpoint';

describe('httpEndpoint', () => {
  const fetch = (() => Promise.resolve(new Response())) as typeof globalThis.fetch;

  it('appends the path to the base URL (trailing slashes dropped) and builds the JSON headers with the key', () => {
    const endpoint = httpEndpoint('client', { baseURL: 'https://example.test/v1//', apiKey: 'sk-abc', headers: { 'api-key': 'azure' }, fetch }, '/embeddings', 'application/json');
    expect(endpoint).toEqual({
      url: 'https://example.test/v1/embeddings',
      fetch,
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer sk-abc', 'api-key': 'azure' },
    });
  });

  it('defaults to OpenAI and the global fetch, and sends no authorization without a key', () => {
    const endpoint = httpEndpoint('client', {}, '/chat/completions', 'text/event-stream');
    expect(endpoint.url).toBe('https://api.openai.com/v1/chat/completions');
    expect(endpoint.fetch).toBe(globalThis.fetch);
    expect(endpoint.headers).not.toHaveProperty('authorization');
  });

  it('rejects a base URL that is not http(s) and a fetch that is not a function, naming the owner and the option', () => {
    expect(() => baseURLOf('sseTransport', 'ftp://example.test')).toThrow(
      expect.objectContaining({ code: 'invalid-config', path: 'baseURL', message: expect.stringContaining('sseTransport baseURL') }),
    );
    expect(() => fetchOf('embeddingsClient', 42 as never)).toThrow(
      expect.objectContaining({ code: 'invalid-config', path: 'fetch', message: expect.stringContaining('pass `fetch` to embeddingsClient') }),
    );
  });
});

describe('withHeaders', () => {
  it('lets a caller header replace the default of the same name, whatever its case', () => {
    expect(withHeaders({ 'content-type': 'application/json', accept: 'text/event-stream' }, { 'Content-Type': 'text/plain', 'X-Extra': '1' })).toEqual({
      accept: 'text/event-stream',
      'Content-Type': 'text/plain',
      'X-Extra': '1',
    });
    expect(withHeaders({ accept: 'a' }, undefined)).toEqual({ accept: 'a' });
  });
});
