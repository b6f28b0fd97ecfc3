import type { Rng } from './prng.js';
import { asSentence, chooseSentimentLabel, contentWords, keywordsOf, properNouns, summarize, topKeywords } from './textAnalysis.js';

/** What a generated value may draw on: the text the request is about, and the randomness of this answer. */
export interface ValueContext {
  rng: Rng;
  /** The text the task is about (the user's input). */
  input: string;
  /** How many items a keyword-like array should have, when the prompt says. */
  keywordCount?: number;
  /**
   * The answer the prompt's task calls for, as a plain-text answer would give it: it fills
   * a root string (or the `value` of a `{ "value": … }` wrapper, as steps ask for a schema
   * whose root is not an object), so a summary asked for as JSON is the same summary.
   */
  taskText?: () => string;
}

type Schema = Record<string, unknown>;

/**
 * A value valid for a JSON schema (the subset structured outputs and tool
 * parameters use: objects, arrays, tuples, enums, const, strings with common
 * formats and length bounds, numbers and integers with bounds and `multipleOf`,
 * booleans, null, `anyOf` / `oneOf` / `allOf`, local `$ref`s). Values are chosen
 * to read plausibly: a property named `summary` gets a sentence from the input,
 * `keywords` gets the input's keywords, a sentiment enum gets the label the
 * input leans to, `confidence` a number in [0, 1]. `pattern` is not honoured.
 */
export function valueForSchema(schema: unknown, context: ValueContext): unknown {
  return new Generator(schema, context).value(schema, '', 0);
}

class Generator {
  private keywordPool: string[] | undefined;

  constructor(
    private readonly root: unknown,
    private readonly context: ValueContext,
  ) {}

  value(schema: unknown, name: string, depth: number): unknown {
    if (schema === false) return null;
    if (!isSchema(schema)) return this.string({}, name);
    if (depth > 24) return null;
    if (typeof schema['$ref'] === 'string') return this.value(this.resolve(schema['$ref']), name, depth + 1);
    if ('const' in schema) return schema['const'];
    if (Array.isArray(schema['enum']) && schema['enum'].length > 0) return this.choose(schema['enum'], name);
    const branches = (schema['anyOf'] ?? schema['oneOf']) as unknown;
    if (Array.isArray(branches) && branches.length > 0) {
      const preferred = branches.find((branch) => !(isSchema(branch) && branch['type'] === 'null')) ?? branches[0];
      return this.value(isSchema(preferred) ? { ...withoutKeys(schema, ['anyOf', 'oneOf']), ...preferred } : preferred, name, depth + 1);
    }
    if (Array.isArray(schema['allOf'])) return this.value(mergeAll(withoutKeys(schema, ['allOf']), schema['allOf']), name, depth + 1);

    const type = typeOf(schema);
    // The answer itself, not a field of it: the root, or the one property of a { "value": … } wrapper.
    const isAnswer = depth === 0 || (depth === 1 && name === 'value' && this.isValueWrapper());
    if (isAnswer && type === 'string' && schema['format'] === undefined && this.context.taskText) return this.fitLength(schema, this.context.taskText());

    switch (type) {
      case 'object':
        return this.object(schema, depth);
      case 'array':
        return this.array(schema, name, depth);
      case 'integer':
        return this.number(schema, name, true);
      case 'number':
        return this.number(schema, name, false);
      case 'boolean':
        return this.context.rng.next() < 0.5;
      case 'null':
        return null;
      default:
        return this.string(schema, name);
    }
  }

  private object(schema: Schema, depth: number): Record<string, unknown> {
    const properties = isSchema(schema['properties']) ? schema['properties'] : {};
    const required = Array.isArray(schema['required']) ? schema['required'].filter((key): key is string => typeof key === 'string') : [];
    // Deep inside a recursive schema, only required properties keep the value finite.
    const keys = depth >= 4 ? required : [...new Set([...Object.keys(properties), ...required])];
    const out: Record<string, unknown> = {};
    for (const key of keys) out[key] = this.value(properties[key] ?? {}, key, depth + 1);
    return out;
  }

  private array(schema: Schema, name: string, depth: number): unknown[] {
    const min = typeof schema['minItems'] === 'number' ? schema['minItems'] : 0;
    const max = typeof schema['maxItems'] === 'number' ? schema['maxItems'] : Infinity;
    const tuple = (Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : Array.isArray(schema['items']) ? schema['items'] : undefined) as
      | unknown[]
      | undefined;
    if (tuple) return tuple.map((item, index) => this.value(item, `${name}.${index}`, depth + 1));
    const items = isSchema(schema['items']) ? this.deref(schema['items']) : {};
    const plainStrings = typeOf(items) === 'string' && items['enum'] === undefined && items['format'] === undefined;
    // When the prompt asks for N keywords, a list of plain strings is that list, whatever it is called ("value" when a step wraps z.array).
    const keywordLike = /key ?words?|keyphrases?|tags?|topics?|terms?|entities/i.test(name) || (plainStrings && this.context.keywordCount !== undefined);
    const wanted = depth >= 4 ? min : keywordLike ? (this.context.keywordCount ?? 3) : isSchema(items) && typeOf(items) === 'object' ? 2 : 3;
    const count = Math.max(min, Math.min(max, wanted));

    if (plainStrings) {
      const pool = keywordLike ? keywordsOf(this.context.input, count) : this.keywords(count);
      return Array.from({ length: count }, (_, index) => this.fitLength(items, pool[index] ?? `${pool[index % pool.length] ?? 'item'} ${index + 1}`));
    }
    if (Array.isArray(items['enum']) && schema['uniqueItems'] === true) {
      return items['enum'].slice(0, Math.min(count, items['enum'].length));
    }
    return Array.from({ length: count }, () => this.value(items, singular(name), depth + 1));
  }

  private number(schema: Schema, name: string, integer: boolean): number {
    const lowerBound = numberOr(schema['minimum'], numberOr(schema['exclusiveMinimum'], undefined, integer ? 1 : 1e-6));
    const upperBound = numberOr(schema['maximum'], numberOr(schema['exclusiveMaximum'], undefined, integer ? -1 : -1e-6));
    const { rng } = this.context;
    const key = name.toLowerCase();
    let value: number;
    if (/score|confidence|probability|likelihood|certainty|ratio|weight/.test(key)) value = 0.55 + rng.next() * 0.4;
    else if (/rating|stars/.test(key)) value = 4;
    else if (/year/.test(key)) value = 2024;
    else if (/age/.test(key)) value = 34;
    else if (/lat/.test(key)) value = 48.8566;
    else if (/lon|lng/.test(key)) value = 2.3522;
    else if (/temp/.test(key)) value = 21.5;
    else if (/price|cost|amount/.test(key)) value = 19.99;
    else if (/count|number|num|quantity|total|size|length|limit/.test(key)) value = 1 + rng.int(9);
    else value = (lowerBound ?? 0) + rng.next() * Math.min(100, (upperBound ?? 100) - (lowerBound ?? 0));

    if (lowerBound !== undefined && upperBound !== undefined && lowerBound > upperBound) return lowerBound;
    if (lowerBound !== undefined && value < lowerBound) value = lowerBound + rng.next() * Math.min(10, (upperBound ?? lowerBound + 10) - lowerBound);
    if (upperBound !== undefined && value > upperBound) value = upperBound - rng.next() * Math.min(10, upperBound - (lowerBound ?? upperBound - 10));
    if (integer) value = Math.round(value);
    else value = Math.round(value * 100) / 100;
    const step = typeof schema['multipleOf'] === 'number' && schema['multipleOf'] > 0 ? schema['multipleOf'] : undefined;
    if (step !== undefined) value = Math.round(value / step) * step;
    const unit = step ?? (integer ? 1 : 0.01);
    // Rounding may step outside the bounds; step back in.
    if (lowerBound !== undefined && value < lowerBound) value = Math.ceil(lowerBound / unit) * unit;
    if (upperBound !== undefined && value > upperBound) value = Math.floor(upperBound / unit) * unit;
    return integer ? Math.round(value) : Number(value.toFixed(10));
  }

  private string(schema: Schema, name: string): string {
    const format = typeof schema['format'] === 'string' ? schema['format'] : undefined;
    const { rng } = this.context;
    const key = name.toLowerCase().replace(/[_\-\s]/g, '');
    const hex = () => Math.floor(rng.next() * 0x100000000).toString(16).padStart(8, '0');
    let text: string;
    switch (format) {
      case 'date':
        text = '2025-01-15';
        break;
      case 'date-time':
        text = '2025-01-15T09:30:00Z';
        break;
      case 'time':
        text = '09:30:00';
        break;
      case 'email':
        text = 'alex@example.com';
        break;
      case 'uri':
      case 'url':
        text = `https://example.com/${(this.keywords(1)[0] ?? 'page').toLowerCase()}`;
        break;
      case 'uuid':
        text = `${hex()}-${hex().slice(0, 4)}-4${hex().slice(0, 3)}-8${hex().slice(0, 3)}-${hex()}${hex().slice(0, 4)}`;
        break;
      case 'hostname':
        text = 'example.com';
        break;
      case 'ipv4':
        text = '192.0.2.1';
        break;
      default:
        text = this.namedString(key, name, hex);
    }
    return this.fitLength(schema, text);
  }

  private namedString(key: string, name: string, hex: () => string): string {
    const { rng, input } = this.context;
    const names = properNouns(input);
    if (/sentiment|tone|mood|polarity/.test(key)) return chooseSentimentLabel(input, ['positive', 'negative', 'neutral'], rng.int(3));
    if (/summary|description|explanation|reason|rationale|answer|content|message|body|comment|response|details|notes?$|text$/.test(key)) {
      return summarize(input, 1) || asSentence(this.keywords(6).join(' ') || 'No details were given', 28);
    }
    if (/city|location|place|country|region|destination|origin|address/.test(key)) return names[0] ?? 'Paris';
    if (/lang/.test(key)) return 'English';
    if (/query|question|search|prompt|input/.test(key)) return contentWords(input).slice(0, 8).join(' ') || 'information';
    if (/(^|[a-z])id$|identifier|uuid/.test(key)) return `id_${hex()}`;
    if (/title|headline|subject|heading/.test(key)) return titleCase(this.keywords(3).join(' ') || 'Untitled');
    if (/name|person|author|user/.test(key)) return names[0] ?? titleCase(this.keywords(1)[0] ?? 'Alex');
    if (/unit/.test(key)) return 'celsius';
    const keywords = this.keywords(3);
    if (/category|label|class|kind|type|topic|intent|keyword|tag/.test(key)) return keywords[0] ?? name;
    return keywords.slice(0, 1 + rng.int(3)).join(' ') || 'example';
  }

  private isValueWrapper(): boolean {
    const root = isSchema(this.root) ? this.root : {};
    const properties = isSchema(root['properties']) ? Object.keys(root['properties']) : [];
    return properties.length === 1 && properties[0] === 'value';
  }

  private fitLength(schema: Schema, text: string): string {
    const min = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
    const max = typeof schema['maxLength'] === 'number' ? schema['maxLength'] : Infinity;
    let out = text;
    while ([...out].length < min) out += out.length === 0 ? 'x' : ` ${text || 'x'}`;
    const chars = [...out];
    return chars.length > max ? chars.slice(0, max).join('').trimEnd().padEnd(Math.min(max, min), 'x') : out;
  }

  private choose(values: unknown[], name: string): unknown {
    const strings = values.filter((value): value is string => typeof value === 'string');
    const { input, rng } = this.context;
    if (strings.length === values.length) {
      if (/sentiment|tone|mood|polarity/i.test(name) || strings.some((value) => /^(positive|negative|neutral)$/i.test(value))) {
        return chooseSentimentLabel(input, strings, rng.int(strings.length));
      }
      const lower = input.toLowerCase();
      const mentioned = strings.find((value) => value.length > 2 && lower.includes(value.toLowerCase()));
      if (mentioned !== undefined) return mentioned;
    }
    return values[rng.int(values.length)];
  }

  private keywords(count: number): string[] {
    this.keywordPool ??= topKeywords(this.context.input, 24);
    if (this.keywordPool.length >= count) return this.keywordPool.slice(0, count);
    const extra = ['overview', 'context', 'details', 'example', 'summary', 'result', 'topic', 'notes', 'outline', 'insight'];
    return [...this.keywordPool, ...extra.filter((word) => !this.keywordPool!.includes(word))].slice(0, count);
  }

  private deref(schema: Schema): Schema {
    let current: unknown = schema;
    for (let i = 0; i < 8 && isSchema(current) && typeof current['$ref'] === 'string'; i++) current = this.resolve(current['$ref']);
    return isSchema(current) ? current : {};
  }

  private resolve(ref: string): unknown {
    if (!ref.startsWith('#')) return {};
    let node: unknown = this.root;
    for (const part of ref.slice(1).split('/').filter(Boolean)) {
      const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
      node = isSchema(node) ? node[key] : undefined;
    }
    return node ?? {};
  }
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeOf(schema: Schema): string {
  const type = schema['type'];
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return (type.find((t) => t !== 'null') as string | undefined) ?? 'null';
  if (schema['properties'] !== undefined) return 'object';
  if (schema['items'] !== undefined || schema['prefixItems'] !== undefined) return 'array';
  return 'string';
}

function numberOr(value: unknown, fallback: number | undefined, nudge = 0): number | undefined {
  return typeof value === 'number' ? value + nudge : fallback;
}

function withoutKeys(schema: Schema, keys: string[]): Schema {
  return Object.fromEntries(Object.entries(schema).filter(([key]) => !keys.includes(key)));
}

function mergeAll(base: Schema, parts: unknown[]): Schema {
  const merged: Schema = { ...base };
  for (const part of parts) {
    if (!isSchema(part)) continue;
    const properties = { ...(isSchema(merged['properties']) ? merged['properties'] : {}), ...(isSchema(part['properties']) ? part['properties'] : {}) };
    const required = [...(Array.isArray(merged['required']) ? merged['required'] : []), ...(Array.isArray(part['required']) ? part['required'] : [])];
    Object.assign(merged, part, { properties, required });
  }
  return merged;
}

function singular(name: string): string {
  return name.replace(/ies$/, 'y').replace(/s$/, '');
}

function titleCase(text: string): string {
  return text.replace(/\p{L}+/gu, (word) => word.charAt(0).toUpperCase() + word.slice(1));
}
