// When the pod serves. Every container must be ready, except a soft dependency: a container that
// only soft edges point at (something depends on it, and nothing depends on it hard). Its
// dependents start and run without it once it has failed, so its being down leaves the pod
// serving, with a warning (the Datadog Agent without an API key must not keep OpenCode down).

import type { Node } from "./graph.js";

export interface EdgeNode extends Node {
  readonly dependsOn: readonly { readonly name: string; readonly soft?: boolean }[];
}

/** Containers that only soft edges point at, each with the names of the containers that depend on it. */
export const softOnlyDependencies = (nodes: readonly EdgeNode[]): Map<string, string[]> => {
  const found = new Map<string, string[]>();
  for (const n of nodes) {
    const edges = nodes.flatMap((x) => x.dependsOn.filter((d) => d.name === n.name).map((d) => ({ from: x.name, soft: d.soft === true })));
    if (edges.length > 0 && edges.every((e) => e.soft)) found.set(n.name, edges.map((e) => e.from));
  }
  return found;
};

/** Every container ready except soft-only dependencies (which may be down, failing or starting again). */
export const isServing = (nodes: readonly EdgeNode[], ready: (name: string) => boolean): boolean => {
  const soft = softOnlyDependencies(nodes);
  return nodes.length > 0 && nodes.every((n) => ready(n.name) || soft.has(n.name));
};
