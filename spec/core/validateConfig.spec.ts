import { asyncScheduler } from 'rxjs';
import { RxllmError } from '../../src/core/errors';
import * as s from '../../src/internal/check';
import {
  clockSchema,
  functionSchema,
  latencySourceSchema,
  schedulerSchema,
  transportSchema,
  validateConfig,
} from '../../src/core/validateConfig';

describe('validateConfig', () => {
  const schema = s.strictObject({ ttl: s.number().positive(), scheduler: schedulerSchema.optional() });

  it('names a call as given when it has its own parentheses', () => {
    expect(() => validateConfig('step("summary")', schema, {})).toThrow(/^step\("summary"\): invalid options:\n/);
    expect(() => validateConfig('retry', schema, {})).toThrow(/^retry\(\): invalid options:\n/);
  });

  it('returns the parsed options', () => {
    expect(validateConfig('thing', schema, { ttl: 5, scheduler: asyncScheduler })).toEqual({ ttl: 5, scheduler: asyncScheduler });
  });

  it('throws invalid-config naming the function, every problem, and the first path', () => {
    let error: unknown;
    try {
      validateConfig('thing', schema, { ttl: 0, scheduler: { now: () => 0 }, tll: 1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RxllmError);
    expect((error as RxllmError).code).toBe('invalid-config');
    expect((error as RxllmError).cause).toBeInstanceOf(s.CheckError);
    expect((error as RxllmError).path).toBe('ttl');
    expect((error as RxllmError).message).toMatchInlineSnapshot(`
      "thing(): invalid options:
      ✖ Unrecognized key: "tll"
      ✖ Too small: expected number to be >0
        → at ttl
      ✖ expected a SchedulerLike (asyncScheduler, a TestScheduler)
        → at scheduler"
    `);
  });
});

describe('the shared option schemas', () => {
  it('schedulerSchema needs now() and schedule() (what schedules timers); clockSchema only now()', () => {
    const clock = { now: () => 0 };
    expect(schedulerSchema.safeParse(asyncScheduler).success).toBe(true);
    expect(schedulerSchema.safeParse(clock).success).toBe(false);
    expect(schedulerSchema.safeParse(undefined).success).toBe(false);
    expect(clockSchema.safeParse(clock).success).toBe(true);
    expect(clockSchema.safeParse({ now: 0 }).success).toBe(false);
  });

  it('transportSchema and functionSchema accept functions only', () => {
    expect(transportSchema.safeParse(() => undefined).success).toBe(true);
    expect(transportSchema.safeParse({}).error?.issues[0]?.message).toMatch(/expected a Transport/);
    expect(functionSchema('a callback').safeParse(1).error?.issues[0]?.message).toBe('expected a callback');
  });

  it('latencySourceSchema needs percentile() and count()', () => {
    const source = latencySourceSchema<{ percentile(): number; count(): number }>();
    expect(source.safeParse({ percentile: () => 1, count: () => 1 }).success).toBe(true);
    expect(source.safeParse({ percentile: () => 1 }).success).toBe(false);
    expect(source.safeParse(null).success).toBe(false);
  });
});
