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

// `system` and `developer` messages have one shape (LlmInstructionMessage), each role its own
// option of the union, as in the type.
const instructionMessage = <Role extends 'system' | 'developer'>(role: Role) =>
  s.looseObject({ role: s.literal(role), content: textContent, name: s.string().optional() });

const message = s.discriminatedUnion('role', [
  instructionMessage('system'),
  instructionMessage('developer'),
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
  /** The model (or deployment) to ask. */
  model: string;
  /** The conversation so far, oldest first. At least one. */
  messages: LlmMessage[];
  /** The most tokens the answer may have (older name of `max_completion_tokens`). */
  max_tokens?: number | null;
  /** The most tokens the answer may have, reasoning tokens included. */
  max_completion_tokens?: number | null;
  /** Sampling temperature, 0 to 2: higher is more varied. */
  temperature?: number | null;
  /** Nucleus sampling: the probability mass the next token is drawn from, 0 to 1. */
  top_p?: number | null;
  /** Up to 4 sequences at which the answer stops. */
  stop?: string | string[] | null;
  /** How many answers to generate. */
  n?: number | null;
  /** A seed for best-effort deterministic sampling. */
  seed?: number | null;
  /** -2 to 2: positive values make repeating a token less likely the more often it appeared. */
  frequency_penalty?: number | null;
  /** -2 to 2: positive values make a token that appeared at all less likely. */
  presence_penalty?: number | null;
  /** Token id → bias (-100 to 100) added to its logit. */
  logit_bias?: Record<string, number> | null;
  /** Whether to return the log probabilities of the answer's tokens. */
  logprobs?: boolean | null;
  /** How many most likely tokens to return at each position, 0 to 20 (with `logprobs`). */
  top_logprobs?: number | null;
  /** Functions the model may call. */
  tools?: ({
    /** Always `function`. */
    type: 'function';
    /** The function. */
    function: {
      /** Its name, as the model will call it. */
      name: string;
      /** What it does, for the model to decide when to call it. */
      description?: string;
      /** Its parameters, as a JSON Schema object. */
      parameters?: Record<string, unknown>;
      /** Whether the model must follow `parameters` exactly (structured outputs). */
      strict?: boolean | null;
    } & Record<string, unknown>;
  } & Record<string, unknown>)[];
  /** Whether and which tool the model calls: `none`, `auto`, `required`, or one named function. */
  tool_choice?:
    | 'none'
    | 'auto'
    | 'required'
    | ({
        /** Always `function`. */
        type: 'function';
        /** The function the model must call. */
        function: {
          /** Its name. */
          name: string;
        } & Record<string, unknown>;
      } & Record<string, unknown>);
  /** Whether the model may call several tools in one turn. */
  parallel_tool_calls?: boolean;
  /** The answer's format: plain text, any JSON object, or JSON that follows a schema. */
  response_format?:
    | ({
        /** Plain text. */
        type: 'text';
      } & Record<string, unknown>)
    | ({
        /** Any JSON object. */
        type: 'json_object';
      } & Record<string, unknown>)
    | ({
        /** JSON that follows `json_schema.schema`. */
        type: 'json_schema';
        /** The schema to follow. */
        json_schema: {
          /** The schema's name. */
          name: string;
          /** What the answer is, for the model. */
          description?: string;
          /** The JSON Schema. */
          schema?: Record<string, unknown>;
          /** Whether the model must follow it exactly. */
          strict?: boolean | null;
        } & Record<string, unknown>;
      } & Record<string, unknown>);
  /** How much reasoning a reasoning model does (`low`, `medium`, `high`, or a server's own value). */
  reasoning_effort?: string | null;
  /** Whether the answer streams as Server-Sent Events. rxllm's transports stream unless this is `false`. */
  stream?: boolean | null;
  /** Options of a streamed answer. */
  stream_options?:
    | ({
        /** Whether a last chunk carries the token usage. */
        include_usage?: boolean;
      } & Record<string, unknown>)
    | null;
  /** A stable id of the end user, for the provider's abuse monitoring. */
  user?: string;
} & Record<string, unknown>;

/** A text part of a message's content (the only part type `system`, `developer` and `tool` messages take). */
export type LlmTextPart = {
  /** Always `text`. */
  type: 'text';
  /** The text. */
  text: string;
} & Record<string, unknown>;

/**
 * Instructions for the model: a `system` message, or a `developer` one (newer models' name for
 * `system`). The two have the same fields; `LlmInstructionMessage<'system'>` is the one role's
 * message, and {@link LlmMessage} lists each role as its own member, so narrowing on `role`
 * (or `Extract<LlmMessage, { role: 'system' }>`) gives the one role.
 *
 * @typeParam Role - `'system'`, `'developer'`, or (the default) either.
 */
export type LlmInstructionMessage<Role extends 'system' | 'developer' = 'system' | 'developer'> = {
  /** `system`, or `developer`. */
  role: Role;
  /** The message's text: a string, or text parts. */
  content: string | LlmTextPart[];
  /** A name for the participant. */
  name?: string;
} & Record<string, unknown>;

/** One chat message of any role. */
export type LlmMessage =
  | LlmInstructionMessage<'system'>
  | LlmInstructionMessage<'developer'>
  | ({
      /** The user's message. */
      role: 'user';
      /** A string, or parts: text, images, audio, files (and a server's own part types). */
      content:
        | string
        | (
            | LlmTextPart
            | ({
                /** An image part. */
                type: 'image_url';
                /** The image: an `https:` or `data:` URL, and the resolution the model sees it at. */
                image_url: { url: string; detail?: 'auto' | 'low' | 'high' } & Record<string, unknown>;
              } & Record<string, unknown>)
            | ({
                /** An audio part. */
                type: 'input_audio';
                /** The audio: base64 `data` and its `format` (`wav`, `mp3`). */
                input_audio: { data: string; format: string } & Record<string, unknown>;
              } & Record<string, unknown>)
            | ({
                /** A file part. */
                type: 'file';
                /** The file: inline base64 `file_data`, or an uploaded file's `file_id`, and its `filename`. */
                file: { file_data?: string; file_id?: string; filename?: string } & Record<string, unknown>;
              } & Record<string, unknown>)
          )[];
      /** A name for the participant. */
      name?: string;
    } & Record<string, unknown>)
  | ({
      /** A previous answer of the model, for multi-turn conversations. */
      role: 'assistant';
      /** Its text: a string, or text and refusal parts; null or absent with `tool_calls`. */
      content?:
        | string
        | (
            | LlmTextPart
            | ({
                /** A refusal part. */
                type: 'refusal';
                /** The refusal message. */
                refusal: string;
              } & Record<string, unknown>)
          )[]
        | null;
      /** Its refusal message, if it refused. */
      refusal?: string | null;
      /** A name for the participant. */
      name?: string;
      /** The tool calls it made. */
      tool_calls?: ({
        /** The call's id, which the `tool` message answering it names in `tool_call_id`. */
        id: string;
        /** Always `function`. */
        type: 'function';
        /** The function called. */
        function: {
          /** The function's name. */
          name: string;
          /** Its arguments, as JSON text. */
          arguments: string;
        } & Record<string, unknown>;
      } & Record<string, unknown>)[];
      /** The legacy function call it made (before `tool_calls`). */
      function_call?:
        | ({
            /** The function's name. */
            name: string;
            /** Its arguments, as JSON text. */
            arguments: string;
          } & Record<string, unknown>)
        | null;
    } & Record<string, unknown>)
  | ({
      /** A tool's result. */
      role: 'tool';
      /** The result: a string, or text parts. */
      content: string | LlmTextPart[];
      /** The id of the tool call it answers. */
      tool_call_id: string;
    } & Record<string, unknown>)
  | ({
      /** A legacy function's result (before tools). */
      role: 'function';
      /** The result. */
      content: string | null;
      /** The function's name. */
      name: string;
    } & Record<string, unknown>);

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

/**
 * Validates a request a transport is about to send, and returns it: like {@link parseRequest}
 * (the same errors; a request it returned is a lookup), but a request checked here is neither
 * copied nor remembered, since nothing below a transport validates it again. Saves a copy and a
 * `WeakSet` entry per request on the wire (about a quarter of the validation's cost).
 * @internal
 */
export function checkRequestToSend(input: unknown): LlmRequest {
  if (typeof input === 'object' && input !== null && validated.has(input)) return input as LlmRequest;
  const issues: s.Issue[] = [];
  const request = requestSchema.run(input, [], issues);
  if (issues.length === 0) return request;
  return parseRequest(input); // throws the invalid-request error, worded in one place
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((part) => String(part)).join('.');
}
