import { RxllmError } from '../core/errors.js';

/** A checked graph: each node's dependencies, and an order in which every node comes after its dependencies. */
export interface CheckedGraph {
  after: ReadonlyMap<string, readonly string[]>;
  order: readonly string[];
}

/**
 * Checks a graph's nodes once, when the graph is built. Unknown names (with a
 * "Did you mean …?" for a near miss) and cycles are all reported in one
 * `invalid-config` error.
 * @internal
 */
export function validateGraph(config: unknown): CheckedGraph {
  const nodes = (config as { nodes?: unknown } | undefined)?.nodes;
  if (typeof nodes !== 'object' || nodes === null || Object.keys(nodes).length === 0) {
    throw new RxllmError('invalid-config', 'graph() needs at least one node: graph({ nodes: { summary, reply: { after: [...], run } } }).');
  }
  const onError = (config as { onError?: unknown }).onError;
  if (onError !== undefined && onError !== 'fail-fast' && onError !== 'continue') {
    throw new RxllmError('invalid-config', `graph(): \`onError\` must be 'fail-fast' or 'continue', got ${JSON.stringify(onError)}.`);
  }
  const names = Object.keys(nodes);
  const problems: string[] = [];
  const after = new Map<string, readonly string[]>();
  for (const name of names) {
    const node = (nodes as Record<string, { run?: unknown; after?: unknown } | undefined>)[name];
    if (typeof node?.run !== 'function') problems.push(`node "${name}" has no run function: give it { run } or pass a step.`);
    const deps = node?.after ?? [];
    if (!Array.isArray(deps) || deps.some((dep) => typeof dep !== 'string')) {
      problems.push(`node "${name}": \`after\` must be an array of node names.`);
      after.set(name, []);
      continue;
    }
    after.set(name, [...new Set(deps as string[])]);
    for (const dep of deps as string[]) {
      if (names.includes(dep)) continue;
      const guess = closest(dep, names);
      problems.push(`node "${name}" is after "${dep}", which is not a node.${guess ? ` Did you mean "${guess}"?` : ''}`);
    }
  }
  const { order, cycles } = walk(names, after);
  for (const cycle of cycles) {
    problems.push(
      cycle.length === 2
        ? `node "${cycle[0]}" is after itself.`
        : `nodes wait for each other in a cycle: ${cycle.join(' → ')}. Remove one of these \`after\` entries.`,
    );
  }
  if (problems.length) {
    throw new RxllmError('invalid-config', `Invalid graph (nodes: ${names.join(', ')}):\n${problems.map((p) => `  ✖ ${p}`).join('\n')}`);
  }
  return { after, order };
}

/**
 * Depth-first over `after` edges, in declaration order: the dependencies-first
 * order, and each cycle once as a closed walk (['a', 'b', 'a']: a waits for b
 * waits for a).
 */
function walk(names: readonly string[], after: ReadonlyMap<string, readonly string[]>): { order: string[]; cycles: string[][] } {
  const order: string[] = [];
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'closed'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    stack.push(name);
    for (const dep of after.get(name) ?? []) {
      if (!after.has(dep)) continue; // unknown names are reported separately
      const seen = state.get(dep);
      if (seen === 'open') found.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (seen === undefined) visit(dep);
    }
    stack.pop();
    state.set(name, 'closed');
    order.push(name);
  };
  for (const name of names) if (!state.has(name)) visit(name);
  return { order, cycles: found };
}

/** The known name nearest to a typo, if near enough to be a likely mistake. */
function closest(typo: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    const distance = name.toLowerCase() === typo.toLowerCase() ? 0 : editDistance(typo, name);
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return bestDistance <= Math.max(1, Math.floor(typo.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
