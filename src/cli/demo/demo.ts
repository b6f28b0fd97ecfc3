import { accessSync, constants, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncScheduler, concat, forkJoin, lastValueFrom, type Observable, tap, toArray } from 'rxjs';
import { isRxllmError } from '../../core/errors.js';
import { withMiddleware } from '../../core/transport.js';
import type { Transport } from '../../core/transport.js';
import { measure } from '../../middleware/measure.js';
import { result } from '../../operators/result.js';
import { formatMs } from '../../metrics/format.js';
import { LatencyRegistry } from '../../metrics/LatencyRegistry.js';
import { renderWaterfall } from '../../metrics/renderWaterfall.js';
import { snapshotTable } from '../../metrics/snapshotTable.js';
import { timelineFromGraph, type TimelineRow } from '../../metrics/timeline.js';
import type { SimulatorServer } from '../../node/simulatorServer.js';
import { endpointConfig, openEndpoint } from '../openEndpoint.js';
import { contentAnalysisPipeline, SAMPLE_TEXTS } from './pipeline.js';
import { runWebDemo, type WebDemo, type WebDemoOptions } from './web.js';
import { reportPage } from './reportPage.js';
import { runTechniques } from './techniques.js';
import type { DemoIo, DemoPipeline } from './types.js';
import { failureMessage } from '../failureMessage.js';
import { untilStopped } from '../untilStopped.js';
import { describeParseError, usageError } from '../usageError.js';
import { displayWidth, terminal, wrapText } from '../terminal.js';

const HELP = `rxllm demo [options]

Runs a content-analysis pipeline (sentiment, one-sentence
summary, five keywords, and a reply drafted from the first two) four ways and
compares them: sequential, parallel, parallel with streaming, dependency graph.
Then the techniques on the same endpoint: de-dup, cache and prefetch; hedging
and routing (simulator only); load control; and scale-out (simulator only):
three instance processes sharing one Redis, with REDIS_URL set or redis-server
on PATH (the demo starts and stops its own; ioredis must be installed).

Endpoint, as for rxllm chat: OPENAI_BASE_URL (with OPENAI_API_KEY if set; a
keyless local server such as Ollama, vLLM or rxllm serve without); else, with
OPENAI_API_KEY, https://api.openai.com/v1; else the built-in simulator server,
started on a loopback port and run through the real HTTP stack.

Options:
  --json            machine-readable results on stdout instead of the report
  --seed N          the simulated world's seed (default 1)
  --profiles FILE   simulator latency profiles (JSON), merged over the built-in ones
  --model M         model for every step (default gpt-4o-mini)
  --report FILE     also write every run (each text's four modes on one time scale) and the
                    per-step percentiles as a self-contained HTML page; its folder must exist
  --no-techniques   skip the techniques part (de-dup, cache, prefetch; hedging, routing;
                    load control; scale-out)
  --web             serve the demo as a web page on 127.0.0.1 instead (stop with Ctrl+C)
  --port N          the web page's port (default: a free one)
  -h, --help        this text
`;

/**
 * Requests sent, all at once, before the first mode and outside its figures: they open the connections
 * the modes reuse (the most any mode has in flight), so mode 1 is not charged for connection set-up.
 */
const WARM_UP_REQUESTS = 4;

/** The widest static line of the report (tables, waterfalls, techniques): the classic terminal. */
const STATIC_WIDTH = 80;

type Mode = 'sequential' | 'parallel' | 'streaming' | 'graph';

interface RunReport {
  text: number;
  wallMs: number;
  /** When the first piece of the answer was visible to a user. */
  visibleMs: number;
  timeline: TimelineRow[];
  criticalPath?: string[];
  value: unknown;
}

const MODE_TITLES: Record<Mode, string> = {
  sequential: '1. sequential (the default way)',
  parallel: '2. parallel',
  streaming: '3. parallel with streaming',
  graph: '4. dependency graph (sentiment + summary → reply)',
};

/** `rxllm demo`: returns the exit code. */
export async function runDemo(args: string[], io: DemoIo = process): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        json: { type: 'boolean', default: false },
        seed: { type: 'string', default: '1' },
        profiles: { type: 'string' },
        model: { type: 'string', default: 'gpt-4o-mini' },
        report: { type: 'string' },
        web: { type: 'boolean', default: false },
        'no-techniques': { type: 'boolean', default: false },
        port: { type: 'string', default: '0' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    return usageError(io, 'demo', HELP, describeParseError(error));
  }
  if (values.help) {
    io.stdout.write(HELP);
    return 0;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) {
    return usageError(io, 'demo', HELP, `--seed must be an integer, got "${values.seed}"`);
  }
  if (!/^\d+$/.test(values.port) || Number(values.port) > 65535) {
    return usageError(io, 'demo', HELP, `--port must be an integer 0–65535, got "${values.port}"`);
  }
  // Checked before the run, not after it: a report that cannot be written would lose the run's results.
  const reportProblem = values.report === undefined ? undefined : checkReportPath(values.report);
  if (reportProblem) return usageError(io, 'demo', HELP, reportProblem);

  if (values.web) return serveWebDemo({ port: Number(values.port), seed, model: values.model, ...(values.profiles ? { profiles: values.profiles } : {}), io });

  let server: SimulatorServer | undefined;
  let endpointLabel = 'the endpoint';
  try {
    const opened = await openEndpoint(endpointConfig(io.env, {}, { seed, ...(values.profiles ? { profiles: values.profiles } : {}) }));
    server = opened.simulator;
    const { transport, label: endpoint } = opened;
    endpointLabel = endpoint;
    const screen = terminal(io.stdout, io.env);
    const live = !values.json && screen.live;
    // Every static line fits 80 columns (narrower when the terminal is): wider terminals get the same report.
    const width = Math.min(STATIC_WIDTH, screen.columns);
    const log = (text: string) => {
      if (values.json) return;
      // The sections keep their lines short; a long figure or endpoint URL is wrapped, never left to the terminal.
      for (const line of text.split('\n')) screen.line(displayWidth(line) > width ? wrapText(line, width).join('\n') : line);
    };
    log(`rxllm demo: ${SAMPLE_TEXTS.length} texts via ${endpoint}\n`);

    const latency = new LatencyRegistry();
    // One stack for every step: measure() files each request under the step() it came from (its context's step).
    const measured = withMiddleware(transport, measure({ registry: latency }));
    const pipeline = contentAnalysisPipeline(() => measured, values.model);
    await warmUp(transport, values.model);
    const reports = {} as Record<Mode, RunReport[]>;
    for (const mode of Object.keys(MODE_TITLES) as Mode[]) {
      reports[mode] = [];
      for (const [index, text] of SAMPLE_TEXTS.entries()) {
        // One row, cut to the terminal's width and redrawn in place: it never wraps, so it never floods the scrollback.
        const progress = live ? (line: string) => screen.status(`${MODE_TITLES[mode]} · text ${index + 1}/${SAMPLE_TEXTS.length} · ${line}`) : () => undefined;
        reports[mode].push({ ...(await runOnce(mode, pipeline, text, progress)), text: index });
      }
      screen.clear();
      // Piped output has no live line, so a line per mode is its progress; a terminal had the live line,
      // and the table below says the same, so the lines would only push the report up its scrollback.
      if (!live) log(`${MODE_TITLES[mode].padEnd(52)} ${formatMs(sum(reports[mode].map((run) => run.wallMs))).padStart(8)} for ${SAMPLE_TEXTS.length} texts`);
    }

    const summary = summarize(reports);
    const snapshot = latency.snapshot();
    if (values.report) {
      // Every run, each text's four modes on one time scale, and what produced them (seed, endpoint, profiles, date).
      const modes = Object.fromEntries((Object.keys(MODE_TITLES) as Mode[]).map((mode) => [MODE_TITLES[mode], reports[mode]]));
      writeFileSync(
        values.report,
        reportPage({
          modes,
          texts: SAMPLE_TEXTS,
          summaryTable: summaryTable(summary),
          snapshot,
          seed,
          endpoint,
          model: values.model,
          ...(values.profiles ? { profiles: values.profiles } : {}),
          date: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'),
        }),
      );
    }
    // The techniques use the plain endpoint transport, so their requests stay out of the pipeline's percentiles.
    const techniques = values['no-techniques'] ? undefined : { transport, server, model: values.model, seed, log, env: io.env };
    if (values.json) {
      const techniquesReport = techniques ? await runTechniques(techniques) : undefined;
      io.stdout.write(
        `${JSON.stringify({ endpoint, model: values.model, seed, texts: SAMPLE_TEXTS, summary, latency: snapshot, runs: reports, techniques: techniquesReport }, null, 2)}\n`,
      );
      return 0;
    }
    if (!live) log('');
    log(summaryTable(summary));
    const { color } = screen;
    const modes = Object.keys(MODE_TITLES) as Mode[];
    modes.forEach((mode, index) => {
      log('');
      const chart = renderWaterfall(reports[mode][0]!.timeline, { title: `${MODE_TITLES[mode]} — text 1`, color, width });
      // The legend is the same under every chart: once, under the last, keeps the report on one screen or so.
      log(index === modes.length - 1 ? chart : withoutLegend(chart));
    });
    log('');
    log(snapshotTable(snapshot, { color }));
    log('\nText 1 analysed (the graph run):');
    for (const line of analysedLines(reports.graph[0]!.value as Record<string, unknown>, width)) log(line);
    if (techniques) await runTechniques(techniques);
    if (values.report) log(`\nReport written to ${values.report}`);
    return 0;
  } catch (error) {
    io.stderr.write(`\nrxllm demo failed: ${failureMessage(error, endpointLabel)}\n`);
    return 1;
  } finally {
    await server?.close();
  }
}

/** `--web`: serves the page until the process is interrupted (or `io.until` aborts). */
async function serveWebDemo(options: WebDemoOptions): Promise<number> {
  const { io } = options;
  let demo: WebDemo;
  try {
    demo = await runWebDemo(options);
  } catch (error) {
    io.stderr.write(`rxllm demo --web: ${error instanceof Error ? error.message : String(error)}\n`);
    return isRxllmError(error) && error.code === 'invalid-config' ? 2 : 1;
  }
  await untilStopped(io.until);
  await demo.close();
  return 0;
}

async function runOnce(mode: Mode, pipeline: DemoPipeline, text: string, progress: (line: string) => void): Promise<Omit<RunReport, 'text'>> {
  const startedAt = asyncScheduler.now();
  if (mode === 'sequential') {
    // One request after another: each step's own states give the profiler view.
    const { sentiment, summary, keywords } = pipeline.steps;
    const states = await lastValueFrom(
      concat(sentiment.run(text), summary.run(text), keywords.run(text)).pipe(
        tap((state) => progress(`${state.step}: ${state.status} ${preview(state.textSoFar)}`)),
        toArray(),
      ),
    );
    const done = states.filter((state) => state.status === 'done');
    const timeline = done.map((state) => row(state.step, state.startedAt, state.firstTokenAt, state.status === 'done' ? state.endedAt : state.startedAt));
    const value = Object.fromEntries(done.map((state) => [state.step, state.status === 'done' ? state.value : undefined]));
    const wallMs = asyncScheduler.now() - startedAt;
    return { wallMs, visibleMs: wallMs, timeline, value };
  }
  if (mode === 'graph') {
    const last = await lastState(pipeline.withReply.run(text), (state) => progress(branchLine(state.nodes)));
    if (last.status !== 'done') throw new Error('the graph run ended without a value');
    const timeline = timelineFromGraph(last);
    return { wallMs: last.endedAt - last.startedAt, visibleMs: (last.firstTokenAt ?? last.endedAt) - last.startedAt, timeline, criticalPath: last.criticalPath, value: last.value };
  }
  const last = await lastState(pipeline.all.run(text), (state) => progress(branchLine(state.branches)));
  if (last.status !== 'done') throw new Error('the parallel run ended without a value');
  const timeline = Object.values(last.branches).map((state) =>
    row(state.step, state.startedAt, state.firstTokenAt, state.status === 'done' ? state.endedAt : last.endedAt),
  );
  const wallMs = last.endedAt - last.startedAt;
  // Without streaming the user sees the record when it is complete; with streaming, at the first token.
  const visibleMs = mode === 'streaming' ? (last.firstTokenAt ?? last.endedAt) - last.startedAt : wallMs;
  return { wallMs, visibleMs, timeline, value: last.value };
}

/** {@link WARM_UP_REQUESTS} tiny requests at once, unmeasured; their answers are dropped. */
async function warmUp(transport: Transport, model: string): Promise<void> {
  const request = { model, messages: [{ role: 'user' as const, content: 'Reply with OK.' }], max_tokens: 1 };
  await lastValueFrom(forkJoin(Array.from({ length: WARM_UP_REQUESTS }, () => transport(request).pipe(result()))));
}

function lastState<S>(run: Observable<S>, onState: (state: S) => void): Promise<S> {
  return lastValueFrom(run.pipe(tap(onState)));
}

function row(name: string, start: number, firstToken: number | undefined, end: number): TimelineRow {
  return { name, start, end, status: 'ok', ...(firstToken === undefined ? {} : { firstToken }) };
}

function branchLine(branches: Record<string, { status: string; textSoFar?: string }>): string {
  return Object.entries(branches)
    .map(([name, state]) => `${name} ${state.status === 'done' ? '✓' : state.status === 'streaming' ? `▸ ${preview(state.textSoFar ?? '')}` : '…'}`)
    .join('  ');
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 24 ? `${flat.slice(0, 23)}…` : flat;
}

interface ModeSummary {
  wallMs: number;
  meanWallMs: number;
  meanVisibleMs: number;
  /**
   * Sequential wall time over this mode's. The graph does more work (a fourth step), so its
   * figure is against its own steps run one after another: the summed step times over its wall time.
   */
  speedUp: number;
  /** What `speedUp` divides, per text: sequential's wall time, or (graph) its own steps' summed times. */
  baselineMs: number;
}

function summarize(reports: Record<Mode, RunReport[]>): Record<Mode, ModeSummary> {
  const sequentialWall = sum(reports.sequential.map((run) => run.wallMs));
  const out = {} as Record<Mode, ModeSummary>;
  for (const mode of Object.keys(reports) as Mode[]) {
    const runs = reports[mode];
    const wallMs = sum(runs.map((run) => run.wallMs));
    const baseline = mode === 'graph' ? sum(runs.flatMap((run) => run.timeline.map((entry) => entry.end - entry.start))) : sequentialWall;
    out[mode] = {
      wallMs: Math.round(wallMs),
      meanWallMs: Math.round(wallMs / runs.length),
      meanVisibleMs: Math.round(sum(runs.map((run) => run.visibleMs)) / runs.length),
      speedUp: Math.round((baseline / wallMs) * 100) / 100,
      baselineMs: Math.round(baseline / runs.length),
    };
  }
  return out;
}

function summaryTable(summary: Record<Mode, ModeSummary>): string {
  const header = `${'mode'.padEnd(30)} ${'wall / text'.padStart(12)} ${'first visible'.padStart(14)} ${'speed-up'.padStart(9)}`;
  const lines = (Object.keys(summary) as Mode[]).map((mode) => {
    const entry = summary[mode];
    const label = mode === 'graph' ? 'graph (+ drafted reply)' : mode === 'streaming' ? 'parallel + streaming' : mode;
    return `${label.padEnd(30)} ${formatMs(entry.meanWallMs).padStart(12)} ${formatMs(entry.meanVisibleMs).padStart(14)} ${`${entry.speedUp.toFixed(2)}×`.padStart(9)}`;
  });
  // The graph does more work (the reply), so its baseline is its own: printed, so the figure can be checked.
  const note = `(graph: against its own four steps one after another, ${formatMs(summary.graph.baselineMs)} per text)`;
  return [header, '─'.repeat(header.length), ...lines, note].join('\n');
}

/** Why `--report FILE` could not be written, or undefined: its folder must exist and be writable, and FILE not be a folder. */
function checkReportPath(file: string): string | undefined {
  const path = resolve(file);
  const folder = dirname(path);
  const kind = (at: string) => {
    try {
      return statSync(at).isDirectory() ? 'folder' : 'file';
    } catch {
      return undefined;
    }
  };
  if (kind(path) === 'folder') return `--report ${file} is a folder: give a file name, e.g. ${file.replace(/\/$/, '')}/report.html`;
  if (kind(folder) !== 'folder') return `--report ${file}: the folder ${folder} does not exist (create it first)`;
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    return `--report ${file}: cannot write in ${folder}`;
  }
  return undefined;
}

/** A waterfall without its blank line and legend (`░ waiting for first token …`). */
function withoutLegend(chart: string): string {
  const lines = chart.split('\n');
  const legend = lines.findIndex((line) => line.includes('waiting for first token'));
  if (legend < 0) return chart;
  return [...lines.slice(0, legend > 0 && lines[legend - 1]!.trim() === '' ? legend - 1 : legend), ...lines.slice(legend + 1)].join('\n');
}

/** The analysed record, a field a line, long text wrapped under its name: JSON's nesting and one-line strings would overflow. */
function analysedLines(value: Record<string, unknown>, width: number): string[] {
  const nameWidth = Math.max(...Object.keys(value).map((name) => name.length)) + 2;
  return Object.entries(value).flatMap(([name, field]) => {
    const text = typeof field === 'string' ? field : Array.isArray(field) ? field.join(', ') : JSON.stringify(field);
    const [first = '', ...rest] = wrapText(text, width - nameWidth - 2, '');
    return [`  ${name.padEnd(nameWidth)}${first}`, ...rest.map((line) => `${' '.repeat(nameWidth + 2)}${line}`)];
  });
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
