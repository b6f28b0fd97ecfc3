import type { LRUCache } from 'lru-cache';
// lru-cache loads at the first memoryCacheStore() in CommonJS, not at `require('rxllm')` (see lruCacheClass.ts).
import { lruCacheClass } from '../internal/lruCacheClass.js';
import * as s from '../internal/check.js';
import type { RxllmError } from '../core/errors.js'; // for {@link} in the docs
import type { CacheEntry, CacheStore, CacheStoreStats } from './CacheStore.js';
import { validateConfig } from '../core/validateConfig.js';

/** Options for {@link memoryCacheStore}. At least one bound is always in force. */
export interface MemoryCacheStoreConfig {
  /** Most entries held; the least recently used goes first. @defaultValue 1000 */
  maxEntries?: number;
  /**
   * Most bytes held, counted as {@link CacheEntry.bytes}; the least recently
   * used entries go first, and an entry larger than this is not stored.
   * @defaultValue 67108864 (64 MiB)
   */
  maxBytes?: number;
}

/** A {@link CacheStore} that also reports its counts and can be cleared. */
export interface MemoryCacheStore extends CacheStore {
  /** Removes every entry (not counted as evictions). */
  clear(): void;
  stats(): Required<CacheStoreStats>;
}

/**
 * An in-process {@link CacheStore}: a least-recently-used map (the
 * `lru-cache` package) bounded by entries and bytes. Synchronous, so a hit
 * replays without a Promise hop.
 *
 * From CommonJS (`require('rxllm')`), `lru-cache` is loaded by the first call,
 * not at import; the ES module build imports it statically (bundlers include
 * it only when this function is used).
 *
 * Expiry is lazy: an entry past its `expiresAt` is not served (`cache()`
 * checks it against its scheduler and deletes it when it next reads it), and
 * the bounds push out whatever is left. No timers run, so the store never keeps a process
 * alive and works unchanged in virtual time.
 *
 * @throws {@link RxllmError} `invalid-config` when a bound is not a positive integer.
 *
 * @example
 * ```ts
 * const store = memoryCacheStore({ maxEntries: 500, maxBytes: 8 * 1024 * 1024 });
 * const llm = withMiddleware(transport, cache({ ttl: 60_000, store }));
 * store.clear(); // on logout, say; cache().clear() does the same
 * ```
 */
export function memoryCacheStore(config: MemoryCacheStoreConfig = {}): MemoryCacheStore {
  const { maxEntries, maxBytes } = validateConfig('memoryCacheStore', configSchema, config);
  let evictions = 0;
  const LRU: typeof LRUCache = lruCacheClass();
  const lru = new LRU<string, CacheEntry>({
    max: maxEntries,
    maxSize: maxBytes,
    // lru-cache needs positive integers; an empty answer still costs its key and object.
    sizeCalculation: (entry) => Math.max(1, entry.bytes),
    dispose: (_entry, _key, reason) => {
      if (reason === 'evict') evictions++;
    },
  });

  return {
    get: (key) => lru.get(key),
    set: (key, entry) => {
      lru.set(key, entry);
    },
    delete: (key) => {
      lru.delete(key);
    },
    clear: () => {
      lru.clear();
    },
    stats: () => ({ entries: lru.size, bytes: lru.calculatedSize, evictions }),
  };
}

const positiveInt = s.number().int().positive();
const configSchema = s.strictObject({
  maxEntries: positiveInt.default(1000),
  maxBytes: positiveInt.default(64 * 1024 * 1024),
});

