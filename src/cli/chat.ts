import { parseArgs } from 'node:util';
import { lastValueFrom, tap } from 'rxjs';
import { isRxllmError } from '../core/errors.js';
import type { LlmEvent } from '../core/events.js';
import type { LlmRequest } from '../core/request.js';
import { withMiddleware, type Middleware, type Transport } from '../core/transport.js';
import { retry } from '../middleware/retry.js';
import { timeouts } from '../middleware/timeouts.js';
import { result } from '../operators/result.js';
import { openEndpoint } from './openEndpoint.js';

const HELP = `rxllm chat [options] PROMPT

Streams one answer to stdout as it arrives.

Options:
  --base-url URL       API root (default: $OPENAI_BASE_URL, else https://api.openai.com/v1 with
                       an API key, else the built-in simulator)
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
  const numbers: Partial<Record<'max-tokens' | 'retries' | 'first-token-timeout' | 'idle-timeout' | 'total-timeout', number>> = {};
  for (const [flag, min] of [['max-tokens', 1], ['retries', 0], ['first-token-timeout', 1], ['idle-timeout', 1], ['total-timeout', 1]] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      io.stderr.write(`rxllm chat: --${flag} must be an integer ≥ ${min}, got "${raw}"\n`);
      return 2;
    }
    numbers[flag] = value;
  }
  const maxTokens = numbers['max-tokens'];
  if (values.transport !== 'sse' && values.transport !== 'openai') {
    io.stderr.write(`rxllm chat: --transport must be sse or openai, got "${values.transport}"\n`);
    return 2;
  }

  const request: LlmRequest = {
    model: values.model,
    messages: [...(values.system ? [{ role: 'system' as const, content: values.system }] : []), { role: 'user', content: prompt }],
    ...(maxTokens === undefined ? {} : { max_tokens: maxTokens }),
  };
  const baseURL = values['base-url'] ?? io.env['OPENAI_BASE_URL'];
  const apiKey = values['api-key'] ?? io.env['OPENAI_API_KEY'];
  // Neither a base URL nor a key: the built-in simulator answers, over real HTTP.
  const endpoint = await openEndpoint({ ...(baseURL ? { baseURL } : {}), ...(apiKey ? { apiKey } : {}), transport: values.transport });
  try {
    return await stream(withFlags(endpoint.transport, numbers, io), request, values.json, io);
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

async function stream(transport: Transport, request: LlmRequest, json: boolean, io: ChatIo): Promise<number> {
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
    else io.stderr.write(`\nrxllm chat: ${details.code}: ${details.message}\n`);
    return 1;
  }
}
