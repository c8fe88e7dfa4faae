// The composition root: builds every object the commands need and wires them together.
// Nothing else constructs runtimes, loggers or supervisors.

import { existsSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { backoffFrom } from "./domain/backoff.js";
import type { PodSpec, Secrets } from "./domain/spec.js";
import { loadConfig } from "./config/load.js";
import { loadNamingKey, namingKeyDirs, processNamingKey } from "./config/naming-key.js";
import { systemClock, type Clock } from "./lib/clock.js";
import { ConfigError, UsageError, errorMessage, issueLines } from "./lib/errors.js";
import { SecretScrubber, createLogger, type Logger } from "./observability/logger.js";
import { logDestination } from "./observability/destination.js";
import { createProber } from "./probes/prober.js";
import { createDiskSampler } from "./probes/disk.js";
import { persistedPaths } from "./domain/disk.js";
import { PodmanRuntime, type PodmanRuntimeOptions } from "./runtime/podman-runtime.js";
import { buildServer } from "./http/server.js";
import { Metrics, startPeriodsS } from "./observability/metrics.js";
import { Timeline } from "./supervisor/timeline.js";
import type { HttpSettings } from "./config/http.js";
import type { JobsSettings } from "./config/jobs.js";
import { buildControlServer } from "./http/control.js";
import { longestGapS } from "./jobs/cron.js";
import { Jobs } from "./jobs/jobs.js";
import { podHandle } from "./jobs/pod-handle.js";
import { probePodName, runChecks } from "./doctor/checks.js";
import { nodeHostFacts } from "./doctor/host-facts.js";
import type { Check } from "./doctor/report.js";

/** The parts of the HTTP app the commands use (keeps fastify's types inside http/). */
export type FastifyLikeServer = ReturnType<typeof buildServer>;
import type { ContainerRuntime } from "./runtime/port.js";
import { discoverSocket, socketCandidates } from "./runtime/socket.js";
import { Reconciler } from "./supervisor/reconciler.js";
import { Supervisor } from "./supervisor/supervisor.js";

export interface GlobalOptions {
  readonly config: string;
  /** --config or $PODWARDEN_CONFIG named it (commands that only read fall back otherwise). */
  readonly configGiven: boolean;
  readonly socket?: string | undefined;
  readonly logLevel: string;
  readonly logFormat: "json" | "pretty";
  readonly logTo: "stdout" | "stderr";
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly version: string;
}

export const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

export interface Loaded {
  readonly spec: PodSpec;
  readonly secrets: Secrets;
  readonly http: HttpSettings;
  readonly jobSettings: JobsSettings;
  readonly warnings: readonly string[];
  readonly logger: Logger;
  readonly scrubber: SecretScrubber;
}

/** Loads and validates the config (nothing touches Podman before this succeeds). */
export const load = async (opts: GlobalOptions): Promise<Loaded> => {
  const { spec, secrets, warnings, http, jobs: jobSettings } = await loadConfig(opts.config);
  const scrubber = new SecretScrubber([...secrets.values(), ...(http.token ? [http.token] : [])]);
  const logger = createLogger({
    level: opts.logLevel,
    scrubber,
    destination: logDestination(opts),
  });
  for (const w of warnings) logger.warn({ config: spec.source }, w);
  return { spec, secrets, warnings, logger, scrubber, http, jobSettings };
};

/**
 * `patient`: the daemon waits for a socket that is not there yet (Podman may start after
 * it) instead of failing; commands fail at once with exit 69.
 */
export const createRuntime = (
  opts: GlobalOptions,
  patient = false,
  onApiCall?: PodmanRuntimeOptions["onApiCall"],
): { runtime: ContainerRuntime; socket: string } => {
  const sources = { flag: opts.socket, env: opts.env, uid: process.getuid?.() ?? 0, exists: existsSync };
  const socket = patient ? (socketCandidates(sources).find((c) => existsSync(c.path)) ?? socketCandidates(sources)[0]!) : discoverSocket(sources);
  return { runtime: new PodmanRuntime({ socketPath: socket.path, hostCaBundle: HOST_CA_BUNDLE, ...(onApiCall ? { onApiCall } : {}) }), socket: socket.path };
};

export interface ReloadResult {
  readonly changed: readonly string[];
  readonly podChanged: boolean;
}

export interface Daemon extends Loaded {
  readonly runtime: ContainerRuntime;
  readonly socket: string;
  readonly reconciler: Reconciler;
  readonly supervisor: Supervisor;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly timeline: Timeline;
  /**
   * Re-reads the config file (SIGHUP, `podwarden reload` through the control socket, POST
   * /reload with the token); a bad one throws ConfigError and changes nothing. Logs the outcome.
   */
  reload(): Promise<ReloadResult>;
  /** Calls `listener` after every reload, applied or rejected; returns the unsubscribe function. */
  onReload(listener: () => void): () => void;
  /** The HTTP app (not listening), or undefined when http.enabled is false. */
  readonly server: FastifyLikeServer | undefined;
  /** Backups, restores and image updates (started by `run`). */
  readonly jobs: Jobs;
  /** The control socket's app (not listening): what `podwarden backup`, `restore` and `update` talk to. */
  readonly control: FastifyLikeServer;
}

/**
 * `patient`: wait for a Podman socket that is not there yet (the daemon). `onProgress`:
 * lines of progress from long work such as image builds (systemd's start timeout).
 * `naming: "throwaway"`: for `down`, which removes every container and secret whatever their
 * names, so a key file that is refused does not keep the pod up.
 */
export const buildDaemon = async (opts: GlobalOptions, patient = false, onProgress?: (line: string) => void, naming: "keep" | "throwaway" = "keep"): Promise<Daemon> => {
  const loaded = await load(opts);
  const key = naming === "throwaway" ? processNamingKey() : await loadNamingKey(namingKeyDirs(loaded.jobSettings.stateDir, opts.env), process.getuid?.() ?? 0);
  for (const w of key.warnings) loaded.logger.warn({ keyFile: key.file }, w);
  if (key.created && key.file) loaded.logger.info({ keyFile: key.file }, "made a new secret-naming key");
  const backupSchedule = loaded.jobSettings.backup?.schedule;
  const metrics = new Metrics({
    version: opts.version,
    containers: loaded.spec.containers.map((c) => c.name),
    persisted: [...persistedPaths(loaded.spec).keys()],
    startPeriodsS: startPeriodsS(loaded.spec.containers),
    backupIntervalS: backupSchedule ? longestGapS(backupSchedule, Date.now()) : 0,
  });
  const timeline = new Timeline();
  const { runtime, socket } = createRuntime(opts, patient, metrics.onApiCall);
  const clock = systemClock;
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
    onEvent: (e) => {
      timeline.record(e);
      metrics.onEvent(e);
    },
    onProgress: (line) => {
      supervisor.noteProgress();
      onProgress?.(line);
    },
    disk: createDiskSampler(),
  });
  const supervisor = new Supervisor({ reconciler, clock, logger: loaded.logger, events: runtime, onPassDone: metrics.onPass });
  let current = loaded.spec;
  let warnings = loaded.warnings;
  const secretValues = new Set(loaded.secrets.values());
  const apply = async (): Promise<ReloadResult> => {
    const next = await loadConfig(opts.config);
    if (next.spec.name !== current.name) {
      throw new ConfigError([
        { file: next.spec.source, path: "pod.name", message: `changed from ${current.name} to ${next.spec.name}: a running daemon keeps its pod; restart it to move` },
      ]);
    }
    // Values of older env files may still be in flight in messages: keep scrubbing them too.
    for (const v of next.secrets.values()) secretValues.add(v);
    loaded.scrubber.set([...secretValues]);
    for (const w of next.warnings) loaded.logger.warn({ config: next.spec.source }, w);
    warnings = next.warnings;
    metrics.setContainers(next.spec.containers.map((c) => c.name), [...persistedPaths(next.spec).keys()], startPeriodsS(next.spec.containers));
    const result = reconciler.reconfigure({
      spec: next.spec,
      secrets: next.secrets,
      prober: createProber({ spec: next.spec, secrets: next.secrets, runtime, clock }),
    });
    current = next.spec;
    supervisor.kick();
    return result;
  };
  const reloadListeners = new Set<() => void>();
  const reloadLog = loaded.logger.child({ component: "daemon" });
  const reload = async (): Promise<ReloadResult> => {
    reloadLog.info({ config: opts.config }, "reloading the config");
    try {
      const r = await apply();
      reloadLog.info({ changed: r.changed, podChanged: r.podChanged }, r.changed.length || r.podChanged ? "config reloaded" : "config reloaded: nothing changed");
      return r;
    } catch (err) {
      const issues = err instanceof ConfigError ? issueLines(err.issues) : [errorMessage(err)];
      reloadLog.error({ issues }, "config reload rejected; the pod is left as it is");
      throw err;
    } finally {
      for (const l of reloadListeners) l();
    }
  };
  const onReload = (listener: () => void): (() => void) => {
    reloadListeners.add(listener);
    return () => reloadListeners.delete(listener);
  };
  /** `podwarden reload -c FILE` names the file it checked: the daemon re-reads its own, which must be that one. */
  const reloadFile = async (config: string | undefined): Promise<ReloadResult> => {
    const real = (p: string): Promise<string> => realpath(p).catch(() => p);
    if (config !== undefined && (await real(config)) !== (await real(current.source))) {
      throw new UsageError(`the daemon of pod ${current.name} runs with ${current.source} and reloads that file: edit it (it may extend ${config}), or restart the daemon with --config ${config}`);
    }
    return reload();
  };
  const jobs = new Jobs({
    pod: podHandle(reconciler, supervisor, clock),
    runtime,
    settings: loaded.jobSettings,
    clock,
    logger: loaded.logger,
    hooks: { onOutcome: metrics.onJob, onBackup: metrics.onBackup, onUpdate: metrics.onUpdate },
    ...(onProgress ? { progress: onProgress } : {}),
  });
  const control = buildControlServer({
    backupNow: () => jobs.backupNow(),
    listBackups: () => jobs.listBackups(),
    restore: (archive) => jobs.restore(archive),
    checkUpdates: (container) => jobs.checkUpdates(container),
    update: (container) => jobs.update(container),
    reload: (config) => reloadFile(config),
    logger: loaded.logger,
  });
  const server = loaded.http.enabled
    ? buildServer({
        jobs: () => jobs.status(),
        version: opts.version,
        snapshot: () => supervisor.snapshot(),
        timeline: () => timeline.entries(),
        warnings: () => warnings,
        metrics,
        // The loop passes at least every 30 s (idle relist); three missed ones mean it is stuck.
        alive: () => supervisor.loopProgressedWithin(LOOP_STALL_MS),
        ...(loaded.http.token ? { control: { token: loaded.http.token, reload } } : {}),
        logger: loaded.logger,
      })
    : undefined;
  return { ...loaded, runtime, socket, reconciler, supervisor, clock, reload, onReload, metrics, timeline, server, jobs, control };
};

/**
 * `podwarden doctor`'s checks as `up` and `run` run them before touching the pod: no
 * /libpod/info, no config warnings (already logged), and no throwaway pod when the pod runs.
 */
export const checkHost = (d: Pick<Daemon, "socket" | "runtime" | "reconciler">, opts: GlobalOptions): Promise<Check[]> =>
  runChecks({
    socket: d.socket,
    runtime: d.runtime,
    config: { spec: d.reconciler.spec, secretCount: d.reconciler.secrets.size, warnings: [] },
    facts: nodeHostFacts(opts.env),
    probe: "unless-running",
    info: false,
    probeName: probePodName(),
  });

/** A reconcile loop that has not finished a pass for this long is stuck (watchdog, /healthz). */
export const LOOP_STALL_MS = 90_000;
