import type { LatencyStats } from './LatencyStats.js';
import type { RegistrySnapshot } from './LatencyRegistry.js';
import { formatMs, formatNumber, niceTicks } from './format.js';
import { summarizeTimeline, type TimelineRow } from './timeline.js';

/** Options for {@link waterfallHtml}. */
export interface WaterfallHtmlConfig {
  /** The page's heading and `<title>`. @defaultValue 'Pipeline run' */
  title?: string;
  /** A line under the heading (the input, the date, the commit). */
  subtitle?: string;
  /** A registry snapshot: adds the p50/p95/p99 table per step under the chart. */
  snapshot?: RegistrySnapshot;
  /** Which statistics the table shows. @defaultValue 'all' */
  view?: 'all' | 'window';
}

const COLORS = {
  ok: '#0284c7',
  critical: '#7c3aed',
  error: '#dc2626',
  cancelled: '#94a3b8',
};

// Chart geometry, in SVG user units (the SVG scales to the page width).
const LABEL_WIDTH = 200;
const INFO_WIDTH = 200;
const PLOT_WIDTH = 640;
const ROW_HEIGHT = 34;
const BAR_HEIGHT = 16;
const AXIS_HEIGHT = 34;
const LANE_HEIGHT = 46;

/**
 * A run's timeline as a self-contained HTML page (inline CSS and SVG, no script, no external
 * resource): a waterfall with one bar per node (the wait for the first token light, streaming
 * solid, a dot at the first token), the critical path in violet and joined by connectors, an
 * "in flight" lane that shows how many nodes overlapped at each moment, headline figures (wall
 * time, first token, critical path, overlap), and, given a snapshot, the p50/p95/p99 table per step.
 *
 * A pure function: write the string to a file (`report.html`) or serve it. Every name and detail is
 * HTML-escaped.
 *
 * @example
 * ```ts
 * writeFileSync('report.html', waterfallHtml(run.timeline, { title: 'Support reply', snapshot: latency.snapshot() }));
 * ```
 * @see renderWaterfall
 */
export function waterfallHtml(rows: readonly TimelineRow[], config: WaterfallHtmlConfig = {}): string {
  const title = config.title ?? 'Pipeline run';
  const summary = summarizeTimeline(rows);
  const criticalNames = new Set(summary.critical.map((row) => row.name));
  const firstToken = Math.min(...rows.flatMap((row) => (row.firstToken === undefined ? [] : [row.firstToken - summary.origin])));

  const facts: [string, string][] = [
    [formatMs(summary.wall), 'wall time'],
    [Number.isFinite(firstToken) ? formatMs(firstToken) : '–', 'first token'],
    [String(rows.length), rows.length === 1 ? 'node' : 'nodes'],
    [summary.overlap > 0 ? `${summary.overlap.toFixed(1)}×` : '–', 'overlap (busy ÷ wall)'],
  ];
  if (summary.critical.length > 0) facts.splice(2, 0, [formatMs(criticalSpan(summary.critical)), 'critical path']);

  const path =
    summary.critical.length > 0
      ? `<p class="path"><span class="diamond">◆</span> Critical path: ${summary.critical.map((row) => `<b>${escapeHtml(row.name)}</b>`).join(' → ')}</p>`
      : '';

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(title)}</h1>
${config.subtitle ? `<p class="subtitle">${escapeHtml(config.subtitle)}</p>` : ''}
<dl class="facts">${facts.map(([value, label]) => `<div><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd></div>`).join('')}</dl>
${path}
</header>
<section class="chart">
${rows.length > 0 ? chartSvg(rows, summary.origin, summary.wall) : '<p class="empty">No nodes ran.</p>'}
<ul class="legend">${legend(rows)}</ul>
</section>
${config.snapshot ? percentileTable(config.snapshot, config.view ?? 'all', rows, criticalNames) : ''}
</main>
</body>
</html>
`;
}

/** Legend entries for what the chart shows: the two bar segments always, the rest only when present. */
function legend(rows: readonly TimelineRow[]): string {
  const swatch = (fill: string, opacity = 1) => `<svg width="28" height="12"><rect x="0" y="1" width="28" height="10" rx="2" fill="${fill}" opacity="${opacity}"/></svg>`;
  const items = [
    `${swatch(COLORS.ok, 0.25)}waiting for first token`,
    `${swatch(COLORS.ok)}streaming`,
    `<svg width="12" height="12"><circle cx="6" cy="6" r="4" fill="#fff" stroke="#0f172a" stroke-width="1.5"/></svg>first token`,
  ];
  if (rows.some((row) => row.critical)) items.push(`${swatch(COLORS.critical)}critical path`);
  if (rows.some((row) => row.status === 'error')) items.push(`${swatch(COLORS.error)}error`);
  if (rows.some((row) => row.status === 'cancelled')) {
    items.push(
      `<svg width="28" height="12"><rect x="0.75" y="1.75" width="26.5" height="8.5" rx="2" fill="none" stroke="${COLORS.cancelled}" stroke-dasharray="3 2" stroke-width="1.5"/></svg>cancelled`,
    );
  }
  return items.map((item) => `<li>${item}</li>`).join('');
}

function chartSvg(rows: readonly TimelineRow[], origin: number, wall: number): string {
  const span = wall > 0 ? wall : 1;
  const x = (time: number) => LABEL_WIDTH + ((time - origin) / span) * PLOT_WIDTH;
  const width = LABEL_WIDTH + PLOT_WIDTH + INFO_WIDTH;
  const rowsTop = AXIS_HEIGHT;
  const laneTop = rowsTop + rows.length * ROW_HEIGHT + 14;
  const height = laneTop + LANE_HEIGHT + 22;
  const parts: string[] = [];

  // Stripes and grid first, so the bars sit on top.
  rows.forEach((_, i) => {
    if (i % 2 === 1) parts.push(`<rect x="0" y="${rowsTop + i * ROW_HEIGHT}" width="${width}" height="${ROW_HEIGHT}" class="stripe"/>`);
  });
  for (const tick of niceTicks(span, 8)) {
    const at = x(origin + tick);
    if (at > LABEL_WIDTH + PLOT_WIDTH + 0.5) continue;
    parts.push(`<line x1="${r(at)}" y1="${AXIS_HEIGHT - 6}" x2="${r(at)}" y2="${laneTop + LANE_HEIGHT}" class="grid"/>`);
    parts.push(`<text x="${r(at)}" y="${AXIS_HEIGHT - 12}" class="tick">${tick === 0 ? '0' : escapeHtml(formatMs(tick))}</text>`);
  }

  // Connectors between consecutive critical nodes: from one's end to the next one's start.
  const critical = rows.map((row, i) => ({ row, i })).filter(({ row }) => row.critical).sort((a, b) => a.row.start - b.row.start);
  for (let k = 1; k < critical.length; k++) {
    const from = critical[k - 1]!;
    const to = critical[k]!;
    const y1 = rowsTop + from.i * ROW_HEIGHT + ROW_HEIGHT / 2;
    const y2 = rowsTop + to.i * ROW_HEIGHT + ROW_HEIGHT / 2;
    const x1 = x(from.row.end);
    const x2 = Math.max(x1, x(to.row.start));
    parts.push(`<path d="M${r(x1)} ${r(y1)} H${r(x2)} V${r(y2)}" class="connector"/>`);
  }

  rows.forEach((row, i) => {
    const top = rowsTop + i * ROW_HEIGHT;
    const barTop = top + (ROW_HEIGHT - BAR_HEIGHT) / 2;
    const color = row.status === 'error' ? COLORS.error : row.status === 'cancelled' ? COLORS.cancelled : row.critical ? COLORS.critical : COLORS.ok;
    const x0 = x(row.start);
    const x1 = Math.max(x0 + 2, x(row.end));
    const xf = row.firstToken === undefined ? x1 : Math.min(x1, Math.max(x0, x(row.firstToken)));
    const ttft = row.firstToken === undefined ? undefined : row.firstToken - row.start;
    const tooltip = [
      row.name,
      `start +${formatMs(row.start - origin)}`,
      ttft === undefined ? 'no token' : `first token +${formatMs(row.firstToken! - origin)} (ttft ${formatMs(ttft)})`,
      `end +${formatMs(row.end - origin)} (${formatMs(row.end - row.start)})`,
      row.status + (row.critical ? ', critical path' : ''),
      row.detail ?? '',
    ]
      .filter(Boolean)
      .join('\n');

    const bar: string[] = [];
    if (row.status === 'cancelled') {
      bar.push(`<rect x="${r(x0)}" y="${r(barTop + 0.75)}" width="${r(x1 - x0)}" height="${BAR_HEIGHT - 1.5}" rx="3" fill="${color}" fill-opacity="0.12" stroke="${color}" stroke-width="1.5" stroke-dasharray="4 3"/>`);
    } else {
      bar.push(`<rect x="${r(x0)}" y="${r(barTop)}" width="${r(x1 - x0)}" height="${BAR_HEIGHT}" rx="3" fill="${color}" fill-opacity="0.22"/>`);
      if (x1 > xf) bar.push(`<rect x="${r(xf)}" y="${r(barTop)}" width="${r(x1 - xf)}" height="${BAR_HEIGHT}" rx="3" fill="${color}"/>`);
    }
    if (row.firstToken !== undefined) {
      bar.push(`<circle cx="${r(xf)}" cy="${r(barTop + BAR_HEIGHT / 2)}" r="4" fill="#fff" stroke="${color}" stroke-width="2"/>`);
    }

    const label = `${row.critical ? `<tspan class="diamond">◆ </tspan>` : ''}${escapeHtml(truncate(row.name, 24))}`;
    const info =
      `<tspan class="duration">${escapeHtml(formatMs(row.end - row.start))}</tspan>` +
      `<tspan class="muted"> · ${ttft === undefined ? 'no token' : `ttft ${escapeHtml(formatMs(ttft))}`}</tspan>`;
    // The second line: the status when it is not ok, then the detail.
    const notes = [
      ...(row.status === 'ok' ? [] : [`<tspan class="status-${row.status}">${row.status}</tspan>`]),
      ...(row.detail ? [escapeHtml(truncate(row.detail, row.status === 'ok' ? 32 : 20))] : []),
    ];
    const detail = notes.length > 0 ? `<text x="${LABEL_WIDTH + PLOT_WIDTH + 14}" y="${r(top + ROW_HEIGHT / 2 + 13)}" class="detail">${notes.join(' · ')}</text>` : '';
    parts.push(
      `<g class="row${row.critical ? ' critical' : ''}"><title>${escapeHtml(tooltip)}</title>` +
        `<text x="${LABEL_WIDTH - 14}" y="${r(top + ROW_HEIGHT / 2 + 4.5)}" class="label">${label}</text>` +
        bar.join('') +
        `<text x="${LABEL_WIDTH + PLOT_WIDTH + 14}" y="${r(top + ROW_HEIGHT / 2 + (detail ? 0 : 4.5))}" class="info">${info}</text>${detail}</g>`,
    );
  });

  parts.push(inFlightLane(rows, x, laneTop, origin, span));
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Waterfall of ${rows.length} nodes over ${escapeHtml(formatMs(wall))}" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** A step chart of how many nodes were running at each moment: overlap made visible. */
function inFlightLane(rows: readonly TimelineRow[], x: (time: number) => number, top: number, origin: number, span: number): string {
  const edges = rows.flatMap((row) => [
    { at: row.start, delta: 1 },
    { at: row.end, delta: -1 },
  ]);
  // Ends before starts at the same instant: a node handing over to the next is not overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let peak = 0;
  const steps: { at: number; level: number }[] = [];
  for (const edge of edges) {
    running += edge.delta;
    peak = Math.max(peak, running);
    steps.push({ at: edge.at, level: running });
  }
  const base = top + LANE_HEIGHT;
  const scale = peak > 0 ? (LANE_HEIGHT - 8) / peak : 0;
  let d = `M${r(x(origin))} ${base}`;
  for (const step of steps) d += ` H${r(x(step.at))} V${r(base - step.level * scale)}`;
  d += ` H${r(x(origin + span))} V${base} Z`;
  return (
    `<text x="${LABEL_WIDTH - 14}" y="${r(top + LANE_HEIGHT / 2 + 4.5)}" class="label lane-label">in flight</text>` +
    `<line x1="${LABEL_WIDTH}" y1="${base}" x2="${LABEL_WIDTH + PLOT_WIDTH}" y2="${base}" class="baseline"/>` +
    `<path d="${d}" class="lane"/>` +
    `<text x="${LABEL_WIDTH + PLOT_WIDTH + 14}" y="${r(top + LANE_HEIGHT / 2 + 4.5)}" class="info"><tspan class="muted">peak </tspan><tspan class="duration">${peak}</tspan><tspan class="muted"> at once</tspan></text>`
  );
}

function percentileTable(
  snapshot: RegistrySnapshot,
  view: 'all' | 'window',
  rows: readonly TimelineRow[],
  critical: ReadonlySet<string>,
): string {
  // Steps in the order the run started them, so the table reads like the chart; the others after.
  const order = new Map<string, number>();
  for (const row of [...rows].sort((a, b) => a.start - b.start)) if (!order.has(row.name)) order.set(row.name, order.size);
  const rank = (name: string) => order.get(name) ?? Number.MAX_SAFE_INTEGER;
  const entries = Object.entries(snapshot.steps).sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : 1));
  if (entries.length === 0) return '';
  const ms = (value: number | undefined) => `<td>${escapeHtml(formatMs(value))}</td>`;
  const body = entries
    .map(([name, entry]) => {
      const stats: LatencyStats = entry[view];
      const errors = stats.errors + stats.cancelled;
      return (
        `<tr${critical.has(name) ? ' class="critical"' : ''}>` +
        `<th scope="row">${critical.has(name) ? '<span class="diamond">◆</span> ' : ''}${escapeHtml(name)}</th>` +
        `<td>${stats.requests}</td><td${stats.errors > 0 ? ' class="bad"' : ''}>${errors === 0 ? '0' : `${stats.errors} / ${stats.cancelled}`}</td>` +
        ms(stats.ttft?.p50) + ms(stats.ttft?.p95) + ms(stats.ttft?.p99) +
        ms(stats.total?.p50) + ms(stats.total?.p95) + ms(stats.total?.p99) +
        `<td>${escapeHtml(formatNumber(stats.tokensPerSecond?.p50))}</td></tr>`
      );
    })
    .join('\n');
  const scope = view === 'window' ? 'sliding window' : 'all requests measured';
  return `<section class="table">
<h2>Latency per step <span class="muted">(${scope})</span></h2>
<table>
<thead>
<tr><th></th><th></th><th></th><th colspan="3" class="group">time to first token</th><th colspan="3" class="group">total time</th><th></th></tr>
<tr><th scope="col" class="name">step</th><th scope="col">requests</th><th scope="col">errors / cancelled</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th><th scope="col">p50</th><th scope="col">p95</th><th scope="col">p99</th><th scope="col">tokens/s p50</th></tr>
</thead>
<tbody>
${body}
</tbody>
</table>
</section>`;
}

/** Time from the first critical node's start to the last one's end. */
function criticalSpan(critical: readonly TimelineRow[]): number {
  return Math.max(...critical.map((row) => row.end)) - Math.min(...critical.map((row) => row.start));
}

function r(value: number): string {
  return String(Math.round(value * 10) / 10);
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : chars.slice(0, width - 1).join('') + '…';
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const STYLE = `
:root { color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; --paper: #ffffff; --wash: #f8fafc; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--wash); color: var(--ink); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 28px 40px; }
h1 { font-size: 22px; margin: 0 0 2px; letter-spacing: -0.01em; }
h2 { font-size: 16px; margin: 0 0 12px; }
.subtitle { margin: 0; color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0 10px; padding: 0; }
.facts div { background: var(--paper); border: 1px solid var(--line); border-radius: 10px; padding: 10px 16px; min-width: 128px; }
.facts dt { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; }
.facts dd { margin: 2px 0 0; font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; }
.path { margin: 6px 0 0; color: var(--muted); }
.path b { color: var(--ink); font-weight: 600; }
.diamond { color: ${COLORS.critical}; }
.chart, .table { background: var(--paper); border: 1px solid var(--line); border-radius: 12px; padding: 18px 18px 12px; margin-top: 18px; }
svg text { font: 13px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); font-variant-numeric: tabular-nums; }
svg .tick { fill: var(--muted); font-size: 11.5px; text-anchor: middle; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .stripe { fill: var(--wash); }
svg .label { text-anchor: end; font-weight: 500; }
svg .critical .label { font-weight: 700; }
svg .lane-label { fill: var(--muted); font-weight: 400; }
svg .diamond { fill: ${COLORS.critical}; }
svg .duration { font-weight: 650; }
svg .muted { fill: var(--muted); }
svg .detail { fill: var(--muted); font-size: 11.5px; }
svg .status-error { fill: ${COLORS.error}; font-weight: 650; }
svg .status-cancelled { fill: var(--muted); font-style: italic; }
svg .connector { fill: none; stroke: ${COLORS.critical}; stroke-width: 1.5; stroke-dasharray: 3 3; opacity: 0.75; }
svg .lane { fill: ${COLORS.ok}; fill-opacity: 0.18; stroke: ${COLORS.ok}; stroke-width: 1.5; stroke-linejoin: round; }
svg .baseline { stroke: var(--line); }
.legend { display: flex; flex-wrap: wrap; gap: 18px; list-style: none; margin: 8px 0 0; padding: 0 0 0 4px; color: var(--muted); font-size: 12.5px; }
.legend li { display: flex; align-items: center; gap: 7px; }
.empty { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 10px; text-align: right; border-bottom: 1px solid var(--line); white-space: nowrap; }
thead th { color: var(--muted); font-weight: 500; font-size: 12.5px; }
thead .group { text-align: center; color: var(--ink); font-weight: 600; border-bottom: 2px solid var(--line); }
tbody th, thead th.name { text-align: left; }
tbody th { font-weight: 600; }
tbody tr.critical th { color: ${COLORS.critical}; }
td.bad { color: ${COLORS.error}; font-weight: 600; }
.muted { color: var(--muted); font-weight: 400; }
`;
