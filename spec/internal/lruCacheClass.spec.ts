import { LRUCache } from 'lru-cache';
import { lruCacheClass } from '../../src/internal/lruCacheClass';
import { lruCacheClass as esmVariant } from '../../src/internal/lruCacheClass.esm';

// Both variants (the CommonJS one loads at the first call, the ES module build's imports statically) hand over
// lru-cache's class itself. spec/package.spec.ts checks when each half loads it, from Node and from bundles.
it.each([
  ['CommonJS (loaded at the first call)', lruCacheClass],
  ['ES module build (a static import)', esmVariant],
])("%s: hands over lru-cache's LRUCache class itself, the same one on every call, and it works", (_variant, load) => {
  expect(load()).toBe(LRUCache);
  expect(load()).toBe(load());
  const lru = new (load())<string, number>({ max: 1 });
  lru.set('a', 1);
  lru.set('b', 2);
  expect([lru.get('a'), lru.get('b')]).toEqual([undefined, 2]);
});
