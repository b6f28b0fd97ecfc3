// Numbers of the techniques' report: `ms` for the printed lines, `round` for the JSON. Internal.

/** Milliseconds for the table: one decimal below 10 ms (a cache hit), whole numbers above. */
export function ms(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  return value < 10 ? `${value.toFixed(1)}ms` : `${Math.round(value)}ms`;
}

/** `value` rounded to `digits` decimals. */
export function round(value: number, digits = 0): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
