import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runChat } from '../../src/cli/chat';
import { captureIo } from '../helpers/captureIo';
import { waitFor } from '../helpers/waitFor';

// A tiny OpenAI-compatible server: streams "Hello world" unless the prompt asks for a failure.
let server: Server;
let flakyCalls = 0;
const stalled: import('node:http').ServerResponse[] = [];
const stallClosed: boolean[] = [];
let baseURL: string;
const received: Array<{ body: Record<string, unknown>; authorization?: string }> = [];

const chunk = (delta: object, finish: string | null = null) =>
  `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let raw = '';
    req.on('data', (data: Buffer) => (raw += data));
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: Array<{ content: string }> };
      received.push({ body, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      const prompt = body.messages[body.messages.length - 1]!.content;
      if (prompt === 'flaky' && (flakyCalls += 1) === 1) {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after-ms': '20' });
        res.end(JSON.stringify({ error: { message: 'Overloaded, try again', type: 'server_error' } }));
        return;
      }
      if (prompt === 'stall') {
        stalled.push(res); // never answers; the client's timeout must give up and close it
        res.on('close', () => stallClosed.push(true));
        return;
      }
      if (prompt === 'unauthorized') {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', code: 'invalid_api_key' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk({ role: 'assistant', content: '' }));
      res.write(chunk({ content: 'Hello' }));
      if (prompt === 'cut off') {
        res.end(); // no finish, no [DONE]
        return;
      }
      res.write(chunk({ content: ' world' }));
      res.write(chunk({}, 'stop'));
      res.write(`data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

afterAll(async () => {
  for (const res of stalled) res.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});


describe('rxllm chat', () => {
  it.each(['sse', 'openai'])('streams the answer to stdout over the %s transport', async (transport) => {
    const run = captureIo();
    const code = await runChat(['--base-url', baseURL, '--transport', transport, 'Say hello'], run.io);
    expect(code).toBe(0);
    expect(run.stdout()).toBe('Hello world\n');
  });

  it('--json prints one line per event, then the result', async () => {
    const run = captureIo();
    const code = await runChat(['--base-url', baseURL, '--json', '--system', 'Be brief', '--max-tokens', '20', 'Say hello'], run.io);
    expect(code).toBe(0);
    const lines = run.stdout().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.slice(0, -1)).toEqual([
      { type: 'text', choice: 0, text: 'Hello' },
      { type: 'text', choice: 0, text: ' world' },
      { type: 'finish', choice: 0, reason: 'stop' },
      { type: 'usage', choice: 0, usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 } },
    ]);
    expect(lines.at(-1)).toEqual({
      type: 'result',
      text: 'Hello world',
      refusal: '',
      reasoning: '',
      toolCalls: [],
      usage: { prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 },
      finishReason: 'stop',
    });
    const sent = received.at(-1)!.body;
    expect(sent['messages']).toEqual([
      { role: 'system', content: 'Be brief' },
      { role: 'user', content: 'Say hello' },
    ]);
    expect(sent['max_tokens']).toBe(20);
  });

  it('takes the endpoint and key from OPENAI_BASE_URL / OPENAI_API_KEY', async () => {
    const run = captureIo({ OPENAI_BASE_URL: baseURL, OPENAI_API_KEY: 'sk-test' });
    expect(await runChat(['hi'], run.io)).toBe(0);
    expect(received.at(-1)!.authorization).toBe('Bearer sk-test');
  });

  it('ends a failed answer with an error line, keeps the partial text and exits non-zero', async () => {
    const run = captureIo();
    const code = await runChat(['--base-url', baseURL, '--json', 'cut off'], run.io);
    expect(code).toBe(1);
    const last = JSON.parse(run.stdout().trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ type: 'error', code: 'incomplete-stream', status: 200, partialText: 'Hello' });
  });

  it('reports an HTTP error with its code on stderr', async () => {
    const run = captureIo();
    expect(await runChat(['--base-url', baseURL, 'unauthorized'], run.io)).toBe(1);
    expect(run.stderr()).toContain('auth: 401 Incorrect API key provided');
  });

  it('a refused connection (a port nothing listens on) is connection-refused, in our words, exit 1', async () => {
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const closedURL = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/v1`;
    await new Promise((resolve) => gone.close(resolve));
    const run = captureIo();
    expect(await runChat(['--base-url', closedURL, 'hi'], run.io)).toBe(1);
    expect(run.stderr()).toBe(
      `\nrxllm chat: connection-refused: nothing is listening at ${closedURL}. Start the server there, or point OPENAI_BASE_URL at one that runs (unset, with no key, the built-in simulator answers).\n`,
    );
    const json = captureIo();
    expect(await runChat(['--base-url', closedURL, '--json', 'hi'], json.io)).toBe(1);
    expect(JSON.parse(json.stdout().trim())).toMatchObject({ type: 'error', code: 'connection-refused' });
  });

  it('--retries retries a 503 after the wait the server asked for', async () => {
    const run = captureIo();
    expect(await runChat(['--base-url', baseURL, '--retries', '2', 'flaky'], run.io)).toBe(0);
    expect(run.stdout()).toBe('Hello world\n');
    expect(run.stderr()).toContain('retry 1 in 20 ms (server)');
    expect(flakyCalls).toBe(2);
  });

  it('--first-token-timeout gives up on a stalled server, closes the request and exits non-zero', async () => {
    const run = captureIo();
    expect(await runChat(['--base-url', baseURL, '--first-token-timeout', '150', '--json', 'stall'], run.io)).toBe(1);
    const last = JSON.parse(run.stdout().trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ type: 'error', code: 'timeout' });
    // The abort reaches the server asynchronously.
    await waitFor(() => stallClosed.length > 0, 'the stalled server seeing its request closed');
    expect(stallClosed).toEqual([true]);
  });

  it('rejects bad usage with exit code 2 and says what to do', async () => {
    const noPrompt = captureIo();
    expect(await runChat(['--base-url', baseURL], noPrompt.io)).toBe(2);
    expect(noPrompt.stderr()).toContain('give a prompt');
    const badTokens = captureIo();
    expect(await runChat(['--max-tokens', 'lots', 'hi'], badTokens.io)).toBe(2);
    expect(badTokens.stderr()).toContain('--max-tokens must be an integer');
    const badTransport = captureIo();
    expect(await runChat(['--transport', 'grpc', 'hi'], badTransport.io)).toBe(2);
  });

  it('a base URL without a key (OPENAI_BASE_URL alone) is a keyless server, not the simulator', async () => {
    const run = captureIo({ OPENAI_BASE_URL: baseURL });
    expect(await runChat(['hi'], run.io)).toBe(0);
    expect(run.stdout()).toBe('Hello world\n');
    expect(received.at(-1)!.authorization).toBeUndefined();
    expect(run.stderr()).toBe('');
  });

  it('says once, on stderr, that the built-in simulator answered', async () => {
    const run = captureIo();
    expect(await runChat(['--max-tokens', '5', 'Say hello'], run.io)).toBe(0);
    expect(run.stdout().trim().length).toBeGreaterThan(0);
    expect(run.stderr()).toMatch(/^rxllm chat: not a real model: http:\/\/127\.0\.0\.1:\d+\/v1 \(built-in simulator, seed 1\) answers \(set OPENAI_BASE_URL or OPENAI_API_KEY for one\)\n$/);
  });

  it('--transport openai without the openai package: an error naming npm install openai, exit 1, no simulator left running', async () => {
    const run = captureIo();
    let loads = 0;
    const loadOpenai = () => {
      loads += 1;
      return Promise.reject(Object.assign(new Error("Cannot find module 'openai'"), { code: 'MODULE_NOT_FOUND' }));
    };
    expect(await runChat(['--transport', 'openai', 'hi'], { ...run.io, loadOpenai })).toBe(1);
    expect(loads).toBe(1);
    expect(run.stderr()).toContain('npm install openai');
    expect(run.stderr()).not.toContain('require stack');
    // Said before the simulator would start: no "not a real model" line, so none was started.
    expect(run.stderr()).not.toContain('not a real model');
    expect(run.stdout()).toBe('');
  });

  it('parse errors are in our words, with the one relevant line of the help', async () => {
    const unknown = captureIo();
    expect(await runChat(['--bogus', 'hi'], unknown.io)).toBe(2);
    expect(unknown.stderr()).toBe('rxllm chat: unknown option --bogus\n  usage: rxllm chat [options] PROMPT\n  (rxllm help chat lists every option)\n');
    const missing = captureIo();
    expect(await runChat(['hi', '--model'], missing.io)).toBe(2);
    expect(missing.stderr()).toContain('rxllm chat: --model needs a value\n  --model M — model name (default: gpt-4o-mini)\n');
    const badTokens = captureIo();
    expect(await runChat(['--retries', 'abc', 'hi'], badTokens.io)).toBe(2);
    expect(badTokens.stderr()).toMatch(/^rxllm chat: --retries must be an integer ≥ 0, got "abc"\n  --retries N — retry failures/);
  });
});
