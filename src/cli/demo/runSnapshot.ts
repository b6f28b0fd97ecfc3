// What the web demo's server sends the page for each state of a run: a flat, JSON-ready view of
// a step, parallel or graph state, with times in milliseconds from the start of the run.
import { concat, defer, map, type Observable, scan, type SchedulerLike } from 'rxjs';
import type { TimelineRow } from '../../metrics/timeline.js';
import type { GraphNodeState, GraphState } from '../../pipeline/graph.js';
import type { StepState } from '../../pipeline/StepState.js';
import type { DemoPipeline } from './types.js';

/** The three ways the page runs the pipeline. */
export type DemoMode = 'sequential' | 'parallel' | 'graph';

export const DEMO_MODES: readonly DemoMode[] = ['sequential', 'parallel', 'graph'];

/** One node (step) of a run, as the page draws it. */
export interface NodeView {
  status: 'pending' | 'waiting' | 'streaming' | 'done' | 'failed' | 'skipped';
  /** The answer's text so far. */
  text: string;
  startMs?: number;
  firstTokenMs?: number;
  endMs?: number;
  /** The validated value, once done. */
  value?: unknown;
  /** How many times the step re-asked after an answer that did not validate. */
  reask?: number;
}

/** One snapshot of a run. */
export interface RunSnapshot {
  mode: DemoMode;
  status: 'waiting' | 'streaming' | 'done' | 'failed';
  /** Server time since the run started, when this snapshot was taken. */
  elapsedMs: number;
  firstTokenMs?: number;
  nodes: Record<string, NodeView>;
  criticalPath?: string[];
  /** The record of values, once done. */
  value?: Record<string, unknown>;
}

/** The snapshots of one run of `mode` on `text`. Cold; unsubscribe cancels the run. */
export function runSnapshots(pipeline: DemoPipeline, mode: DemoMode, text: string, scheduler: SchedulerLike): Observable<RunSnapshot> {
  if (mode === 'graph') {
    return pipeline.withReply.run(text).pipe(map((state) => graphSnapshot(state as GraphState<Record<string, unknown>>, scheduler)));
  }
  if (mode === 'parallel') {
    return pipeline.all.run(text).pipe(
      map((state) => {
        const nodes = Object.fromEntries(Object.entries(state.branches).map(([name, step]) => [name, stepView(step as StepState<unknown>, state.startedAt)]));
        return state.status === 'done'
          ? snapshot('parallel', 'done', state.startedAt, scheduler, nodes, state.firstTokenAt, state.endedAt, state.value)
          : snapshot('parallel', state.status, state.startedAt, scheduler, nodes, state.firstTokenAt, undefined, undefined);
      }),
    );
  }
  // Sequential: one step after another, the way the code reads without rxllm.
  return defer(() => {
    const startedAt = scheduler.now();
    const names = Object.keys(pipeline.steps);
    const initial: Record<string, NodeView> = Object.fromEntries(names.map((name) => [name, { status: 'pending', text: '' }]));
    return concat(...names.map((name) => pipeline.steps[name as keyof DemoPipeline['steps']].run(text) as Observable<StepState<unknown>>)).pipe(
      scan((nodes, step) => ({ ...nodes, [step.step]: stepView(step, startedAt) }), initial),
      map((nodes) => {
        const views = Object.values(nodes);
        const done = views.every((view) => view.status === 'done');
        const firstTokens = views.flatMap((view) => (view.firstTokenMs === undefined ? [] : [view.firstTokenMs + startedAt]));
        const value = done ? Object.fromEntries(names.map((name) => [name, nodes[name]!.value])) : undefined;
        const endedAt = done ? Math.max(...views.map((view) => view.endMs! + startedAt)) : undefined;
        const status = done ? 'done' : views.some((view) => view.status !== 'pending' && view.status !== 'waiting') ? 'streaming' : 'waiting';
        return snapshot('sequential', status, startedAt, scheduler, nodes, firstTokens.length ? Math.min(...firstTokens) : undefined, endedAt, value);
      }),
    );
  });
}

/** The waterfall rows of a snapshot, for `waterfallHtml`: the nodes that started, critical ones marked. */
export function snapshotRows(run: RunSnapshot): TimelineRow[] {
  const critical = new Set(run.criticalPath ?? []);
  return Object.entries(run.nodes)
    .filter(([, node]) => node.startMs !== undefined)
    .map(([name, node]) => {
      const row: TimelineRow = {
        name,
        start: node.startMs!,
        end: node.endMs ?? run.elapsedMs,
        status: node.status === 'done' ? 'ok' : node.status === 'failed' ? 'error' : 'cancelled',
      };
      if (node.firstTokenMs !== undefined) row.firstToken = node.firstTokenMs;
      if (critical.has(name)) row.critical = true;
      if (node.reask) row.detail = `re-asked ×${node.reask}`;
      return row;
    });
}

function snapshot(
  mode: DemoMode,
  status: RunSnapshot['status'],
  startedAt: number,
  scheduler: SchedulerLike,
  nodes: Record<string, NodeView>,
  firstTokenAt: number | undefined,
  endedAt: number | undefined,
  value: unknown,
): RunSnapshot {
  return {
    mode,
    status,
    elapsedMs: (endedAt ?? scheduler.now()) - startedAt,
    ...(firstTokenAt === undefined ? {} : { firstTokenMs: firstTokenAt - startedAt }),
    nodes,
    ...(status === 'done' ? { value: value as Record<string, unknown> } : {}),
  };
}

function stepView(step: StepState<unknown>, origin: number): NodeView {
  return {
    status: step.status,
    text: step.textSoFar,
    startMs: step.startedAt - origin,
    ...(step.firstTokenAt === undefined ? {} : { firstTokenMs: step.firstTokenAt - origin }),
    ...(step.status === 'done' ? { endMs: step.endedAt - origin, value: step.value } : {}),
    ...(step.reask ? { reask: step.reask } : {}),
  };
}

function graphSnapshot(state: GraphState<Record<string, unknown>>, scheduler: SchedulerLike): RunSnapshot {
  const origin = state.startedAt;
  const nodes = Object.fromEntries(Object.entries(state.nodes).map(([name, node]) => [name, graphNodeView(node as GraphNodeState<unknown>, origin)]));
  const ended = state.status === 'done' || state.status === 'failed';
  const run = snapshot('graph', state.status, origin, scheduler, nodes, state.firstTokenAt, ended ? state.endedAt : undefined, state.status === 'done' ? state.value : undefined);
  return ended ? { ...run, criticalPath: state.criticalPath } : run;
}

function graphNodeView(node: GraphNodeState<unknown>, origin: number): NodeView {
  switch (node.status) {
    case 'pending':
      return { status: 'pending', text: '' };
    case 'skipped':
      return { status: 'skipped', text: '' };
    default: {
      const view: NodeView = { status: node.status, text: node.textSoFar ?? '', startMs: node.startedAt - origin };
      if (node.firstTokenAt !== undefined) view.firstTokenMs = node.firstTokenAt - origin;
      if (node.status === 'done') {
        view.endMs = node.endedAt - origin;
        view.value = node.value;
      } else if (node.status === 'failed') view.endMs = node.endedAt - origin;
      return view;
    }
  }
}
