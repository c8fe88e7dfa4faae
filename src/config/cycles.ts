// Every cycle of a "depends on" graph (containers' dependsOn, images' from), each with the config
// entry that closes it, so the error can point at a field.

import { findCycle, type Node } from "../domain/graph.js";

export interface Cycle {
  /** The names around the cycle, the first repeated at the end: ["a", "b", "a"]. */
  readonly path: readonly string[];
  /** The entry that closes it: `from`'s edge number `index` (its position in the config list). */
  readonly from: string;
  readonly index: number;
}

interface IndexedNode extends Node {
  readonly dependsOn: readonly { readonly name: string; readonly index: number }[];
}

/** Finds a cycle, records it, removes the edge that closes it, and repeats until none is left. */
export function findCycles(nodes: readonly Node[]): Cycle[] {
  let graph: IndexedNode[] = nodes.map((node) => ({
    name: node.name,
    dependsOn: node.dependsOn.map((d, index) => ({ name: d.name, index })),
  }));
  const cycles: Cycle[] = [];
  for (let path = findCycle(graph); path !== null; path = findCycle(graph)) {
    const from = path[path.length - 2] ?? "";
    const to = path[path.length - 1] ?? "";
    const edge = graph.find((node) => node.name === from)?.dependsOn.find((d) => d.name === to);
    if (edge === undefined) break; // cannot happen: findCycle walks existing edges
    cycles.push({ path, from, index: edge.index });
    graph = graph.map((node) => (node.name === from ? { ...node, dependsOn: node.dependsOn.filter((d) => d !== edge) } : node));
  }
  return cycles;
}

export const describeCycle = (cycle: Cycle): string => cycle.path.join(" -> ");
