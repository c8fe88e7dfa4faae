// The composition root: the one place that builds the daemon's objects and wires them together
// (runtime, reconciler, supervisor, metrics, reload; for `run` also the host gate, jobs, HTTP,
// control socket and systemd bridge), and the order they start and stop in. Commands only start
// what they need and wait: `up` and `down` the supervising pod (buildPod), `run` all of it
// (runDaemon, in run-daemon.ts, so that `up` and `down` never load what only `run` needs).

import { backoffFrom } from "../domain/backoff.js";
import { persistedPaths } from "../domain/disk.js";
import { probePodName, runChecks, type CheckInput } from "../doctor/checks.js";
import { Removals } from "../doctor/removals.js";
import type { ContainerState } from "../domain/lifecycle.js";
import { nodeHostFacts } from "../doctor/host-facts.js";
import type { Check } from "../doctor/report.js";
import { loadNamingKey, namingKeyDirs, processNamingKey } from "../config/naming-key.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { Metrics, startPeriodsS } from "../observability/metrics.js";
import { createDiskSampler } from "../probes/disk.js";
import { createProber } from "../probes/prober.js";
import type { ContainerRuntime } from "../runtime/port.js";
import { Reconciler } from "../supervisor/reconciler.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { Timeline } from "../supervisor/timeline.js";
import { createRuntime, load, type Loaded } from "./load.js";
import type { GlobalOptions } from "./options.js";
import { reloader, type Reloader } from "./reload.js";

/** The supervising part of the daemon: what `up` and `down` start, and what `run` builds on. */
export interface Pod extends Loaded, Reloader {
  readonly runtime: ContainerRuntime;
  readonly socket: string;
  readonly reconciler: Reconciler;
  readonly supervisor: Supervisor;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly timeline: Timeline;
  /** Calls `listener` with each line of progress from long work (image builds, pulls); returns the unsubscribe function. */
  onProgress(listener: (line: string) => void): () => void;
  /** Where jobs' own long work reports its progress (the same listeners). */
  progress(line: string): void;
}

export interface PodOptions {
  /** Wait for a Podman socket that is not there yet (the daemon) instead of failing with exit 69. */
  readonly patient?: boolean;
  /**
   * "throwaway": for `down`, which removes every container and secret whatever their names, so a
   * key file that is refused does not keep the pod up.
   */
  readonly naming?: "keep" | "throwaway";
}

export const buildPod = async (opts: GlobalOptions, how: PodOptions = {}): Promise<Pod> => {
  const loaded = await load(opts);
  const key = how.naming === "throwaway" ? processNamingKey() : await loadNamingKey(namingKeyDirs(loaded.jobSettings.stateDir, opts.env), process.getuid?.() ?? 0);
  for (const w of key.warnings) loaded.logger.warn({ keyFile: key.file }, w);
  if (key.created && key.file) loaded.logger.info({ keyFile: key.file }, "made a new secret-naming key");
  const clock = systemClock;
  const metrics = new Metrics({
    version: opts.version,
    containers: loaded.spec.containers.map((c) => c.name),
    persisted: [...persistedPaths(loaded.spec).keys()],
    startPeriodsS: startPeriodsS(loaded.spec.containers),
    clock,
  });
  const timeline = new Timeline();
  const { runtime, socket } = createRuntime(opts, how.patient ?? false, metrics.onApiCall);
  const progressListeners = new Set<(line: string) => void>();
  const progress = (line: string): void => {
    for (const l of progressListeners) l(line);
  };
  const prober = createProber({ spec: loaded.spec, secrets: loaded.secrets, runtime, clock });
  const reconciler = new Reconciler({
    spec: loaded.spec,
    secrets: loaded.secrets,
    namingKey: key.key,
    runtime,
    prober,
    clock,
    logger: loaded.logger.child({ component: "reconciler" }),
    backoff: backoffFrom(loaded.spec.restart),
    random: Math.random,
    kick: () => supervisor.kick(),
    onEvent: (e) => {
      timeline.record(e);
      metrics.onEvent(e);
    },
    // The supervisor is built next (it needs the reconciler); progress only comes once it runs.
    onProgress: (line) => {
      supervisor.noteProgress();
      progress(line);
    },
    disk: createDiskSampler(),
  });
  const supervisor = new Supervisor({ reconciler, clock, logger: loaded.logger, events: runtime, onPassDone: metrics.onPass });
  const reloads = reloader({ config: opts.config, loaded, logger: loaded.logger, runtime, clock, reconciler, supervisor, metrics });
  return {
    ...loaded,
    ...reloads,
    runtime,
    socket,
    reconciler,
    supervisor,
    clock,
    metrics,
    timeline,
    progress,
    onProgress: (listener) => {
      progressListeners.add(listener);
      return () => progressListeners.delete(listener);
    },
  };
};

/**
 * `podwarden doctor`'s checks as `up` and `run` run them before touching the pod: no
 * /libpod/info, no config warnings (already logged), and no throwaway pod when the pod runs
 * (nor when there is none: the real pod is made as the runtime check).
 */
export const checkHost = (
  d: Pick<Pod, "socket" | "runtime" | "reconciler">,
  opts: GlobalOptions,
  removeLater?: (remove: () => Promise<void>) => void,
  early: Pick<CheckInput, "pinged" | "podNow"> = {},
): Promise<Check[]> =>
  runChecks({
    socket: d.socket,
    runtime: d.runtime,
    config: { spec: d.reconciler.spec, secretCount: d.reconciler.secrets.size, warnings: [] },
    facts: nodeHostFacts(opts.env),
    probe: "unless-running",
    info: false,
    probeName: probePodName(),
    realPod: d.reconciler.podRequest,
    createAhead: (othersPassed) => d.reconciler.createAhead(othersPassed),
    ...(removeLater ? { removeLater } : {}),
    ...early,
  });

/** A container that has had its go: running, or given up on for now (its dependents may still wait). */
const TRIED: ReadonlySet<ContainerState> = new Set<ContainerState>(["ready", "unhealthy", "backing-off", "failed"]);

/** Throwaway pods are removed at the latest this long after the checks, whatever the pod does. */
export const RELEASE_AFTER_MS = 30_000;

/**
 * Releases the throwaway pods' removals once every container has had its start (running, or
 * failed and backing off: a Datadog Agent without its key never runs), or the pod serves, or
 * RELEASE_AFTER_MS after the first check: the last container's own start leaves Podman idle
 * for them (doctor/removals.ts). Returns the function that stops waiting (at exit).
 */
export const releaseOnceStarted = (
  supervisor: Pick<Supervisor, "onPass" | "snapshot" | "serving" | "settled">,
  removals: Pick<Removals, "release">,
  clock: Clock,
): (() => void) => {
  const waiting = new AbortController();
  const release = (): void => {
    off();
    waiting.abort();
    removals.release();
  };
  const off = supervisor.onPass(() => {
    const containers = Object.values(supervisor.snapshot().containers);
    if (supervisor.serving || supervisor.settled || containers.every((c) => c.running || TRIED.has(c.state))) release();
  });
  void clock.sleep(RELEASE_AFTER_MS, waiting.signal).then(() => {
    if (!waiting.signal.aborted) release();
  });
  return () => {
    off();
    waiting.abort();
  };
};
