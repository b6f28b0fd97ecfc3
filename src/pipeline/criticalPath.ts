/**
 * When one node (or step) of a run started, showed its first token and ended,
 * in `scheduler.now()` milliseconds, and what it waited for: one bar of a
 * waterfall chart.
 */
export interface TimelineEntry {
  /** The node's name in the graph. */
  node: string;
  /** The nodes whose final values this one waited for. */
  after: readonly string[];
  /** Where the node was when the timeline was taken (a finished run: `done` or `failed`). */
  status: 'waiting' | 'streaming' | 'done' | 'failed';
  /** When the node started (`scheduler.now()`, ms). */
  startedAt: number;
  /** When its first token arrived, if one did. */
  firstTokenAt?: number;
  /** When it ended, if it has. */
  endedAt?: number;
}

/**
 * The chain of nodes whose ends determined when a run finished, first to last:
 * the node that ended last, preceded by the input it waited longest for, and so
 * on back to a node that waited for nothing. Shortening anything else does not
 * make the run faster; this chain is what to optimise.
 *
 * Pure: reads only the entries' `after` and `endedAt` (entries that have not
 * ended are ignored). Ties go to the entry listed first. Returns `[]` when no
 * entry has ended.
 *
 * @example
 * ```ts
 * criticalPath([
 *   { node: 'sentiment', after: [], status: 'done', startedAt: 0, endedAt: 300 },
 *   { node: 'summary', after: [], status: 'done', startedAt: 0, endedAt: 900 },
 *   { node: 'reply', after: ['sentiment', 'summary'], status: 'done', startedAt: 900, endedAt: 1400 },
 * ]); // ['summary', 'reply']
 * ```
 */
export function criticalPath(timeline: readonly TimelineEntry[]): string[] {
  const ended = new Map<string, TimelineEntry>();
  for (const entry of timeline) if (entry.endedAt !== undefined && !ended.has(entry.node)) ended.set(entry.node, entry);
  const path: string[] = [];
  let current = latest([...ended.values()]);
  // A node is visited at most once, so a malformed (cyclic) timeline cannot loop.
  while (current && !path.includes(current.node)) {
    path.push(current.node);
    current = latest(current.after.flatMap((name) => ended.get(name) ?? []));
  }
  return path.reverse();
}

function latest(entries: readonly TimelineEntry[]): TimelineEntry | undefined {
  let best: TimelineEntry | undefined;
  for (const entry of entries) if (!best || entry.endedAt! > best.endedAt!) best = entry;
  return best;
}
