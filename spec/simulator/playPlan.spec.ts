import { asyncScheduler, map, type SchedulerAction, type SchedulerLike, Subscription as RxSubscription, switchMap, timer } from 'rxjs';
import type { PlanEnding } from '../../src/simulator/plan';
import { playPlan, type PlanMoment } from '../../src/simulator/playPlan';
import { createRng } from '../../src/simulator/prng';
import { boundedScheduler } from '../helpers/boundedScheduler';
import { createTestScheduler } from '../helpers/marbles';

const complete = (atMs: number): PlanEnding => ({ type: 'complete', atMs });
const label = (moment: PlanMoment) => (moment.type === 'step' ? 'abcd'.charAt(moment.index) : 'E');

describe('playPlan', () => {
  it('emits each step at its time, then the ending, then completes', () => {
    createTestScheduler().run(({ expectObservable }) => {
      const plan = { stepTimes: [100, 150, 150], ending: complete(150) };
      const expected = '100ms a 49ms (bcE|)'; // E: the ending

      expectObservable(playPlan(plan, asyncScheduler).pipe(map(label))).toBe(expected);
    });
  });

  it('sends nothing before the ending of a non-streaming plan', () => {
    createTestScheduler().run(({ expectObservable }) => {
      const plan = { stream: false, stepTimes: [100, 150], ending: complete(150) };
      expectObservable(playPlan(plan, asyncScheduler).pipe(map(label))).toBe('150ms (E|)');
    });
  });

  it('never completes a stalled plan', () => {
    createTestScheduler().run(({ expectObservable }) => {
      const plan = { stepTimes: [10], ending: { type: 'stall', beforeHeaders: false } as PlanEnding };
      expectObservable(playPlan(plan, asyncScheduler).pipe(map(label)), '^ 10000ms !').toBe('10ms a');
    });
  });

  it('sets each timer against the start, so late timers do not push later steps back, and emits what fell due together', () => {
    const clock = manualScheduler();
    const seen: string[] = [];
    playPlan({ stepTimes: [10, 20, 30, 40], ending: complete(40) }, clock).subscribe((m) => seen.push(label(m)));
    expect(clock.pendingDelay()).toBe(10);
    clock.runAt(12); // fired 2 ms late
    expect(seen).toEqual(['a']);
    expect(clock.pendingDelay()).toBe(8); // not 10: b is still due at 20
    clock.runAt(35); // a stalled event loop: b and c are both overdue
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(clock.pendingDelay()).toBe(5);
    clock.runAt(40);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'E']);
  });

  // Issue 19: a plan started at a fractional virtual time used to reschedule by a delay too small
  // to move the clock, and TestScheduler.run() never returned; the bounded scheduler fails instead.
  it('never spins, and plays every moment on its frame, for 1,000 plans started at random fractional times', () => {
    const random = createRng('playPlan fractional starts').next;
    for (let trial = 0; trial < 1000; trial++) {
      const start = random() * 10 ** (random() * 5);
      const stepTimes = [200 + random() * 400];
      for (let i = 0; i < 5; i++) stepTimes.push(stepTimes.at(-1)! + random() * 30);
      const plan = { stepTimes, ending: complete(stepTimes.at(-1)! + random() * 5) };
      // Half of the plans count from a start before subscribe, as the simulator server's do.
      const counted = random() < 0.5 ? undefined : start - random() * 100;
      const seen: { frame: number; atMs: number }[] = [];
      let completed = false;
      const testScheduler = createTestScheduler();
      testScheduler.run(() => {
        const clock = boundedScheduler(testScheduler, 50);
        timer(start, clock)
          .pipe(switchMap(() => playPlan(plan, clock, counted)))
          .subscribe({ next: (moment) => seen.push({ frame: testScheduler.now(), atMs: moment.atMs }), complete: () => (completed = true) });
      });
      expect(completed).toBe(true);
      expect(seen).toHaveLength(stepTimes.length + 1);
      for (const { frame, atMs } of seen) expect(frame).toBe(Math.max(start, (counted ?? start) + atMs));
    }
  });

  it('cancels the pending timer on unsubscribe', () => {
    const clock = manualScheduler();
    const subscription = playPlan({ stepTimes: [10], ending: complete(10) }, clock).subscribe();
    subscription.unsubscribe();
    expect(clock.cancelled()).toBe(true);
  });
});

/** A scheduler whose clock and timer the test moves by hand. */
function manualScheduler() {
  let now = 0;
  let pending: { work: (this: SchedulerAction<unknown>, state?: unknown) => void; due: number } | undefined;
  let subscription = new RxSubscription();
  const action = {
    schedule(_state?: unknown, delay = 0) {
      pending = { work: pending!.work, due: now + delay };
      return subscription;
    },
  } as unknown as SchedulerAction<unknown>;
  const scheduler: SchedulerLike = {
    now: () => now,
    schedule: (work, delay = 0) => {
      pending = { work: work as never, due: now + delay };
      subscription = new RxSubscription(() => (pending = undefined));
      return subscription;
    },
  };
  return Object.assign(scheduler, {
    pendingDelay: () => (pending ? pending.due - now : undefined),
    cancelled: () => subscription.closed && pending === undefined,
    runAt(time: number) {
      now = time;
      const current = pending!;
      pending = { ...current, due: Infinity };
      const before = pending;
      current.work.call(action);
      if (pending === before) pending = undefined;
    },
  });
}
