// The ES module build's variant of int32HistogramClass.ts (see there): scripts/select-esm-variants.js puts its
// output in place of that file's in dist/esm. A static import, which every bundler follows.
import type { Int32Histogram as Int32HistogramType } from 'hdr-histogram-js';
import * as int32Module from 'hdr-histogram-js/dist/Int32Histogram.js';

/** hdr-histogram-js's `Int32Histogram` class (its type from the package index, as in int32HistogramClass.ts). @internal */
export type Int32HistogramClass = typeof Int32HistogramType;

// The module is CommonJS with `exports.default = Int32Histogram`. Bundlers hand over the class as the
// namespace's `default`; Node's ES module loader hands over `module.exports`, whose `default` is the class.
// Either way, the class.
const imported = int32Module.default as Int32HistogramClass | { default: Int32HistogramClass };
const Int32Histogram: Int32HistogramClass = 'default' in imported ? imported.default : imported;

/**
 * hdr-histogram-js's `Int32Histogram` class (imported statically in the ES module build).
 * @internal
 */
export function int32HistogramClass(): Int32HistogramClass {
  return Int32Histogram;
}
