// The ES module build's variant of lruCacheClass.ts (see there): scripts/select-esm-variants.js puts its output
// in place of that file's in dist/esm. A static import, so every bundler includes lru-cache's ES module build
// when memoryCacheStore() is used (and drops it when not: the package is side-effect free), and Node's
// `import('rxllm')` loads lru-cache at import time.
import { LRUCache } from 'lru-cache';

/**
 * lru-cache's `LRUCache` class (imported statically in the ES module build).
 * @internal
 */
export function lruCacheClass(): typeof LRUCache {
  return LRUCache;
}
