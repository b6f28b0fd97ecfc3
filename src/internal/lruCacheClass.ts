// lru-cache's LRUCache class, loaded at the first call rather than at import: `require('rxllm')` does not load
// lru-cache (about 2 ms and 0.3 MB of a cold import, for apps that never cache in memory); the first
// memoryCacheStore() does, synchronously, so a store is built inside synchronous operator code and a hit
// still replays without a Promise hop.
//
// Two variants, one per half of the build, with one signature:
// - this file, for CommonJS: dist/cjs, and the workspace's own runs (Jest, ts-node). A plain `require()`
//   inside the function, which Node runs at the first call and a bundler follows like any require().
// - lruCacheClass.esm.ts, for the ES module half: scripts/select-esm-variants.js puts its output in place of
//   this file's in dist/esm after tsc (and so in dist/esm-node, bundled from it). An ES module cannot require()
//   without createRequire(), which bundlers do not follow, and a bundle for Node in ES module format that met
//   lru-cache's CommonJS build through require() would fail at run time on its require('node:diagnostics_channel').
//   So `import('rxllm')` in Node still loads lru-cache at import (its ES module build), and every bundler sees a
//   static import.
import type { LRUCache } from 'lru-cache';

let loaded: typeof LRUCache | undefined;

/**
 * lru-cache's `LRUCache` class, loaded by the first call (CommonJS; the ES module build imports it statically).
 * @internal
 */
export function lruCacheClass(): typeof LRUCache {
  return (loaded ??= (require('lru-cache') as typeof import('lru-cache')).LRUCache);
}
