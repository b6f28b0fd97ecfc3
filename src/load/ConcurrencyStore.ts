/**
 * One slot taken from a {@link ConcurrencyStore}: held while the request is upstream, given back by
 * {@link ConcurrencySlot.release}.
 */
export interface ConcurrencySlot {
  /**
   * Gives the slot back. Called exactly once by `limit()` when the request ends (completes, errors or is
   * unsubscribed). Must not throw; a store that cannot reach its backend lets the slot lapse (a lease).
   */
  release(): void;
}

/**
 * Where {@link limit}'s slots live when they must be shared beyond one process: `limit({ concurrency, store })`.
 * Without a store, `limit()` counts its slots in the process (the default, and what it falls back to while the
 * store is unavailable). `rxllm/redis` has `redisConcurrencyStore`, a semaphore of leases shared by every instance.
 *
 * `limit()` keeps its waiting requests in its own lane queue and asks the store for a slot on behalf of the one
 * it would start next, one ask at a time; the store only counts.
 */
export interface ConcurrencyStore {
  /**
   * Takes one of `limit` slots if one is free. Resolves to the slot, to `undefined` when all `limit` are
   * taken (`limit()` asks again later), and rejects when the store cannot answer (its backend is unreachable):
   * `limit()` then starts the request on its in-process count alone, and counts that in
   * `stats().storeFallbacks`.
   */
  acquire(limit: number): Promise<ConcurrencySlot | undefined>;
}
