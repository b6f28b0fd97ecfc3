import { z } from 'zod';
import { RxllmError } from '../core/errors.js';
import type { LlmRequest } from '../core/request.js';

/** What a step needs from its output schema: the request format to ask for, and the answer parser. */
export interface OutputFormat<O> {
  responseFormat: NonNullable<LlmRequest['response_format']>;
  /** Parses and validates an answer: the value, or zod's error (and whether the text was JSON at all). */
  parse(text: string): { ok: true; value: O } | { ok: false; error: z.ZodError; json: boolean };
}

/**
 * Builds the JSON-schema response format for a zod schema, once, when the step
 * is built; an unrepresentable schema (`z.date()`, a transform, ...) is an
 * `invalid-config` error then, not a failed request later.
 * @internal
 */
export function outputFormat<O>(step: string, schema: z.ZodType<O>): OutputFormat<O> {
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
  const options = schema instanceof z.ZodEnum ? (schema.options as readonly unknown[]) : undefined;

  return {
    responseFormat: {
      type: 'json_schema',
      json_schema: { name: step.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'output', schema: schemaToSend },
    },
    parse(text) {
      const body = unfence(text);
      const parsed = parseJson(body);
      const candidates: unknown[] = [];
      if (parsed.ok) {
        if (wrapped && isValueWrapper(parsed.value)) candidates.push(parsed.value.value);
        candidates.push(parsed.value);
      } else {
        candidates.push(body);
        // A bare label ("Positive." for z.enum(['positive', ...])) is a clear answer too.
        const label = matchLabel(body, options);
        if (label !== undefined) candidates.push(label);
      }
      let firstError: z.ZodError | undefined;
      for (const candidate of candidates) {
        const result = schema.safeParse(candidate);
        if (result.success) return { ok: true, value: result.data };
        firstError ??= result.error;
      }
      return { ok: false, error: firstError as z.ZodError, json: parsed.ok };
    },
  };
}

/** The text inside a ```json (or bare ```) fence, if the answer has one; else the trimmed text. */
function unfence(text: string): string {
  const fenced = /```[a-zA-Z0-9_-]*[ \t]*\r?\n?([\s\S]*?)```/.exec(text);
  return (fenced ? fenced[1]! : text).trim();
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

function isValueWrapper(value: unknown): value is { value: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && 'value' in value;
}

function matchLabel(text: string, options: readonly unknown[] | undefined): unknown {
  if (!options) return undefined;
  const bare = text.replace(/^["'`*\s]+|["'`*.!\s]+$/g, '').toLowerCase();
  return options.find((option) => String(option).toLowerCase() === bare);
}
