import { z } from 'zod';
import { RxllmError } from './errors.js';

// Every object schema is loose: unknown vendor fields (Azure data_sources, vLLM guided_json,
// OpenRouter provider, ...) pass through to the wire untouched.

const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.looseObject({
  type: z.literal('image_url'),
  image_url: z.looseObject({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() }),
});
const audioPart = z.looseObject({
  type: z.literal('input_audio'),
  input_audio: z.looseObject({ data: z.string(), format: z.string() }),
});
const filePart = z.looseObject({
  type: z.literal('file'),
  file: z.looseObject({ file_data: z.string().optional(), file_id: z.string().optional(), filename: z.string().optional() }),
});
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

const userPart = z.discriminatedUnion('type', [textPart, imagePart, audioPart, filePart]);
const knownUserPartTypes: readonly string[] = ['text', 'image_url', 'input_audio', 'file'];
// Servers add part types of their own (vLLM's video_url and audio_url): a part of any other
// `type` passes through, like any vendor field. The static type names the OpenAI parts only,
// so code that narrows on `part.type` keeps working.
const vendorPart = z.looseObject({
  type: z.string().refine((type) => !knownUserPartTypes.includes(type), { message: 'Invalid content part', abort: true }),
});
const userContent = z.union([z.string(), z.array(z.union([userPart, vendorPart]))]) as unknown as z.ZodUnion<
  [z.ZodString, z.ZodArray<typeof userPart>]
>;
const textContent = z.union([z.string(), z.array(textPart)]);

const toolCall = z.looseObject({
  id: z.string(),
  type: z.literal('function'),
  function: z.looseObject({ name: z.string(), arguments: z.string() }),
});

const message = z.discriminatedUnion('role', [
  z.looseObject({ role: z.literal('system'), content: textContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal('developer'), content: textContent, name: z.string().optional() }),
  z.looseObject({ role: z.literal('user'), content: userContent, name: z.string().optional() }),
  z.looseObject({
    role: z.literal('assistant'),
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))]).nullable().optional(),
    refusal: z.string().nullable().optional(),
    name: z.string().optional(),
    tool_calls: z.array(toolCall).optional(),
    function_call: z.looseObject({ name: z.string(), arguments: z.string() }).nullable().optional(),
  }),
  z.looseObject({ role: z.literal('tool'), content: textContent, tool_call_id: z.string() }),
  z.looseObject({ role: z.literal('function'), content: z.string().nullable(), name: z.string() }),
]);

const tool = z.looseObject({
  type: z.literal('function'),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: z.string() }) }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    json_schema: z.looseObject({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullable().optional(),
    }),
  }),
]);

const positiveInt = z.number().int().positive();

/**
 * The zod schema of an OpenAI chat-completions request, as rxllm validates it.
 * Unknown fields (vendor extensions) are kept and sent as they are.
 */
export const llmRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(message).min(1),
  max_tokens: positiveInt.nullable().optional(),
  max_completion_tokens: positiveInt.nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  // No count limit: OpenAI takes 4 stop sequences, vLLM and llama.cpp take more; each server enforces its own.
  stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
  n: positiveInt.nullable().optional(),
  seed: z.number().int().nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  logprobs: z.boolean().nullable().optional(),
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormat.optional(),
  reasoning_effort: z.string().nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  user: z.string().optional(),
});

/** An OpenAI chat-completions request. Vendor-specific fields are allowed and passed through. */
export type LlmRequest = z.infer<typeof llmRequestSchema>;
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
  const parsed = llmRequestSchema.safeParse(input);
  if (parsed.success) {
    validated.add(parsed.data);
    return parsed.data;
  }
  const issues = parsed.error.issues.flatMap((issue) => specific(issue, []));
  const first = issues[0];
  const path = first ? formatPath(first.path) : '';
  const lines = issues.map((issue) => `  at ${formatPath(issue.path) || '(request)'}: ${issue.message}`);
  throw new RxllmError(
    'invalid-request',
    `Invalid chat request; fix these fields before sending:\n${lines.join('\n')}`,
    { path, cause: parsed.error },
  );
}

interface Problem {
  path: readonly PropertyKey[];
  message: string;
}

/**
 * The problems behind one zod issue, located as precisely as possible. A union (content that
 * is a string or an array of parts) reports only "Invalid input" at its own path; the branch
 * that got furthest into the value says what is actually wrong, and where.
 */
function specific(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): Problem[] {
  const path = [...prefix, ...issue.path];
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [{ path, message: issue.message }];
  let best: Problem[] | undefined;
  let bestDepth = 0;
  for (const branch of issue.errors) {
    const problems = branch.flatMap((inner) => specific(inner, path));
    const depth = Math.max(...problems.map((problem) => problem.path.length)) - path.length;
    if (depth > bestDepth) {
      best = problems;
      bestDepth = depth;
    }
  }
  if (best) return best;
  // Every branch failed on the value itself: say which types would do.
  const expected = issue.errors.flatMap((branch) => branch.flatMap((inner) => (inner.code === 'invalid_type' ? [inner.expected] : [])));
  const received = /received (\w+)/.exec(issue.errors[0]?.[0]?.message ?? '')?.[1];
  return expected.length === issue.errors.length
    ? [{ path, message: `Invalid input: expected ${[...new Set(expected)].join(' or ')}${received ? `, received ${received}` : ''}` }]
    : [{ path, message: issue.message }];
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part)).join('.');
}
