import { z } from 'zod';
import { RxllmError } from './errors.js';

// Every object schema is loose: unknown vendor fields (Azure data_sources, vLLM guided_json,
// OpenRouter provider, ...) pass through to the wire untouched.

const textPart = z.looseObject({
  /** A text part. */
  type: z.literal('text'),
  /** The text. */
  text: z.string(),
});
const imagePart = z.looseObject({
  /** An image part. */
  type: z.literal('image_url'),
  /** The image. */
  image_url: z.looseObject({
    /** An `https:` URL or a `data:` URL with the image. */
    url: z.string(),
    /** The resolution the model sees it at. */
    detail: z.enum(['auto', 'low', 'high']).optional(),
  }),
});
const audioPart = z.looseObject({
  /** An audio part. */
  type: z.literal('input_audio'),
  /** The audio. */
  input_audio: z.looseObject({
    /** Base64-encoded audio. */
    data: z.string(),
    /** Its format (`wav`, `mp3`). */
    format: z.string(),
  }),
});
const filePart = z.looseObject({
  /** A file part. */
  type: z.literal('file'),
  /** The file: inline data or an uploaded file's id. */
  file: z.looseObject({
    /** Base64-encoded file content (a `data:` URL). */
    file_data: z.string().optional(),
    /** The id of a file uploaded to the provider. */
    file_id: z.string().optional(),
    /** The file's name, shown to the model. */
    filename: z.string().optional(),
  }),
});
const refusalPart = z.looseObject({
  /** A refusal part (assistant messages). */
  type: z.literal('refusal'),
  /** The refusal message. */
  refusal: z.string(),
});

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
  /** The call's id, which the `tool` message answering it names in `tool_call_id`. */
  id: z.string(),
  /** Always `function`. */
  type: z.literal('function'),
  /** The function called. */
  function: z.looseObject({
    /** The function's name. */
    name: z.string(),
    /** Its arguments, as JSON text. */
    arguments: z.string(),
  }),
});

const message = z.discriminatedUnion('role', [
  z.looseObject({
    /** Instructions for the model. */
    role: z.literal('system'),
    /** The message's text: a string, or text parts. */
    content: textContent,
    /** A name for the participant. */
    name: z.string().optional(),
  }),
  z.looseObject({
    /** Instructions for the model (newer models' name for `system`). */
    role: z.literal('developer'),
    /** The message's text: a string, or text parts. */
    content: textContent,
    /** A name for the participant. */
    name: z.string().optional(),
  }),
  z.looseObject({
    /** The user's message. */
    role: z.literal('user'),
    /** A string, or parts: text, images, audio, files (and a server's own part types). */
    content: userContent,
    /** A name for the participant. */
    name: z.string().optional(),
  }),
  z.looseObject({
    /** A previous answer of the model, for multi-turn conversations. */
    role: z.literal('assistant'),
    /** Its text: a string, or text and refusal parts; null or absent with `tool_calls`. */
    content: z.union([z.string(), z.array(z.discriminatedUnion('type', [textPart, refusalPart]))]).nullable().optional(),
    /** Its refusal message, if it refused. */
    refusal: z.string().nullable().optional(),
    /** A name for the participant. */
    name: z.string().optional(),
    /** The tool calls it made. */
    tool_calls: z.array(toolCall).optional(),
    /** The legacy function call it made (before `tool_calls`). */
    function_call: z
      .looseObject({
        /** The function's name. */
        name: z.string(),
        /** Its arguments, as JSON text. */
        arguments: z.string(),
      })
      .nullable()
      .optional(),
  }),
  z.looseObject({
    /** A tool's result. */
    role: z.literal('tool'),
    /** The result, as text. */
    content: textContent,
    /** The `id` of the assistant's tool call this answers. */
    tool_call_id: z.string(),
  }),
  z.looseObject({
    /** A legacy function's result (before tools). */
    role: z.literal('function'),
    /** The result, as text. */
    content: z.string().nullable(),
    /** The function's name. */
    name: z.string(),
  }),
]);

const tool = z.looseObject({
  /** Always `function`. */
  type: z.literal('function'),
  /** The function the model may call. */
  function: z.looseObject({
    /** Its name. */
    name: z.string().min(1),
    /** What it does, for the model. */
    description: z.string().optional(),
    /** Its arguments, as a JSON schema. */
    parameters: z.record(z.string(), z.unknown()).optional(),
    /** Whether the model must follow `parameters` exactly (structured outputs). */
    strict: z.boolean().nullable().optional(),
  }),
});

const toolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({
    /** Call one function. */
    type: z.literal('function'),
    /** Which one. */
    function: z.looseObject({
      /** Its name. */
      name: z.string(),
    }),
  }),
]);

const responseFormat = z.discriminatedUnion('type', [
  z.looseObject({
    /** Free text (the default). */
    type: z.literal('text'),
  }),
  z.looseObject({
    /** Any valid JSON object. */
    type: z.literal('json_object'),
  }),
  z.looseObject({
    /** JSON that matches `json_schema.schema`. */
    type: z.literal('json_schema'),
    /** The schema the answer must match. */
    json_schema: z.looseObject({
      /** The schema's name. */
      name: z.string().min(1),
      /** What the answer is, for the model. */
      description: z.string().optional(),
      /** The JSON schema. */
      schema: z.record(z.string(), z.unknown()).optional(),
      /** Whether the provider enforces the schema exactly (structured outputs). */
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
  /** The model (or deployment) to ask: `gpt-4o-mini`, or a tier name that `route()` resolves. */
  model: z.string().min(1),
  /** The conversation so far, at least one message. */
  messages: z.array(message).min(1),
  /** The most tokens the answer may have (legacy name; reasoning models take `max_completion_tokens`). */
  max_tokens: positiveInt.nullable().optional(),
  /** The most tokens the answer may have, reasoning tokens included. */
  max_completion_tokens: positiveInt.nullable().optional(),
  /** Sampling temperature, 0 to 2: lower is more deterministic. */
  temperature: z.number().min(0).max(2).nullable().optional(),
  /** Nucleus sampling: only the tokens within this probability mass, 0 to 1. */
  top_p: z.number().min(0).max(1).nullable().optional(),
  // No count limit: OpenAI takes 4 stop sequences, vLLM and llama.cpp take more; each server enforces its own.
  /** Sequences at which the model stops (not included in the answer). */
  stop: z.union([z.string(), z.array(z.string())]).nullable().optional(),
  /** How many answers (choices) to generate; events carry their `choice` index. */
  n: positiveInt.nullable().optional(),
  /** Asks the provider for reproducible sampling, where it supports it. */
  seed: z.number().int().nullable().optional(),
  /** Penalises tokens by how often they already appeared, -2 to 2. */
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  /** Penalises tokens that already appeared at all, -2 to 2. */
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  /** Biases by token id, -100 to 100. */
  logit_bias: z.record(z.string(), z.number()).nullable().optional(),
  /** Asks for the log probabilities of the answer's tokens. */
  logprobs: z.boolean().nullable().optional(),
  /** How many most likely alternatives to report per token (with `logprobs`), 0 to 20. */
  top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  /** Functions the model may call. */
  tools: z.array(tool).optional(),
  /** Whether the model must, may or must not call a tool: `auto`, `none`, `required`, or one function. */
  tool_choice: toolChoice.optional(),
  /** Whether the model may make several tool calls in one answer. */
  parallel_tool_calls: z.boolean().optional(),
  /** The answer's format: text, any JSON object, or JSON matching a schema (`step({ output })` sets it). */
  response_format: responseFormat.optional(),
  /** How much a reasoning model thinks before answering (`low`, `medium`, `high`). */
  reasoning_effort: z.string().nullable().optional(),
  /** `false` asks for one non-streamed response (it becomes the same events); otherwise the transports stream. Not part of the cache key. */
  stream: z.boolean().nullable().optional(),
  /** Streaming options: `include_usage` asks for a final usage chunk. */
  stream_options: z
    .looseObject({
      /** Ask for a usage chunk after the last choice finished. */
      include_usage: z.boolean().optional(),
    })
    .nullable()
    .optional(),
  /** An id of your end user, for the provider's abuse monitoring (part of the cache key). */
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
