import type { LatencyRegistry } from '../metrics/LatencyRegistry.js';

/**
 * What {@link hedge} and {@link route} read from a latency registry: windowed time-to-first-token
 * percentiles and sample counts per step or model. A {@link LatencyRegistry} is one; any object
 * with these two methods (a shared Redis-backed store, a fake in a test) will do.
 */
export type LatencySource = Pick<LatencyRegistry, 'percentile' | 'count'>;

/** A percentile written as `'p50'`, `'p95'`, `'p99.9'`: the number, or undefined when it is not one. */
export function parsePercentile(value: string): number | undefined {
  const match = /^p(\d{1,2}(?:\.\d+)?)$/.exec(value);
  return match ? Number(match[1]) : undefined;
}
