import { formatMs, niceTicks } from './format.js';
import { summarizeTimeline, type TimelineRow, type TimelineStatus } from './timeline.js';

/** Options for {@link renderWaterfall}. */
export interface RenderWaterfallConfig {
  /** Total line width in characters. @defaultValue 100 */
  width?: number;
  /** ANSI colours; leave off for logs, files and CI output. @defaultValue false */
  color?: boolean;
  /** Only ASCII characters (`.` waiting, `#` streaming, `*` critical), for terminals without Unicode. @defaultValue false */
  ascii?: boolean;
  /** A heading line. */
  title?: string;
}

const ANSI: Record<TimelineStatus | 'critical', string> = { ok: '36', critical: '35', error: '31', cancelled: '90' };

/**
 * A run's timeline as a terminal waterfall: one bar per node on a shared time axis, the wait for
 * the first token drawn light and the streaming part solid, the critical path marked, and a line
 * with wall time, the critical path and how much the nodes overlapped.
 *
 * ```text
 *                0          250ms       500ms       750ms       1.00s
 *                ┬───────────┬───────────┬───────────┬───────────┬──
 * ◆ extract      ░░░███████                                           410ms  ttft 120ms
 *   sentiment    ░░░░░░███████████                                    520ms  ttft 210ms
 * ◆ summary                ░░░░░░░░░███████████████████████           1.10s  ttft 380ms
 *
 *   ░ waiting for first token  █ streaming  ◆ critical path
 *   wall 1.52s · critical path extract → summary · 3 nodes, 2.0× overlap
 * ```
 *
 * A pure function of the rows (times are relative to the earliest start); with `color: false`
 * the output has no escape codes.
 *
 * @example
 * ```ts
 * console.log(renderWaterfall(run.timeline, { color: process.stdout.isTTY, width: process.stdout.columns }));
 * ```
 * @see waterfallHtml
 */
export function renderWaterfall(rows: readonly TimelineRow[], config: RenderWaterfallConfig = {}): string {
  const width = Math.max(40, Math.floor(config.width ?? 100));
  const ascii = config.ascii ?? false;
  const paint = (code: string, text: string) => (config.color && text !== '' ? `\u001b[${code}m${text}\u001b[0m` : text);
  const glyph = ascii
    ? { wait: '.', stream: '#', critical: '*', tick: '+', rule: '-', arrow: '->', times: 'x', more: '~' }
    : { wait: '░', stream: '█', critical: '◆', tick: '┬', rule: '─', arrow: '→', times: '×', more: '…' };

  const out: string[] = [];
  if (config.title) out.push(paint('1', config.title));
  if (rows.length === 0) return [...out, '(empty timeline)'].join('\n');

  const summary = summarizeTimeline(rows);
  const nameWidth = Math.min(24, Math.max(4, ...rows.map((row) => [...row.name].length)));
  const indent = 2 + nameWidth + 1;
  // What follows each bar, before colouring: the bar area gets whatever width the widest tail leaves.
  const tails = rows.map((row) => {
    const ttft = row.firstToken === undefined ? 'no token' : `ttft ${formatMs(row.firstToken - row.start)}`;
    return { head: ` ${formatMs(row.end - row.start).padStart(6)}  ${ttft}`, status: row.status === 'ok' ? '' : ` ${row.status}` };
  });
  const tailWidth = Math.min(
    44,
    Math.max(...rows.map((row, i) => tails[i]!.head.length + tails[i]!.status.length + (row.detail ? [...row.detail].length + 2 : 0))),
  );
  const barWidth = Math.max(10, width - indent - tailWidth);
  const span = summary.wall > 0 ? summary.wall : 1;
  const column = (time: number) => ((time - summary.origin) / span) * barWidth;

  // Axis: tick labels above a rule, labels kept inside the bar area and never touching each other.
  const labels = new Array<string>(barWidth).fill(' ');
  const rule = new Array<string>(barWidth).fill(glyph.rule);
  for (const tick of niceTicks(span, Math.max(2, Math.floor(barWidth / 9)))) {
    const at = Math.min(barWidth - 1, Math.round((tick / span) * barWidth));
    rule[at] = glyph.tick;
    const text = tick === 0 ? '0' : formatMs(tick);
    const from = Math.max(0, Math.min(at, barWidth - text.length));
    if (labels.slice(Math.max(0, from - 1), from + text.length + 1).every((c) => c === ' ')) {
      [...text].forEach((c, i) => (labels[from + i] = c));
    }
  }
  out.push(' '.repeat(indent) + paint('2', labels.join('').trimEnd()));
  out.push(' '.repeat(indent) + paint('2', rule.join('')));

  rows.forEach((row, i) => {
    const start = Math.min(barWidth - 1, Math.floor(column(row.start)));
    const end = Math.min(barWidth, Math.max(start + 1, Math.ceil(column(row.end))));
    const first = row.firstToken === undefined ? end : Math.min(end, Math.max(start, Math.round(column(row.firstToken))));
    const tone = row.status === 'ok' ? (row.critical ? ANSI.critical : ANSI.ok) : ANSI[row.status];
    const bar =
      ' '.repeat(start) +
      paint(`2;${tone}`, glyph.wait.repeat(first - start)) +
      paint(tone, glyph.stream.repeat(end - first)) +
      ' '.repeat(barWidth - end);

    const marker = row.critical ? paint(ANSI.critical, glyph.critical) + ' ' : '  ';
    const name = truncate(row.name, nameWidth, glyph.more).padEnd(nameWidth);
    const { head, status } = tails[i]!;
    const room = tailWidth - head.length - status.length - 2;
    const detail = row.detail && room >= 4 ? paint('2', `  ${truncate(row.detail, room, glyph.more)}`) : '';
    out.push(`${marker}${row.critical ? paint('1', name) : name} ${bar}${head}${status ? ' ' + paint(ANSI[row.status], status.trim()) : ''}${detail}`.trimEnd());
  });

  out.push('');
  const legend = [
    `${paint(`2;${ANSI.ok}`, glyph.wait)} waiting for first token`,
    `${paint(ANSI.ok, glyph.stream)} streaming`,
    ...(summary.critical.length > 0 ? [`${paint(ANSI.critical, glyph.critical)} critical path`] : []),
  ];
  out.push('  ' + legend.join('  '));
  const facts = [`wall ${formatMs(summary.wall)}`];
  if (summary.critical.length > 0) facts.push(`critical path ${summary.critical.map((row) => row.name).join(` ${glyph.arrow} `)}`);
  facts.push(`${rows.length} node${rows.length === 1 ? '' : 's'}, ${summary.overlap.toFixed(1)}${glyph.times} overlap`);
  out.push('  ' + facts.join(' · '));
  return out.join('\n');
}

function truncate(text: string, width: number, more: string): string {
  const chars = [...text];
  return chars.length <= width ? text : chars.slice(0, width - 1).join('') + more;
}
