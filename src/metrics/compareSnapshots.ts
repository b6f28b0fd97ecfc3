import type { RegistrySnapshot } from './LatencyRegistry.js';
import { formatChange, formatMs, textTable } from './format.js';

/** Options for {@link compareSnapshots}. */
export interface CompareSnapshotsConfig {
  /** Growth beyond which a percentile is a regression, as a fraction (0.1 is +10 %). @defaultValue 0.1 */
  threshold?: number;
  /**
   * Growth in milliseconds that is never a regression, however large in relative terms
   * (20 ms → 30 ms is +50 % but rarely matters). @defaultValue 0
   */
  minIncreaseMs?: number;
  /**
   * Fewer requests than this (in either snapshot) and a step is not judged: its percentiles are
   * noise. @defaultValue 1
   */
  minCount?: number;
  /** @defaultValue ['ttft', 'total'] */
  metrics?: ('ttft' | 'total')[];
  /** @defaultValue ['p95', 'p99'] */
  percentiles?: ('p50' | 'p95' | 'p99')[];
  /** Compare steps or models. @defaultValue 'step' */
  by?: 'step' | 'model';
  /** All-time statistics or the sliding window. @defaultValue 'all' */
  view?: 'all' | 'window';
}

/** One compared percentile. */
export interface ComparisonCheck {
  /** The step (or model). */
  name: string;
  /** Which time: to first token, or the whole request. */
  metric: 'ttft' | 'total';
  /** Which percentile. */
  percentile: 'p50' | 'p95' | 'p99';
  /** Milliseconds. */
  before: number;
  /** Milliseconds, in the snapshot compared against the baseline. */
  after: number;
  /** `after / before − 1` (0.25 is +25 %). */
  change: number;
  /** True when it grew by more than `threshold` (and by more than `minIncrease` ms): a regression. */
  regression: boolean;
}

/** What {@link compareSnapshots} found. */
export interface SnapshotComparison {
  /** True when nothing regressed. */
  ok: boolean;
  /** The checks that regressed. */
  regressions: ComparisonCheck[];
  /** Every check made, in step order. */
  checks: ComparisonCheck[];
  /** Steps (or models) present on one side only, or with too few requests, so not judged. */
  skipped: {
    /** The step (or model). */
    name: string;
    /** Why it was not judged. */
    reason: 'only-before' | 'only-after' | 'too-few-requests';
  }[];
  /** The same as a readable report, ending with a one-line verdict. */
  text: string;
}

/**
 * Compares two registry snapshots (say, the last release's saved JSON and this build's) and flags
 * every step whose p95 or p99 time to first token or total time grew beyond a threshold: a latency
 * regression check to run in CI.
 *
 * A pure function: no I/O, no clock.
 *
 * @example
 * ```ts
 * const before = JSON.parse(readFileSync('latency-baseline.json', 'utf8'));
 * const result = compareSnapshots(before, latency.snapshot(), { threshold: 0.15, minCount: 20 });
 * console.log(result.text);
 * if (!result.ok) process.exitCode = 1;
 * ```
 * @see snapshotTable
 */
export function compareSnapshots(
  before: RegistrySnapshot,
  after: RegistrySnapshot,
  config: CompareSnapshotsConfig = {},
): SnapshotComparison {
  const threshold = config.threshold ?? 0.1;
  const minIncrease = config.minIncreaseMs ?? 0;
  const minCount = config.minCount ?? 1;
  const metrics = config.metrics ?? ['ttft', 'total'];
  const percentiles = config.percentiles ?? ['p95', 'p99'];
  const view = config.view ?? 'all';
  const pick = (snapshot: RegistrySnapshot) => (config.by === 'model' ? snapshot.models : snapshot.steps);
  const left = pick(before);
  const right = pick(after);

  const checks: ComparisonCheck[] = [];
  const skipped: SnapshotComparison['skipped'] = [];
  for (const name of [...new Set([...Object.keys(left), ...Object.keys(right)])].sort()) {
    const a = left[name]?.[view];
    const b = right[name]?.[view];
    if (!a || !b) {
      skipped.push({ name, reason: a ? 'only-before' : 'only-after' });
      continue;
    }
    if (a.requests < minCount || b.requests < minCount) {
      skipped.push({ name, reason: 'too-few-requests' });
      continue;
    }
    for (const metric of metrics) {
      for (const percentile of percentiles) {
        const was = a[metric]?.[percentile];
        const is = b[metric]?.[percentile];
        if (was === undefined || is === undefined) continue;
        const change = was === 0 ? (is === 0 ? 0 : Infinity) : is / was - 1;
        const regression = change > threshold && is - was > minIncrease;
        checks.push({ name, metric, percentile, before: was, after: is, change, regression });
      }
    }
  }
  const regressions = checks.filter((check) => check.regression);
  return { ok: regressions.length === 0, regressions, checks, skipped, text: report(config.by ?? 'step', checks, regressions, skipped, threshold) };
}

function report(
  by: 'step' | 'model',
  checks: ComparisonCheck[],
  regressions: ComparisonCheck[],
  skipped: SnapshotComparison['skipped'],
  threshold: number,
): string {
  const rows = checks.map((check) => [
    check.name,
    `${check.metric} ${check.percentile}`,
    formatMs(check.before),
    formatMs(check.after),
    formatChange(check.change),
    check.regression ? 'REGRESSION' : 'ok',
  ]);
  const lines = rows.length > 0 ? textTable([[by, 'metric', 'before', 'after', 'change', ''], ...rows], new Set([0, 1, 5])).lines : [];
  for (const { name, reason } of skipped) lines.push(`${name}: not compared (${reason.replace(/-/g, ' ')})`);
  const limit = `threshold ${formatChange(threshold)}`;
  lines.push(
    regressions.length === 0
      ? `No latency regression in ${checks.length} checks (${limit}).`
      : `${regressions.length} latency regression${regressions.length === 1 ? '' : 's'} in ${checks.length} checks (${limit}): ` +
          regressions.map((r) => `${r.name} ${r.metric} ${r.percentile} ${formatChange(r.change)}`).join(', ') +
          '.',
  );
  return lines.join('\n');
}
