/** One waiting entry of a {@link LaneQueue}. */
export interface QueuedEntry {
  /** Index of its lane: 0 is the highest priority. */
  readonly lane: number;
  /** Scheduler time at which it joined the queue. */
  readonly enqueuedAt: number;
}

/**
 * While an entry has waited `agingMs` or more, it is "starving": one dispatch in
 * this many goes to the longest-starving entry, the others follow priority.
 */
export const STARVING_SHARE = 4;

/**
 * A priority queue over a fixed list of lanes that never starves a lane: the
 * next entry is the oldest of the highest non-empty lane, except that once an
 * entry of a lower lane has waited `agingMs`, every {@link STARVING_SHARE}-th
 * take goes to the longest-waiting such entry. High lanes thus keep at least
 * three quarters of the dispatches under any backlog, and a low lane at least a
 * quarter once it has waited `agingMs`. (Plain aging, where an old entry simply
 * outranks a new one, turns into FIFO under a backlog of old background work, and
 * interactive requests would queue behind all of it.)
 *
 * A take may be limited to the first lanes (the ones allowed to start now, as
 * {@link limit}'s reserves decide); the share then holds among those lanes.
 *
 * Removal of any entry (a cancelled caller) is O(1); taking the next is
 * O(number of lanes). Plain data structure: no timers, time is passed in.
 */
export class LaneQueue<E extends QueuedEntry> {
  // A Set keeps insertion order and deletes in O(1): each lane is a FIFO that also allows removal from the middle.
  private readonly lanes: Set<E>[];
  private count = 0;
  private passedOver = 0;

  constructor(
    laneCount: number,
    private readonly agingMs: number,
  ) {
    this.lanes = Array.from({ length: laneCount }, () => new Set<E>());
  }

  /** Entries waiting. */
  get size(): number {
    return this.count;
  }

  /** Entries waiting in one lane. */
  sizeOf(lane: number): number {
    return this.lanes[lane]?.size ?? 0;
  }

  /** Entries waiting in this lane and the lanes above it. */
  sizeThrough(lane: number): number {
    let size = 0;
    for (let index = 0; index <= lane && index < this.lanes.length; index++) size += this.lanes[index]!.size;
    return size;
  }

  push(entry: E): void {
    this.lanes[entry.lane]!.add(entry);
    this.count++;
  }

  /** Removes an entry wherever it is; false if it was not waiting. */
  remove(entry: E): boolean {
    const removed = this.lanes[entry.lane]!.delete(entry);
    if (removed) this.count--;
    return removed;
  }

  /**
   * Takes the entry that should run next at time `now` from the first `laneCount`
   * lanes (all by default), or undefined when they are empty.
   */
  shift(now: number, laneCount: number = this.lanes.length): E | undefined {
    const { next, passedOver } = this.choose(now, laneCount);
    this.passedOver = passedOver;
    if (next !== undefined) this.remove(next);
    return next;
  }

  /**
   * The entry {@link LaneQueue.shift} would take at `now`, left in the queue and the
   * anti-starvation count untouched (for a dispatcher that must first win a slot elsewhere).
   */
  peek(now: number, laneCount: number = this.lanes.length): E | undefined {
    return this.choose(now, laneCount).next;
  }

  private choose(now: number, laneCount: number): { next: E | undefined; passedOver: number } {
    let first: E | undefined;
    let starving: E | undefined;
    for (let index = 0; index < laneCount && index < this.lanes.length; index++) {
      const lane = this.lanes[index]!;
      // Each lane is in arrival order: its head is both its next entry and its longest waiting.
      const head: E | undefined = lane.values().next().value;
      if (head === undefined) continue;
      if (first === undefined) first = head;
      else if (now - head.enqueuedAt >= this.agingMs && (starving === undefined || head.enqueuedAt < starving.enqueuedAt)) starving = head;
    }
    if (starving === undefined) return { next: first, passedOver: this.passedOver };
    return this.passedOver >= STARVING_SHARE - 1 ? { next: starving, passedOver: 0 } : { next: first, passedOver: this.passedOver + 1 };
  }
}
