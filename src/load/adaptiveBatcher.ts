import { finalize, Observable, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';

/** How an {@link AdaptiveBatcher}'s window follows load. */
export interface BatchWindow {
  /** Load (requests in flight) at which batching starts; below it an item goes out at once. */
  threshold: number;
  /** The window grows by this many ms for each unit of load from `threshold` up. */
  stepMs: number;
  /** The window never exceeds this. */
  maxWaitMs: number;
  /** A batch this full goes out at once. */
  maxBatchSize: number;
}

/**
 * The batching window at a given load: 0 below the threshold, else
 * `stepMs × (load − threshold + 1)`, capped at `maxWaitMs`.
 */
export function batchWindowMs(load: number, window: BatchWindow): number {
  return load < window.threshold ? 0 : Math.min(window.maxWaitMs, window.stepMs * (load - window.threshold + 1));
}

/** Runs items: many in one call, or one alone. */
export interface BatchExecutor<I, O> {
  /**
   * One upstream call for several items. Emits once: for each item (same order)
   * its values, or `undefined` to send that item alone with {@link BatchExecutor.one}.
   * An error reaches every item of the batch.
   */
  many(items: readonly I[]): Observable<ReadonlyArray<readonly O[] | undefined>>;
  /** One item alone: below the threshold, a batch of one, or a fallback. */
  one(item: I): Observable<O>;
}

/** Counts of an {@link AdaptiveBatcher}. */
export interface BatcherCounts {
  /** Calls for several items. */
  batches: number;
  /** Items answered by those calls (not counting fallbacks). */
  batchedItems: number;
  /** Items sent alone (load below threshold, a batch of one, or a fallback). */
  sentAlone: number;
  /** Items of a sent batch that had to be sent alone because the batch answer did not cover them. */
  fallbacks: number;
}

interface Member<I, O> {
  readonly item: I;
  readonly subscriber: Subscriber<O>;
  alone?: Subscription;
}

interface OpenBatch<I, O> {
  readonly key: string;
  readonly openedAt: number;
  readonly members: Set<Member<I, O>>;
  timer?: Subscription;
}

/**
 * Groups items that arrive under load into batches whose window grows with the
 * load and shrinks as it falls (see {@link batchWindowMs}); below the threshold
 * an item goes out at once. Items with different keys are never batched
 * together. The load is the number of tracked calls in flight (batches, lone
 * items and whatever is passed to {@link AdaptiveBatcher.track}) plus
 * `extraLoad()`; the window is re-evaluated whenever a tracked call starts or
 * ends and whenever an item arrives.
 *
 * Unsubscribing an item of a batch not yet sent removes it; the last item of a
 * sent batch to leave aborts the call. Each item sees only its own values or
 * the batch's error.
 */
export class AdaptiveBatcher<I, O> {
  private readonly open = new Map<string, OpenBatch<I, O>>();
  private inFlight = 0;

  constructor(
    private readonly executor: BatchExecutor<I, O>,
    private readonly window: BatchWindow,
    private readonly scheduler: SchedulerLike,
    readonly counts: BatcherCounts,
    private readonly extraLoad: () => number = () => 0,
  ) {}

  /** Tracked calls in flight plus the extra load. */
  get load(): number {
    return this.inFlight + this.extraLoad();
  }

  /** Counts `source` as load while it is subscribed. */
  track<T>(source: Observable<T>): Observable<T> {
    return new Observable<T>((subscriber) => {
      this.inFlight++;
      this.reevaluate();
      return source
        .pipe(
          finalize(() => {
            this.inFlight--;
            this.reevaluate();
          }),
        )
        .subscribe(subscriber);
    });
  }

  /** The values for one item: alone at once when load is low, else in the next batch of its key. */
  submit(key: string, item: I): Observable<O> {
    return new Observable<O>((subscriber) => {
      const member: Member<I, O> = { item, subscriber };
      let batch = this.open.get(key);
      if (batch === undefined && batchWindowMs(this.load, this.window) === 0) {
        this.runAlone(member);
      } else {
        if (batch === undefined) {
          batch = { key, openedAt: this.scheduler.now(), members: new Set() };
          this.open.set(key, batch);
        }
        batch.members.add(member);
        if (batch.members.size >= this.window.maxBatchSize) this.flush(batch);
        else this.schedule(batch);
      }
      return () => {
        member.alone?.unsubscribe();
        const waiting = this.open.get(key);
        if (waiting?.members.delete(member) && waiting.members.size === 0) {
          waiting.timer?.unsubscribe();
          this.open.delete(key);
        }
      };
    });
  }

  private reevaluate(): void {
    for (const batch of [...this.open.values()]) this.schedule(batch);
  }

  private schedule(batch: OpenBatch<I, O>): void {
    const window = batchWindowMs(this.load, this.window);
    const due = batch.openedAt + window - this.scheduler.now();
    batch.timer?.unsubscribe();
    if (window === 0 || due <= 0) this.flush(batch);
    else batch.timer = this.scheduler.schedule(() => this.flush(batch), due);
  }

  private flush(batch: OpenBatch<I, O>): void {
    if (this.open.get(batch.key) !== batch) return;
    this.open.delete(batch.key);
    batch.timer?.unsubscribe();
    const members = [...batch.members];
    if (members.length === 1) {
      this.runAlone(members[0]!);
      return;
    }
    this.counts.batches++;
    // Members leave the live set when they unsubscribe or are settled; the call is aborted when none is left.
    const live = new Set(members);
    const call = this.track(this.executor.many(members.map((m) => m.item))).subscribe({
      next: (answers) => {
        members.forEach((member, index) => {
          if (!live.delete(member)) return;
          const values = answers[index];
          if (values === undefined) {
            this.counts.fallbacks++;
            this.runAlone(member);
          } else {
            this.counts.batchedItems++;
            for (const value of values) member.subscriber.next(value);
            member.subscriber.complete();
          }
        });
      },
      error: (error: unknown) => {
        for (const member of live) member.subscriber.error(error);
        live.clear();
      },
      complete: () => {
        // An executor that completes without answering leaves its items unanswered: they go alone.
        for (const member of live) {
          this.counts.fallbacks++;
          this.runAlone(member);
        }
        live.clear();
      },
    });
    for (const member of members) {
      member.subscriber.add(() => {
        if (live.delete(member) && live.size === 0) call.unsubscribe();
      });
    }
  }

  private runAlone(member: Member<I, O>): void {
    this.counts.sentAlone++;
    const { subscriber } = member;
    member.alone = this.track(this.executor.one(member.item)).subscribe({
      next: (value) => subscriber.next(value),
      error: (error: unknown) => subscriber.error(error),
      complete: () => subscriber.complete(),
    });
  }
}
