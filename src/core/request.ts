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

/** An OpenAI chat-completions request. Vendor-specific fields are allowed and passed through. */
export type LlmRequest = s.Infer<typeof requestSchema>;

/**
 * The schema of an OpenAI chat-completions request, as rxllm validates it, as a Standard Schema
 * v1 validator (`llmRequestSchema['~standard'].validate(value)`), so it plugs into any library
 * that takes one (a form or route validator). Unknown fields (vendor extensions) are kept and sent
 * as they are. To validate and throw rxllm's `invalid-request` error, use {@link parseRequest}.
 */
export const llmRequestSchema: StandardSchemaV1<unknown, LlmRequest> = requestSchema;
/** One chat message of any role. */
export type LlmMessage = LlmRequest['messages'][number];

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
    validated.add(parsed.data);
    return parsed.data;
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
