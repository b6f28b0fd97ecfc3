import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

// Counts the major (mark-compact) collections V8 runs, as Node reports them ('gc' performance entries).
let majors = 0;
let observer: PerformanceObserver | undefined;

/**
 * Resolves once V8 has run `count` major collections of its own, driven by allocating short-lived
 * garbage (nothing is kept), then waits `settleMs` for concurrent sweeping to finish so that it is
 * not charged to the next measurement. Unlike `gc()` (a forced, full collection), these are the
 * collections an idle process gets from V8 itself after a burst of allocation (docs/performance.md,
 * "Forced collections and V8's own").
 */
export async function untilMajorCollections(count: number, settleMs = 100): Promise<void> {
  if (!observer) {
    observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
      }
    });
    observer.observe({ entryTypes: ['gc'] });
  }
  const target = majors + count;
  let garbage: Array<{ i: number; s: string }> = [];
  while (majors < target) {
    for (let i = 0; i < 100_000; i++) {
      garbage.push({ i, s: `x${i}` });
      if (garbage.length > 400_000) garbage = [];
    }
    // Entries reach the observer from the event loop, not during the allocation.
    await new Promise((resolve) => setImmediate(resolve));
  }
  garbage = [];
  await new Promise((resolve) => setTimeout(resolve, settleMs));
}

/** Stops counting (the observer keeps the process alive otherwise). */
export function stopCountingCollections(): void {
  observer?.disconnect();
  observer = undefined;
}
