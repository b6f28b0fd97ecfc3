import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

/**
 * Resolves once V8 has run `count` major collections of its own, driven by allocating short-lived
 * garbage, then waits `settleMs` for concurrent sweeping to finish so that it is not charged to the
 * next measurement. The garbage is held in batches of up to 400,000 objects, so that it survives the
 * young generation and fills the old one (which is what makes V8 collect it), and all of it is dropped
 * before this returns. Unlike `gc()` (a forced, full collection), these are the collections an idle
 * process gets from V8 itself after a burst of allocation (docs/performance.md, "Forced collections and
 * V8's own"). The collections are counted from Node's 'gc' performance entries, observed only while
 * this runs: an observer left connected would run a callback on every collection of the next sample.
 */
export async function untilMajorCollections(count: number, settleMs = 100): Promise<void> {
  let majors = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  try {
    let garbage: Array<{ i: number; s: string }> = [];
    while (majors < count) {
      for (let i = 0; i < 100_000; i++) {
        garbage.push({ i, s: `x${i}` });
        if (garbage.length > 400_000) garbage = [];
      }
      // Entries reach the observer from the event loop, not during the allocation.
      await new Promise((resolve) => setImmediate(resolve));
    }
    garbage = [];
  } finally {
    observer.disconnect();
  }
  await new Promise((resolve) => setTimeout(resolve, settleMs));
}
