import type { CacheEntry } from '../../src/cache/CacheStore';
import { memoryCacheStore } from '../../src/cache/memoryCacheStore';
import { finishEvent, textEvent } from '../../src/testing/events';

const entry = (text: string, bytes = text.length): CacheEntry => ({
  events: [textEvent(text), finishEvent('stop')],
  storedAt: 0,
  expiresAt: 1_000,
  bytes,
});

describe('memoryCacheStore', () => {
  it('returns what was stored, synchronously, and forgets what was deleted', () => {
    const store = memoryCacheStore();
    const stored = entry('hello');
    store.set('k', stored, 1_000);
    expect(store.get('k')).toBe(stored);
    expect(store.get('other')).toBeUndefined();
    store.delete('k');
    expect(store.get('k')).toBeUndefined();
    store.delete('never-there');
  });

  it('clears every entry, without counting evictions', () => {
    const store = memoryCacheStore({ maxEntries: 2 });
    store.set('a', entry('a'), 1_000);
    store.set('b', entry('b'), 1_000);
    store.set('c', entry('c'), 1_000);
    store.clear();
    expect(store.get('b')).toBeUndefined();
    expect(store.get('c')).toBeUndefined();
    expect(store.stats()).toEqual({ entries: 0, bytes: 0, evictions: 1 });
  });

  it('holds at most maxEntries, evicting the least recently used and counting it', () => {
    const store = memoryCacheStore({ maxEntries: 2 });
    store.set('a', entry('a'), 1_000);
    store.set('b', entry('b'), 1_000);
    store.get('a'); // a is now more recently used than b
    store.set('c', entry('c'), 1_000);
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')).toBeDefined();
    expect(store.get('c')).toBeDefined();
    expect(store.stats()).toEqual({ entries: 2, bytes: 2, evictions: 1 });
  });

  it('holds at most maxBytes, and does not store an entry larger than that', () => {
    const store = memoryCacheStore({ maxBytes: 100 });
    store.set('a', entry('a', 40), 1_000);
    store.set('b', entry('b', 40), 1_000);
    store.set('c', entry('c', 40), 1_000);
    expect(store.get('a')).toBeUndefined();
    expect(store.stats()).toEqual({ entries: 2, bytes: 80, evictions: 1 });
    store.set('huge', entry('huge', 101), 1_000);
    expect(store.get('huge')).toBeUndefined();
    expect(store.stats().bytes).toBeLessThanOrEqual(100);
  });

  it('does not count deletes and replacements as evictions', () => {
    const store = memoryCacheStore({ maxEntries: 5 });
    store.set('a', entry('a'), 1_000);
    store.set('a', entry('aa'), 1_000);
    store.delete('a');
    expect(store.stats()).toEqual({ entries: 0, bytes: 0, evictions: 0 });
  });

  it('rejects bounds that are not positive integers, and unknown options', () => {
    expect(thrownBy(() => memoryCacheStore({ maxEntries: 0 }))).toMatchObject({ code: 'invalid-config', message: /maxEntries/ });
    expect(thrownBy(() => memoryCacheStore({ maxBytes: 1.5 }))).toMatchObject({ code: 'invalid-config', message: /maxBytes/ });
    expect(thrownBy(() => memoryCacheStore({ maxEntry: 3 } as never))).toMatchObject({ code: 'invalid-config', message: /maxEntry/ });
  });
});

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}
