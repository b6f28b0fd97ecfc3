import * as s from '../../src/internal/check';

const issues = (schema: s.Schema<unknown>, value: unknown) => {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map(({ path, message }) => ({ path, message }));
};

describe('the internal checker (what rxllm validates its requests and options with)', () => {
  it("says what zod says about numbers, strings, arrays, literals and options", () => {
    expect(issues(s.number().int().positive(), 'x')).toEqual([{ path: [], message: 'Invalid input: expected number, received string' }]);
    expect(issues(s.number(), Infinity)).toEqual([{ path: [], message: 'Invalid input: expected number, received Infinity' }]);
    expect(issues(s.number().int(), 1.5)).toEqual([{ path: [], message: 'Invalid input: expected int, received number' }]);
    expect(issues(s.number().positive(), 0)).toEqual([{ path: [], message: 'Too small: expected number to be >0' }]);
    expect(issues(s.number().min(0).max(2), 3)).toEqual([{ path: [], message: 'Too big: expected number to be <=2' }]);
    expect(issues(s.string().min(1), '')).toEqual([{ path: [], message: 'Too small: expected string to have >=1 characters' }]);
    expect(issues(s.array(s.string()).min(1), [])).toEqual([{ path: [], message: 'Too small: expected array to have >=1 items' }]);
    expect(issues(s.array(s.string()).length(2), ['a'])).toEqual([{ path: [], message: 'Too small: expected array to have 2 items' }]);
    expect(issues(s.literal('function'), 'f')).toEqual([{ path: [], message: 'Invalid input: expected "function"' }]);
    expect(issues(s.oneOf(['a', 'b']), 'c')).toEqual([{ path: [], message: 'Invalid option: expected one of "a"|"b"' }]);
    expect(issues(s.number('a number of ms'), null)).toEqual([{ path: [], message: 'a number of ms' }]);
  });

  it('checks every field of an object, with paths; strict objects name unknown keys, loose ones keep them', () => {
    const strict = s.strictObject({ ttl: s.number().positive(), lanes: s.array(s.string().min(1)).optional() });
    expect(issues(strict, { ttl: 0, lanes: ['a', ''], tll: 1 })).toEqual([
      { path: ['ttl'], message: 'Too small: expected number to be >0' },
      { path: ['lanes', 1], message: 'Too small: expected string to have >=1 characters' },
      { path: [], message: 'Unrecognized key: "tll"' },
    ]);
    expect(issues(strict, 5)).toEqual([{ path: [], message: 'Invalid input: expected object, received number' }]);
    expect(issues(s.strictObject({}, 'expected the options'), undefined)).toEqual([{ path: [], message: 'expected the options' }]);
    const vendor = { ttl: 1, data_sources: [1] };
    expect(s.looseObject({ ttl: s.number() }).safeParse(vendor)).toEqual({ success: true, data: vendor });
    expect(s.object({ ttl: s.number() }).safeParse(vendor)).toEqual({ success: true, data: { ttl: 1 } });
  });

  it('fills in defaults (a function default is called, as in zod) without writing into the input', () => {
    const schema = s.strictObject({ ttl: s.number().default(5), at: s.custom<() => number>(() => true, '').default(() => () => 1) });
    const input = {};
    const result = schema.safeParse(input);
    expect(result.success && result.data.ttl).toBe(5);
    expect(result.success && typeof result.data.at).toBe('function');
    expect(input).toEqual({});
  });

  it('refines only a value that passed, at the path given', () => {
    const schema = s
      .strictObject({ lanes: s.array(s.string()), defaultLane: s.string().optional() })
      .refine((c) => c.defaultLane === undefined || c.lanes.includes(c.defaultLane), { message: 'defaultLane must be one of lanes', path: ['defaultLane'] });
    expect(issues(schema, { lanes: ['a'], defaultLane: 'b' })).toEqual([{ path: ['defaultLane'], message: 'defaultLane must be one of lanes' }]);
    expect(issues(schema, { lanes: 'a' })).toEqual([{ path: ['lanes'], message: 'Invalid input: expected array, received string' }]);
  });

  it('reports a failed union by the branch that took the value, or by the types that would do', () => {
    const content = s.union([s.string(), s.array(s.strictObject({ type: s.literal('text'), text: s.string() }))]);
    expect(issues(content, 42)).toEqual([{ path: [], message: 'Invalid input: expected string or array, received number' }]);
    expect(issues(content, [{ type: 'text' }])).toEqual([{ path: [0, 'text'], message: 'Invalid input: expected string, received undefined' }]);
    const distribution = s.union([s.number(), s.strictObject({ median: s.number(), p95: s.number() }).refine((d) => d.p95 >= d.median, 'p95 must be ≥ median')]);
    expect(issues(distribution, { median: 5, p95: 1 })).toEqual([{ path: [], message: 'p95 must be ≥ median' }]);
  });

  it('picks a discriminated union branch by its literal key', () => {
    const part = s.discriminatedUnion('type', [
      s.looseObject({ type: s.literal('text'), text: s.string() }),
      s.looseObject({ type: s.literal('image_url'), image_url: s.looseObject({ url: s.string() }) }),
    ]);
    expect(issues(part, { type: 'image_url', image_url: {} })).toEqual([{ path: ['image_url', 'url'], message: 'Invalid input: expected string, received undefined' }]);
    expect(issues(part, { type: 'video' })).toEqual([{ path: ['type'], message: "Invalid discriminator value. Expected 'text' | 'image_url'" }]);
  });

  it("prettifies in zod's layout, nearest the root first", () => {
    const result = s.strictObject({ m: s.strictObject({ faults: s.array(s.number()) }) }).safeParse({ m: { faults: ['x'] }, extra: 1 });
    expect(result.success || s.prettify(result.error.issues)).toBe(
      '✖ Unrecognized key: "extra"\n✖ Invalid input: expected number, received string\n  → at m.faults[0]',
    );
  });

  it('is a Standard Schema v1 validator', () => {
    const schema = s.strictObject({ n: s.number() });
    expect(schema['~standard'].validate({ n: 1 })).toEqual({ value: { n: 1 } });
    expect(schema['~standard'].validate({ n: '1' })).toEqual({ issues: [expect.objectContaining({ path: ['n'] })] });
  });
});
