import { parseArgs } from 'node:util';
import { lastValueFrom, tap } from 'rxjs';
import { isRxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import type { Transport } from '../core/transport.js';
import { result } from '../operators/result.js';
import { sseTransport } from '../transport/sse.js';

const HELP = `rxllm chat [options] PROMPT

Streams one answer to stdout as it arrives.

Options:
  --base-url URL       API root (default: $OPENAI_BASE_URL, else the built-in simulator)
  --api-key KEY        API key (default: $OPENAI_API_KEY)
  --model M            model name (default: gpt-4o-mini)
  --transport T        sse (fetch + eventsource-parser, default) or openai (the official SDK)
  --max-tokens N       cap the answer's length
  --system TEXT        a system message before the prompt
  --json               one JSON line per event, then a result (or error) line
  -h, --help           this text
`;

/** Where `rxllm chat` writes; tests pass their own. */
export interface ChatIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
}

/** `rxllm chat`: returns the exit code (0 answered, 1 failed, 2 usage error). */
export async function runChat(args: string[], io: ChatIo = process): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        'base-url': { type: 'string' },
        'api-key': { type: 'string' },
        model: { type: 'string', default: 'gpt-4o-mini' },
        transport: { type: 'string', default: 'sse' },
        'max-tokens': { type: 'string' },
        system: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    io.stderr.write(`rxllm chat: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const prompt = positionals.join(' ').trim();
  if (!prompt) {
    io.stderr.write(`rxllm chat: give a prompt, e.g. rxllm chat "Say hello"\n\n${HELP}`);
    return 2;
  }
  const maxTokens = values['max-tokens'] === undefined ? undefined : Number(values['max-tokens']);
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens < 1)) {
    io.stderr.write(`rxllm chat: --max-tokens must be an integer ≥ 1, got "${values['max-tokens']}"\n`);
    return 2;
  }
  if (values.transport !== 'sse' && values.transport !== 'openai') {
    io.stderr.write(`rxllm chat: --transport must be sse or openai, got "${values.transport}"\n`);
    return 2;
  }

  const request: LlmRequest = {
    model: values.model,
    messages: [...(values.system ? [{ role: 'system' as const, content: values.system }] : []), { role: 'user', content: prompt }],
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
  };
  const endpoint = await openEndpoint(values['base-url'] ?? io.env['OPENAI_BASE_URL'], values['api-key'] ?? io.env['OPENAI_API_KEY'], values.transport);
  try {
    return await stream(endpoint.transport, request, values.json, io);
  } finally {
    await endpoint.close();
  }
}

interface Endpoint {
  transport: Transport;
  close(): Promise<void>;
}

async function openEndpoint(baseURL: string | undefined, apiKey: string | undefined, kind: 'sse' | 'openai'): Promise<Endpoint> {
  const config = { ...(baseURL ? { baseURL } : {}), ...(apiKey ? { apiKey } : {}) };
  if (kind === 'openai') {
    const { openaiTransport } = await import('../openai/index.js');
    return { transport: openaiTransport({ ...config, apiKey: apiKey ?? 'none' }), close: async () => undefined };
  }
  return { transport: sseTransport(config), close: async () => undefined };
}

async function stream(transport: Transport, request: LlmRequest, json: boolean, io: ChatIo): Promise<number> {
  const events = transport(request).pipe(
    tap((event: LlmEvent) => {
      if (json) io.stdout.write(`${JSON.stringify(event)}\n`);
      else if (event.type === 'text' && event.choice === 0) io.stdout.write(event.text);
      else if (event.type === 'refusal' && event.choice === 0) io.stdout.write(event.text);
    }),
  );
  try {
    const answer = await lastValueFrom(events.pipe(result()));
    if (json) io.stdout.write(`${JSON.stringify({ type: 'result', ...answer })}\n`);
    else io.stdout.write('\n');
    return 0;
  } catch (error) {
    const details = isRxllmError(error)
      ? { code: error.code, message: error.message, status: error.status, partialText: error.partialText }
      : { code: 'unknown', message: error instanceof Error ? error.message : String(error) };
    if (json) io.stdout.write(`${JSON.stringify({ type: 'error', ...details })}\n`);
    else io.stderr.write(`\nrxllm chat: ${details.code}: ${details.message}\n`);
    return 1;
  }
}
