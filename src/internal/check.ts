import type { StandardSchemaV1 } from '@standard-schema/spec';

/*
 * The small schema checker rxllm validates its own requests and options with. Why not zod (what
 * rxllm used before) or valibot: zod is the users' choice of schema library, an optional peer, and
 * costs 150–400 ms and ~15 MB at `require('rxllm')`; valibot is 40–50 ms to require on the same
 * loaded machine (its CommonJS build is one 200 KB file), more than the whole root entry's budget.
 * This file is the part of either that rxllm needs (objects, unions, numbers with bounds, custom
 * checks), with zod's messages ("Too small: expected number to be >0") and `prettifyError`
 * layout, so the errors users see did not change; and it implements Standard Schema v1, so
 * `llmRequestSchema` works wherever a schema does.
 *
 * Shaped like zod (`number().int().positive()`, `strictObject({...}).refine(...)`) so the option
 * schemas read the same. Immutable: every modifier returns a new schema.
 */

/** One problem found, at a path inside the value checked. */
export interface Issue {
  readonly code: 'invalid_type' | 'invalid_value' | 'too_small' | 'too_big' | 'unrecognized_keys' | 'invalid_union' | 'custom';
  readonly path: PropertyKey[];
  readonly message: string;
}

/** What {@link Schema.safeParse} returns. */
export type SafeParseResult<T> = { success: true; data: T; error?: undefined } | { success: false; data?: undefined; error: CheckError };

/** The failure of a check: every issue found. */
export class CheckError extends Error {
  constructor(readonly issues: readonly Issue[]) {
    super(prettify(issues));
    this.name = 'CheckError';
  }
}

/** The output type of a schema. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

type Path = PropertyKey[];

/** What refine's and superRefine's callbacks report a problem with. */
export interface RefineContext {
  /** `code` is accepted for zod's shape and always `'custom'`. */
  addIssue(issue: { message: string; path?: PropertyKey[]; code?: 'custom' }): void;
}

/** A schema: checks an unknown value and returns it (with defaults filled in), or reports issues. */
export abstract class Schema<T> implements StandardSchemaV1<unknown, T> {
  /** Type-only: the output type. */
  declare readonly _output: T;

  /**
   * Checks `value` at `path`, pushing any problems to `issues`, and returns the value (defaults
   * filled in). The returned value is meaningless when issues were pushed.
   * @internal
   */
  abstract run(value: unknown, path: Path, issues: Issue[]): T;

  /** Checks a value: `{ success: true, data }` or `{ success: false, error }` with every issue. */
  safeParse(value: unknown): SafeParseResult<T> {
    const issues: Issue[] = [];
    const data = this.run(value, [], issues);
    return issues.length === 0 ? { success: true, data } : { success: false, error: new CheckError(issues) };
  }

  optional(): Optional<T> {
    return new Optional(this);
  }

  nullable(): Schema<T | null> {
    return new Nullable(this);
  }

  /** Missing (`undefined`) becomes `value`, or what `value()` returns when it is a function (as in zod). */
  default(value: T | (() => T)): Default<T> {
    return new Default(this, value);
  }

  /** A check on the value once it passed this schema; `message` (at `path`, if given) when it fails. */
  refine(check: (value: T) => boolean, message: string | { message: string; path?: PropertyKey[]; abort?: boolean }): Schema<T> {
    const { message: text, path } = typeof message === 'string' ? { message, path: undefined } : message;
    return new Refined(this, (value, context) => {
      if (!check(value)) context.addIssue(path ? { message: text, path } : { message: text });
    });
  }

  /** Checks on the value once it passed this schema, reporting any number of issues. */
  superRefine(check: (value: T, context: RefineContext) => void): Schema<T> {
    return new Refined(this, check);
  }

  /** Standard Schema v1. */
  get '~standard'(): StandardSchemaV1.Props<unknown, T> {
    return {
      version: 1,
      vendor: 'rxllm',
      validate: (value) => {
        const result = this.safeParse(value);
        return result.success ? { value: result.data } : { issues: result.error.issues };
      },
    };
  }
}

export class Optional<T> extends Schema<T | undefined> {
  /** Type-only brand: an object field with this schema is an optional key. */
  declare readonly _optional: true;
  constructor(readonly inner: Schema<T>) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T | undefined {
    return value === undefined ? undefined : this.inner.run(value, path, issues);
  }
}

export class Nullable<T> extends Schema<T | null> {
  constructor(readonly inner: Schema<T>) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T | null {
    return value === null ? null : this.inner.run(value, path, issues);
  }
}

export class Default<T> extends Schema<T> {
  constructor(
    readonly inner: Schema<T>,
    readonly fallback: T | (() => T),
  ) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    if (value !== undefined) return this.inner.run(value, path, issues);
    return typeof this.fallback === 'function' ? (this.fallback as () => T)() : this.fallback;
  }
}

export class Refined<T> extends Schema<T> {
  constructor(
    readonly inner: Schema<T>,
    readonly check: (value: T, context: RefineContext) => void,
  ) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    const before = issues.length;
    const out = this.inner.run(value, path, issues);
    // Like zod: a refinement sees only a value that passed its schema.
    if (issues.length === before) {
      this.check(out, { addIssue: ({ message, path: at = [] }) => issues.push({ code: 'custom', path: [...path, ...at], message }) });
    }
    return out;
  }
}

/** How zod names the type of a value it did not expect. */
function received(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'number' : 'Infinity';
  if (value instanceof Date) return 'Date';
  return typeof value;
}

function typeIssue(expected: string, value: unknown, path: Path, message?: string): Issue {
  return { code: 'invalid_type', path: [...path], message: message ?? `Invalid input: expected ${expected}, received ${received(value)}` };
}

function quote(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

type NumberCheck = (value: number) => string | undefined;
type Bound = { code: 'too_small' | 'too_big'; message: string };

export class NumberSchema extends Schema<number> {
  constructor(
    readonly typeMessage: string | undefined,
    readonly checks: readonly ((value: number) => Bound | undefined)[] = [],
    readonly integer = false,
  ) {
    super();
  }
  private with(check: (value: number) => Bound | undefined): NumberSchema {
    return new NumberSchema(this.typeMessage, [...this.checks, check], this.integer);
  }
  run(value: unknown, path: Path, issues: Issue[]): number {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      issues.push(typeIssue('number', value, path, this.typeMessage));
      return value as number;
    }
    if (this.integer && !Number.isSafeInteger(value)) {
      issues.push({ code: 'invalid_type', path: [...path], message: this.typeMessage ?? 'Invalid input: expected int, received number' });
      return value;
    }
    for (const check of this.checks) {
      const problem = check(value);
      if (problem) issues.push({ code: problem.code, path: [...path], message: problem.message });
    }
    return value;
  }
  int(): NumberSchema {
    return new NumberSchema(this.typeMessage, this.checks, true);
  }
  /** > bound. */
  gt(bound: number, message?: string): NumberSchema {
    return this.with((v) => (v > bound ? undefined : { code: 'too_small', message: message ?? `Too small: expected number to be >${bound}` }));
  }
  /** ≥ bound. */
  min(bound: number, message?: string): NumberSchema {
    return this.with((v) => (v >= bound ? undefined : { code: 'too_small', message: message ?? `Too small: expected number to be >=${bound}` }));
  }
  /** ≤ bound. */
  max(bound: number, message?: string): NumberSchema {
    return this.with((v) => (v <= bound ? undefined : { code: 'too_big', message: message ?? `Too big: expected number to be <=${bound}` }));
  }
  positive(message?: string): NumberSchema {
    return this.gt(0, message);
  }
  nonnegative(message?: string): NumberSchema {
    return this.min(0, message);
  }
  /** Numbers are finite already (Infinity and NaN are rejected as not numbers, as zod 4 does); kept for reading. */
  finite(): NumberSchema {
    return this;
  }
}

export class StringSchema extends Schema<string> {
  constructor(
    readonly typeMessage: string | undefined,
    readonly minLength = 0,
    readonly minMessage?: string,
  ) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): string {
    if (typeof value !== 'string') issues.push(typeIssue('string', value, path, this.typeMessage));
    else if (value.length < this.minLength) {
      issues.push({ code: 'too_small', path: [...path], message: this.minMessage ?? `Too small: expected string to have >=${this.minLength} characters` });
    }
    return value as string;
  }
  min(length: number, message?: string): StringSchema {
    return new StringSchema(this.typeMessage, length, message);
  }
}

export class BooleanSchema extends Schema<boolean> {
  run(value: unknown, path: Path, issues: Issue[]): boolean {
    if (typeof value !== 'boolean') issues.push(typeIssue('boolean', value, path));
    return value as boolean;
  }
}

export class UnknownSchema extends Schema<unknown> {
  run(value: unknown): unknown {
    return value;
  }
}

export class LiteralSchema<T extends string | number | boolean> extends Schema<T> {
  constructor(readonly value: T) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    if (value !== this.value) issues.push({ code: 'invalid_value', path: [...path], message: `Invalid input: expected ${quote(this.value)}` });
    return value as T;
  }
}

export class OneOfSchema<T extends string> extends Schema<T> {
  constructor(readonly options: readonly T[]) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    if (!this.options.includes(value as T)) {
      issues.push({ code: 'invalid_value', path: [...path], message: `Invalid option: expected one of ${this.options.map(quote).join('|')}` });
    }
    return value as T;
  }
}

export class CustomSchema<T> extends Schema<T> {
  constructor(
    readonly check: (value: unknown) => boolean,
    readonly message: string,
  ) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    if (!this.check(value)) issues.push({ code: 'custom', path: [...path], message: this.message });
    return value as T;
  }
}

export class ArraySchema<T> extends Schema<T[]> {
  constructor(
    readonly element: Schema<T>,
    readonly minItems = 0,
    readonly minMessage?: string,
    readonly exactly?: number,
    readonly maxItems = Infinity,
  ) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T[] {
    if (!Array.isArray(value)) {
      issues.push(typeIssue('array', value, path));
      return value as T[];
    }
    if (value.length < this.minItems) {
      issues.push({ code: 'too_small', path: [...path], message: this.minMessage ?? `Too small: expected array to have >=${this.minItems} items` });
    }
    if (value.length > this.maxItems) {
      issues.push({ code: 'too_big', path: [...path], message: `Too big: expected array to have <=${this.maxItems} items` });
    }
    if (this.exactly !== undefined && value.length !== this.exactly) {
      const code = value.length < this.exactly ? 'too_small' : 'too_big';
      issues.push({ code, path: [...path], message: `Too ${code === 'too_small' ? 'small' : 'big'}: expected array to have ${this.exactly} items` });
    }
    let out: T[] | undefined;
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      const item = this.element.run(value[i], path, issues);
      path.pop();
      // Copied only when an element changed (a default filled in): the common case allocates nothing.
      if (item !== value[i]) (out ??= value.slice())[i] = item;
    }
    return out ?? (value as T[]);
  }
  min(items: number, message?: string): ArraySchema<T> {
    return new ArraySchema(this.element, items, message, this.exactly, this.maxItems);
  }
  max(items: number): ArraySchema<T> {
    return new ArraySchema(this.element, this.minItems, this.minMessage, this.exactly, items);
  }
  length(items: number): ArraySchema<T> {
    return new ArraySchema(this.element, this.minItems, this.minMessage, items, this.maxItems);
  }
}

export class RecordSchema<V> extends Schema<Record<string, V>> {
  constructor(
    readonly key: Schema<string>,
    readonly item: Schema<V>,
  ) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): Record<string, V> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(typeIssue('record', value, path));
      return value as Record<string, V>;
    }
    for (const [key, item] of Object.entries(value)) {
      path.push(key);
      this.key.run(key, path, issues);
      this.item.run(item, path, issues);
      path.pop();
    }
    return value as Record<string, V>;
  }
}

/** The schemas of an object's fields. */
export type Shape = Record<string, Schema<unknown>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S];
/** An object's output type: fields whose schema is `optional()` are optional. */
export type ObjectOutput<S extends Shape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> }
>;

type UnknownKeys = 'strip' | 'strict' | 'loose';

export class ObjectSchema<S extends Shape, T> extends Schema<T> {
  readonly keys: readonly string[];
  // The field schemas in `keys` order, and which of them are plain `optional()`: a missing optional
  // field (most of a request's twenty-odd) is skipped without a call, a path push or a lookup.
  private readonly fields: readonly Schema<unknown>[];
  private readonly skippable: readonly boolean[];
  constructor(
    readonly shape: S,
    readonly unknownKeys: UnknownKeys,
    readonly typeMessage?: string,
  ) {
    super();
    this.keys = Object.keys(shape);
    this.fields = this.keys.map((key) => shape[key]!);
    this.skippable = this.fields.map((field) => field instanceof Optional);
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(typeIssue('object', value, path, this.typeMessage));
      return value as T;
    }
    const input = value as Record<string, unknown>;
    let out: Record<string, unknown> | undefined;
    const { keys, fields, skippable } = this;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const field = input[key];
      if (field === undefined && skippable[i]) continue; // Optional.run(undefined) is undefined, no issue
      path.push(key);
      const checked = fields[i]!.run(field, path, issues);
      path.pop();
      // A default filled in: copy (never write into the caller's object).
      if (checked !== field) (out ??= this.unknownKeys === 'strip' ? pick(input, this.keys) : { ...input })[key] = checked;
    }
    if (this.unknownKeys !== 'loose') {
      const unknown = Object.keys(input).filter((key) => !(key in this.shape));
      if (unknown.length > 0) {
        if (this.unknownKeys === 'strict') {
          const list = unknown.map((key) => JSON.stringify(key)).join(', ');
          issues.push({ code: 'unrecognized_keys', path: [...path], message: `Unrecognized key${unknown.length === 1 ? '' : 's'}: ${list}` });
        } else {
          out ??= pick(input, this.keys);
        }
      }
    }
    return (out ?? input) as T;
  }
  /** The same fields, unknown keys passed through. */
  loose(): ObjectSchema<S, T & Record<string, unknown>> {
    return new ObjectSchema(this.shape, 'loose', this.typeMessage);
  }
}

function pick(input: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of keys) if (key in input) out[key] = input[key];
  return out;
}

export class UnionSchema<T> extends Schema<T> {
  constructor(readonly options: readonly Schema<unknown>[]) {
    super();
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    // Lists only for the options that failed: the common case (a message's string content
    // matching the first option) allocates one empty list.
    let failures: Issue[][] | undefined;
    let found: Issue[] = [];
    for (let i = 0; i < this.options.length; i++) {
      const out = this.options[i]!.run(value, path, found);
      if (found.length === 0) return out as T;
      (failures ??= []).push(found);
      found = [];
    }
    issues.push(...unionIssues(failures ?? [], path));
    return value as T;
  }
}

/**
 * What to report when no branch of a union matched. A union (content that is a string or an
 * array of parts) would otherwise say only "Invalid input" at its own path; the branch that got
 * furthest into the value says what is actually wrong, and where. When every branch failed on the
 * value itself, the message says which types would do.
 */
function unionIssues(failures: readonly Issue[][], path: Path): Issue[] {
  // A branch that failed on the value's type itself (a number where an object was given) is not
  // what the user meant when another branch took the type and found a problem inside or with it.
  const wrongType = (found: readonly Issue[]) => found.every((issue) => issue.code === 'invalid_type' && issue.path.length === path.length);
  const typed = failures.filter((found) => !wrongType(found));
  let best: Issue[] | undefined;
  let bestDepth = -1;
  for (const found of typed) {
    const depth = Math.max(...found.map((issue) => issue.path.length)) - path.length;
    if (depth > bestDepth) {
      best = found;
      bestDepth = depth;
    }
  }
  if (best) return best;
  // Every branch failed on the value's type: say which types would do.
  const expected = [...new Set(failures.map((found) => /expected (\S+?),/.exec(found[0]!.message)?.[1]).filter(Boolean))];
  const got = /received (\S+)$/.exec(failures[0]?.[0]?.message ?? '')?.[1];
  return [{ code: 'invalid_union', path: [...path], message: `Invalid input: expected ${expected.join(' or ')}${got ? `, received ${got}` : ''}` }];
}

export class DiscriminatedUnionSchema<T> extends Schema<T> {
  private readonly byValue = new Map<unknown, Schema<unknown>>();
  constructor(
    readonly key: string,
    options: readonly ObjectSchema<Shape, unknown>[],
  ) {
    super();
    for (const option of options) this.byValue.set((option.shape[key] as LiteralSchema<string>).value, option);
  }
  run(value: unknown, path: Path, issues: Issue[]): T {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push(typeIssue('object', value, path));
      return value as T;
    }
    const option = this.byValue.get((value as Record<string, unknown>)[this.key]);
    if (!option) {
      const expected = [...this.byValue.keys()].map((v) => `'${String(v)}'`).join(' | ');
      issues.push({ code: 'invalid_union', path: [...path, this.key], message: `Invalid discriminator value. Expected ${expected}` });
      return value as T;
    }
    return option.run(value, path, issues) as T;
  }
}

/* The constructors, named as in zod. */

export function number(typeMessage?: string): NumberSchema {
  return new NumberSchema(typeMessage);
}
export function string(typeMessage?: string): StringSchema {
  return new StringSchema(typeMessage);
}
export function boolean(): Schema<boolean> {
  return new BooleanSchema();
}
/** Only `undefined` (a removed option), `message` otherwise. */
export function absent(message: string): Schema<undefined> {
  return new CustomSchema<undefined>((value) => value === undefined, message);
}
export function unknown(): Schema<unknown> {
  return new UnknownSchema();
}
export function literal<T extends string | number | boolean>(value: T): Schema<T> {
  return new LiteralSchema(value);
}
/** One of these strings (zod's `z.enum`). */
export function oneOf<const T extends string>(options: readonly T[]): Schema<T> {
  return new OneOfSchema(options);
}
/** Any value `check` accepts, typed as `T`; `message` otherwise. */
export function custom<T>(check: (value: unknown) => boolean, message: string): Schema<T> {
  return new CustomSchema<T>(check, message);
}
export function array<T>(element: Schema<T>): ArraySchema<T> {
  return new ArraySchema(element);
}
export function record<V>(key: Schema<string>, value: Schema<V>): Schema<Record<string, V>> {
  return new RecordSchema(key, value);
}
/** An object; unknown keys are dropped from the output. */
export function object<S extends Shape>(shape: S): ObjectSchema<S, ObjectOutput<S>> {
  return new ObjectSchema(shape, 'strip');
}
/** An object; an unknown key is an issue (a misspelt option). `typeMessage`: what to say when the value is not an object. */
export function strictObject<S extends Shape>(shape: S, typeMessage?: string): ObjectSchema<S, ObjectOutput<S>> {
  return new ObjectSchema(shape, 'strict', typeMessage);
}
/** An object; unknown keys pass through (vendor fields). */
export function looseObject<S extends Shape>(shape: S): ObjectSchema<S, ObjectOutput<S> & Record<string, unknown>> {
  return new ObjectSchema(shape, 'loose');
}
export function union<const O extends readonly Schema<unknown>[]>(options: O): Schema<Infer<O[number]>> {
  return new UnionSchema(options);
}
/** A union of objects told apart by the literal value of one key. */
export function discriminatedUnion<const O extends readonly ObjectSchema<Shape, unknown>[]>(key: string, options: O): Schema<Infer<O[number]>> {
  return new DiscriminatedUnionSchema(key, options);
}

/**
 * Issues as lines, zod's `prettifyError` layout: `✖ message`, then `  → at path` when there is
 * one; the ones nearest the root first (an unknown option before a field's problem).
 */
export function prettify(issues: readonly Issue[]): string {
  return [...issues]
    .sort((a, b) => a.path.length - b.path.length)
    .map((issue) => {
      const path = formatPath(issue.path);
      return `✖ ${issue.message}${path ? `\n  → at ${path}` : ''}`;
    })
    .join('\n');
}

/** A path as zod's `prettifyError` writes it: `m.faults[0]`, `headers["x-id"]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
