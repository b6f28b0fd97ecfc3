import { Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';
import type { PlanEnding } from './plan.js';

/** A moment of a played plan: stream step `index` (see `planStep`), or the response's end. */
export type PlanMoment = { type: 'step'; atMs: number; index: number } | { type: 'end'; atMs: number; ending: PlanEnding };

/** The parts of a plan that decide its timeline. */
export interface PlayablePlan {
  /** When each stream step is due; a non-streaming response sends nothing before its end. */
  stepTimes: readonly number[];
  stream?: boolean;
  ending: PlanEnding;
}

/**
 * Plays a plan on a scheduler: emits each step at its time (relative to
 * subscribe), then the ending, then completes. A stalled plan never emits its
 * ending and never completes. Each timer is set against the start time, not
 * after the previous timer, so real-time delays do not add up, and moments that
 * fell due together (a busy event loop) are emitted together. In
 * `TestScheduler.run()` every moment lands on its exact frame. Cold; unsubscribe
 * cancels the pending timer.
 *
 * @param startedAt the time (on `scheduler`) the plan's clock starts from, when that was
 * before subscribe (the server counts from the request's arrival). Defaults to subscribe time.
 */
export function playPlan(plan: PlayablePlan, scheduler: SchedulerLike, startedAt?: number): Observable<PlanMoment> {
  const moments: PlanMoment[] = plan.stream === false ? [] : plan.stepTimes.map((atMs, index) => ({ type: 'step', atMs, index }));
  const { ending } = plan;
  const endless = ending.type === 'stall';
  if (ending.type !== 'stall') moments.push({ type: 'end', atMs: ending.atMs, ending });

  return new Observable<PlanMoment>((subscriber) => {
    if (moments.length === 0) {
      if (!endless) subscriber.complete();
      return undefined;
    }
    const start = startedAt ?? scheduler.now();
    let next = 0;
    return scheduler.schedule(function (this: SchedulerAction<void>) {
      const elapsed = scheduler.now() - start;
      while (next < moments.length && moments[next]!.atMs <= elapsed) {
        subscriber.next(moments[next++]!);
        if (subscriber.closed) return;
      }
      if (next < moments.length) this.schedule(undefined, moments[next]!.atMs - elapsed);
      else if (!endless) subscriber.complete();
    }, Math.max(0, moments[0]!.atMs - (scheduler.now() - start)));
  });
}
