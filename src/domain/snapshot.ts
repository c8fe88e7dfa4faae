// The status snapshot: the shared words for how the pod stands (health, states, readiness), built
// from the last pass only (pure: the supervisor hands in what it saw), so readers never call Podman.

import type { DiskVerdict } from "./disk.js";
import type { ContainerHistory } from "./history.js";
import { hostProblemIn, type HostProblem } from "./host-problems.js";
import type { ContainerState } from "./lifecycle.js";
import type { Observed } from "./observed.js";
import type { Mode, Plan } from "./plan.js";
import { hasGivenUp, isServing, softDependenciesDown, softOnlyDependencies } from "./serving.js";
import type { PodSpec } from "./spec.js";

export const HEALTH = ["healthy", "unhealthy", "starting", "stopped", "none"] as const;
export type Health = (typeof HEALTH)[number];

export interface ContainerSnapshot {
  readonly state: ContainerState;
  /** From podwarden's own probe: none when the container declares no probe. */
  readonly health: Health;
  readonly ready: boolean;
  readonly id: string | null;
  readonly image: string;
  readonly imageId: string | null;
  readonly running: boolean;
  readonly restarts: number;
  readonly lastExitCode: number | null;
  readonly lastReason: string | null;
  readonly startedAt: string | null;
  readonly readyAt: string | null;
  readonly nextAttemptAt: string | null;
  readonly backoffSeconds: number;
  readonly dependsOn: readonly string[];
  /**
   * The containers that depend on this one, when every edge to it is soft (a soft dependency:
   * its being down leaves the pod serving); empty otherwise.
   */
  readonly softDependencyOf: readonly string[];
  readonly lastProbe: { readonly ok: boolean; readonly ms: number; readonly at: string; readonly message: string } | null;
  /** Its persisted filesystem (the one with least free space), null when it has no persisted directory or none was sampled yet. */
  readonly disk: DiskSnapshot | null;
}

export interface DiskSnapshot {
  readonly path: string;
  readonly filesystem: string;
  readonly freeBytes: number;
  readonly sizeBytes: number;
  /** When it was sampled (ISO). */
  readonly at: string;
  /** Out of space (see domain/disk.ts): /status fails and liveness restarts are held off. */
  readonly full: boolean;
  readonly reason: string | null;
}

export interface Snapshot {
  readonly mode: Mode;
  readonly settled: boolean;
  /** Every container ready except soft dependencies that have given up (domain/serving.ts). */
  readonly serving: boolean;
  /** Soft dependencies that are down and have given up: the pod serves without them, with a warning. */
  readonly softDown: readonly string[];
  readonly error: string | null;
  readonly podman: { readonly reachable: boolean; readonly events: boolean };
  /**
   * A host problem retrying cannot fix: found by the host checks before the pod is touched
   * (the daemon waits for them to pass), or recognised in Podman's errors since (it keeps retrying).
   */
  readonly blocked: HostProblem | null;
  /** When the last reconcile pass finished (ISO), null before the first. */
  readonly lastPassAt: string | null;
  readonly pod: { readonly name: string; readonly exists: boolean; readonly state: string; readonly containersReady: number; readonly containersTotal: number };
  readonly containers: Readonly<Record<string, ContainerSnapshot>>;
}

/**
 * What jobs wait for and require: the pod serving (every container ready, except soft
 * dependencies that are down: a backup needs no telemetry).
 */
export const podReady = (s: Snapshot): boolean => s.serving;

/** The soft dependencies that are down (Snapshot.softDown) with their snapshots. */
export const softDown = (s: Snapshot): [string, ContainerSnapshot][] =>
  s.softDown.flatMap((name) => (s.containers[name] ? [[name, s.containers[name]] as [string, ContainerSnapshot]] : []));

/** "datadog is down (soft dependency of opencode): backing-off, last failure: exited (code 1)". */
export const softDownNote = (name: string, c: ContainerSnapshot): string => {
  const why = c.lastReason ?? (c.lastProbe && !c.lastProbe.ok ? `last probe: ${c.lastProbe.message}` : undefined);
  return `${name} is down (soft dependency of ${c.softDependencyOf.join(", ")}): ${c.state}${why ? `, last failure: ${why}` : ""}`;
};

const iso = (ms: number | undefined | null): string | null => (ms === undefined || ms === null ? null : new Date(ms).toISOString());

export interface SnapshotInput {
  readonly spec: PodSpec;
  readonly mode: Mode;
  readonly observed: Observed | undefined;
  readonly plan: Plan | undefined;
  readonly history: ReadonlyMap<string, ContainerHistory>;
  readonly lastError: Error | undefined;
  readonly podmanReachable: boolean;
  readonly eventsConnected: boolean;
  readonly lastPassAt: number | undefined;
  readonly now: number;
  /** What the host checks block on (undefined: nothing). */
  readonly hostProblem?: HostProblem | undefined;
  /** Each container's persisted filesystem (see Reconciler.disk). */
  readonly disk?: ReadonlyMap<string, DiskVerdict>;
}

const healthOf = (hasProbe: boolean, running: boolean, h: ContainerHistory | undefined): Health => {
  if (!running) return "stopped";
  if (!hasProbe) return "none";
  if (!h?.lastProbe || !h.ready) return "starting";
  return h.lastProbe.ok ? "healthy" : "unhealthy";
};

export const buildSnapshot = (input: SnapshotInput): Snapshot => {
  const containers: Record<string, ContainerSnapshot> = {};
  const soft = softOnlyDependencies(input.spec.containers);
  let ready = 0;
  for (const c of input.spec.containers) {
    const o = input.observed?.containers.get(c.name);
    const h = input.history.get(c.name);
    const state = input.plan?.states.get(c.name) ?? h?.state ?? "pending";
    // An init container is ready once it has run to completion (plan decides), not while running.
    const isReady = c.init ? state === "ready" : o?.running === true && h?.ready === true;
    if (isReady) ready += 1;
    const next = h?.nextAttemptAt;
    const disk = input.disk?.get(c.name);
    containers[c.name] = {
      state,
      health: c.init ? "none" : healthOf(c.probe !== undefined, o?.running === true, h),
      ready: isReady,
      id: o?.id ?? null,
      image: c.image,
      imageId: o?.imageId || null,
      running: o?.running === true,
      restarts: h?.restarts ?? 0,
      lastExitCode: h?.lastExitCode ?? o?.exitCode ?? null,
      lastReason: h?.lastReason ?? null,
      startedAt: iso(o?.startedAt),
      readyAt: isReady ? iso(h?.readyAt) : null,
      nextAttemptAt: next !== undefined && next > input.now ? iso(next) : null,
      backoffSeconds: next !== undefined && next > input.now ? Math.ceil((next - input.now) / 1000) : 0,
      dependsOn: c.dependsOn.map((d) => d.name),
      softDependencyOf: soft.get(c.name) ?? [],
      lastProbe: h?.lastProbe ? { ...h.lastProbe, at: iso(h.lastProbe.at)! } : null,
      disk: disk ? { ...disk, at: iso(disk.at)! } : null,
    };
  }
  const isReady = (n: string): boolean => containers[n]?.ready === true;
  const givenUp = (n: string): boolean => hasGivenUp(containers[n]?.state, input.history.get(n)?.failedUnready);
  return {
    mode: input.mode,
    settled: input.plan?.settled ?? false,
    serving: isServing(input.spec.containers, isReady, givenUp),
    softDown: softDependenciesDown(input.spec.containers, isReady, givenUp),
    error: input.lastError?.message ?? null,
    podman: { reachable: input.podmanReachable, events: input.eventsConnected },
    blocked:
      input.hostProblem ??
      hostProblemIn(
        input.lastError?.message,
        Object.entries(containers).flatMap(([name, c]) => (c.ready ? [] : [[name, c.lastReason] as const])),
      ) ??
      null,
    lastPassAt: iso(input.lastPassAt),
    pod: {
      name: input.spec.name,
      exists: input.observed?.pod != null,
      state: input.observed?.pod?.state ?? "absent",
      containersReady: ready,
      containersTotal: input.spec.containers.length,
    },
    containers,
  };
};
