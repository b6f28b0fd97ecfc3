import type { StandardSchemaV1 } from '@standard-schema/spec';
import * as s from '../internal/check.js';
import { RxllmError } from './errors.js';

// Every object schema is loose: unknown vendor fields (Azure data_sources, vLLM guided_json,
// OpenRouter provider, ...) pass through to the wire untouched.

const textPart = s.looseObject({ type: s.literal('text'), text: s.string() });
const imagePart = s.looseObject({
  type: s.literal('image_url'),
  image_url: s.looseObject({ url: s.string(), detail: s.oneOf(['auto', 'low', 'high']).optional() }),
});
const audioPart = s.looseObject({
  type: s.literal('input_audio'),
  input_audio: s.looseObject({ data: s.string(), format: s.string() }),
});
const filePart = s.looseObject({
  type: s.literal('file'),
  file: s.looseObject({ file_data: s.string().optional(), file_id: s.string().optional(), filename: s.string().optional() }),
});
const refusalPart = s.looseObject({ type: s.literal('refusal'), refusal: s.string() });

const userPart = s.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);
const knownUserPartTypes: readonly string[] = ['text', 'image_url', 'input_audio', 'file'];
// Servers add part types of their own (vLLM's video_url and audio_url): a part of any other
// `type` passes through, like any vendor field. The static type names the OpenAI parts only,
// so code that narrows on `part.type` keeps working.
const vendorPart = s.looseObject({
  type: s.string().refine((type) => !knownUserPartTypes.includes(type), { message: 'Invalid content part', abort: true }),
});
const userContent = s.union([s.string(), s.array(s.union([userPart, vendorPart]))]) as unknown as s.Schema<
  string | s.Infer<typeof userPart>[]
>;
const textContent = s.union([s.string(), s.array(textPart)]);

const toolCall = s.looseObject({
  id: s.string(),
  type: s.literal('function'),
  function: s.looseObject({ name: s.string(), arguments: s.string() }),
});

const message = s.discriminatedUnion('role', [
  s.looseObject({ role: s.literal('system'), content: textContent, name: s.string().optional() }),
  s.looseObject({ role: s.literal('developer'), content: textContent, name: s.string().optional() }),
  s.looseObject({ role: s.literal('user'), content: userContent, name: s.string().optional() }),
  s.looseObject({
    role: s.literal('assistant'),
    content: s.union([s.string(), s.array(s.discriminatedUnion('type', [textPart, refusalPart]))]).nullable().optional(),
    refusal: s.string().nullable().optional(),
    name: s.string().optional(),
    tool_calls: s.array(toolCall).optional(),
    function_call: s.looseObject({ name: s.string(), arguments: s.string() }).nullable().optional(),
  }),
  s.looseObject({ role: s.literal('tool'), content: textContent, tool_call_id: s.string() }),
  s.looseObject({ role: s.literal('function'), content: s.string().nullable(), name: s.string() }),
]);

const tool = s.looseObject({
  type: s.literal('function'),
  function: s.looseObject({
    name: s.string().min(1),
    description: s.string().optional(),
    parameters: s.record(s.string(), s.unknown()).optional(),
    strict: s.boolean().nullable().optional(),
  }),
});

const toolChoice = s.union([
  s.oneOf(['none', 'auto', 'required']),
  s.looseObject({ type: s.literal('function'), function: s.looseObject({ name: s.string() }) }),
]);

const responseFormat = s.discriminatedUnion('type', [
  s.looseObject({ type: s.literal('text') }),
  s.looseObject({ type: s.literal('json_object') }),
  s.looseObject({
    type: s.literal('json_schema'),
    json_schema: s.looseObject({
      name: s.string().min(1),
      description: s.string().optional(),
      schema: s.record(s.string(), s.unknown()).optional(),
      strict: s.boolean().nullable().optional(),
    }),
  }),
]);

const positiveInt = s.number().int().positive();

const requestSchema = s.looseObject({
  model: s.string().min(1),
  messages: s.array(message).min(1),
  max_tokens: positiveInt.nullable().optional(),
  max_completion_tokens: positiveInt.nullable().optional(),
  temperature: s.number().min(0).max(2).nullable().optional(),
  top_p: s.number().min(0).max(1).nullable().optional(),
  // No count limit: OpenAI takes 4 stop sequences, vLLM and llama.cpp take more; each server enforces its own.
  stop: s.union([s.string(), s.array(s.string())]).nullable().optional(),
  n: positiveInt.nullable().optional(),
  seed: s.number().int().nullable().optional(),
  frequency_penalty: s.number().min(-2).max(2).nullable().optional(),
  presence_penalty: s.number().min(-2).max(2).nullable().optional(),
  logit_bias: s.record(s.string(), s.number()).nullable().optional(),
  logprobs: s.boolean().nullable().optional(),
  top_logprobs: s.number().int().min(0).max(20).nullable().optional(),
  tools: s.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: s.boolean().optional(),
  response_format: responseFormat.optional(),
  reasoning_effort: s.string().nullable().optional(),
  stream: s.boolean().nullable().optional(),
  stream_options: s.looseObject({ include_usage: s.boolean().optional() }).nullable().optional(),
  user: s.string().optional(),
});

/**
 * An OpenAI chat-completions request. Vendor-specific fields (Azure `data_sources`, vLLM
 * `guided_json`, OpenRouter `provider`, ...) are allowed at every level and passed through.
 */
export type LlmRequest = {
  model: string;
  /** At least one. */
  messages: LlmMessage[];
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  seed?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  tools?: ({
    type: 'function';
    function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null } & Record<string, unknown>;
  } & Record<string, unknown>)[];
  tool_choice?: 'none' | 'auto' | 'required' | ({ type: 'function'; function: { name: string } & Record<string, unknown> } & Record<string, unknown>);
  parallel_tool_calls?: boolean;
  response_format?:
    | ({ type: 'text' } & Record<string, unknown>)
    | ({ type: 'json_object' } & Record<string, unknown>)
    | ({
        type: 'json_schema';
        json_schema: { name: string; description?: string; schema?: Record<string, unknown>; strict?: boolean | null } & Record<string, unknown>;
      } & Record<string, unknown>);
  reasoning_effort?: string | null;
  stream?: boolean | null;
  stream_options?: ({ include_usage?: boolean } & Record<string, unknown>) | null;
  user?: string;
} & Record<string, unknown>;

/** One chat message of any role. */
export type LlmMessage =
  | ({ role: 'system'; content: string | ({ type: 'text'; text: string } & Record<string, unknown>)[]; name?: string } & Record<string, unknown>)
  | ({ role: 'developer'; content: string | ({ type: 'text'; text: string } & Record<string, unknown>)[]; name?: string } & Record<string, unknown>)
  | ({
      role: 'user';
      content:
        | string
        | (
            | ({ type: 'text'; text: string } & Record<string, unknown>)
            | ({ type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } & Record<string, unknown> } & Record<string, unknown>)
            | ({ type: 'input_audio'; input_audio: { data: string; format: string } & Record<string, unknown> } & Record<string, unknown>)
            | ({ type: 'file'; file: { file_data?: string; file_id?: string; filename?: string } & Record<string, unknown> } & Record<string, unknown>)
          )[];
      name?: string;
    } & Record<string, unknown>)
  | ({
      role: 'assistant';
      content?: string | (({ type: 'text'; text: string } & Record<string, unknown>) | ({ type: 'refusal'; refusal: string } & Record<string, unknown>))[] | null;
      refusal?: string | null;
      name?: string;
      tool_calls?: ({ id: string; type: 'function'; function: { name: string; arguments: string } & Record<string, unknown> } & Record<string, unknown>)[];
      function_call?: ({ name: string; arguments: string } & Record<string, unknown>) | null;
    } & Record<string, unknown>)
  | ({ role: 'tool'; content: string | ({ type: 'text'; text: string } & Record<string, unknown>)[]; tool_call_id: string } & Record<string, unknown>)
  | ({ role: 'function'; content: string | null; name: string } & Record<string, unknown>);

// The hand-written types above are what users read; these two lines make the compiler hold them
// to the schema, both ways, so neither can change without the other.
const schemaFitsType: s.Schema<LlmRequest> = requestSchema;
const typeFitsSchema = (request: LlmRequest): s.Infer<typeof requestSchema> => request;
void schemaFitsType;
void typeFitsSchema;

/**
 * The schema of an OpenAI chat-completions request, as rxllm validates it, as a Standard Schema
 * v1 validator (`llmRequestSchema['~standard'].validate(value)`), so it plugs into any library
 * that takes one (a form or route validator). Unknown fields (vendor extensions) are kept and sent
 * as they are. To validate and throw rxllm's `invalid-request` error, use {@link parseRequest}.
 */
export const llmRequestSchema: StandardSchemaV1<unknown, LlmRequest> = requestSchema;

/** Requests that passed {@link parseRequest}: validating one again is a lookup. */
const validated = new WeakSet<object>();

/**
 * Validates a request and returns it (with unknown fields kept). A request this function
 * returned is remembered, so validating it again (the transport under a middleware stack
 * that validated at its top) costs a `WeakSet` lookup.
 *
 * @throws {@link RxllmError} with code `invalid-request`, `path` set to the first
 * offending field (`"messages.0.role"`) and a message listing every problem.
 */
export function parseRequest(input: unknown): LlmRequest {
  if (typeof input === 'object' && input !== null && validated.has(input)) return input as LlmRequest;
  const parsed = requestSchema.safeParse(input);
  if (parsed.success) {
    // A copy is what is remembered (as zod's parse returned one): the caller's own object may
    // still be changed and sent again, and is then validated again.
    const request = { ...parsed.data };
    validated.add(request);
    return request;
  }
  const issues = parsed.error.issues;
  const path = issues[0] ? formatPath(issues[0].path) : '';
  const lines = issues.map((issue) => `  at ${formatPath(issue.path) || '(request)'}: ${issue.message}`);
  throw new RxllmError(
    'invalid-request',
    `Invalid chat request; fix these fields before sending:\n${lines.join('\n')}`,
    { path, cause: parsed.error },
  );
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part)).join('.');
}
