// `rxllm demo --report FILE`: every run of the demo on one self-contained page (inline CSS and SVG,
// no script), laid out for an 800 px window and for print.
import { formatMs, niceTicks } from '../../metrics/format.js';
import type { RegistrySnapshot } from '../../metrics/LatencyRegistry.js';
import { snapshotTable } from '../../metrics/snapshotTable.js';
import type { TimelineRow } from '../../metrics/timeline.js';

/** One mode's run of one text, as the report draws it. */
export interface ReportRun {
  timeline: readonly TimelineRow[];
  wallMs: number;
}

/** What {@link reportPage} shows. */
export interface ReportPageInput {
  /** Mode title → that mode's runs, one per text, in text order. */
  modes: Record<string, readonly ReportRun[]>;
  /** The texts the runs analysed. */
  texts: readonly string[];
  /** The mean-per-text summary table, as printed in the terminal. */
  summaryTable: string;
  snapshot: RegistrySnapshot;
  seed: number;
  endpoint: string;
  model: string;
  /** The profiles file, when one was given. */
  profiles?: string;
  /** When the run ended, as the page should print it. */
  date: string;
}

// SVG user units: the chart is drawn 760 wide and scales to its column, so its 12-unit text stays ~12 px at 800 px.
const WIDTH = 760;
const LABEL = 150;
const INFO = 70;
const PLOT = WIDTH - LABEL - INFO;
const ROW = 20;
const HEADING = 22;

/**
 * The report page: the run's facts (seed, endpoint, model, profiles, date), the summary table,
 * then for each text its four modes side by side on one time scale (so the shapes compare, not the
 * axes), and the per-step percentile table. Pure: the caller writes the string to a file.
 */
export function reportPage(input: ReportPageInput): string {
  const facts: [string, string][] = [
    ['endpoint', input.endpoint],
    ['model', input.model],
    ['seed', String(input.seed)],
    ['latency profiles', input.profiles ?? 'built-in'],
    ['date', input.date],
  ];
  const texts = input.texts.map((text, index) => {
    const runs = Object.entries(input.modes).map(([title, runs]) => ({ title, run: runs[index] }));
    return `<section class="text">
<h2>Text ${index + 1}</h2>
<p class="quote">${escapeHtml(text)}</p>
${modesSvg(runs.flatMap(({ title, run }) => (run ? [{ title, run }] : [])))}
</section>`;
  });
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rxllm demo report</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>rxllm demo: the content-analysis pipeline four ways</h1>
<dl class="facts">${facts.map(([label, value]) => `<div><dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd></div>`).join('')}</dl>
<h2>Mean per text</h2>
<pre>${escapeHtml(input.summaryTable)}</pre>
<p class="legend"><span class="swatch wait"></span>waiting for the first token <span class="swatch stream"></span>streaming <span class="swatch critical"></span>Critical path (graph)</p>
${texts.join('\n')}
<section class="percentiles">
<h2>Latency by step, every run</h2>
<pre>${escapeHtml(snapshotTable(input.snapshot))}</pre>
</section>
</main>
</body>
</html>
`;
}

function modesSvg(runs: ReadonlyArray<{ title: string; run: ReportRun }>): string {
  // One scale for the text's four runs: the longest wall time.
  const span = Math.max(1, ...runs.map(({ run }) => wallOf(run.timeline)));
  const x = (ms: number) => LABEL + (ms / span) * PLOT;
  const parts: string[] = [];
  let y = 26;
  for (const tick of niceTicks(span, 6)) {
    const at = x(tick);
    parts.push(`<line x1="${r(at)}" y1="18" x2="${r(at)}" y2="__BOTTOM__" class="grid"/><text x="${r(at)}" y="12" class="tick">${tick === 0 ? '0' : formatMs(tick)}</text>`);
  }
  for (const { title, run } of runs) {
    parts.push(`<text x="0" y="${y + 15}" class="mode">${escapeHtml(title)}</text><text x="${WIDTH}" y="${y + 15}" class="info">${formatMs(run.wallMs)}</text>`);
    y += HEADING;
    const origin = Math.min(...run.timeline.map((row) => row.start));
    for (const row of run.timeline) {
      const start = x(row.start - origin);
      const first = x((row.firstToken ?? row.end) - origin);
      const end = x(row.end - origin);
      const solid = row.critical ? 'critical' : 'stream';
      parts.push(
        `<text x="12" y="${y + 13}" class="step">${row.critical ? '◆ ' : ''}${escapeHtml(row.name)}</text>` +
          `<rect x="${r(start)}" y="${y + 4}" width="${r(Math.max(1, first - start))}" height="11" class="wait ${solid}"/>` +
          `<rect x="${r(first)}" y="${y + 4}" width="${r(Math.max(1, end - first))}" height="11" class="${solid}"/>` +
          `<text x="${WIDTH}" y="${y + 13}" class="info">${formatMs(row.end - row.start)}</text>`,
      );
      y += ROW;
    }
    y += 6;
  }
  const height = y + 4;
  return `<svg viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="the four modes on one time scale">${parts.join('').replaceAll('__BOTTOM__', String(height - 4))}</svg>`;
}

function wallOf(timeline: readonly TimelineRow[]): number {
  if (timeline.length === 0) return 0;
  return Math.max(...timeline.map((row) => row.end)) - Math.min(...timeline.map((row) => row.start));
}

function r(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { margin: 0; font: 15px/1.45 system-ui, sans-serif; color: #0f172a; background: #fff; }
main { max-width: 780px; margin: 0 auto; padding: 16px; }
h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
h2 { font-size: 1.1rem; margin: 1.4rem 0 .4rem; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0 0 1rem; }
.facts div { display: contents; }
.facts dt { color: #475569; }
.facts dd { margin: 0; overflow-wrap: anywhere; }
pre { font-size: 12px; line-height: 1.35; overflow-x: auto; background: #f8fafc; padding: 8px; border-radius: 4px; }
.quote { color: #334155; font-style: italic; margin: 0 0 .4rem; }
svg { width: 100%; height: auto; display: block; }
svg text { font: 12px system-ui, sans-serif; fill: #0f172a; }
svg .tick { text-anchor: middle; fill: #64748b; font-size: 11px; }
svg .mode { font-weight: 600; }
svg .info { text-anchor: end; fill: #334155; }
svg .grid { stroke: #e2e8f0; stroke-width: 1; }
svg .stream { fill: #0284c7; }
svg .critical { fill: #7c3aed; }
svg .wait { opacity: .25; }
.legend { font-size: 13px; color: #334155; }
.swatch { display: inline-block; width: 22px; height: 10px; border-radius: 2px; margin: 0 4px 0 10px; background: #0284c7; }
.swatch.wait { opacity: .25; margin-left: 0; }
.swatch.critical { background: #7c3aed; }
@media print { main { max-width: none; } section.text { break-inside: avoid; } pre { overflow: visible; white-space: pre-wrap; } }
`;
