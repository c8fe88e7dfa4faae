// podwarden's Prometheus metrics, on a registry of its own. Counters and histograms are fed
// as things happen (events, API calls, passes); gauges are set from the status snapshot
// when scraped. Every series podwarden knows of exists from the start, at zero.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { RESTART_REASONS, reasonKind, type SupervisorEvent } from "../domain/events.js";
import { STATES } from "../domain/lifecycle.js";
import type { ContainerSpec } from "../domain/spec.js";
import { API_OPERATIONS, type ApiOperation } from "../runtime/port.js";
import { HEALTH, type Snapshot } from "../domain/snapshot.js";

const P = "podwarden_";
/** Pod states Podman reports, plus "absent". */
const POD_STATES = ["Running", "Degraded", "Exited", "Stopped", "Created", "Paused", "Dead", "absent"] as const;
const JOB_NAMES = ["backup", "restore", "update"] as const;
const UPDATE_RESULTS = ["updated", "rolled-back", "up-to-date", "failed", "skipped"] as const;
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Each container's probe start period in seconds (0 without a probe): the container_start_period_seconds values. */
export const startPeriodsS = (containers: readonly ContainerSpec[]): Record<string, number> =>
  Object.fromEntries(containers.map((c) => [c.name, (c.probe?.startPeriodMs ?? 0) / 1000]));

const epochS = (iso: string | null): number => (iso === null ? 0 : Date.parse(iso) / 1000);

/**
 * Rendering the exposition costs ~1.5 ms of CPU (prom-client formats every series each
 * time), so a scrape reuses the last text while podwarden's own series are unchanged, for
 * at most this long: only prom-client's process and Node.js gauges move by themselves.
 */
export const RENDER_REUSE_MS = 1000;
/**
 * Period of prom-client's event-loop delay sampling. Its default, 10 ms, wakes the idle
 * daemon 100 times a second, which costs ~0.8 % of a core on these machines by itself.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

export class Metrics {
  readonly registry = new Registry();
  readonly #containers = new Set<string>();
  readonly #info: Gauge;
  readonly #podmanUp: Gauge;
  readonly #eventsUp: Gauge;
  readonly #apiRequests: Counter;
  readonly #apiFailures: Counter;
  readonly #apiDuration: Histogram;
  readonly #passes: Counter;
  readonly #passFailures: Counter;
  readonly #passDuration: Histogram;
  readonly #lastPass: Gauge;
  readonly #containerInfo: Gauge;
  readonly #state: Gauge;
  readonly #health: Gauge;
  readonly #ready: Gauge;
  readonly #restarts: Counter;
  readonly #startFailures: Counter;
  readonly #exitCode: Gauge;
  readonly #startedAt: Gauge;
  readonly #backoff: Gauge;
  readonly #probes: Counter;
  readonly #probeFailures: Counter;
  readonly #probeDuration: Histogram;
  readonly #podState: Gauge;
  readonly #podContainers: Gauge;
  readonly #podReady: Gauge;
  readonly #jobRuns: Counter;
  readonly #jobDuration: Histogram;
  readonly #backupLastSuccess: Gauge;
  readonly #backupBytes: Gauge;
  readonly #backupPause: Gauge;
  readonly #updates: Counter;
  readonly #rollbacks: Counter;
  readonly #persistFree: Gauge;
  readonly #persistSize: Gauge;
  readonly #persistFull: Gauge;
  readonly #startPeriod: Gauge;
  readonly #notReadySince: Gauge;
  readonly #backupInterval: Gauge;
  /** Wall-clock time (epoch ms), for the not-ready-since timestamps. */
  readonly #wallNow: () => number;
  /** The not-ready-since values (seconds; 0 while ready), by container. */
  readonly #notReadyAt = new Map<string, number>();
  /** Containers with persisted directories (they have the persist_* series). */
  readonly #persisted = new Set<string>();
  readonly #now: () => number;
  /** The last exposition and when it was rendered. */
  #rendered: { readonly text: string; readonly at: number } | undefined;
  /** podwarden's own series changed since the last render. */
  #changed = true;
  /** What the gauges were last set from (see update). */
  #fromSnapshot = "";

  constructor(opts: {
    readonly version: string;
    readonly containers: readonly string[];
    /** The containers with persisted directories (default none). */
    readonly persisted?: readonly string[];
    /** Each container's probe start period in seconds (see startPeriodsS); default none. */
    readonly startPeriodsS?: Readonly<Record<string, number>>;
    /** The longest gap between two scheduled backups, in seconds (0: backups not scheduled). */
    readonly backupIntervalS?: number;
    readonly now?: () => number;
    readonly wallNow?: () => number;
  }) {
    this.#now = opts.now ?? (() => performance.now());
    this.#wallNow = opts.wallNow ?? Date.now;
    const r = [this.registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name: P + name, help, labelNames, registers: r });
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name: P + name, help, labelNames, registers: r });
    const histogram = (name: string, help: string, labelNames: string[] = []) => new Histogram({ name: P + name, help, labelNames, buckets: SECONDS, registers: r });

    this.#info = gauge("build_info", "podwarden's version and the Node.js it runs on (always 1).", ["version", "node"]);
    this.#info.set({ version: opts.version, node: process.versions.node }, 1);
    this.#podmanUp = gauge("podman_up", "1 when the last reconcile pass reached the Podman API, else 0.");
    this.#eventsUp = gauge("podman_events_connected", "1 while Podman's event stream is open, else 0 (changes are then seen by polling).");
    this.#apiRequests = counter("podman_api_requests_total", "Podman API calls by operation.", ["operation"]);
    this.#apiFailures = counter("podman_api_failures_total", "Podman API calls that failed, by operation.", ["operation"]);
    this.#apiDuration = histogram("podman_api_request_duration_seconds", "Podman API call latency by operation.", ["operation"]);
    this.#passes = counter("reconcile_runs_total", "Reconcile passes run.");
    this.#passFailures = counter("reconcile_failures_total", "Reconcile passes that failed (Podman unreachable, API errors).");
    this.#passDuration = histogram("reconcile_duration_seconds", "Duration of reconcile passes.");
    this.#lastPass = gauge("reconcile_last_timestamp_seconds", "When the last reconcile pass finished (Unix time).");
    this.#containerInfo = gauge("container_info", "The container's current id, image and image id (always 1).", ["container", "id", "image", "image_id"]);
    this.#state = gauge("container_state", "The container's state in podwarden's lifecycle (state set: 1 for the current state).", ["container", "state"]);
    this.#health = gauge("container_health", "The container's health from podwarden's probe (state set).", ["container", "health"]);
    this.#ready = gauge("container_ready", "1 when the container runs and its probe passes, else 0.", ["container"]);
    this.#restarts = counter("container_restarts_total", "Restarts podwarden made, by reason.", ["container", "reason"]);
    this.#startFailures = counter("container_start_failures_total", "Create or start requests Podman refused.", ["container"]);
    this.#exitCode = gauge("container_last_exit_code", "Exit code of the container's last exit (0 when none yet).", ["container"]);
    this.#startedAt = gauge("container_started_timestamp_seconds", "When the running instance started (Unix time; 0 when not running).", ["container"]);
    this.#backoff = gauge("container_backoff_seconds", "Seconds until the next start attempt while backing off, else 0.", ["container"]);
    this.#probes = counter("container_probe_runs_total", "Probes run.", ["container"]);
    this.#probeFailures = counter("container_probe_failures_total", "Probes that failed.", ["container"]);
    this.#probeDuration = histogram("container_probe_duration_seconds", "Probe latency.", ["container"]);
    this.#podState = gauge("pod_state", "The pod's state as Podman reports it (state set; absent when there is no pod).", ["state"]);
    this.#podContainers = gauge("pod_containers", "Containers in the pod spec.");
    this.#podReady = gauge("pod_containers_ready", "Containers ready.");
    this.#jobRuns = counter("job_runs_total", "Runs of backup, restore and update jobs, by result (ok, failed, skipped).", ["job", "result"]);
    this.#jobDuration = histogram("job_duration_seconds", "Duration of job runs that started.", ["job"]);
    this.#backupLastSuccess = gauge("backup_last_success_timestamp_seconds", "When the last successful backup finished (Unix time; 0 when none yet).");
    this.#backupBytes = gauge("backup_archive_bytes", "Size of the last backup archive written.");
    this.#backupPause = gauge("backup_pause_seconds", "How long the last backup kept the container paused (0 when it was not paused).", ["container"]);
    this.#updates = counter("image_updates_total", "Image update attempts by result (updated, rolled-back, up-to-date, failed, skipped).", ["container", "result"]);
    this.#rollbacks = counter("image_rollbacks_total", "Updates rolled back to the previous image because the new one did not stay ready.", ["container"]);
    this.#persistFree = gauge(
      "persist_free_bytes",
      "Bytes free (for unprivileged writers, as df shows) on the filesystem holding the container's persisted directories (the fullest one); NaN until sampled.",
      ["container"],
    );
    this.#persistSize = gauge("persist_size_bytes", "Size of the filesystem holding the container's persisted directories (the fullest one); NaN until sampled.", ["container"]);
    this.#persistFull = gauge("persist_full", "1 while the container is out of disk space (filesystem full, or it says it cannot write its data), else 0.", ["container"]);
    this.#startPeriod = gauge("container_start_period_seconds", "How long the container may take to pass its first probe after a start (from its probe's startPeriod; 0 without a probe).", ["container"]);
    this.#notReadySince = gauge(
      "container_not_ready_since_timestamp_seconds",
      "Since when the container has not been ready (Unix time, as first seen by a scrape; 0 while it is ready).",
      ["container"],
    );
    this.#backupInterval = gauge("backup_interval_seconds", "The longest gap between two runs of jobs.backup.schedule (0 when backups are not scheduled).");
    this.#backupInterval.set(opts.backupIntervalS ?? 0);
    collectDefaultMetrics({ register: this.registry, prefix: P, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // prom-client names three gauges `_total`, which Prometheus reserves for counters
    // (promtool rejects them); the handle and request counts are in process_* anyway.
    for (const name of ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"]) {
      this.registry.removeSingleMetric(P + name);
    }

    for (const op of API_OPERATIONS) {
      this.#apiRequests.inc({ operation: op }, 0);
      this.#apiFailures.inc({ operation: op }, 0);
      this.#apiDuration.zero({ operation: op });
    }
    for (const job of JOB_NAMES) {
      for (const result of ["ok", "failed", "skipped"]) this.#jobRuns.inc({ job, result }, 0);
      this.#jobDuration.zero({ job });
    }
    this.#backupLastSuccess.set(0);
    this.#backupBytes.set(0);
    this.#passes.inc(0);
    this.#passFailures.inc(0);
    this.#podmanUp.set(0);
    this.#eventsUp.set(0);
    this.#lastPass.set(0);
    for (const s of POD_STATES) this.#podState.set({ state: s }, s === "absent" ? 1 : 0);
    this.setContainers(opts.containers, opts.persisted, opts.startPeriodsS);
  }

  /** Makes the series of these containers exist (at zero); call again after a reload. */
  setContainers(names: readonly string[], persisted: readonly string[] = [], startPeriodsS: Readonly<Record<string, number>> = {}): void {
    this.#changed = true;
    this.#podContainers.set(names.length);
    for (const container of names) this.#startPeriod.set({ container }, startPeriodsS[container] ?? 0);
    for (const container of persisted) {
      if (this.#persisted.has(container)) continue;
      this.#persisted.add(container);
      this.#persistFree.set({ container }, Number.NaN);
      this.#persistSize.set({ container }, Number.NaN);
      this.#persistFull.set({ container }, 0);
    }
    for (const container of names) {
      if (this.#containers.has(container)) continue;
      this.#containers.add(container);
      for (const state of STATES) this.#state.set({ container, state }, state === "pending" ? 1 : 0);
      for (const health of HEALTH) this.#health.set({ container, health }, health === "stopped" ? 1 : 0);
      for (const reason of RESTART_REASONS) this.#restarts.inc({ container, reason }, 0);
      for (const m of [this.#ready, this.#exitCode, this.#startedAt, this.#backoff]) m.set({ container }, 0);
      this.#notReadySince.set({ container }, 0);
      for (const m of [this.#startFailures, this.#probes, this.#probeFailures]) m.inc({ container }, 0);
      this.#probeDuration.zero({ container });
      this.#backupPause.set({ container }, 0);
      for (const result of UPDATE_RESULTS) this.#updates.inc({ container, result }, 0);
      this.#rollbacks.inc({ container }, 0);
    }
  }

  onApiCall = (operation: ApiOperation, ms: number, ok: boolean): void => {
    this.#changed = true;
    this.#apiRequests.inc({ operation });
    if (!ok) this.#apiFailures.inc({ operation });
    this.#apiDuration.observe({ operation }, ms / 1000);
  };

  onPass = (ms: number, ok: boolean, at: number): void => {
    this.#changed = true;
    this.#passes.inc();
    if (!ok) this.#passFailures.inc();
    this.#passDuration.observe(ms / 1000);
    this.#lastPass.set(at / 1000);
  };

  onEvent = (e: SupervisorEvent): void => {
    const container = e.container;
    if (!this.#containers.has(container)) return;
    this.#changed = true;
    if (e.kind === "restart") this.#restarts.inc({ container, reason: reasonKind(e.reason) });
    else if (e.kind === "start-failed") this.#startFailures.inc({ container });
    else if (e.kind === "probe") {
      this.#probes.inc({ container });
      if (!e.ok) this.#probeFailures.inc({ container });
      this.#probeDuration.observe({ container }, e.ms / 1000);
    }
  };

  onJob = (o: { readonly job: string; readonly result: string; readonly ms: number }): void => {
    this.#changed = true;
    this.#jobRuns.inc({ job: o.job, result: o.result });
    if (o.result !== "skipped") this.#jobDuration.observe({ job: o.job }, o.ms / 1000);
  };

  onBackup = (r: { readonly bytes: number; readonly pausedMs: Readonly<Record<string, number>> }, at: number): void => {
    this.#changed = true;
    this.#backupLastSuccess.set(at / 1000);
    this.#backupBytes.set(r.bytes);
    for (const container of this.#containers) this.#backupPause.set({ container }, (r.pausedMs[container] ?? 0) / 1000);
  };

  onUpdate = (o: { readonly container: string; readonly result: string }): void => {
    if (!this.#containers.has(o.container)) return;
    this.#changed = true;
    this.#updates.inc({ container: o.container, result: o.result });
    if (o.result === "rolled-back") this.#rollbacks.inc({ container: o.container });
  };

  /** Sets the gauges from the snapshot (at scrape time). */
  update(s: Snapshot): void {
    const from = JSON.stringify([
      s.podman,
      s.pod,
      Object.entries(s.containers).map(([n, c]) => [n, c.state, c.health, c.ready, c.lastExitCode, c.running, c.startedAt, c.backoffSeconds, c.id, c.image, c.imageId, c.disk?.freeBytes, c.disk?.full]),
    ]);
    if (from === this.#fromSnapshot) return;
    this.#fromSnapshot = from;
    this.#changed = true;
    this.#podmanUp.set(s.podman.reachable ? 1 : 0);
    this.#eventsUp.set(s.podman.events ? 1 : 0);
    const podState = s.pod.exists ? s.pod.state : "absent";
    for (const st of POD_STATES) this.#podState.set({ state: st }, st === podState ? 1 : 0);
    this.#podReady.set(s.pod.containersReady);
    this.#containerInfo.reset();
    for (const [container, c] of Object.entries(s.containers)) {
      for (const state of STATES) this.#state.set({ container, state }, state === c.state ? 1 : 0);
      for (const health of HEALTH) this.#health.set({ container, health }, health === c.health ? 1 : 0);
      this.#ready.set({ container }, c.ready ? 1 : 0);
      const since = c.ready ? 0 : this.#notReadyAt.get(container) || this.#wallNow() / 1000;
      this.#notReadyAt.set(container, since);
      this.#notReadySince.set({ container }, since);
      this.#exitCode.set({ container }, c.lastExitCode ?? 0);
      this.#startedAt.set({ container }, c.running ? epochS(c.startedAt) : 0);
      this.#backoff.set({ container }, c.backoffSeconds);
      this.#containerInfo.set({ container, id: c.id ?? "", image: c.image, image_id: c.imageId ?? "" }, 1);
      if (c.disk && this.#persisted.has(container)) {
        this.#persistFree.set({ container }, c.disk.freeBytes);
        this.#persistSize.set({ container }, c.disk.sizeBytes);
        this.#persistFull.set({ container }, c.disk.full ? 1 : 0);
      }
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition: rendered again when podwarden's series changed or RENDER_REUSE_MS have passed. */
  async text(): Promise<string> {
    const now = this.#now();
    if (!this.#changed && this.#rendered && now - this.#rendered.at < RENDER_REUSE_MS) return this.#rendered.text;
    // Cleared before rendering: a change while prom-client collects marks the next scrape.
    this.#changed = false;
    const text = await this.registry.metrics();
    this.#rendered = { text, at: now };
    return text;
  }
}
