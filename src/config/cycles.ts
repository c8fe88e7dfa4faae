// Cycles in a "depends on" graph (containers' dependsOn, images' from).

export interface Cycle {
  /** The nodes around the cycle, first node repeated at the end: ["a", "b", "a"]. */
  readonly path: readonly string[];
  /** The edge that closes it: `from`'s edge number `index` (its position in the config list). */
  readonly from: string;
  readonly index: number;
}

/**
 * Every cycle closed by a back edge of a depth-first walk in declaration order. Edges to nodes that
 * are not in the graph are ignored (they are reported as unknown names elsewhere).
 */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): Cycle[] {
  const visiting = new Set<string>();
  const done = new Set<string>();
  const stack: string[] = [];
  const cycles: Cycle[] = [];

  const visit = (node: string): void => {
    visiting.add(node);
    stack.push(node);
    (graph.get(node) ?? []).forEach((next, index) => {
      if (!graph.has(next) || done.has(next)) return;
      if (visiting.has(next)) cycles.push({ path: [...stack.slice(stack.indexOf(next)), next], from: node, index });
      else visit(next);
    });
    stack.pop();
    visiting.delete(node);
    done.add(node);
  };

  for (const node of graph.keys()) if (!done.has(node)) visit(node);
  return cycles;
}

export const describeCycle = (cycle: Cycle): string => cycle.path.join(" -> ");
