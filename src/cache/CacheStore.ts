import type { LlmEvent } from '../core/events.js';

/** One complete, successful answer as `cache()` stores it. Plain data, so a store may serialise it as JSON. */
export interface CacheEntry {
  /** The answer's events, in the order they arrived, ending with its `finish` event(s). */
  readonly events: readonly LlmEvent[];
  /** When it was stored, in the cache scheduler's milliseconds. */
  readonly storedAt: number;
  /** When it stops being served, in the cache scheduler's milliseconds. */
  readonly expiresAt: number;
  /** Its approximate size: the length of the events' JSON text. */
  readonly bytes: number;
}

/** What a store knows about itself, for {@link CacheStats}. A store that can't tell cheaply leaves fields out. */
export interface CacheStoreStats {
  /** Entries held now. */
  entries?: number;
  /** Sum of held entries' {@link CacheEntry.bytes}. */
  bytes?: number;
  /** Entries pushed out to make room (not counting expiry or explicit deletes). */
  evictions?: number;
}

/**
 * A value now, or a Promise of it (internal shorthand: the public {@link CacheStore} spells it out).
 * The in-memory store answers synchronously, so a hit replays in the same tick (and in virtual time);
 * a network store (Redis) returns Promises. `cache()` accepts both.
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * Where `cache()` keeps answers: the in-memory {@link memoryCacheStore} by
 * default, or any store with these three methods (and, for `cache().clear()`, a fourth) (the `rxllm/redis` store, a
 * database table). Keys are request keys (64 hex digits) and safe in any key
 * space.
 *
 * A store must return what it was given (or an equal copy), may drop an entry
 * at any time (eviction), and should drop it once `ttlMs` has passed; `cache()`
 * also checks {@link CacheEntry.expiresAt} itself, so a store that keeps
 * entries longer is still never served stale. A rejected Promise or a throw
 * counts as a store error: the request goes upstream as on a miss.
 */
export interface CacheStore {
  /** The entry under `key`, or `undefined`. */
  get(key: string): CacheEntry | undefined | Promise<CacheEntry | undefined>;
  /** Stores `entry` under `key`, to be dropped after `ttlMs` milliseconds. */
  set(key: string, entry: CacheEntry, ttlMs: number): void | Promise<void>;
  /** Removes `key` (no error if absent). */
  delete(key: string): void | Promise<void>;
  /**
   * Removes every entry; optional. `cache().clear()` needs it. A store shared
   * by several `cache()`s (Redis) clears what they all share: give such a store
   * a prefix of its own if only one app's answers should go.
   */
  clear?(): void | Promise<void>;
  /** Counts for {@link CacheStats}; optional. */
  stats?(): CacheStoreStats;
}
