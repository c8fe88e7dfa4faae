// When the pod serves. Every container must be ready, except a soft dependency that has given
// up: a container that only soft edges point at (something depends on it, nothing depends on it
// hard) and that its dependents no longer wait for. They start and run without it, so its being
// down leaves the pod serving, with a warning (the Datadog Agent without an API key must not keep
// OpenCode down). A soft dependency still on its way up (first start, a spec change) is waited
// for like any other container.

import type { Node } from "./graph.js";
import type { ContainerState } from "./lifecycle.js";

export interface EdgeNode extends Node {
  readonly dependsOn: readonly { readonly name: string; readonly soft?: boolean }[];
}

/** States of an attempt that has just failed: its start period ran out, or it failed its probes once ready. */
const FAILED: ReadonlySet<ContainerState> = new Set(["failed", "unhealthy"]);

/**
 * Whether a container has given up, so that soft dependents do not wait for it: its current
 * attempt has failed, or it is failing to come up (its last instance ended before it was ever
 * ready: a crash loop at start, whether it is backing off or retrying right now). One that is on
 * its first try, or coming back after a one-off failure once ready (a crash, the pod removed by
 * hand: backing off and starting again, in order), has not.
 */
export const hasGivenUp = (state: ContainerState | undefined, failedUnready: boolean | undefined): boolean =>
  (state !== undefined && FAILED.has(state)) || failedUnready === true;

/** Containers that only soft edges point at, each with the names of the containers that depend on it. */
export const softOnlyDependencies = (nodes: readonly EdgeNode[]): Map<string, string[]> => {
  const found = new Map<string, string[]>();
  for (const n of nodes) {
    const edges = nodes.flatMap((x) => x.dependsOn.filter((d) => d.name === n.name).map((d) => ({ from: x.name, soft: d.soft === true })));
    if (edges.length > 0 && edges.every((e) => e.soft)) found.set(n.name, edges.map((e) => e.from));
  }
  return found;
};

/** Soft-only dependencies that are not ready and have given up: the pod serves without them. */
export const softDependenciesDown = (
  nodes: readonly EdgeNode[],
  ready: (name: string) => boolean,
  givenUp: (name: string) => boolean,
): string[] => [...softOnlyDependencies(nodes).keys()].filter((n) => !ready(n) && givenUp(n));

/** Every container ready, except soft-only dependencies that have given up. */
export const isServing = (nodes: readonly EdgeNode[], ready: (name: string) => boolean, givenUp: (name: string) => boolean): boolean => {
  const excused = new Set(softDependenciesDown(nodes, ready, givenUp));
  return nodes.length > 0 && nodes.every((n) => ready(n.name) || excused.has(n.name));
};
