import { take, timer, switchMap } from 'rxjs';
import { timeline } from '../../src/internal/timeline';
import { createRng } from '../../src/simulator/prng';
import { boundedScheduler } from '../helpers/boundedScheduler';
import { createTestScheduler } from '../helpers/marbles';

describe('timeline', () => {
  it('emits each index at its time after subscribe, the ones due together at once and in order, then completes', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ expectObservable }) => {
      const values = { a: 0, b: 1, c: 2, d: 3 };
      expectObservable(timeline([10, 20, 20, 35], testScheduler)).toBe('10ms a 9ms (bc) 11ms (d|)', values);
    });
  });

  it('counts from an earlier start: what is already due comes at once', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ expectObservable }) => {
      const early = timer(50, testScheduler).pipe(switchMap(() => timeline([10, 40, 80], testScheduler, 0)));
      expectObservable(early).toBe('50ms (ab) 26ms (c|)', { a: 0, b: 1, c: 2 }); // 10 and 40 were due at 50
    });
  });

  it('completes at once with no times; stops at once when the subscriber leaves from inside next', () => {
    const testScheduler = createTestScheduler();
    testScheduler.run(({ expectObservable }) => {
      expectObservable(timeline([], testScheduler)).toBe('|');
      expectObservable(timeline([5, 5, 5], testScheduler).pipe(take(2))).toBe('5ms (ab|)', { a: 0, b: 1 });
    });
  });

  // Issue 19: the frames are start + time in floating point, whatever the start; nothing may spin.
  it('lands every index on the frame start + time exactly, for 5,000 random fractional starts and times', () => {
    const random = createRng('timeline frames').next;
    for (let trial = 0; trial < 5000; trial++) {
      const start = random() * 10 ** (random() * 6 - 1); // 0.1 to 100,000 ms, with fractions
      const times = [random() < 0.3 ? 0 : random() * 50];
      for (let i = 0; i < 4; i++) times.push(times.at(-1)! + (random() < 0.2 ? 0 : random() * 10 ** (random() * 4)));
      const frames: number[] = [];
      const testScheduler = createTestScheduler();
      testScheduler.run(() => {
        const clock = boundedScheduler(testScheduler, 50);
        timer(start, clock)
          .pipe(switchMap(() => timeline(times, clock)))
          .subscribe(() => frames.push(testScheduler.now()));
      });
      expect(frames).toEqual(times.map((time) => start + time));
    }
  });
});
