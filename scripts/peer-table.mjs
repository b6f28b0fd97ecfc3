#!/usr/bin/env node
/*
 * Renders a results file of the peers' harness (../shared/peer-bench: `node run-all.mjs` writes
 * results/latest.json and results/run-<time>.json) as two markdown tables, rxllm beside the floor and
 * the three peers, one run, with its date and machine:
 * - the full one of docs/performance.md (every figure, rxllm's commit, the machine's load, the goals),
 *   between `<!-- peer-table:start -->` and `<!-- peer-table:end -->`;
 * - a compact one in README.md ("Performance beside the peers"), between `<!-- peer-summary:start -->`
 *   and `<!-- peer-summary:end -->`.
 * The rest of both pages is written by hand.
 *
 *   node scripts/peer-table.mjs [results.json]                 print the full table
 *   node scripts/peer-table.mjs [results.json] --write         write both tables, from the same run
 *   node scripts/peer-table.mjs [results.json] --write FILE    write only the table(s) FILE has markers for
 *   node scripts/peer-table.mjs --check                        fail if either page differs from what --write
 *                                                              would write (CI; nothing is written)
 *
 * Without a file it takes the run docs/performance.md's table names (its last line says which), or, if
 * it names none, the newest bench/peer-results/*.json: commit the run you quote, so the tables can be
 * regenerated and checked. `--check` reads the run docs/performance.md names, which must be a committed
 * file in bench/peer-results/, and renders both tables from it: the README's figures are the same run.
 *
 * A scenario the run did not include (say, a run with --only=stream) shows as "not run"; a library
 * the run skipped shows as "–".
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS_DIR = join(ROOT, 'bench', 'peer-results');

// The columns: which adapter of each scenario stands for which library.
const COLUMNS = [
  { title: 'floor', pipeline: 'fetch-all', stream: 'fetch-esp', note: 'raw fetch (+ eventsource-parser when streaming)' },
  { title: 'openai-node', pipeline: 'openai-all', stream: 'openai-node' },
  { title: 'LangChain.js', pipeline: 'langchain-parallel', stream: 'langchain' },
  { title: 'Vercel AI SDK', pipeline: 'vercel-all', stream: 'vercel' },
  { title: 'rxllm', pipeline: 'rxllm-parallel', stream: 'rxllm-sse' },
];

// The rows: where the figure is in a run (`list`, the scenario's list of one entry per adapter, and `figure`,
// its path in an entry), its unit and digits, the goal of issue 15, and `short`, its label in the README.
// prettier-ignore
const ROWS = [
  { label: 'seed pipeline 300/900/600 ms: overhead over the slowest step (ms)', short: 'seed pipeline, overhead over the slowest step (ms)', kind: 'pipeline', list: 'pipeline.rows', figure: 'overheadVsServerMs.p50', digits: 2, goal: '≤ 2.6' },
  { label: 'the same at zero latency, wall (ms)', short: 'the same at zero latency, wall (ms)', kind: 'pipeline', list: 'pipelineZero', figure: 'wallMs.p50', digits: 2, goal: '≤ 1.3' },
  { label: 'client CPU per streamed token, 2,000 tokens (µs)', short: 'client CPU per streamed token (µs)', kind: 'stream', list: 'streaming', figure: 'cpuUsPerToken', digits: 2, goal: '≤ 8.0', extra: [{ adapter: 'rxllm-openai', label: 'rxllm/openai' }] },
  { label: '1,000 concurrent streams × 64 tokens, warm wall (ms)', short: '1,000 concurrent streams, wall (ms)', kind: 'stream', list: 'fanout.rows', figure: 'warm.wallMs.p50', digits: 0, goal: '≤ 525' },
  { label: 'the same, peak RSS (MB)', short: 'the same, peak RSS (MB)', kind: 'stream', list: 'fanout.rows', figure: 'rssPeakMB.p50', digits: 0, goal: '≤ 245' },
];

const at = (object, path) => path.split('.').reduce((value, key) => value?.[key], object);

function fmt(value, digits) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** One row's figures in a run: the five columns, rxllm's extra adapters, rxllm over the floor; `cells` absent if the scenario was not run. */
function figuresOf(results, row) {
  const list = at(results, row.list);
  if (!Array.isArray(list)) return { row };
  const of = (adapter) => at(list.find((x) => x.adapter === adapter) ?? {}, row.figure);
  const cells = COLUMNS.map((c) => of(c[row.kind]));
  const extras = (row.extra ?? []).map((e) => ({ label: e.label, value: of(e.adapter) })).filter((e) => typeof e.value === 'number');
  const [floor, rx] = [cells[0], cells[4]];
  const ratio = typeof floor === 'number' && typeof rx === 'number' && floor > 0 ? `${fmt(rx / floor, 2)}×` : '–';
  return { row, cells, extras, ratio };
}

/** A markdown table: the first column left-aligned, the figures right-aligned. */
function markdownTable(head, body) {
  const line = (cells) => `|${cells.map((cell) => (cell === '' ? ' ' : ` ${cell} `)).join('|')}|`;
  return [line(head), `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...body.map(line)];
}

const ranAt = (results) => `${String(results.startedAt ?? '?').slice(0, 16).replace('T', ' ')} UTC`;
const machine = (results) => `${results.cpus ?? '?'} × ${results.cpuModel ?? '?'}, ${results.platform ?? '?'}, node ${results.node ?? '?'}`;
const peers = COLUMNS.map((c) => c.title);

/** The markdown of one run for docs/performance.md: a header line (date, machine, commit, noise), the table, and how it was made. */
export function renderTable(results, source) {
  const body = ROWS.map((row) => figuresOf(results, row)).map(({ row, cells, extras, ratio }) => {
    if (!cells) return [row.label, ...COLUMNS.map(() => 'not run'), '', row.goal];
    const rx = fmt(cells[4], row.digits) + extras.map((e) => ` (${e.label} ${fmt(e.value, row.digits)})`).join('');
    return [row.label, ...cells.slice(0, 4).map((v) => fmt(v, row.digits)), `**${rx}**`, ratio, row.goal];
  });
  const v = results.versions ?? {};
  const noise = results.cpuShare ? `; CPU steal ${fmt(results.cpuShare.stealPct, 2)} %, machine busy ${fmt(results.cpuShare.busyPct, 1)} %` : '';
  const load = Array.isArray(results.loadavgEnd) ? `; load average at the end ${results.loadavgEnd.map((x) => fmt(x, 2)).join(' ')}` : '';
  const header =
    `Run of ${ranAt(results)}, ${machine(results)}${load}${noise}. rxllm ${v['rxllm'] ?? '?'} at commit \`${v['rxllm commit'] ?? '?'}\`; ` +
    `openai ${v['openai'] ?? '?'}, @langchain/openai ${v['@langchain/openai'] ?? '?'}, ai ${v['ai'] ?? '?'}, eventsource-parser ${v['eventsource-parser'] ?? '?'}, rxjs ${v['rxjs'] ?? '?'}.`;
  const footer =
    `Columns: the harness's adapters ${COLUMNS.map((c) => `${c.title} = \`${c.pipeline}\` / \`${c.stream}\``).join(', ')} (pipeline / stream). ` +
    `Generated by \`node scripts/peer-table.mjs ${source}\`.`;
  return [header, '', ...markdownTable(['scenario (median)', ...peers, 'rxllm / floor', 'goal'], body), '', footer].join('\n');
}

/** The README's table of the same run: the medians and rxllm over the floor, the date and machine, a link to the full table. */
export function renderSummary(results, source) {
  const body = ROWS.map((row) => figuresOf(results, row)).map(({ row, cells, ratio }) =>
    cells ? [row.short, ...cells.map((v, i) => (i === 4 ? `**${fmt(v, row.digits)}**` : fmt(v, row.digits))), ratio] : [row.short, ...peers.map(() => 'not run'), ''],
  );
  const v = results.versions ?? {};
  const header = `One run of the peers' harness, ${ranAt(results)} on ${machine(results)}; rxllm ${v['rxllm'] ?? '?'} at \`${v['rxllm commit'] ?? '?'}\`. Medians, lower is better:`;
  const footer =
    `The floor is raw \`fetch\` (+ \`eventsource-parser\` when streaming). From \`${source}\` by \`node scripts/peer-table.mjs\`; ` +
    `the full table, with the goals, the machine's load and how to read it, is in [docs/performance.md](docs/performance.md).`;
  return [header, '', ...markdownTable(['median', ...peers, 'rxllm / floor'], body), '', footer].join('\n');
}

/** The pages the tables go into, each between its markers. */
const TARGETS = [
  { file: join(ROOT, 'docs', 'performance.md'), start: '<!-- peer-table:start -->', end: '<!-- peer-table:end -->', render: renderTable },
  { file: join(ROOT, 'README.md'), start: '<!-- peer-summary:start -->', end: '<!-- peer-summary:end -->', render: renderSummary },
];

/** What lies between a target's markers in `page`, or undefined if the markers are missing. */
function block(page, target) {
  const start = page.indexOf(target.start);
  const end = page.indexOf(target.end);
  if (start === -1 || end === -1 || end < start) return undefined;
  return { start: start + target.start.length, end, text: page.slice(start + target.start.length, end) };
}

/** The results file docs/performance.md's table says it was generated from, if it names one. */
function namedByDocs() {
  const [docs] = TARGETS;
  const found = existsSync(docs.file) ? block(readFileSync(docs.file, 'utf8'), docs) : undefined;
  const named = found && /Generated by `node scripts\/peer-table\.mjs ([^`\s]+)`/.exec(found.text);
  return named ? named[1] : undefined;
}

function newestCommitted() {
  const files = readdirSync(RESULTS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no results file in ${relative(process.cwd(), RESULTS_DIR)}: pass one (the harness writes results/latest.json)`);
  return join(RESULTS_DIR, files[files.length - 1]);
}

/** A run and how the pages name it (its path in the repository, or its file name if it lies outside). */
function load(file) {
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const source = relative(ROOT, file).startsWith('..') ? basename(file) : relative(ROOT, file);
  return { results, source };
}

function check() {
  const named = namedByDocs();
  if (!named) throw new Error('docs/performance.md has no peer-table block naming its results file: run `node scripts/peer-table.mjs bench/peer-results/<run>.json --write`');
  const file = join(ROOT, named);
  if (relative(RESULTS_DIR, file).startsWith('..') || !existsSync(file)) {
    throw new Error(`docs/performance.md's table comes from ${named}, which is not a file in bench/peer-results/: commit the run there and run \`node scripts/peer-table.mjs bench/peer-results/<run>.json --write\``);
  }
  const { results, source } = load(file);
  const problems = TARGETS.flatMap((target) => {
    const page = relative(ROOT, target.file);
    const found = block(readFileSync(target.file, 'utf8'), target);
    if (!found) return [`${page} has no ${target.start} ... ${target.end} block`];
    const expected = `\n${target.render(results, source)}\n`;
    if (found.text === expected) return [];
    const [have, want] = [found.text.split('\n'), expected.split('\n')];
    const i = want.findIndex((line, n) => line !== have[n]);
    return [`${page}'s table is not what ${source} gives (first difference at its line ${i}: has "${have[i] ?? ''}", expected "${want[i] ?? ''}")`];
  });
  if (problems.length) throw new Error(`${problems.join('\n')}\nRegenerate both: node scripts/peer-table.mjs ${source} --write`);
  process.stdout.write(`peer-table: docs/performance.md and README.md match ${source}\n`);
}

function main(argv) {
  if (argv.includes('--check')) return check();
  const writeAt = argv.indexOf('--write');
  // `--write` takes a page (a .md file) or nothing: then both pages.
  const page = writeAt !== -1 && argv[writeAt + 1]?.endsWith('.md') ? resolve(argv[writeAt + 1]) : undefined;
  const positional = argv.filter((a, i) => !a.startsWith('--') && !(page && i === writeAt + 1));
  const named = namedByDocs();
  const file = positional[0] ? resolve(positional[0]) : named && existsSync(join(ROOT, named)) ? join(ROOT, named) : newestCommitted();
  const { results, source } = load(file);
  if (writeAt === -1) {
    process.stdout.write(renderTable(results, source) + '\n');
    return;
  }
  const targets = page ? [...TARGETS.map((t) => ({ ...t, file: page }))] : TARGETS;
  let written = 0;
  for (const target of targets) {
    const text = readFileSync(target.file, 'utf8');
    const found = block(text, target);
    if (!found) {
      if (!page) throw new Error(`${relative(ROOT, target.file)} has no ${target.start} ... ${target.end} block to replace`);
      continue;
    }
    writeFileSync(target.file, `${text.slice(0, found.start)}\n${target.render(results, source)}\n${text.slice(found.end)}`);
    process.stdout.write(`${relative(process.cwd(), target.file)}: ${target.render === renderTable ? 'table' : 'summary'} from ${source}\n`);
    written++;
  }
  if (written === 0) throw new Error(`${relative(process.cwd(), page)} has no peer-table or peer-summary markers to write between`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`peer-table: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
