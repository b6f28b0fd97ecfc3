import * as int32Module from 'hdr-histogram-js/dist/Int32Histogram.js';
import { int32HistogramClass } from '../../src/internal/int32HistogramClass';
import { int32HistogramClass as esmVariant } from '../../src/internal/int32HistogramClass.esm';

// Both variants (the CommonJS one loads at the first call, the ES module build's imports statically) hand over
// hdr-histogram-js's 32-bit class itself, not the module namespace. spec/package.spec.ts checks when each half
// loads it, from Node and from bundles.
it.each([
  ['CommonJS (loaded at the first call)', int32HistogramClass],
  ['ES module build (a static import)', esmVariant],
])("%s: hands over hdr-histogram-js's Int32Histogram class itself, the same one on every call, and it works", (_variant, load) => {
  expect(load()).toBe(int32Module.default);
  expect(load()).toBe(load());
  const histogram = new (load())(1, 2, 3);
  histogram.autoResize = true;
  for (const ms of [120, 180, 95, 2400]) histogram.recordValue(ms);
  expect(histogram.getValueAtPercentile(50)).toBe(120);
});
