import type { StandardSchemaV1 } from '@standard-schema/spec';
import { concatMap, from, map, of, type OperatorFunction } from 'rxjs';
import { RxllmError } from '../core/errors.js';
import {
  enumOptions,
  formatIssues,
  isStandardSchema,
  libraryJsonSchema,
  validateStandard,
  type Validated,
} from '../internal/standardSchema.js';

/** Options for {@link parse}. */
export interface ParseConfig {
  /** The step whose answer the text is: named in the error message and set as the error's `step`. */
  step?: string;
}

/**
 * Validates a final answer text against a schema and emits the parsed value:
 * the same parsing and the same `invalid-output` error as a {@link step}
 * with an `output` schema, for answers you collect yourself.
 *
 * The schema is any Standard Schema v1 validator (zod 4, zod ≥ 3.24, valibot,
 * arktype, ...): the text is checked with its `~standard.validate`, and the
 * value emitted is the schema's output (transforms applied).
 *
 * ```text
 * texts:   --a--b--|          a: '{"title":"Rx"}'   b: 'Sure! Here it is'
 * result:  --x--#             x: { title: 'Rx' }    # invalid-output
 * ```
 *
 * The text may be JSON, JSON inside a ```json fence, or (for an enum:
 * `z.enum`, valibot's `picklist`) a bare label (`Positive.` for
 * `'positive'`); a lone `{ "value": ... }` wrapper (what a step asks the model
 * for when the schema's root is not an object) is unwrapped when the
 * unwrapped value matches.
 *
 * Emits one parsed value per text, in order (a validator that answers with a
 * Promise delays its value, and the texts after it wait); completes with the
 * source; errors with the source's error, or with an `invalid-output`
 * {@link RxllmError} for the first text that does not match (`raw` = the
 * text, `issues` = the library's issues, `step` = `config.step`);
 * unsubscribe unsubscribes the source. Cold.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `schema` is not a Standard Schema validator.
 *
 * @example
 * ```ts
 * const Summary = z.object({ title: z.string(), keywords: z.array(z.string()) });
 * const summary = await lastValueFrom(llm(request).pipe(text(), parse(Summary)));
 * ```
 * @see text
 * @see step
 */
export function parse<S extends StandardSchemaV1>(schema: S, config: ParseConfig = {}): OperatorFunction<string, StandardSchemaV1.InferOutput<S>> {
  if (!isStandardSchema(schema)) {
    throw new RxllmError(
      'invalid-config',
      `parse(): \`schema\` must be a Standard Schema validator (zod, valibot, arktype, ...), got ${describe(schema)}: parse(z.object({ ... })).`,
    );
  }
  type O = StandardSchemaV1.InferOutput<S>;
  const parseAnswer = answerParser(schema as StandardSchemaV1<unknown, O>, rootShape(schema));
  const settle = (text: string, parsed: ParsedAnswer<O>): O => {
    if (parsed.ok) return parsed.value;
    throw invalidOutput({ step: config.step, raw: text, issues: parsed.issues, json: parsed.json });
  };
  // concatMap over a synchronous `of` keeps a synchronous validator exact in virtual time.
  return concatMap((text) => {
    const parsed = parseAnswer(text);
    return parsed instanceof Promise ? from(parsed).pipe(map((result) => settle(text, result))) : of(settle(text, parsed));
  });
}

/** What {@link answerParser} makes of a text: the value, or the library's issues (and whether the text was JSON at all). */
export type ParsedAnswer<O> = { ok: true; value: O } | { ok: false; issues: readonly StandardSchemaV1.Issue[]; json: boolean };

/**
 * Whether the model was asked for `{ "value": ... }`: `'wrapped'` when the schema's root is
 * not an object (OpenAI requires an object root), `'object'` when it is, `'unknown'` when the
 * library gives no JSON Schema to tell (then both readings are tried).
 * @internal
 */
export type RootShape = 'object' | 'wrapped' | 'unknown';

/**
 * The schema's root shape, from the JSON Schema its library produces (lenient: transforms and
 * dates allowed, as parsing needs no exact JSON Schema).
 * @internal
 */
export function rootShape(schema: StandardSchemaV1): RootShape {
  try {
    const jsonSchema = libraryJsonSchema(schema, 'input', true);
    if (jsonSchema === undefined) return 'unknown';
    return jsonSchema['type'] === 'object' ? 'object' : 'wrapped';
  } catch {
    return 'unknown';
  }
}

/**
 * The answer parser {@link parse} and `step()` share. Tries, in order: the
 * value inside a lone `{ "value": ... }` wrapper (unless the root is known to
 * be an object), the JSON as is, and for text that is not JSON the text and
 * a bare enum label. The first match wins; a Promise when the validator answers with one.
 * @internal
 */
export function answerParser<O>(schema: StandardSchemaV1<unknown, O>, root: RootShape): (text: string) => ParsedAnswer<O> | Promise<ParsedAnswer<O>> {
  let options: readonly unknown[] | undefined;
  try {
    options = enumOptions(schema, libraryJsonSchema(schema, 'input', true));
  } catch {
    options = enumOptions(schema, undefined);
  }
  return (text) => {
    const body = unfence(text);
    const parsed = parseJson(body);
    const candidates: unknown[] = [];
    if (parsed.ok) {
      if (root !== 'object' && isValueWrapper(parsed.value)) candidates.push(parsed.value.value);
      candidates.push(parsed.value);
    } else {
      candidates.push(body);
      // A bare label ("Positive." for z.enum(['positive', ...])) is a clear answer too.
      const label = matchLabel(body, options);
      if (label !== undefined) candidates.push(label);
    }
    return firstMatch(schema, candidates, parsed.ok, root === 'unknown');
  };
}

/** Validates the candidates in turn, synchronously as long as the validator answers synchronously. */
function firstMatch<O>(
  schema: StandardSchemaV1<unknown, O>,
  candidates: readonly unknown[],
  json: boolean,
  deepest: boolean,
): ParsedAnswer<O> | Promise<ParsedAnswer<O>> {
  const failures: (readonly StandardSchemaV1.Issue[])[] = [];
  const next = (index: number): ParsedAnswer<O> | Promise<ParsedAnswer<O>> => {
    if (index === candidates.length) return { ok: false, issues: reported(failures, deepest), json };
    const check = (result: Validated<O>): ParsedAnswer<O> | Promise<ParsedAnswer<O>> => {
      if (result.ok) return { ok: true, value: result.value };
      failures.push(result.issues);
      return next(index + 1);
    };
    const result = validateStandard(schema, candidates[index]);
    return result instanceof Promise ? result.then(check) : check(result);
  };
  return next(0);
}

/**
 * Which candidate's issues to report: the first's; or, when the root shape is unknown (a
 * `{ value }` wrapper may be the answer or the wrapper the model was asked for), the ones that
 * got deepest into the value, which are about the reading the schema actually fits.
 */
function reported(failures: readonly (readonly StandardSchemaV1.Issue[])[], deepest: boolean): readonly StandardSchemaV1.Issue[] {
  if (!deepest) return failures[0]!;
  const depth = (issues: readonly StandardSchemaV1.Issue[]) => Math.max(0, ...issues.map((issue) => issue.path?.length ?? 0));
  return failures.reduce((best, issues) => (depth(issues) > depth(best) ? issues : best));
}

/**
 * The `invalid-output` error of {@link parse} and `step()`: the text, the
 * library's issues, and what to do. `reasks` (a step's) is mentioned when given.
 * @internal
 */
export function invalidOutput(details: { step: string | undefined; raw: string; issues: readonly StandardSchemaV1.Issue[]; json: boolean; reasks?: number }): RxllmError {
  const { step, raw, issues, json, reasks } = details;
  const subject = step === undefined ? 'the answer is' : `step "${step}" answered`;
  const what = json ? 'JSON that does not match its output schema' : 'text that is not JSON and does not match its output schema';
  const tries = !reasks ? '' : ` (after ${reasks} re-ask${reasks === 1 ? '' : 's'})`;
  const advice = reasks === undefined ? 'Make the prompt more explicit, or loosen the schema.' : 'Make the prompt more explicit, loosen the schema, or raise `reasks`.';
  return new RxllmError('invalid-output', `${subject} ${what}${tries}:\n${formatIssues(issues)}\nThe answer is in error.raw. ${advice}`, {
    raw,
    issues,
    ...(step === undefined ? {} : { step }),
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object' && typeof value !== 'function') return typeof value;
  return `${typeof value} without a "~standard" property (version 1, with validate())`;
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
