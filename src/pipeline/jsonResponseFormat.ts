import type { StandardSchemaV1 } from '@standard-schema/spec';
import { RxllmError } from '../core/errors.js';
import type { LlmMessage, LlmRequest } from '../core/request.js';
import { libraryJsonSchema } from '../internal/standardSchema.js';
import type { RootShape } from '../operators/parse.js';

/** How a step asks for its structured answer, and how the answer's root is to be read. */
export interface JsonResponseFormat {
  responseFormat: NonNullable<LlmRequest['response_format']>;
  /**
   * `'wrapped'` when the schema's root is not an object, so it is asked for as `{ "value": ... }`
   * (see `answerParser`); `'object'` when it is; `'unknown'` when no JSON Schema says which.
   */
  root: RootShape;
  /**
   * A message to add after the request's messages when no JSON Schema could be sent
   * (`json_object` mode): it asks for JSON in words, which that mode requires.
   */
  instruction?: LlmMessage;
}

/**
 * Builds the response format for a step's output schema, once, when the step is built.
 * The JSON Schema is `jsonSchema` when the user passes one, else the one the schema's library
 * produces (`~standard.jsonSchema`: zod 4); an unrepresentable schema (`z.date()`, a
 * transform, ...) is an `invalid-config` error then, not a failed request later. A library that
 * produces none (zod 3, valibot) gets `json_object` mode and an instruction in the prompt; its
 * validator still checks the answer.
 * @internal
 */
export function jsonResponseFormat(step: string, schema: StandardSchemaV1, jsonSchema?: Record<string, unknown>): JsonResponseFormat {
  let produced: Record<string, unknown> | undefined = jsonSchema;
  if (produced === undefined) {
    try {
      produced = libraryJsonSchema(schema, 'output');
    } catch (error) {
      throw new RxllmError(
        'invalid-config',
        `step "${step}": its output schema cannot be expressed as JSON Schema (${(error as Error).message}). ` +
          `Use JSON types (string, number, boolean, enum, object, array) and convert afterwards, or pass the JSON Schema as the step's \`jsonSchema\` option.`,
        { cause: error },
      );
    }
  } else {
    const { $schema: _dialect, ...rest } = produced;
    produced = rest;
  }
  if (produced === undefined) {
    return {
      responseFormat: { type: 'json_object' },
      root: 'unknown',
      instruction: {
        role: 'system',
        content:
          'Reply with only a JSON object, no other text. ' +
          'If the answer is not itself an object (a label, a number, a list), reply {"value": <the answer>}.',
      },
    };
  }
  // OpenAI rejects a response_format whose root is not an object, so a bare
  // enum or string is asked for as { "value": ... } and unwrapped when parsed.
  const wrapped = produced['type'] !== 'object';
  const schemaToSend = wrapped
    ? { type: 'object', properties: { value: produced }, required: ['value'], additionalProperties: false }
    : produced;
  return {
    responseFormat: {
      type: 'json_schema',
      json_schema: { name: step.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'output', schema: schemaToSend },
    },
    root: wrapped ? 'wrapped' : 'object',
  };
}
