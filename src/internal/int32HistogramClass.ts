// hdr-histogram-js's pure-JavaScript 32-bit histogram class, loaded at the first call rather than at import:
// `require('rxllm')` does not load it (about 3 ms and 0.3 MB of a cold import; limit() and rateLimit() keep
// a histogram per lane, but only once one is built); the first LatencyHistogram does, synchronously.
// The class alone, not the package index: the index also loads the WebAssembly build (a base64 blob), pako
// and the log encoders. The package has no `exports` map, so this path is public.
//
// Two variants, one per half of the build, as for lruCacheClass.ts (see there): this one (a `require()` at the
// first call) for CommonJS and the workspace, int32HistogramClass.esm.ts (a static import) for dist/esm.

import type { Int32Histogram } from 'hdr-histogram-js';

/**
 * hdr-histogram-js's `Int32Histogram` class. Its type is taken from the package index (types only: nothing of it
 * loads), where it is a named export: the module's own `default` export, seen from an ES module's declaration
 * file under node16 resolution, is the whole CommonJS `module.exports`, not the class.
 * @internal
 */
export type Int32HistogramClass = typeof Int32Histogram;

let loaded: Int32HistogramClass | undefined;

/**
 * hdr-histogram-js's `Int32Histogram` class, loaded by the first call (CommonJS; the ES module build imports it statically).
 * @internal
 */
export function int32HistogramClass(): Int32HistogramClass {
  // A CommonJS module with `exports.default = Int32Histogram`.
  return (loaded ??= (require('hdr-histogram-js/dist/Int32Histogram.js') as { default: Int32HistogramClass }).default);
}
