import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { isRxllmError, type RxllmError } from '../../src/core/errors';
import type { LlmEvent } from '../../src/core/events';
import type { LlmRequest } from '../../src/core/request';
import type { Transport } from '../../src/core/transport';
import { startSimulatorServer, type SimulatorServer, type SimulatorStats } from '../../src/node/simulatorServer';
import { result } from '../../src/operators/result';
import { embeddingVector } from '../../src/simulator/embeddings';
import type { SimulatorProfiles } from '../../src/simulator/profiles';
import { simulatedTransport } from '../../src/simulator/simulatedTransport';
import { sseTransport } from '../../src/transport/sse';
import { waitFor } from '../helpers/waitFor';

// Short real-time profiles: 5 ms to first token, 1 ms per token.
const profiles: SimulatorProfiles = {
  fast: { ttftMs: 5, tokensPerSecond: 1000, jitter: 0, outputTokens: 12 },
  long: { ttftMs: 5, tokensPerSecond: 100, jitter: 0, outputTokens: 500 },
  'text-embedding-3-small': { ttftMs: 2 },
};
const chat = (content: string, extra: Partial<LlmRequest> = {}): LlmRequest => ({ model: 'fast', messages: [{ role: 'user', content }], ...extra });
const sdkChat = (content: string) => ({ model: 'fast', messages: [{ role: 'user' as const, content }] });

let server: SimulatorServer;
let client: OpenAI;
beforeAll(async () => {
  server = await startSimulatorServer({ profiles, seed: 11 });
  client = new OpenAI({ baseURL: server.baseURL, apiKey: 'x', maxRetries: 0 });
});
afterAll(() => server.close());

describe('startSimulatorServer', () => {
  it('listens on loopback by default, on the port it reports', () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.baseURL).toBe(`${server.url}/v1`);
  });

  describe('with the official openai SDK', () => {
    it('answers a non-streaming chat completion', async () => {
      const completion = await client.chat.completions.create(sdkChat('Summarize in one sentence: Observables are lazy. Operators compose them.'));
      expect(completion).toMatchObject({
        object: 'chat.completion',
        model: 'fast',
        choices: [{ index: 0, message: { role: 'assistant', content: 'Observables are lazy.' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: expect.any(Number), completion_tokens: 5 }, // Observ|ables| are| lazy|.
      });
    });

    it('streams the same answer: role chunk, content chunks, finish chunk, usage chunk', async () => {
      const request = sdkChat('Explain schedulers and virtual time');
      const whole = await client.chat.completions.create(request);
      const stream = await client.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text).toBe(whole.choices[0]!.message.content);
      expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
      expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { completion_tokens: 12 } });
    });

    it('answers with a tool call when tools are offered', async () => {
      const completion = await client.chat.completions.create({
        ...sdkChat('What is the weather in Madrid?'),
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }],
      });
      const call = completion.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
      expect(completion.choices[0]!.finish_reason).toBe('tool_calls');
      expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Madrid' });
    });

    it('creates deterministic embeddings, float and base64 (the SDK’s default)', async () => {
      const input = ['RxJS streams', 'LLM latency'];
      const floats = await client.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float', dimensions: 64 });
      expect(floats.data.map((d) => d.index)).toEqual([0, 1]);
      expect(floats.data[0]!.embedding).toEqual(embeddingVector('RxJS streams', 'text-embedding-3-small', 11, 64));
      expect(floats.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
      const decoded = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'RxJS streams' });
      expect(decoded.data[0]!.embedding).toHaveLength(1536);
      const expected = embeddingVector('RxJS streams', 'text-embedding-3-small', 11, 1536);
      decoded.data[0]!.embedding.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 6));
    });

    it('lists the models', async () => {
      const ids: string[] = [];
      for await (const model of client.models.list()) ids.push(model.id);
      expect(ids).toEqual(expect.arrayContaining(['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'gpt-4o-mini@eastus', 'fast']));
    });

    it('retrieves a configured model, and answers 404 model_not_found for one that is not (as OpenAI does)', async () => {
      expect((await client.models.retrieve('gpt-4o-mini')).id).toBe('gpt-4o-mini');
      const error = await client.models.retrieve('no-such-model').catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.NotFoundError);
      expect((error as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
      expect((error as Error).message).toContain('no-such-model');
    });

    it('raises the SDK’s RateLimitError for an injected 429', async () => {
      const error = await client.chat.completions
        .create(sdkChat('Hi'), { headers: { 'x-rxllm-sim': 'fault=429,retry_after=1500' } })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OpenAI.RateLimitError);
      expect((error as InstanceType<typeof OpenAI.RateLimitError>).headers.get('retry-after-ms')).toBe('1500');
    });
  });

  describe('one core, two forms', () => {
    const requests: LlmRequest[] = [
      chat('Classify the sentiment as positive, negative or neutral: the update broke my workflow.'),
      chat('Tell me about backpressure', { n: 2, max_tokens: 8 }),
      chat('Weather in Oslo?', { tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }] }),
      chat('Extract 3 keywords: caching, hedging and routing cut latency in LLM pipelines.', { stream: false }),
      chat('Give me a JSON object', { response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer' } }, required: ['ok', 'n'] } } } }),
    ];

    it('emits the same events in-process as sseTransport over HTTP, for the same seed and request order', async () => {
      const twin = await startSimulatorServer({ profiles, seed: 5 });
      try {
        const overHttp = sseTransport({ baseURL: twin.baseURL });
        const inProcess = simulatedTransport({ profiles, seed: 5 });
        for (const request of requests) {
          const expected = await events(inProcess, request);
          expect(await events(overHttp, request)).toEqual(expected);
        }
      } finally {
        await twin.close();
      }
    });

    it('raises the same errors for injected faults', async () => {
      const twin = await startSimulatorServer({ profiles, seed: 5 });
      try {
        const overHttp = sseTransport({ baseURL: twin.baseURL });
        const inProcess = simulatedTransport({ profiles, seed: 5 });
        for (const sim of ['fault=429,retry_after=2500', 'fault=500', 'fault=503,retry_after=100']) {
          const request = { ...chat('Hi'), rxllm_sim: sim } as LlmRequest;
          const local = await failure(inProcess, request);
          const remote = await failure(overHttp, request);
          // The same error; the real response also has its connection's own headers (date, keep-alive, CORS).
          const { headers: localHeaders, ...localFields } = local.toJSON();
          const { headers: remoteHeaders, ...remoteFields } = remote.toJSON();
          expect(remoteFields).toEqual(localFields);
          expect(remoteHeaders).toMatchObject(localHeaders as Record<string, string>);
          expect(localHeaders).toHaveProperty('x-request-id');
        }
        const local = await failure(inProcess, { ...chat('Explain caching'), rxllm_sim: 'fault=disconnect,fault_after=3' } as LlmRequest);
        const remote = await failure(overHttp, { ...chat('Explain caching'), rxllm_sim: 'fault=disconnect,fault_after=3' } as LlmRequest);
        expect(local).toMatchObject({ code: 'connection-lost', tokensEmitted: true, status: 200, partialText: expect.any(String) });
        expect(remote).toMatchObject({ code: local.code, tokensEmitted: true, status: 200, requestId: local.requestId, partialText: local.partialText });
      } finally {
        await twin.close();
      }
    });
  });

  describe('HTTP behaviour', () => {
    it('sends OpenAI-shaped errors with retry-after and retry-after-ms', async () => {
      const response = await post('/v1/chat/completions', chat('Hi'), { 'x-rxllm-sim': 'fault=429,retry_after=1500' });
      expect(response.status).toBe(429);
      expect(response.headers.get('retry-after')).toBe('2');
      expect(response.headers.get('retry-after-ms')).toBe('1500');
      expect(response.headers.get('x-request-id')).toMatch(/^req_sim_/);
      expect(await response.json()).toEqual({
        error: { message: expect.stringContaining('Rate limit reached for fast'), type: 'requests', param: null, code: 'rate_limit_exceeded' },
      });
    });

    it.each([
      ['an invalid request', { model: 'fast', messages: [] }, {}, 'messages'],
      ['a malformed override', chat('Hi'), { 'x-rxllm-sim': 'speed=3' }, 'rxllm_sim'],
      ['bad embeddings input', { model: 'text-embedding-3-small', input: [] }, {}, 'input'],
    ])('answers %s with 400 invalid_request_error and the param', async (_name, body, headers, param) => {
      const path = 'input' in body ? '/v1/embeddings' : '/v1/chat/completions';
      const response = await post(path, body, headers);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({ error: { message: expect.any(String), type: 'invalid_request_error', param, code: null } });
    });

    it('answers malformed JSON, unknown routes and wrong methods with OpenAI-shaped errors', async () => {
      const bad = await fetch(`${server.baseURL}/chat/completions`, { method: 'POST', body: '{nope' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/could not parse the JSON body/);
      const missing = await fetch(`${server.url}/v2/things`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toMatchObject({ error: { code: 'unknown_url' } });
      const wrong = await fetch(`${server.baseURL}/chat/completions`);
      expect(wrong.status).toBe(405);
    });

    it('ends a stream with [DONE], with a usage chunk only when include_usage is asked', async () => {
      const withUsage = await (await post('/v1/chat/completions', chat('Hi there', { stream: true, stream_options: { include_usage: true } }))).text();
      const without = await (await post('/v1/chat/completions', chat('Hi there', { stream: true }))).text();
      expect(withUsage.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(without.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(withUsage).toMatch(/"choices":\[\],"usage":\{"prompt_tokens"/);
      expect(without).not.toMatch(/usage/);
    });

    it('answers CORS preflights', async () => {
      const response = await fetch(`${server.baseURL}/chat/completions`, { method: 'OPTIONS', headers: { 'access-control-request-headers': 'content-type, x-rxllm-sim' } });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-allow-headers')).toBe('content-type, x-rxllm-sim');
    });
  });

  describe('/stats', () => {
    it('counts requests per model, completed and failed, and resets', async () => {
      await fetch(`${server.url}/stats/reset`, { method: 'POST' });
      const llm = sseTransport({ baseURL: server.baseURL });
      await lastValueFrom(llm(chat('one')).pipe(toArray()));
      await lastValueFrom(llm(chat('two', { model: 'gpt-4o-mini', rxllm_sim: 'ttft=1,tps=1000' } as Partial<LlmRequest>)).pipe(toArray()));
      await lastValueFrom(llm({ ...chat('three'), rxllm_sim: 'fault=500' } as LlmRequest)).catch(() => undefined);
      expect(await stats()).toEqual({
        requests: 3,
        requestsByModel: { fast: 2, 'gpt-4o-mini': 1 },
        inFlight: 0,
        peakInFlight: 1,
        completed: 2,
        failed: 1,
        aborts: 0,
      });
      const reset = await fetch(`${server.url}/stats/reset`, { method: 'POST' });
      expect(await reset.json()).toEqual({ requests: 0, requestsByModel: {}, inFlight: 0, peakInFlight: 0, completed: 0, failed: 0, aborts: 0 });
      expect(server.stats().requests).toBe(0);
    });

    it('counts a client abort: unsubscribing from sseTransport closes the request, and in-flight returns to 0', async () => {
      server.resetStats();
      const llm = sseTransport({ baseURL: server.baseURL });
      const first = await firstValueFrom(llm({ ...chat('Tell me a long story'), model: 'long' }).pipe(take(2), toArray()));
      expect(first).toHaveLength(2); // two tokens arrived, then take(2) unsubscribed
      // The server sees the client's close a moment after the client acts.
      await waitFor(async () => {
        const { aborts, inFlight } = await stats();
        return aborts === 1 && inFlight === 0;
      }, 'GET /stats counting the abort, nothing left in flight');
      const after = await stats();
      expect(after).toMatchObject({ requests: 1, aborts: 1, inFlight: 0, completed: 0, peakInFlight: 1 });
    });

    it('tracks in-flight and peak while streams are open, and a stalled stream stays in flight until abandoned', async () => {
      server.resetStats();
      const llm = sseTransport({ baseURL: server.baseURL });
      const stalled = [1, 2, 3].map(() => llm({ ...chat('Hi'), rxllm_sim: 'fault=stall,fault_after=1' } as LlmRequest).subscribe({ error: () => undefined }));
      await waitFor(async () => (await stats()).inFlight === 3, 'GET /stats counting the three stalled streams in flight');
      expect(await stats()).toMatchObject({ inFlight: 3, peakInFlight: 3 });
      stalled.forEach((subscription) => subscription.unsubscribe());
      await waitFor(async () => (await stats()).inFlight === 0, 'GET /stats counting the three abandoned streams closed');
      expect(await stats()).toMatchObject({ aborts: 3, peakInFlight: 3 });
    });
  });

  it('loads profiles from a JSON file, and rejects a bad one with invalid-config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rxllm-sim-'));
    try {
      const file = join(dir, 'profiles.json');
      await writeFile(file, JSON.stringify({ 'from-file': { ttftMs: 1, tokensPerSecond: 1000, outputTokens: 2 } }));
      const fromFile = await startSimulatorServer({ profiles: file });
      try {
        const answer = await lastValueFrom(sseTransport({ baseURL: fromFile.baseURL })(chat('Explain', { model: 'from-file' })).pipe(result()));
        expect(answer.usage?.completion_tokens).toBe(2);
      } finally {
        await fromFile.close();
      }
      await writeFile(file, JSON.stringify({ broken: { ttftMs: 'soon' } }));
      await expect(startSimulatorServer({ profiles: file })).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringContaining(file) });
      await expect(startSimulatorServer({ profiles: join(dir, 'missing.json') })).rejects.toMatchObject({ code: 'invalid-config' });
      await expect(startSimulatorServer({ port: -1 })).rejects.toMatchObject({ code: 'invalid-config' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('close() cuts open streams and resolves', async () => {
    const doomed = await startSimulatorServer({ profiles });
    const llm = sseTransport({ baseURL: doomed.baseURL });
    const failed = lastValueFrom(llm({ ...chat('Hi'), rxllm_sim: 'fault=stall,fault_after=1' } as LlmRequest)).catch((error: unknown) => error);
    await waitFor(() => doomed.stats().inFlight === 1, 'the stalled stream in flight on the server');
    await doomed.close();
    expect(await failed).toMatchObject({ code: 'connection-lost' });
    expect(doomed.stats()).toMatchObject({ inFlight: 0, aborts: 0 });
  });
});

async function events(transport: Transport, request: LlmRequest): Promise<LlmEvent[]> {
  return lastValueFrom(transport(request).pipe(toArray()));
}

async function failure(transport: Transport, request: LlmRequest): Promise<RxllmError> {
  const error = await lastValueFrom(transport(request)).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!isRxllmError(error)) throw new Error(`expected an RxllmError, got ${String(error)}`);
  return error;
}

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

async function stats(): Promise<SimulatorStats> {
  return (await (await fetch(`${server.url}/stats`)).json()) as SimulatorStats;
}
