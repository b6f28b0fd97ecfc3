import type { RegistrySnapshot } from './LatencyRegistry.js';
import { formatMs, formatNumber, spanTitle, textTable } from './format.js';

/** Options for {@link snapshotTable}. */
export interface SnapshotTableConfig {
  /** One row per step or per model. @defaultValue 'step' */
  by?: 'step' | 'model';
  /** All-time statistics or the sliding window. @defaultValue 'all' */
  view?: 'all' | 'window';
  /** ANSI colours (dim headers, red error counts). @defaultValue false */
  color?: boolean;
}

/**
 * A registry snapshot as a readable, fixed-width table: requests, errors, cancellations, and
 * p50/p95/p99 of time to first token and of total time, plus median tokens per second, one row
 * per step (or model).
 *
 * ```text
 * Latency by step (all time)
 *                          time to first token      total time
 * step      req  err  cxl   p50    p95    p99    p50    p95    p99  tok/s
 * keywords   20    0    0  85ms  140ms  152ms  310ms  420ms  455ms   62.5
 * summary    20    1    0 210ms  480ms  1.20s  1.84s  2.60s  3.10s   48.2
 * ```
 *
 * A pure function of the snapshot; `–` marks a value with no data.
 *
 * @example
 * ```ts
 * console.log(snapshotTable(latency.snapshot(), { color: process.stdout.isTTY }));
 * ```
 * @see compareSnapshots
 */
export function snapshotTable(snapshot: RegistrySnapshot, config: SnapshotTableConfig = {}): string {
  const by = config.by ?? 'step';
  const view = config.view ?? 'all';
  const paint = (code: string, text: string) => (config.color ? `\u001b[${code}m${text}\u001b[0m` : text);

  const header = [by, 'req', 'err', 'cxl', 'p50', 'p95', 'p99', 'p50', 'p95', 'p99', 'tok/s'];
  const body = Object.entries(by === 'step' ? snapshot.steps : snapshot.models).map(([name, entry]) => {
    const stats = entry[view];
    return [
      name,
      String(stats.requests),
      String(stats.errors),
      String(stats.cancelled),
      formatMs(stats.ttft?.p50),
      formatMs(stats.ttft?.p95),
      formatMs(stats.ttft?.p99),
      formatMs(stats.total?.p50),
      formatMs(stats.total?.p95),
      formatMs(stats.total?.p99),
      formatNumber(stats.tokensPerSecond?.p50),
    ];
  });
  const table = textTable([header, ...body]);
  const scope = view === 'window' ? `sliding window: ${describeWindow(snapshot)}` : 'all time';
  const groups = spanTitle(table, 7, 9, 'total time', spanTitle(table, 4, 6, 'time to first token'));

  const out = [paint('1', `Latency by ${by} (${scope})`), paint('2', groups), paint('2', table.lines[0]!)];
  const errEnd = table.starts[2]! + table.widths[2]!;
  body.forEach((row, i) => {
    const line = table.lines[i + 1]!;
    const errors = row[2]!;
    // Only the error count turns red, so the columns stay aligned whatever the colouring.
    out.push(errors === '0' ? line : line.slice(0, errEnd - errors.length) + paint('31', errors) + line.slice(errEnd));
  });
  if (body.length === 0) out.push(paint('2', '(no requests measured)'));
  return out.join('\n');
}

function describeWindow(snapshot: RegistrySnapshot): string {
  if (!('ms' in snapshot.window)) return `last ${snapshot.window.requests} requests`;
  const { ms } = snapshot.window;
  return `last ${ms % 1000 === 0 ? `${ms / 1000}s` : formatMs(ms)}`;
}
