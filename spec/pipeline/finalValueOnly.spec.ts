import { finalValueOnly, isFinalValueOnly } from '../../src/pipeline/finalValueOnly';

describe('finalValueOnly', () => {
  it('marks a copy of the context, with every field kept; the original and other objects stay unmarked', () => {
    const context = { step: 's', deadline: 5 };
    const marked = finalValueOnly(context);
    expect(marked).toEqual(context);
    expect(marked).not.toBe(context);
    expect(isFinalValueOnly(marked)).toBe(true);
    expect(isFinalValueOnly(context)).toBe(false);
    expect(isFinalValueOnly({ ...marked })).toBe(false);
    expect(isFinalValueOnly(undefined)).toBe(false);
  });

  it('marks an empty context when there is none', () => {
    const marked = finalValueOnly(undefined);
    expect(marked).toEqual({});
    expect(isFinalValueOnly(marked)).toBe(true);
  });
});
