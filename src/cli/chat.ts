import { parseArgs } from 'node:util';
import { lastValueFrom, tap } from 'rxjs';
import { isRxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { withMiddleware, type Middleware, type Transport } from '../core/transport.js';
import { retry } from '../middleware/retry.js';
import { timeouts } from '../middleware/timeouts.js';
import { result } from '../operators/result.js';
import { endpointConfig, openEndpoint, type Endpoint, type OpenEndpointConfig } from './openEndpoint.js';
import { failureMessage } from './failureMessage.js';
import { describeParseError, usageError } from './usageError.js';

const HELP = `rxllm chat [options] PROMPT

Streams one answer to stdout as it arrives.

Options:
  --base-url URL       API root (default: $OPENAI_BASE_URL, a keyless local server when no key
                       is set; else https://api.openai.com/v1 with an API key; else the
                       built-in simulator, which says so on stderr)
  --api-key KEY        API key (default: $OPENAI_API_KEY)
  --model M            model name (default: gpt-4o-mini)
  --transport T        sse (fetch + eventsource-parser, default) or openai (the official SDK)
  --max-tokens N       cap the answer's length
  --system TEXT        a system message before the prompt
  --json               one JSON line per event, then a result (or error) line
  --retries N          retry failures before the first token (429 honouring retry-after, 5xx, lost connection)
  --first-token-timeout MS   fail (and retry, with --retries) when no token arrives within MS
  --idle-timeout MS    fail when the stream goes quiet for MS after its first token
  --total-timeout MS   fail when the whole answer takes longer than MS
  -h, --help           this text
`;

/** Where `rxllm chat` writes; tests pass their own. */
export interface ChatIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
  /** Loads the `openai` SDK for `--transport openai`; tests pass one that fails. */
  loadOpenai?: OpenEndpointConfig['loadOpenai'];
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
        retries: { type: 'string' },
        'first-token-timeout': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'total-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    return usageError(io, 'chat', HELP, describeParseError(error));
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const prompt = positionals.join(' ').trim();
  if (!prompt) {
    return usageError(io, 'chat', HELP, 'give a prompt, e.g. rxllm chat "Say hello"');
  }
  const numbers: Partial<Record<'max-tokens' | 'retries' | 'first-token-timeout' | 'idle-timeout' | 'total-timeout', number>> = {};
  for (const [flag, min] of [['max-tokens', 1], ['retries', 0], ['first-token-timeout', 1], ['idle-timeout', 1], ['total-timeout', 1]] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      return usageError(io, 'chat', HELP, `--${flag} must be an integer ≥ ${min}, got "${raw}"`);
    }
    numbers[flag] = value;
  }
  const maxTokens = numbers['max-tokens'];
  if (values.transport !== 'sse' && values.transport !== 'openai') {
    return usageError(io, 'chat', HELP, `--transport must be sse or openai, got "${values.transport}"`);
  }

  const request: LlmRequest = {
    model: values.model,
    messages: [...(values.system ? [{ role: 'system' as const, content: values.system }] : []), { role: 'user', content: prompt }],
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
  };
  // The demo's rule: a base URL (keyless or not), else a key (OpenAI), else the built-in simulator over real HTTP.
  const config = endpointConfig(io.env, { baseURL: values['base-url'], apiKey: values['api-key'] });
  let endpoint: Endpoint;
  try {
    endpoint = await openEndpoint({ ...config, transport: values.transport, ...(io.loadOpenai ? { loadOpenai: io.loadOpenai } : {}) });
  } catch (error) {
    // A missing optional peer, before anything was started: say what to install, and exit.
    io.stderr.write(`rxllm chat: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  if (endpoint.simulator) {
    // Once, on stderr: the answer on stdout stays clean, and nobody mistakes it for a model's.
    io.stderr.write(`rxllm chat: not a real model: ${endpoint.label} answers (set OPENAI_BASE_URL or OPENAI_API_KEY for one)\n`);
  }
  try {
    return await stream(withFlags(endpoint.transport, numbers, io), request, values.json, io, endpoint.label);
  } finally {
    await endpoint.close();
  }
}

/** The middleware the flags ask for: retry outside timeouts, so a first-token timeout is retried. */
function withFlags(
  transport: Transport,
  flags: Partial<Record<'retries' | 'first-token-timeout' | 'idle-timeout' | 'total-timeout', number>>,
  io: ChatIo,
): Transport {
  const limits = {
    ...(flags['first-token-timeout'] === undefined ? {} : { firstToken: flags['first-token-timeout'] }),
    ...(flags['idle-timeout'] === undefined ? {} : { idle: flags['idle-timeout'] }),
    ...(flags['total-timeout'] === undefined ? {} : { total: flags['total-timeout'] }),
  };
  const middleware: Middleware[] = [];
  if (flags.retries) {
    middleware.push(
      retry({
        maxRetries: flags.retries,
        onRetry: (info) => io.stderr.write(`rxllm chat: retry ${info.attempt} in ${Math.round(info.delayMs)} ms (${describeError(info.error)})\n`),
      }),
    );
  }
  if (Object.keys(limits).length > 0) middleware.push(timeouts(limits));
  return withMiddleware(transport, ...middleware);
}

function describeError(error: unknown): string {
  return isRxllmError(error) ? error.code : error instanceof Error ? error.message : String(error);
}

async function stream(transport: Transport, request: LlmRequest, json: boolean, io: ChatIo, endpoint: string): Promise<number> {
  const events = transport(request, { step: 'chat' }).pipe(
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
    else io.stderr.write(`\nrxllm chat: ${failureMessage(error, endpoint)}\n`);
    return 1;
  }
}
