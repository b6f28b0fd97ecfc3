import { RxllmError } from '../../src/core/errors';
import { stableStringify } from '../../src/internal/stableStringify';

describe('stableStringify', () => {
  it('sorts object keys at every depth and keeps array order', () => {
    expect(stableStringify({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it('drops undefined fields, and writes undefined in arrays as null, like JSON.stringify', () => {
    expect(stableStringify({ a: undefined, b: [undefined, 1], c: null })).toBe('{"b":[null,1],"c":null}');
    expect(stableStringify({ a: undefined, b: [undefined, 1], c: null })).toBe(JSON.stringify({ b: [null, 1], c: null }));
  });

  it('escapes strings and keys as JSON does', () => {
    const value = { 'k"ey\n': 'va"l\\ue\u2028' };
    expect(JSON.parse(stableStringify(value))).toEqual(value);
  });

  it('uses toJSON when a value has one', () => {
    expect(stableStringify({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}');
  });

  it('rejects circular references and BigInts with invalid-request', () => {
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    expect(() => stableStringify(circular)).toThrow(RxllmError);
    expect(() => stableStringify(circular)).toThrow(/circular reference/);
    expect(() => stableStringify({ n: 1n })).toThrow(/BigInt/);
    // The same object twice, side by side, is not circular.
    const shared = { x: 1 };
    expect(stableStringify({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
  });
});
