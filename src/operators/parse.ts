import { map, type OperatorFunction } from 'rxjs';
import { z } from 'zod';
import { RxllmError } from '../core/errors.js';

/** Options for {@link parse}. */
export interface ParseConfig {
  /** The step whose answer the text is: named in the error message and set as the error's `step`. */
  step?: string;
}

/**
 * Validates a final answer text against a zod schema and emits the parsed
 * value: the same parsing and the same `invalid-output` error as a
 * {@link step} with an `output` schema, for answers you collect yourself.
 *
 * ```text
 * texts:   --a--b--|          a: '{"title":"Rx"}'   b: 'Sure! Here it is'
 * result:  --x--#             x: { title: 'Rx' }    # invalid-output
 * ```
 *
 * The text may be JSON, JSON inside a ```json fence, or (for a `z.enum`) a
 * bare label (`Positive.` for `'positive'`); for a schema whose root is not
 * an object, a lone `{ "value": ... }` wrapper (what a step asks the model
 * for) is unwrapped.
 *
 * Emits one parsed value per text; completes with the source; errors with
 * the source's error, or with an `invalid-output` {@link RxllmError} for the
 * first text that does not match (`raw` = the text, `cause` = the `ZodError`,
 * `step` = `config.step`); unsubscribe unsubscribes the source. Cold.
 *
 * @throws {@link RxllmError} `invalid-config` at once when `schema` is not a zod schema.
 *
 * @example
 * ```ts
 * const Summary = z.object({ title: z.string(), keywords: z.array(z.string()) });
 * const summary = await lastValueFrom(llm(request).pipe(text(), parse(Summary)));
 * ```
 * @see text
 * @see step
 */
export function parse<S extends z.ZodType>(schema: S, config: ParseConfig = {}): OperatorFunction<string, z.output<S>> {
  if (!(schema instanceof z.ZodType)) {
    throw new RxllmError('invalid-config', `parse(): \`schema\` must be a zod schema, got ${typeof schema}: parse(z.object({ ... })).`);
  }
  const parseAnswer = answerParser(schema as z.ZodType<z.output<S>>, !hasObjectRoot(schema));
  return map((text) => {
    const parsed = parseAnswer(text);
    if (parsed.ok) return parsed.value;
    throw invalidOutput({ step: config.step, raw: text, error: parsed.error, json: parsed.json });
  });
}

/** What {@link answerParser} makes of a text: the value, or zod's error (and whether the text was JSON at all). */
export type ParsedAnswer<O> = { ok: true; value: O } | { ok: false; error: z.ZodError; json: boolean };

/**
 * The answer parser {@link parse} and `step()` share. `wrapped`: the model was
 * (or may have been) asked for `{ "value": ... }` because the schema's root is
 * not an object (OpenAI requires an object root), so a lone value key is unwrapped.
 * @internal
 */
export function answerParser<O>(schema: z.ZodType<O>, wrapped: boolean): (text: string) => ParsedAnswer<O> {
  const options = schema instanceof z.ZodEnum ? (schema.options as readonly unknown[]) : undefined;
  return (text) => {
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
  };
}

/**
 * The `invalid-output` error of {@link parse} and `step()`: the text, zod's
 * issues, and what to do. `reasks` (a step's) is mentioned when given.
 * @internal
 */
export function invalidOutput(details: { step: string | undefined; raw: string; error: z.ZodError; json: boolean; reasks?: number }): RxllmError {
  const { step, raw, error, json, reasks } = details;
  const subject = step === undefined ? 'the answer is' : `step "${step}" answered`;
  const what = json ? 'JSON that does not match its output schema' : 'text that is not JSON and does not match its output schema';
  const tries = !reasks ? '' : ` (after ${reasks} re-ask${reasks === 1 ? '' : 's'})`;
  const advice = reasks === undefined ? 'Make the prompt more explicit, or loosen the schema.' : 'Make the prompt more explicit, loosen the schema, or raise `reasks`.';
  return new RxllmError('invalid-output', `${subject} ${what}${tries}:\n${z.prettifyError(error)}\nThe answer is in error.raw. ${advice}`, {
    raw,
    cause: error,
    ...(step === undefined ? {} : { step }),
  });
}

/** True when the schema's JSON root is an object; lenient (transforms and dates allowed), as parsing needs no JSON Schema. */
function hasObjectRoot(schema: z.ZodType): boolean {
  try {
    return (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { type?: unknown }).type === 'object';
  } catch {
    return false;
  }
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
