import { RxllmError } from '../core/errors.js';

/**
 * JSON text with object keys sorted at every depth and `undefined` fields
 * dropped, so equal values give equal text whatever order their keys were
 * written in. Arrays keep their order; `undefined` inside an array becomes
 * `null`, as in `JSON.stringify`.
 *
 * @throws {@link RxllmError} `invalid-request` on a circular reference or a BigInt.
 */
export function stableStringify(value: unknown): string {
  return write(value, []) ?? 'null';
}

// Returns undefined for values JSON leaves out (undefined, functions, symbols), so the caller can drop them.
function write(value: unknown, ancestors: object[]): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return JSON.stringify(value);
    case 'bigint':
      throw new RxllmError('invalid-request', 'A request cannot contain a BigInt: it has no JSON form. Convert it to a number or string.');
    case 'object':
      break;
    default:
      return undefined;
  }
  const object = value as object & { toJSON?: () => unknown };
  if (typeof object.toJSON === 'function') return write(object.toJSON(), ancestors);
  if (ancestors.includes(object)) {
    throw new RxllmError('invalid-request', 'A request cannot contain a circular reference: it has no JSON form.');
  }
  ancestors.push(object);
  let out: string;
  if (Array.isArray(object)) {
    out = `[${object.map((item) => write(item, ancestors) ?? 'null').join(',')}]`;
  } else {
    const parts: string[] = [];
    for (const key of Object.keys(object).sort()) {
      const written = write((object as Record<string, unknown>)[key], ancestors);
      if (written !== undefined) parts.push(`${JSON.stringify(key)}:${written}`);
    }
    out = `{${parts.join(',')}}`;
  }
  ancestors.pop();
  return out;
}
