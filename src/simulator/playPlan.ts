import { concat, map, NEVER, type Observable, type SchedulerLike } from 'rxjs';
import { timeline } from '../internal/timeline.js';
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
 * ending and never completes. Each moment is due at the start time plus its
 * `atMs` (see `timeline`), so real-time delays do not add up, and moments that
 * fell due together (a busy event loop) are emitted together. In
 * `TestScheduler.run()` every moment lands on its frame, whatever the start time,
 * fractional ones included. Cold; unsubscribe cancels the pending timer.
 *
 * @param startedAt the time (on `scheduler`) the plan's clock starts from, when that was
 * before subscribe (the server counts from the request's arrival). Defaults to subscribe time.
 */
export function playPlan(plan: PlayablePlan, scheduler: SchedulerLike, startedAt?: number): Observable<PlanMoment> {
  const moments: PlanMoment[] = plan.stream === false ? [] : plan.stepTimes.map((atMs, index) => ({ type: 'step', atMs, index }));
  const { ending } = plan;
  if (ending.type !== 'stall') moments.push({ type: 'end', atMs: ending.atMs, ending });

  const times = moments.map((moment) => moment.atMs);
  const played = timeline(times, scheduler, startedAt).pipe(map((index) => moments[index]!));
  return ending.type === 'stall' ? concat(played, NEVER) : played;
}
