// The composition root: the one place that builds the daemon's objects and wires them together
// (runtime, reconciler, supervisor, metrics, reload; for `run` also the host gate, jobs, HTTP,
// control socket and systemd bridge), and the order they start and stop in. Commands only start
// what they need and wait: `up` and `down` the supervising pod (buildPod), `run` all of it (runDaemon).

import { backoffFrom } from "../domain/backoff.js";
import { persistedPaths } from "../domain/disk.js";
import { probePodName, runChecks } from "../doctor/checks.js";
import { HostGate } from "../doctor/gate.js";
import { Removals } from "../doctor/removals.js";
import type { ContainerState } from "../domain/lifecycle.js";
import { nodeHostFacts } from "../doctor/host-facts.js";
import type { Check } from "../doctor/report.js";
import { loadNamingKey, namingKeyDirs, processNamingKey } from "../config/naming-key.js";
import { buildControlServer } from "../http/control.js";
import { buildServer } from "../http/server.js";
import { longestGapS } from "../jobs/cron.js";
import { Jobs } from "../jobs/jobs.js";
import { systemClock, type Clock } from "../lib/clock.js";
import { EXIT } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { Metrics, startPeriodsS } from "../observability/metrics.js";
import { createDiskSampler } from "../probes/disk.js";
import { createProber } from "../probes/prober.js";
import type { ContainerRuntime } from "../runtime/port.js";
import { Reconciler } from "../supervisor/reconciler.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { Timeline } from "../supervisor/timeline.js";
import { bridgeToSystemd } from "../systemd/bridge.js";
import { createNotifier } from "../systemd/sd-notify.js";
import { handoverDecision, keepPodPath, readMarker, removeMarker } from "./keep-pod.js";
import { createRuntime, load, type Loaded } from "./load.js";
import type { GlobalOptions } from "./options.js";
import { controlSocketPath, pidfilePath, removePidfile, writePidfile } from "./pidfile.js";
import { podControl } from "./pod-control.js";
import { acquirePodLock } from "./pod-lock.js";
import { reloader, type Reloader } from "./reload.js";
import { listen, listenControl } from "./serve.js";
import { StopSignals, logProcessTrouble } from "./signals.js";
import { rm } from "node:fs/promises";

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
  const backupSchedule = loaded.jobSettings.backup?.schedule;
  const metrics = new Metrics({
    version: opts.version,
    containers: loaded.spec.containers.map((c) => c.name),
    persisted: [...persistedPaths(loaded.spec).keys()],
    startPeriodsS: startPeriodsS(loaded.spec.containers),
    backupIntervalS: backupSchedule ? longestGapS(backupSchedule, clock.now()) : 0,
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
export const checkHost = (d: Pick<Pod, "socket" | "runtime" | "reconciler">, opts: GlobalOptions, removeLater?: (remove: () => Promise<void>) => void): Promise<Check[]> =>
  runChecks({
    socket: d.socket,
    runtime: d.runtime,
    config: { spec: d.reconciler.spec, secretCount: d.reconciler.secrets.size, warnings: [] },
    facts: nodeHostFacts(opts.env),
    probe: "unless-running",
    info: false,
    probeName: probePodName(),
    realPod: d.reconciler.podRequest,
    ...(removeLater ? { removeLater } : {}),
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

/** Enough for every container's stop timeout in sequence, plus slack. */
const shutdownBudgetMs = (stopTimeoutsS: readonly number[]): number => stopTimeoutsS.reduce((a, b) => a + b, 0) * 1000 + 30_000;

/**
 * Logs when the pod becomes ready (every container), when it serves without soft dependencies
 * that are down (a warning naming them), and when it stops being ready (restarts, failures).
 */
const logReadiness = (d: Pod, log: Logger): void => {
  let was: "ready" | "serving" | "down" = "down";
  d.supervisor.onPass(() => {
    const s = d.supervisor;
    const now = s.settled ? "ready" : s.serving ? "serving" : "down";
    if (d.reconciler.mode !== "up" || now === was) return;
    was = now;
    const snap = s.snapshot();
    if (now === "ready") log.info({ containers: snap.pod.containersTotal }, "pod ready");
    else if (now === "serving") log.warn({ softDown: snap.softDown }, "pod serving without its soft dependencies");
    else log.warn({ ready: snap.pod.containersReady, total: snap.pod.containersTotal }, "pod not ready");
  });
};

/** Reverse-order stop and pod removal; the exit code. */
const stopPod = async (d: Pod, log: Logger): Promise<number> => {
  // start, not setMode: the loop may never have run (the host gate never opened), and a pod
  // left by an earlier daemon is still taken down.
  d.supervisor.start("down");
  try {
    await d.supervisor.waitUntilSettled(shutdownBudgetMs(d.spec.containers.map((c) => c.stopTimeoutS)));
    log.info("pod stopped and removed");
    return EXIT.ok;
  } catch (err) {
    log.error({ err }, "shutdown did not finish");
    return EXIT.failure;
  }
};

/**
 * Whether this stop is a handover (`podwarden restart-daemon` marked this very daemon): the
 * marker is removed whatever it holds, and one naming another pid, or malformed, is ignored.
 */
const takeKeepPodMarker = async (path: string, log: Logger): Promise<boolean> => {
  const marker = await readMarker(path);
  const decision = handoverDecision(marker, process.pid);
  if (marker.kind !== "absent") {
    await removeMarker(path).catch((err: unknown) => log.warn({ marker: path, err }, "cannot remove the keep-pod marker"));
  }
  if (decision.ignored) log.warn({ marker: path, reason: decision.ignored }, "ignoring the keep-pod marker: the pod is stopped as usual");
  return decision.handover;
};

/**
 * `podwarden run`: holds the pod's lock (one daemon per pod), brings the pod up and keeps
 * reconciling, serves HTTP and the control socket, talks to systemd, runs the jobs; SIGHUP
 * reloads the config. On SIGTERM or SIGINT, at any moment (start-up included: no create or
 * start is issued after it), it stops the containers in reverse order, removes the pod and
 * resolves with 0, unless `podwarden restart-daemon` marked it for a handover: then it leaves
 * the pod running. Resolves with the exit code.
 */
export const runDaemon = async (opts: GlobalOptions): Promise<number> => {
  const stop = new StopSignals();
  // Patient: if Podman is not there yet, the loop keeps trying; the daemon never exits for it.
  const d = await buildPod(opts, { patient: true });
  const log = d.logger.child({ component: "daemon" });
  // One daemon per pod: a second one is refused here (exit 73, naming the holder), before it
  // touches the pod, the pid file or the control socket. Exiting, however, releases it.
  const lock = await acquirePodLock({ env: opts.env, pod: d.spec.name, command: "run", config: d.spec.source });
  // From the stop signal on, the pass in flight issues no more creates or starts, nor does any
  // pass after it, until the shutdown (or a handover) decides what happens next.
  stop.onSignal(() => d.supervisor.quiesce());
  logProcessTrouble(log);
  // doctor's checks before the pod is touched: what retrying cannot fix holds the start (see doctor/gate.ts).
  const removals = new Removals(log);
  const stopReleasing = releaseOnceStarted(d.supervisor, removals, d.clock);
  const gate = new HostGate({ check: () => checkHost(d, opts, removals.add), supervisor: d.supervisor, clock: d.clock, logger: log, source: () => d.reconciler.spec.source });
  // From the stop signal on, the gate opens no more (the pod is not started).
  stop.onSignal(() => void gate.close());
  const jobs = new Jobs({
    pod: podControl(d.reconciler, d.supervisor, d.clock),
    runtime: d.runtime,
    settings: d.jobSettings,
    clock: d.clock,
    logger: d.logger,
    hooks: { onOutcome: d.metrics.onJob, onBackup: d.metrics.onBackup, onUpdate: d.metrics.onUpdate },
    progress: d.progress,
  });
  const server = d.http.enabled
    ? buildServer({
        jobs: () => jobs.status(),
        version: opts.version,
        snapshot: () => d.supervisor.snapshot(),
        timeline: () => d.timeline.entries(),
        warnings: () => d.currentWarnings(),
        metrics: d.metrics,
        // Stuck: a pass in flight past its deadline (an idle loop passes rarely and is alive).
        alive: () => d.supervisor.loopAlive(),
        ...(d.http.token ? { control: { token: d.http.token, reload: d.reload } } : {}),
        logger: d.logger,
      })
    : undefined;
  // HTTP comes up while the host is checked (fastify's start-up work overlaps the Podman
  // round trips): /status shows the pod from the start, a held start included.
  const listening = listen(server, d.http, log);
  try {
    await gate.firstCheck();
  } catch (err) {
    // A config the host cannot take (exit 78): the open port must not keep the process alive.
    await listening;
    await server?.close();
    stopReleasing();
    await removals.settled();
    throw err;
  }
  const notifier = createNotifier(opts.env, d.logger.child({ component: "systemd" }));
  const bridge = bridgeToSystemd({ notifier, supervisor: d.supervisor, spec: () => d.reconciler.spec, mode: () => d.reconciler.mode, logger: log, clock: d.clock });
  // Long work (image builds and pulls) extends systemd's start timeout.
  d.onProgress((line) => bridge.progress(line));
  log.info({ version: opts.version, pod: d.spec.name, socket: d.socket, config: d.spec.source, systemd: notifier.transport }, "podwarden starting");
  logReadiness(d, log);
  // A reload (SIGHUP, the control socket) is also the moment to look at the host again.
  d.onReload(() => gate.recheck());
  // SIGHUP: apply a changed config (the reload logs the outcome); a bad one changes nothing.
  process.on("SIGHUP", () => void d.reload().catch(() => undefined));
  const pidfile = pidfilePath(opts.env, d.spec.name);
  await writePidfile(pidfile, d.spec.source).catch((err: unknown) => log.warn({ pidfile, err }, "cannot write the pid file; `podwarden reload` will not find this daemon"));
  // Image pins from earlier updates apply before the first pass, so adoption keeps those containers.
  await jobs.start().catch((err: unknown) => log.error({ err }, "jobs not started: no scheduled backups or updates"));
  // Stopped during the start-up: the pod is not started at all.
  if (!stop.requested) gate.begin();
  await listening;
  const control = buildControlServer({
    backupNow: () => jobs.backupNow(),
    listBackups: () => jobs.listBackups(),
    restore: (archive) => jobs.restore(archive),
    checkUpdates: (container) => jobs.checkUpdates(container),
    update: (container) => jobs.update(container),
    reload: (config) => d.reloadFile(config),
    logger: d.logger,
  });
  const socket = controlSocketPath(opts.env, d.spec.name);
  await listenControl(control, log, socket);

  const signal = await stop.first;
  const handover = await takeKeepPodMarker(keepPodPath(opts.env, d.spec.name), log);
  if (handover) log.info({ signal }, "handing over: leaving the pod running for the next daemon");
  else log.info({ signal }, "shutting down: stopping containers in reverse order");
  // A second signal while stopping leaves at once; the containers keep whatever state they reached.
  stop.onSecond(() => {
    log.warn("second signal: exiting without finishing the shutdown");
    process.exit(EXIT.failure);
  });
  // The shutdown order: no more gate, the reverse-order stop begins, systemd hears STOPPING=1,
  // jobs and the control socket close, the pod goes (or stays, on a handover), then the loop,
  // HTTP, the notifier, the pid file and the lock.
  await gate.close();
  stopReleasing();
  await removals.settled();
  if (!handover) d.supervisor.start("down");
  await bridge.stopping(handover ? "handing over: the pod keeps running" : undefined);
  await jobs.stop();
  await control.close();
  await rm(socket, { force: true });
  const code = handover ? EXIT.ok : await stopPod(d, log);
  await d.supervisor.stop();
  await server?.close();
  await bridge.close();
  await removePidfile(pidfile);
  await lock.release();
  return code;
};
