#!/usr/bin/env node
/*
 * Renders a results file of the peers' harness (../shared/peer-bench: `node run-all.mjs` writes
 * results/latest.json and results/run-<time>.json) as the markdown table of docs/performance.md:
 * rxllm beside the floor and the three peers, one run, with its date, machine and rxllm commit.
 *
 *   node scripts/peer-table.mjs [results.json] [--write docs/performance.md]
 *
 * Without a file it takes the newest bench/peer-results/*.json (commit the run you quote there, so
 * the table can be regenerated). Without --write it prints the table. With --write it replaces what
 * lies between `<!-- peer-table:start -->` and `<!-- peer-table:end -->` in that file (the rest of
 * the page is written by hand), and fails if the markers are missing.
 *
 * A scenario the run did not include (say, a run with --only=stream) shows as "not run"; a library
 * the run skipped shows as "–".
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const START = '<!-- peer-table:start -->';
const END = '<!-- peer-table:end -->';

// The columns: which adapter of each scenario stands for which library.
const COLUMNS = [
  { title: 'floor', pipeline: 'fetch-all', stream: 'fetch-esp', note: 'raw fetch (+ eventsource-parser when streaming)' },
  { title: 'openai-node', pipeline: 'openai-all', stream: 'openai-node' },
  { title: 'LangChain.js', pipeline: 'langchain-parallel', stream: 'langchain' },
  { title: 'Vercel AI SDK', pipeline: 'vercel-all', stream: 'vercel' },
  { title: 'rxllm', pipeline: 'rxllm-parallel', stream: 'rxllm-sse' },
];

// The rows: how to read one figure for one adapter, its unit, and the goal of issue 15.
const ROWS = [
  {
    label: 'seed pipeline 300/900/600 ms: overhead over the slowest step (ms)',
    kind: 'pipeline',
    rows: (r) => r.pipeline?.rows,
    value: (x) => x.overheadVsServerMs?.p50,
    digits: 2,
    goal: '≤ 2.6',
  },
  {
    label: 'the same at zero latency, wall (ms)',
    kind: 'pipeline',
    rows: (r) => r.pipelineZero,
    value: (x) => x.wallMs?.p50,
    digits: 2,
    goal: '≤ 1.3',
  },
  {
    label: 'client CPU per streamed token, 2,000 tokens (µs)',
    kind: 'stream',
    rows: (r) => r.streaming,
    value: (x) => x.cpuUsPerToken,
    digits: 2,
    goal: '≤ 8.0',
    extra: [{ adapter: 'rxllm-openai', label: 'rxllm/openai' }],
  },
  {
    label: '1,000 concurrent streams × 64 tokens, warm wall (ms)',
    kind: 'stream',
    rows: (r) => r.fanout?.rows,
    value: (x) => x.warm?.wallMs?.p50,
    digits: 0,
    goal: '≤ 525',
  },
  {
    label: 'the same, peak RSS (MB)',
    kind: 'stream',
    rows: (r) => r.fanout?.rows,
    value: (x) => x.rssPeakMB?.p50,
    digits: 0,
    goal: '≤ 245',
  },
];

function fmt(value, digits) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The markdown of one run: a header line (date, machine, commit, noise), the table, and how it was made. */
export function renderTable(results, source) {
  const head = ['scenario (median)', ...COLUMNS.map((c) => c.title), 'rxllm / floor', 'goal'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of ROWS) {
    const rows = row.rows(results);
    if (!Array.isArray(rows)) {
      lines.push(`| ${row.label} | ${COLUMNS.map(() => 'not run').join(' | ')} | | ${row.goal} |`);
      continue;
    }
    const of = (adapter) => row.value(rows.find((x) => x.adapter === adapter) ?? {});
    const cells = COLUMNS.map((c) => of(c[row.kind]));
    let rx = fmt(cells[4], row.digits);
    for (const extra of row.extra ?? []) {
      const v = of(extra.adapter);
      if (typeof v === 'number') rx += ` (${extra.label} ${fmt(v, row.digits)})`;
    }
    const ratio = typeof cells[0] === 'number' && typeof cells[4] === 'number' && cells[0] > 0 ? `${fmt(cells[4] / cells[0], 2)}×` : '–';
    lines.push(`| ${row.label} | ${cells.slice(0, 4).map((v) => fmt(v, row.digits)).join(' | ')} | **${rx}** | ${ratio} | ${row.goal} |`);
  }
  const v = results.versions ?? {};
  const noise = results.cpuShare ? `; CPU steal ${fmt(results.cpuShare.stealPct, 2)} %, machine busy ${fmt(results.cpuShare.busyPct, 1)} %` : '';
  const load = Array.isArray(results.loadavgEnd) ? `; load average at the end ${results.loadavgEnd.map((x) => fmt(x, 2)).join(' ')}` : '';
  const header =
    `Run of ${String(results.startedAt ?? '?').slice(0, 16).replace('T', ' ')} UTC, ${results.cpus ?? '?'} × ${results.cpuModel ?? '?'}, ` +
    `${results.platform ?? '?'}, node ${results.node ?? '?'}${load}${noise}. rxllm ${v['rxllm'] ?? '?'} at commit \`${v['rxllm commit'] ?? '?'}\`; ` +
    `openai ${v['openai'] ?? '?'}, @langchain/openai ${v['@langchain/openai'] ?? '?'}, ai ${v['ai'] ?? '?'}, eventsource-parser ${v['eventsource-parser'] ?? '?'}, rxjs ${v['rxjs'] ?? '?'}.`;
  const footer =
    `Columns: the harness's adapters ${COLUMNS.map((c) => `${c.title} = \`${c.pipeline}\` / \`${c.stream}\``).join(', ')} (pipeline / stream). ` +
    `Generated by \`node scripts/peer-table.mjs ${source}\`.`;
  return [header, '', ...lines, '', footer].join('\n');
}

function newestCommitted() {
  const dir = join(ROOT, 'bench', 'peer-results');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no results file in ${relative(process.cwd(), dir)}: pass one (the harness writes results/latest.json)`);
  return join(dir, files[files.length - 1]);
}

function main(argv) {
  const writeAt = argv.indexOf('--write');
  const target = writeAt === -1 ? undefined : argv[writeAt + 1];
  if (writeAt !== -1 && !target) throw new Error('--write needs a file: --write docs/performance.md');
  const positional = argv.filter((a, i) => !a.startsWith('--') && (writeAt === -1 || i !== writeAt + 1));
  const file = positional[0] ? resolve(positional[0]) : newestCommitted();
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const source = relative(ROOT, file).startsWith('..') ? basename(file) : relative(ROOT, file);
  const table = renderTable(results, source);
  if (!target) {
    process.stdout.write(table + '\n');
    return;
  }
  const page = readFileSync(target, 'utf8');
  const start = page.indexOf(START);
  const end = page.indexOf(END);
  if (start === -1 || end === -1 || end < start) throw new Error(`${target} has no ${START} ... ${END} block to replace`);
  writeFileSync(target, `${page.slice(0, start + START.length)}\n${table}\n${page.slice(end)}`);
  process.stdout.write(`${target}: table from ${source}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`peer-table: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
