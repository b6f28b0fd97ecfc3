import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastValueFrom } from 'rxjs';
import { endpointConfig, openEndpoint, type Endpoint } from '../../src/cli/openEndpoint';
import { result } from '../../src/operators/result';

const request = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'Say hello' }], max_tokens: 5 };

// A one-answer OpenAI-compatible server that records the Authorization header of each request.
let server: Server;
let baseURL: string;
const authorizations: Array<string | undefined> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    authorizations.push(req.headers.authorization);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'from the named endpoint' }, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const opened: Endpoint[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((endpoint) => endpoint.close()));
});

async function open(config: Parameters<typeof openEndpoint>[0]): Promise<Endpoint> {
  const endpoint = await openEndpoint(config);
  opened.push(endpoint);
  return endpoint;
}

describe('openEndpoint', () => {
  it('with neither a base URL nor a key, starts the simulator server and answers from it over HTTP', async () => {
    const endpoint = await open({ simulator: { seed: 3 } });
    expect(endpoint.simulator).toBeDefined();
    expect(endpoint.label).toBe(`${endpoint.simulator!.baseURL} (built-in simulator, seed 3)`);
    const answer = await lastValueFrom(endpoint.transport(request).pipe(result()));
    expect(answer.text.length).toBeGreaterThan(0);
    expect(endpoint.simulator!.stats().requests).toBe(1);
  });

  it('close() stops the simulator it started', async () => {
    const endpoint = await openEndpoint({});
    const { baseURL: simulatorURL } = endpoint.simulator!;
    await endpoint.close();
    await expect(fetch(`${simulatorURL}/models`)).rejects.toThrow();
  });

  it.each(['sse', 'openai'] as const)('with a base URL, sends there over the %s transport and starts no simulator', async (transport) => {
    const endpoint = await open({ baseURL, apiKey: 'sk-test', transport });
    expect(endpoint.simulator).toBeUndefined();
    expect(endpoint.label).toBe(baseURL);
    const answer = await lastValueFrom(endpoint.transport(request).pipe(result()));
    expect(answer.text).toBe('from the named endpoint');
    expect(authorizations.at(-1)).toBe('Bearer sk-test');
  });

  it('a base URL without a key names a keyless endpoint (a local vLLM or Ollama)', async () => {
    const endpoint = await open({ baseURL });
    expect(endpoint.simulator).toBeUndefined();
    await lastValueFrom(endpoint.transport(request).pipe(result()));
    expect(authorizations.at(-1)).toBeUndefined();
  });

  it("a key without a base URL goes to OpenAI's API root", async () => {
    const endpoint = await open({ apiKey: 'sk-test' });
    expect(endpoint.label).toBe('https://api.openai.com/v1');
    expect(endpoint.simulator).toBeUndefined();
  });
});

describe('openEndpoint without the openai package', () => {
  const missing = () => Promise.reject(Object.assign(new Error("Cannot find module 'openai'"), { code: 'MODULE_NOT_FOUND' }));

  it.each([{}, { baseURL: 'http://127.0.0.1:9/v1' }])('rejects with invalid-config naming npm install openai, and starts no simulator (%o)', async (config) => {
    const error = await openEndpoint({ ...config, transport: 'openai', loadOpenai: missing }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toMatchObject({ code: 'invalid-config', message: expect.stringContaining('npm install openai') });
    expect((error as Error).cause).toMatchObject({ code: 'MODULE_NOT_FOUND' });
  });
});

describe('endpointConfig: the one rule of chat, demo and demo --web', () => {
  it('neither a base URL nor a key: the simulator', () => {
    expect(endpointConfig({}, {}, { seed: 2, profiles: 'p.json' })).toEqual({ simulator: { seed: 2, profiles: 'p.json' } });
    expect(endpointConfig({ OPENAI_BASE_URL: '' }, {})).toEqual({});
  });

  it('OPENAI_BASE_URL without a key: that keyless server, not the simulator', () => {
    expect(endpointConfig({ OPENAI_BASE_URL: baseURL }, {}, { seed: 2 })).toEqual({ baseURL });
  });

  it("a key: OPENAI_BASE_URL, else OpenAI's API root", () => {
    expect(endpointConfig({ OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: baseURL }, {}, { seed: 1 })).toEqual({ baseURL, apiKey: 'sk-test' });
    expect(endpointConfig({ OPENAI_API_KEY: 'sk-test' }, {}, { seed: 1 })).toEqual({ baseURL: 'https://api.openai.com/v1', apiKey: 'sk-test' });
  });

  it('flags win over the environment', () => {
    expect(endpointConfig({ OPENAI_API_KEY: 'sk-env', OPENAI_BASE_URL: 'http://env/v1' }, { baseURL, apiKey: 'sk-flag' })).toEqual({ baseURL, apiKey: 'sk-flag' });
  });
});
