import { TestScheduler } from 'rxjs/testing';

/**
 * The TestScheduler every marble spec uses. Errors are compared by name, message
 * and their own enumerable fields (`code`, `partialText`, ...), never by stack, the
 * way RxJS's own `observableMatcher` does, so a spec can build the expected error
 * itself instead of sharing the instance the code under test threw.
 */
export function createTestScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(stripStacks(actual)).toEqual(stripStacks(expected));
  });
}

function stripStacks(value: unknown): unknown {
  if (value instanceof Error) {
    const fields: Record<string, unknown> = { name: value.name, message: value.message };
    for (const [key, field] of Object.entries(value)) fields[key] = stripStacks(field);
    return fields;
  }
  if (Array.isArray(value)) return value.map(stripStacks);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, stripStacks(field)]));
  }
  return value;
}
