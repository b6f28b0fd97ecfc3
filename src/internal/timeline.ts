import { Observable, type SchedulerAction, type SchedulerLike } from 'rxjs';

// Internal: not exported from any entry point. Plays scripted and simulated answers.

/**
 * Emits `0, 1, 2, ...`: index `i` when `times[i]` milliseconds have passed since `start` on
 * `scheduler`'s clock, then completes after the last. Indexes come in order: a time smaller
 * than one before it is due right after that one.
 *
 * - Each time is due at `start + times[i]`, computed from the start (never by adding the gaps up),
 *   and one timer at a time is set for the next due time: late timers in real time do not push
 *   later times back, and every index that fell due together is emitted in one go, in order.
 * - In virtual time (`TestScheduler`) index `i` is emitted on the frame `start + times[i]` exactly,
 *   whatever the start, fractional ones included (see `waitFor`). A wait always moves the clock,
 *   so playing cannot spin at one instant.
 * - Cold; a subscriber that unsubscribes (also from inside `next`) cancels the pending timer and
 *   receives nothing more.
 *
 * @param start the clock time the times count from. Defaults to the time of subscribe; an
 * earlier start (a server counting from a request's arrival) emits what is already due at once.
 */
export function timeline(times: readonly number[], scheduler: SchedulerLike, start?: number): Observable<number> {
  return new Observable<number>((subscriber) => {
    if (times.length === 0) {
      subscriber.complete();
      return undefined;
    }
    const origin = start ?? scheduler.now();
    let next = 0;
    const play = function (this: SchedulerAction<void>): void {
      const now = scheduler.now();
      while (next < times.length && origin + times[next]! <= now) {
        subscriber.next(next++);
        if (subscriber.closed) return;
      }
      if (next < times.length) this.schedule(undefined, waitFor(origin + times[next]!, now));
      else subscriber.complete();
    };
    // Counted from subscribe, the first wait is the first time itself: it lands on `origin + times[0]`.
    const first = origin + times[0]!;
    const now = scheduler.now();
    return scheduler.schedule(play, start === undefined ? times[0]! : first > now ? waitFor(first, now) : 0);
  });
}

/**
 * The delay after which a timer set at `now` fires at `due` (> `now`) on a clock that adds the
 * delay to `now`, as `TestScheduler` does. `due − now` is exact when `due ≤ 2·now` (Sterbenz), so
 * `now + (due − now)` is `due` itself; further off it can round a step past `due`. Then the timer
 * waits half the way first: from there the rest of the wait is exact. The delay is never too small
 * to move the clock (it is at least one step of `now`), so a timer can never fire at `now` again.
 */
function waitFor(due: number, now: number): number {
  const delay = due - now;
  return now + delay === due ? delay : delay / 2;
}
