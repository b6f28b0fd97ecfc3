import { runContext } from '../../src/pipeline/runContext';

describe('runContext', () => {
  it('takes an object as the context, and nothing else (switchMap passes an index)', () => {
    const context = { step: 'summary', deadline: 5 };
    expect(runContext(context)).toBe(context);
    expect(runContext(0)).toBeUndefined();
    expect(runContext(3)).toBeUndefined();
    expect(runContext(null)).toBeUndefined();
    expect(runContext(undefined)).toBeUndefined();
  });
});
