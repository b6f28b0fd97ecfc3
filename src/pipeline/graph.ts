import {
  asyncScheduler,
  catchError,
  concat,
  defaultIfEmpty,
  defer,
  distinctUntilChanged,
  EMPTY,
  filter,
  forkJoin,
  last,
  map,
  merge,
  mergeMap,
  type Observable,
  of,
  ReplaySubject,
  scan,
  type SchedulerLike,
  share,
  switchMap,
  take,
  throwError,
} from 'rxjs';
import * as s from '../internal/check.js';
import { type RequestContext, withDeadline } from '../core/context.js';
import { schedulerSchema, validateConfig } from '../core/validateConfig.js';
import { requireDone } from '../operators/requireDone.js';
import { beforeDeadline, runDeadlineSchema } from './beforeDeadline.js';
import { criticalPath, type TimelineEntry } from './criticalPath.js';
import type { Progress, RunFunction, Runnable } from '../core/Progress.js';
import { runContext } from './runContext.js';
import { validateGraph } from './validateGraph.js';
import { withFields } from '../internal/withFields.js';

/**
 * One node of a {@link graph}: the nodes it waits for, and how it runs once
 * their final values are in. A {@link Step} (or any {@link Runnable}) is a
 * node that waits for nothing and runs on the graph's input.
 */
export interface GraphNode<I, O, V> {
  /** Names of the nodes whose final values this node needs. @defaultValue [] */
  after?: readonly (keyof O & string)[];
  /**
   * Runs the node. `inputs` holds the final values of the nodes named in
   * `after` (only those: the type shows every node's value for convenience).
   * `context` is the run's {@link RequestContext} (the graph's deadline
   * included): pass it on, `reply.run(x, context)`, so the node's requests
   * know the time that remains.
   *
   * A node that waits for nothing is called as any {@link Runnable} is,
   * `run(input, context)` (so a step is a node as is), and, for a `run`
   * written with three parameters, `context` third as well. To run a step
   * after other nodes, call it inside `run` with the context; do not pass
   * `step.run` itself, which would take `inputs` for its context.
   */
  run(input: I, inputs: O, context?: RequestContext): Observable<Progress<V>>;
}

/** Options for {@link graph}. `O` is the record of every node's final value. */
export interface GraphConfig<I, O> {
  /** The nodes by name: a {@link Runnable} that takes the graph's input, or `{ after, run }` for one that waits for others' values. */
  nodes: { [K in keyof O]: GraphNode<I, O, O[K]> };
  /**
   * `'fail-fast'`: the first node error errors the run and cancels every running
   * node. `'continue'`: nodes that do not depend on the failed one keep running;
   * its dependents are `skipped`; the run ends with a `failed` state holding the
   * partial results.
   * @defaultValue 'fail-fast'
   */
  onError?: 'fail-fast' | 'continue';
  /** The clock for every time in the states and the timeline, and for the deadline. @defaultValue asyncScheduler */
  scheduler?: SchedulerLike;
  /**
   * Milliseconds, from the moment a run is subscribed, by which the whole run
   * must end. Every node gets the run's context with `deadline` set to that
   * time on the scheduler's clock (or the run's own context deadline, if
   * earlier), so a node that starts late sends requests that know they have
   * only what remains. A node still running at the deadline fails with
   * `timeout` (its request is cancelled); a node whose inputs are ready only
   * after it fails with `timeout` without being started. Then `onError` decides.
   * @defaultValue no deadline (only the one in a run's context, if any)
   */
  deadline?: number;
}

/** Where a graph node is: `pending` (inputs not ready), running, or ended (`done`, `failed`, `skipped`). */
export type GraphNodeState<V> =
  | {
      /** Not started: waiting for the values of the nodes in its `after`. */
      status: 'pending';
    }
  | {
      /** Started: `waiting` for its first token, then `streaming`. */
      status: 'waiting' | 'streaming';
      /** When the node started (`scheduler.now()`, ms). */
      startedAt: number;
      /** When its first token arrived, if one did. */
      firstTokenAt?: number;
      /** The text so far of a step node (choice 0), for live display. */
      textSoFar?: string;
    }
  | {
      /** Discriminant: the node has its value. */
      status: 'done';
      /** The node's final value. */
      value: V;
      /** When the node started (`scheduler.now()`, ms). */
      startedAt: number;
      /** When its first token arrived, if one did. */
      firstTokenAt?: number;
      /** When it ended. */
      endedAt: number;
      /** The text so far of a step node (choice 0), for live display. */
      textSoFar?: string;
    }
  | {
      /** Discriminant: the node errored. */
      status: 'failed';
      /** What it errored with (an {@link RxllmError} naming the step, for a step node). */
      error: unknown;
      /** When the node started (`scheduler.now()`, ms). */
      startedAt: number;
      /** When its first token arrived, if one did. */
      firstTokenAt?: number;
      /** When it ended. */
      endedAt: number;
      /** The text so far of a step node (choice 0), for live display. */
      textSoFar?: string;
    }
  /** Never started because a node it waits for failed or was skipped (those are listed in `because`). */
  | {
      /** Discriminant: the node was skipped (`onError: 'continue'`). */
      status: 'skipped';
      /** The failed or skipped nodes it was waiting for. */
      because: string[];
    };

/** The fields every {@link GraphState} has, whatever its `status`. */
export interface GraphStateBase<O> {
  /** Every node's state; `textSoFar` is copied from a step node's state for live display. */
  nodes: { [K in keyof O]: GraphNodeState<O[K]> };
  /** The final values in so far. */
  values: Partial<O>;
  /** When the run started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When the first token of any node arrived. */
  firstTokenAt?: number;
  /** A bar per node that has started, in start order. */
  timeline: TimelineEntry[];
}

/**
 * One snapshot of a {@link graph} run. The last one is `done` (with `value`,
 * the record of every node's value) or `failed` (with `errors`); both carry the
 * `criticalPath`. A {@link Progress}, so a graph nests in `parallel()` or another graph.
 */
export type GraphState<O> =
  | (GraphStateBase<O> & {
      /** `waiting` until any node's first token, then `streaming` until the run ends. */
      status: 'waiting' | 'streaming';
    })
  | (GraphStateBase<O> & {
      /** Discriminant: every node is done. */
      status: 'done';
      /** The record of every node's final value. */
      value: O;
      /** When the last node ended (`scheduler.now()`, ms). */
      endedAt: number;
      /** The nodes whose ends determined when the run finished, first to last (see {@link criticalPath}). */
      criticalPath: string[];
    })
  | (GraphStateBase<O> & {
      /** Discriminant: the run ended with failed nodes (`onError: 'continue'`). */
      status: 'failed';
      /** When the run ended. */
      endedAt: number;
      /** The nodes whose ends determined when the run finished, first to last (see {@link criticalPath}). */
      criticalPath: string[];
      /** The failed nodes and their errors, in the order they failed. */
      errors: {
        /** The failed node's name. */
        node: string;
        /** What it failed with. */
        error: unknown;
      }[];
    });

/**
 * A dependency graph of nodes. See {@link graph}. Both views take an optional
 * {@link RequestContext} from a parent, passed on to every node (with the
 * graph's deadline applied).
 */
export interface Graph<I, O> extends Runnable<I, O, GraphState<O>> {
  /** Every snapshot, the last one with the timeline and critical path. */
  readonly run: RunFunction<I, GraphState<O>>;
  /** Only the record of every node's value, or the first node error. */
  readonly value: RunFunction<I, O>;
}

type NodeState = GraphNodeState<unknown>;
type EndedState = Extract<NodeState, { status: 'done' | 'failed' | 'skipped' }>;

/**
 * Runs nodes as early as their inputs allow: each node starts the moment every
 * node in its `after` list has its final value, and receives those values;
 * nodes that do not wait for each other run in parallel. The wall time is the
 * critical path, not the sum.
 *
 * ```text
 * sentiment:  ---300ms---d                      (starts at 0)
 * summary:    ---------900ms---------d          (starts at 0)
 * reply:                             ---500ms---d   after: ['sentiment', 'summary'], starts at 900
 * value:      ------------------------------------(v|)   at 1400; criticalPath: ['summary', 'reply']
 * ```
 *
 * `run(input)` emits a {@link GraphState} whenever a node's state changes and
 * ends with a `done` state (every value, the timeline, the critical path) and
 * completes. `value(input)` emits only the record of values, then completes.
 * Each node runs once per run, however many nodes wait for it (its stream is
 * shared within the run, never across runs). On a node error, by default
 * (`fail-fast`) `run` emits a `failed` state and errors with the node's error,
 * and every running node is unsubscribed, aborting its request; with
 * `onError: 'continue'` independent nodes keep running, dependents of the
 * failed node are `skipped`, and `run` ends with a `failed` state holding the
 * partial results (`value` then errors with the first node error once
 * everything has ended). A node that completes without a `done` state fails
 * with an `incomplete-stream` {@link RxllmError}. Cold: nothing starts before
 * subscribe. Unsubscribe cancels every running node.
 *
 * Context and deadline (as gRPC propagates deadlines): `run(input, context?)`
 * passes the context to every node, its `deadline` narrowed to
 * `config.deadline` milliseconds after subscribe (the earlier one wins). A
 * node that starts at 1.5 s of a 2 s deadline sends its request with 0.5 s
 * left, which `timeouts()` and `retry()` honour. A node still running at the
 * deadline fails with a `timeout` {@link RxllmError} naming it and the
 * deadline, and is unsubscribed (aborting its request); a node that becomes
 * ready at or after the deadline fails the same way without starting (no
 * request is sent that could not finish). Both are node failures, so
 * `onError` applies.
 *
 * TypeScript infers the node names for `after` and the input values from the
 * nodes; for the outputs of nodes with a `run(input, inputs)` function, pass
 * the record type: `graph<string, { sentiment: Label; summary: string; reply: string }>(...)`.
 *
 * @throws {@link RxllmError} `invalid-config` when the graph is built: a node
 * without `run`, an `after` naming an unknown node (with "Did you mean …?"),
 * a cycle (named: `a → b → a`), or a wrong option (`scheduler`, `deadline`).
 *
 * @example
 * ```ts
 * const pipeline = graph<string, { sentiment: Label; summary: string; reply: string }>({
 *   nodes: {
 *     sentiment,
 *     summary,
 *     reply: { after: ['sentiment', 'summary'], run: (text, { sentiment, summary }) => reply.run({ text, sentiment, summary }) },
 *   },
 * });
 * text$.pipe(switchMap(pipeline.run)).subscribe((state) => render(state.nodes));
 *
 * // The whole run within 2 s; a node passes the context on to its step:
 * const timed = graph<string, { summary: string; reply: string }>({
 *   nodes: { summary, reply: { after: ['summary'], run: (text, { summary }, context) => reply.run({ text, summary }, context) } },
 *   deadline: 2_000,
 * });
 * ```
 * @see parallel
 * @see criticalPath
 */
export function graph<I, O extends Record<string, unknown>>(config: GraphConfig<I, O>): Graph<I, O> {
  const { after, order } = validateGraph(config);
  const names = [...after.keys()];
  const nodes = config.nodes as unknown as Record<string, GraphNode<I, Record<string, unknown>, unknown>>;
  const failFast = config.onError !== 'continue';
  const { scheduler = asyncScheduler, deadline } = validateConfig('graph', configSchema, config);

  const run = ((input: I, parentContext?: unknown): Observable<GraphState<O>> =>
    defer(() => {
      // Per subscription: the deadline counts from the start of this run.
      const context = withDeadline(runContext(parentContext), deadline, scheduler);
      // Per subscription: one shared stream per node for this run only, so a node
      // with many dependents runs once, and a second run shares nothing with this one.
      const streams = new Map<string, Observable<NodeState>>();
      const stream = (name: string): Observable<NodeState> => {
        let node$ = streams.get(name);
        if (!node$) streams.set(name, (node$ = nodeStream(name)));
        return node$;
      };

      const nodeStream = (name: string): Observable<NodeState> => {
        const deps = after.get(name)!;
        const ended = (dep: string) =>
          stream(dep).pipe(
            filter((state): state is EndedState => isEnded(state)),
            take(1),
            // Fail-fast: a dependent of a failed node ends empty; treat it like a skip.
            defaultIfEmpty({ status: 'skipped', because: [] } as EndedState),
          );
        const ready: Observable<EndedState[]> = deps.length === 0 ? of([]) : forkJoin(deps.map(ended));
        return ready.pipe(
          switchMap((inputs): Observable<NodeState> => {
            const blocked = deps.filter((_, i) => inputs[i]!.status !== 'done');
            // Fail-fast: the run is about to error; starting nothing new is all that is left.
            if (blocked.length) return failFast ? EMPTY : of({ status: 'skipped', because: blocked });
            const values = Object.fromEntries(deps.map((dep, i) => [dep, (inputs[i] as { value: unknown }).value]));
            return runNode(name, values);
          }),
          // Replay the latest state: whoever subscribes second (the run or a
          // dependent) sees where the node is, even if it already ended.
          share({
            connector: () => new ReplaySubject<NodeState>(1),
            resetOnError: true,
            resetOnComplete: false,
            resetOnRefCountZero: true,
          }),
        );
      };

      const runNode = (name: string, values: Record<string, unknown>): Observable<NodeState> =>
        defer(() => {
          const startedAt = scheduler.now();
          let firstTokenAt: number | undefined;
          const timing = () => ({ startedAt, ...(firstTokenAt === undefined ? {} : { firstTokenAt }) });
          return concat(
            of<NodeState>({ status: 'waiting', startedAt }),
            defer(() => start(name, values)).pipe(
              requireDone(`graph node "${name}"`),
              map((progress): NodeState => {
                if (firstTokenAt === undefined && progress.firstTokenAt !== undefined) firstTokenAt = scheduler.now();
                const text = textOf(progress);
                if (progress.status === 'done') {
                  return { status: 'done', value: progress.value, ...timing(), endedAt: scheduler.now(), ...text };
                }
                // A nested graph's 'failed' end is followed by requireDone's error.
                return { status: progress.status === 'waiting' ? 'waiting' : 'streaming', ...timing(), ...text };
              }),
            ),
          ).pipe(
            // Outside the concat: past the deadline, the node fails without even a `waiting` state.
            beforeDeadline({ what: `graph node "${name}"`, step: name }, context, scheduler),
            catchError((error: unknown) => of<NodeState>({ status: 'failed', error, ...timing(), endedAt: scheduler.now() })),
            distinctUntilChanged(sameState),
          );
        });

      // A node that waits for nothing is a Runnable: run(input, context). Its inputs are empty, so
      // a three-parameter run loses nothing by finding the context second (it finds it third too).
      const start = (name: string, values: Record<string, unknown>): Observable<Progress<unknown>> =>
        after.get(name)!.length === 0
          ? nodes[name]!.run(input, (context ?? {}) as Record<string, unknown>, context)
          : nodes[name]!.run(input, values, context);

      const startedAt = scheduler.now();
      let firstTokenAt: number | undefined;
      const pending = Object.fromEntries(names.map((name) => [name, { status: 'pending' }])) as Record<string, NodeState>;
      // Subscribing in dependencies-first order makes the run every node's first
      // subscriber: a dependent's take(1) can never drop a node's refCount to zero
      // (which would restart it), and the run sees a failure before any dependent does.
      return merge(...order.map((name) => stream(name).pipe(map((state) => [name, state] as const)))).pipe(
        scan((all, [name, state]) => withFields(all, { [name]: state }), pending),
        map((all): GraphState<O> => {
          if (firstTokenAt === undefined && Object.values(all).some((s) => 'firstTokenAt' in s)) firstTokenAt = scheduler.now();
          return snapshot(all, startedAt, firstTokenAt, failFast, after, () => scheduler.now()) as GraphState<O>;
        }),
        mergeMap((state) =>
          failFast && state.status === 'failed' ? concat(of(state), throwError(() => state.errors[0]!.error)) : of(state),
        ),
      );
    })) as RunFunction<I, GraphState<O>>;

  const value = ((input: I, context?: unknown): Observable<O> =>
    run(input, runContext(context)).pipe(
      last(),
      map((state) => {
        if (state.status === 'done') return state.value;
        throw (state as Extract<GraphState<O>, { status: 'failed' }>).errors[0]!.error;
      }),
    )) as RunFunction<I, O>;

  return { run, value };
}

// nodes and onError are checked by validateGraph, with messages of their own.
const configSchema = s.strictObject({
  nodes: s.unknown().optional(),
  onError: s.unknown().optional(),
  scheduler: schedulerSchema.optional(),
  deadline: runDeadlineSchema.optional(),
});

function snapshot(
  nodes: Record<string, NodeState>,
  startedAt: number,
  firstTokenAt: number | undefined,
  failFast: boolean,
  after: ReadonlyMap<string, readonly string[]>,
  now: () => number,
): GraphState<Record<string, unknown>> {
  const timeline: TimelineEntry[] = [];
  const values: Record<string, unknown> = {};
  const errors: { node: string; error: unknown; endedAt: number }[] = [];
  for (const [node, state] of Object.entries(nodes)) {
    if (state.status === 'done') values[node] = state.value;
    if (state.status === 'failed') errors.push({ node, error: state.error, endedAt: state.endedAt });
    if ('startedAt' in state) {
      const { startedAt: start, firstTokenAt: first, status } = state;
      timeline.push({
        node,
        after: after.get(node)!,
        status,
        startedAt: start,
        ...(first === undefined ? {} : { firstTokenAt: first }),
        ...('endedAt' in state ? { endedAt: state.endedAt } : {}),
      });
    }
  }
  timeline.sort((a, b) => a.startedAt - b.startedAt);
  errors.sort((a, b) => a.endedAt - b.endedAt);
  const base = { nodes, values, startedAt, ...(firstTokenAt === undefined ? {} : { firstTokenAt }), timeline };
  const allEnded = Object.values(nodes).every(isEnded);
  if (errors.length && (failFast || allEnded)) {
    return withFields(base, {
      status: 'failed' as const,
      endedAt: now(),
      criticalPath: criticalPath(timeline),
      errors: errors.map(({ node, error }) => ({ node, error })),
    });
  }
  if (allEnded) return withFields(base, { status: 'done' as const, value: values, endedAt: now(), criticalPath: criticalPath(timeline) });
  return withFields(base, { status: firstTokenAt === undefined && !timeline.some((e) => e.endedAt !== undefined) ? ('waiting' as const) : ('streaming' as const) });
}

function isEnded(state: NodeState): state is EndedState {
  return state.status === 'done' || state.status === 'failed' || state.status === 'skipped';
}

function textOf(progress: Progress<unknown>): { textSoFar?: string } {
  const text = (progress as { textSoFar?: unknown }).textSoFar;
  return typeof text === 'string' ? { textSoFar: text } : {};
}

function sameState(a: NodeState, b: NodeState): boolean {
  return (
    a.status === b.status &&
    // The node's own first `waiting` state has no text; a step's has ''.
    ((a as { textSoFar?: string }).textSoFar ?? '') === ((b as { textSoFar?: string }).textSoFar ?? '') &&
    (a as { firstTokenAt?: number }).firstTokenAt === (b as { firstTokenAt?: number }).firstTokenAt
  );
}
