import type { LatencyRecord } from './LatencyRecord.js';

/** How a timeline row ended. */
export type TimelineStatus = 'ok' | 'error' | 'cancelled';

/**
 * One row of a run's timeline: a pipeline node (or a single request), with its times in
 * milliseconds on the scheduler's clock. The waterfall renderers ({@link renderWaterfall},
 * {@link waterfallHtml}) and {@link timelineSpans} read this plain shape, so any producer (the
 * pipeline's graph timeline, {@link timelineFromRecords}, your own code) can feed them.
 */
export interface TimelineRow {
  /** The row's label: the node's or step's name. */
  name: string;
  /** When the node started (its request was sent). */
  start: number;
  /** When its first content token arrived; absent if none did. */
  firstToken?: number;
  /** When it finished, failed or was cancelled. */
  end: number;
  /** How it ended: `ok`, `error` or `cancelled` (each drawn in its own style). */
  status: TimelineStatus;
  /** True for the nodes on the run's critical path (the chain of waits that set the wall time). */
  critical?: boolean;
  /** A short note shown beside the bar and in tooltips (model, tokens, error code). */
  detail?: string;
}

/**
 * Turns measured requests (from {@link LatencyRegistry.records}) into timeline rows: one per
 * request, named after its step, with the model, tokens and any error code as detail, in order of
 * start. No critical path is marked: records carry no dependencies.
 *
 * @example
 * ```ts
 * const records: LatencyRecord[] = [];
 * latency.records().subscribe((record) => records.push(record));
 * // ... run the pipeline ...
 * console.log(renderWaterfall(timelineFromRecords(records)));
 * ```
 */
export function timelineFromRecords(records: readonly LatencyRecord[]): TimelineRow[] {
  return [...records]
    .sort((a, b) => a.start - b.start)
    .map((record) => {
      const notes = [record.model !== record.step ? record.model : '', `${record.outputTokens} tok`, record.errorCode ?? ''];
      const row: TimelineRow = {
        name: record.step,
        start: record.start,
        end: record.end,
        status: record.outcome,
        detail: notes.filter(Boolean).join(' · '),
      };
      if (record.firstToken !== undefined) row.firstToken = record.firstToken;
      return row;
    });
}

/** One node of a graph run's timeline, as `graph()` reports it (`GraphState.timeline`). */
export interface GraphTimelineEntry {
  /** The node's name. */
  node: string;
  /** Where the node was when the timeline was taken. */
  status: 'waiting' | 'streaming' | 'done' | 'failed';
  /** When the node started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When its first token arrived, if one did. */
  firstTokenAt?: number;
  /** When it ended, if it has. */
  endedAt?: number;
}

/** The parts of a graph run's state that {@link timelineFromGraph} reads: a `done` or `failed` `GraphState` fits. */
export interface GraphRunTimeline {
  /** The started nodes, in start order. */
  timeline: readonly GraphTimelineEntry[];
  /** The nodes whose ends determined when the run finished (marked on the chart). */
  criticalPath?: readonly string[];
  /** When the run ended; nodes still running then are drawn up to it, as cancelled. */
  endedAt?: number;
}

/**
 * Turns a graph run's timeline (the last `GraphState` of `graph().run(input)`) into timeline rows:
 * `done` nodes are `ok`, `failed` ones `error`, and nodes still waiting or streaming when the run
 * ended (a fail-fast run cancels them) are `cancelled`, drawn up to the run's end. Nodes on
 * `criticalPath` are marked critical.
 *
 * @example
 * ```ts
 * const final = await lastValueFrom(pipeline.run(input));
 * console.log(renderWaterfall(timelineFromGraph(final), { color: true }));
 * writeFileSync('report.html', waterfallHtml(timelineFromGraph(final), { snapshot: latency.snapshot() }));
 * ```
 */
export function timelineFromGraph(run: GraphRunTimeline): TimelineRow[] {
  const critical = new Set(run.criticalPath ?? []);
  const lastEnd = Math.max(...run.timeline.flatMap((entry) => [entry.startedAt, entry.endedAt ?? entry.startedAt]));
  const runEnd = run.endedAt ?? lastEnd;
  return run.timeline.map((entry) => {
    const row: TimelineRow = {
      name: entry.node,
      start: entry.startedAt,
      end: entry.endedAt ?? Math.max(entry.startedAt, runEnd),
      status: entry.status === 'done' ? 'ok' : entry.status === 'failed' ? 'error' : 'cancelled',
    };
    if (entry.firstTokenAt !== undefined) row.firstToken = entry.firstTokenAt;
    if (critical.has(entry.node)) row.critical = true;
    return row;
  });
}

/** Wall time, summed node time and the critical path of a timeline. Internal to the renderers. */
export interface TimelineSummary {
  origin: number;
  wall: number;
  /** Sum of every node's own duration. */
  busy: number;
  /** `busy / wall`: how many nodes ran at once, on average. */
  overlap: number;
  /** The critical nodes, in order of start. */
  critical: TimelineRow[];
}

export function summarizeTimeline(rows: readonly TimelineRow[]): TimelineSummary {
  if (rows.length === 0) return { origin: 0, wall: 0, busy: 0, overlap: 0, critical: [] };
  const origin = Math.min(...rows.map((row) => row.start));
  const wall = Math.max(...rows.map((row) => row.end)) - origin;
  const busy = rows.reduce((sum, row) => sum + Math.max(0, row.end - row.start), 0);
  const critical = rows.filter((row) => row.critical).sort((a, b) => a.start - b.start);
  return { origin, wall, busy, overlap: wall > 0 ? busy / wall : 0, critical };
}
