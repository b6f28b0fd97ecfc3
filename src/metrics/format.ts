// Number formatting shared by the table, the comparison and the waterfalls. Internal.

/** A duration for people: `0ms`, `840ms`, `1.84s`, `12.3s`, `125s`. */
export function formatMs(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  const abs = Math.abs(ms);
  if (abs < 1000) return `${Math.round(ms)}ms`;
  if (abs < 10_000) return `${(ms / 1000).toFixed(2)}s`;
  if (abs < 100_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 1000)}s`;
}

/** A number with one decimal (tokens per second). */
export function formatNumber(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value.toFixed(1);
}

/** A relative change as a signed percentage: `+12.5%`, `-3.0%`. */
export function formatChange(ratio: number): string {
  if (!Number.isFinite(ratio)) return ratio > 0 ? '+∞' : '–';
  return `${ratio >= 0 ? '+' : ''}${(ratio * 100).toFixed(1)}%`;
}

/** Round tick positions (1, 2 or 5 × 10^k ms apart) from 0 to at least `span`, at most about `maxTicks` of them. */
export function niceTicks(span: number, maxTicks: number): number[] {
  if (!(span > 0)) return [0];
  const rough = span / Math.max(1, maxTicks);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? 10 * magnitude;
  const ticks: number[] = [];
  for (let tick = 0; tick <= span + step * 1e-9; tick += step) ticks.push(Math.round(tick * 1e6) / 1e6);
  return ticks;
}

/** A laid-out plain-text table: its lines, and where each column starts and how wide it is. */
export interface TextTable {
  lines: string[];
  starts: number[];
  widths: number[];
}

/** Lays out a plain-text table: columns padded to their widest cell, right-aligned except those listed. */
export function textTable(rows: readonly (readonly string[])[], leftAligned: ReadonlySet<number> = new Set([0])): TextTable {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, [...cell].length)));
  const starts = widths.map((_, i) => widths.slice(0, i).reduce((sum, width) => sum + width + 2, 0));
  const lines = rows.map((row) =>
    row
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i]! - [...cell].length);
        return leftAligned.has(i) ? cell + pad : pad + cell;
      })
      .join('  ')
      .trimEnd(),
  );
  return { lines, starts, widths };
}

/** `text` centred over the columns `from`..`to` of a laid-out table, as a line of that table. */
export function spanTitle(table: TextTable, from: number, to: number, text: string, line = ''): string {
  const left = table.starts[from]!;
  const right = table.starts[to]! + table.widths[to]!;
  const at = Math.max(left, left + Math.floor((right - left - [...text].length) / 2));
  return line.padEnd(at) + text;
}
