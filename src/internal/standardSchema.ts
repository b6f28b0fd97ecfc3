import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import { prettify } from './check.js';

/*
 * What rxllm needs from a user's schema, through the Standard Schema v1 interface (zod ≥ 3.24,
 * zod 4, valibot, arktype, ...) rather than through any one library: so no schema library is
 * imported here, and a user's zod 3 schema works as well as a zod 4 one.
 */

/** True when `value` implements Standard Schema v1 (`value['~standard'].validate`, version 1). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return typeof props === 'object' && props !== null && props.version === 1 && typeof props.validate === 'function';
}

/**
 * The JSON Schema the library itself produces for a schema (the Standard JSON Schema interface,
 * `~standard.jsonSchema`, which zod ≥ 4.2 implements), without its `$schema` dialect line;
 * `undefined` when the library offers none (zod 3, valibot without `@valibot/to-json-schema`).
 * `io`: the output type (what the answer is checked against once parsed) or the input type (what
 * the model must write). Throws what the library throws for an unrepresentable schema, unless
 * `lenient`, when zod is told to put `{}` in its place (parsing needs no exact JSON Schema).
 */
export function libraryJsonSchema(schema: StandardSchemaV1, io: 'input' | 'output', lenient = false): Record<string, unknown> | undefined {
  const converter = (schema['~standard'] as Partial<StandardJSONSchemaV1.Props>).jsonSchema;
  const convert = converter?.[io];
  if (typeof convert !== 'function') return undefined;
  const options: StandardJSONSchemaV1.Options = {
    target: 'draft-2020-12',
    ...(lenient ? { libraryOptions: { unrepresentable: 'any' } } : {}),
  };
  const { $schema: _dialect, ...rest } = convert(options);
  return rest;
}

/** The outcome of {@link validateStandard}: the value, or the library's issues. */
export type Validated<O> = { ok: true; value: O } | { ok: false; issues: readonly StandardSchemaV1.Issue[] };

/**
 * Validates through `~standard.validate`. Synchronous when the library answers synchronously (zod,
 * valibot without async checks), so a step stays exact in virtual time; a Promise otherwise.
 */
export function validateStandard<O>(schema: StandardSchemaV1<unknown, O>, value: unknown): Validated<O> | Promise<Validated<O>> {
  const result = schema['~standard'].validate(value);
  return result instanceof Promise ? result.then(outcome) : outcome(result);
}

function outcome<O>(result: StandardSchemaV1.Result<O>): Validated<O> {
  return result.issues ? { ok: false, issues: result.issues } : { ok: true, value: result.value };
}

/**
 * Issues as lines, one `✖ message` per issue with `  → at path` under it (the layout of zod's
 * `prettifyError`, for any library's issues).
 */
export function formatIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  return prettify(
    issues.map((issue) => ({
      code: 'custom' as const,
      message: issue.message,
      path: (issue.path ?? []).map((segment) => (typeof segment === 'object' ? segment.key : segment)),
    })),
  );
}

/**
 * The labels of an enum-like schema (zod's `z.enum`, valibot's `picklist`, both expose `options`;
 * or a JSON Schema `enum`), so a bare label answer can be matched; `undefined` for anything else.
 */
export function enumOptions(schema: StandardSchemaV1, jsonSchema: Record<string, unknown> | undefined): readonly unknown[] | undefined {
  const options = (schema as { options?: unknown }).options;
  const labels = Array.isArray(options) ? options : jsonSchema?.['enum'];
  if (!Array.isArray(labels) || labels.length === 0) return undefined;
  return labels.every((label) => typeof label === 'string' || typeof label === 'number') ? labels : undefined;
}
