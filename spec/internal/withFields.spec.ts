import { withFields } from '../../src/internal/withFields';
import { haveSameMap } from '../helpers/haveSameMap';

describe('withFields', () => {
  const request = (i: number) => ({ model: `m${i}`, max_tokens: 10, messages: [{ role: 'user', content: `q${i}` }] });

  it('gives what the spread gives: the base own fields, then the new ones, in order', () => {
    const base = request(1);
    const copy = withFields(base, { stream: false, max_tokens: 20 });
    expect(copy).toEqual({ ...base, stream: false, max_tokens: 20 });
    expect(Object.keys(copy)).toEqual(['model', 'max_tokens', 'messages', 'stream']);
    expect(copy).not.toBe(base);
    expect(base).toEqual(request(1)); // the base is never written
    expect(copy.messages).toBe(base.messages); // a shallow copy, as the spread
  });

  it('takes no field from an undefined or null base (as the spread), and does not throw', () => {
    expect(withFields(undefined as { step?: string } | undefined, { step: 's' })).toEqual({ step: 's' });
    expect(withFields(null as { step?: string } | null, { step: 's' })).toEqual({ step: 's' });
  });

  it('copies the base own enumerable fields only, symbols included', () => {
    const tag = Symbol('tag');
    const base = Object.assign(Object.create({ inherited: 1 }) as object, { own: 2, [tag]: 3 });
    Object.defineProperty(base, 'hidden', { value: 4, enumerable: false });
    const copy = withFields(base, { added: 5 }) as Record<string | symbol, unknown>;
    expect(copy).toEqual({ own: 2, [tag]: 3, added: 5 });
    expect('inherited' in copy).toBe(false);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
  });

  it('keeps an own __proto__ key of the base as a field, never as the copy prototype', () => {
    const base = JSON.parse('{"model":"m","__proto__":{"polluted":true}}') as { model: string };
    const copy = withFields(base, { stream: false });
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
    expect(copy.stream).toBe(false);
  });

  it('keeps an own __proto__ key of the fields as a field too (a computed key makes one)', () => {
    const name = '__proto__';
    const copy = withFields({ a: 1 } as Record<string, unknown>, { [name]: { polluted: true } });
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy.polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
  });

  it('gives copies made the same way one hidden class (a spread then a field gives each its own on Node 20)', () => {
    // V8 shares maps between the first copies a site makes whatever the code (about 8): the later ones tell.
    const copies = Array.from({ length: 40 }, (_, i) => withFields(request(i), { stream: false }));
    for (let i = 1; i < copies.length; i++) expect(haveSameMap(copies[i]!, copies[i - 1]!)).toBe(true);
  });
});
