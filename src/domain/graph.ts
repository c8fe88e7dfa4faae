// Dependency graph of the pod's containers: start order, stop order, cycle detection.

export interface Node {
  readonly name: string;
  readonly dependsOn: readonly { readonly name: string }[];
}

/** A cycle as a path that starts and ends with the same name, e.g. ["a", "b", "a"]. */
export const findCycle = (nodes: readonly Node[]): string[] | null => {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | null => {
    const s = state.get(name);
    if (s === "done") return null;
    if (s === "visiting") return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, "visiting");
    stack.push(name);
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (!byName.has(dep.name)) continue;
      const cycle = visit(dep.name);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(name, "done");
    return null;
  };
  for (const n of nodes) {
    const cycle = visit(n.name);
    if (cycle) return cycle;
  }
  return null;
};

/**
 * Start order: every container after all it depends on; ties keep declaration order,
 * so the seed's chain stays valkey, falkordb, datadog, opencode. Throws on a cycle
 * (config validation rejects cycles before a spec exists).
 */
export const startOrder = (nodes: readonly Node[]): string[] => {
  const cycle = findCycle(nodes);
  if (cycle) throw new Error(`dependency cycle: ${cycle.join(" -> ")}`);
  const placed = new Set<string>();
  const order: string[] = [];
  while (order.length < nodes.length) {
    const next = nodes.find((n) => !placed.has(n.name) && n.dependsOn.every((d) => placed.has(d.name)));
    if (!next) throw new Error("dependency on an unknown container");
    placed.add(next.name);
    order.push(next.name);
  }
  return order;
};

export const stopOrder = (nodes: readonly Node[]): string[] => startOrder(nodes).reverse();

/** Names of the containers that depend directly on `name`. */
export const dependentsOf = (nodes: readonly Node[], name: string): string[] =>
  nodes.filter((n) => n.dependsOn.some((d) => d.name === name)).map((n) => n.name);

/** Names of every container that depends on `name`, directly or through others. */
export const transitiveDependentsOf = (nodes: readonly Node[], name: string): Set<string> => {
  const found = new Set<string>();
  const visit = (n: string): void => {
    for (const d of dependentsOf(nodes, n)) {
      if (found.has(d)) continue;
      found.add(d);
      visit(d);
    }
  };
  visit(name);
  return found;
};
