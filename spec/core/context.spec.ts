import { TestScheduler } from 'rxjs/testing';
import { stepOf, timeLeft, withDeadline } from '../../src/core/context';

const request = { model: 'gpt', messages: [{ role: 'user' as const, content: 'hi' }] };
const clock = (now: number) => ({ now: () => now, schedule: () => { throw new Error('unused'); } }) as unknown as TestScheduler;

describe('RequestContext helpers', () => {
  it('stepOf: the context step, else the model', () => {
    expect(stepOf(request, { step: 'summary' })).toBe('summary');
    expect(stepOf(request, {})).toBe('gpt');
    expect(stepOf(request, undefined)).toBe('gpt');
  });

  it('timeLeft: deadline minus now on the scheduler clock; Infinity without one', () => {
    expect(timeLeft({ deadline: 2000 }, clock(1500))).toBe(500);
    expect(timeLeft({ deadline: 2000 }, clock(2500))).toBe(-500);
    expect(timeLeft({}, clock(1500))).toBe(Infinity);
    expect(timeLeft(undefined, clock(1500))).toBe(Infinity);
  });

  it('withDeadline: keeps the earlier deadline, and the other fields', () => {
    expect(withDeadline({ step: 's' }, 300, clock(1000))).toEqual({ step: 's', deadline: 1300 });
    const early = { step: 's', deadline: 1100 };
    expect(withDeadline(early, 300, clock(1000))).toBe(early);
    expect(withDeadline({ deadline: 1500 }, 300, clock(1000))).toEqual({ deadline: 1300 });
    expect(withDeadline(undefined, undefined, clock(1000))).toBeUndefined();
    expect(withDeadline(early, Infinity, clock(1000))).toBe(early);
  });
});
