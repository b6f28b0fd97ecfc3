/** Summary of repeated measurements: the median, and the spread as the interquartile range. */
export interface Summary {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;
  return { median: at(0.5), p25: at(0.25), p75: at(0.75), min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

export function round(value: number, digits = 3): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
