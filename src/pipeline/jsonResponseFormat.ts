import { z } from 'zod';
import { RxllmError } from '../core/errors.js';
import type { LlmRequest } from '../core/request.js';

/** The `response_format` a step asks for, and whether the schema had to be wrapped in `{ value }`. */
export interface JsonResponseFormat {
  responseFormat: NonNullable<LlmRequest['response_format']>;
  /** True when the schema's root is not an object, so it is asked for as `{ "value": ... }` (see `answerParser`). */
  wrapped: boolean;
}

/**
 * Builds the JSON-schema response format for a step's output schema, once,
 * when the step is built; an unrepresentable schema (`z.date()`, a transform,
 * ...) is an `invalid-config` error then, not a failed request later.
 * @internal
 */
export function jsonResponseFormat(step: string, schema: z.ZodType): JsonResponseFormat {
  let jsonSchema: Record<string, unknown>;
  try {
    const { $schema: _dialect, ...rest } = z.toJSONSchema(schema) as Record<string, unknown>;
    jsonSchema = rest;
  } catch (error) {
    throw new RxllmError(
      'invalid-config',
      `step "${step}": its output schema cannot be expressed as JSON Schema (${(error as Error).message}). ` +
        `Use JSON types (string, number, boolean, enum, object, array) and convert afterwards.`,
      { cause: error },
    );
  }
  // OpenAI rejects a response_format whose root is not an object, so a bare
  // enum or string is asked for as { "value": ... } and unwrapped when parsed.
  const wrapped = jsonSchema['type'] !== 'object';
  const schemaToSend = wrapped
    ? { type: 'object', properties: { value: jsonSchema }, required: ['value'], additionalProperties: false }
    : jsonSchema;
  return {
    responseFormat: {
      type: 'json_schema',
      json_schema: { name: step.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'output', schema: schemaToSend },
    },
    wrapped,
  };
}
