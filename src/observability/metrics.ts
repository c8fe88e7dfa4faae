// podwarden's Prometheus metrics, on a registry of its own. Counters and histograms are fed
// as things happen (events, API calls, passes); gauges are set from the status snapshot.
// Every series podwarden knows of exists from the start, at zero.
//
// A scrape never renders on its own turn: it gets the exposition text kept in the background,
// never more than REFRESH_MS old. A refresh sets the gauges from the snapshot, renders again
// only the families that changed, FAMILIES_PER_CHUNK per turn of the event loop (so that no
// request waits behind a whole render), and appends the process families from a fresh sample.
// Refreshes follow the scrapes: one shortly before the next scrape is due (a scraper's
// interval is steady), none while nobody scrapes. A scrape that comes when the text is too
// old (the first one, one after a pause, one earlier than its interval foretold) waits for a
// refresh, a few turns of the event loop, and gets current values.

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { RESTART_REASONS, reasonKind, type SupervisorEvent } from "../domain/events.js";
import { STATES } from "../domain/lifecycle.js";
import type { ContainerSpec } from "../domain/spec.js";
import { sleepUntil, systemClock, type Clock } from "../lib/clock.js";
import { ownMaxFds, ownOpenFds } from "../lib/proc.js";
import { API_OPERATIONS, type ApiOperation } from "../runtime/port.js";
import { HEALTH, type Snapshot } from "../domain/snapshot.js";
import { WAKE } from "../lib/abort.js";

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

/** The oldest text a scrape gets: older than this, it waits for a refresh. */
export const REFRESH_MS = 1000;
/**
 * How long before the next scrape is due its refresh is made, and the shortest gap between two
 * refreshes (a scraper faster than REFRESH_MS is followed every REFRESH_MS / 2).
 */
export const LEAD_MS = REFRESH_MS / 4;
/**
 * Families rendered in one turn of the event loop. prom-client formats a family of a few
 * hundred series (the API latency histogram) in well under a millisecond on these machines.
 */
export const FAMILIES_PER_CHUNK = 4;

/** What the process_* and nodejs_* families show; read once per refresh, nothing in between. */
export interface ProcessStats {
  /** Microseconds, as process.cpuUsage() gives them. */
  readonly cpu: { readonly user: number; readonly system: number };
  readonly memory: { readonly rss: number; readonly heapTotal: number; readonly heapUsed: number; readonly external: number };
  readonly openFds: number;
}

export const readProcessStats = (): ProcessStats => ({ cpu: process.cpuUsage(), memory: process.memoryUsage(), openFds: ownOpenFds() });

/** What does not change while the process runs. */
interface ProcessFacts {
  readonly startS: number;
  readonly maxFds: number;
}

/**
 * The usual process and Node.js families (the names prom-client's default metrics give
 * them), without its monitors and observers: a sample is three cheap calls, ~40 µs.
 */
const PROCESS_FAMILIES: readonly { readonly name: string; readonly type: "counter" | "gauge"; readonly help: string; value(s: ProcessStats, f: ProcessFacts): number }[] = [
  { name: "process_cpu_user_seconds_total", type: "counter", help: "Total user CPU time spent in seconds.", value: (s) => s.cpu.user / 1e6 },
  { name: "process_cpu_system_seconds_total", type: "counter", help: "Total system CPU time spent in seconds.", value: (s) => s.cpu.system / 1e6 },
  { name: "process_cpu_seconds_total", type: "counter", help: "Total user and system CPU time spent in seconds.", value: (s) => (s.cpu.user + s.cpu.system) / 1e6 },
  { name: "process_start_time_seconds", type: "gauge", help: "Start time of the process since unix epoch in seconds.", value: (_s, f) => f.startS },
  { name: "process_resident_memory_bytes", type: "gauge", help: "Resident memory size in bytes.", value: (s) => s.memory.rss },
  { name: "process_open_fds", type: "gauge", help: "Number of open file descriptors.", value: (s) => s.openFds },
  { name: "process_max_fds", type: "gauge", help: "Maximum number of open file descriptors.", value: (_s, f) => f.maxFds },
  { name: "nodejs_heap_size_total_bytes", type: "gauge", help: "Process heap size from Node.js in bytes.", value: (s) => s.memory.heapTotal },
  { name: "nodejs_heap_size_used_bytes", type: "gauge", help: "Process heap size used from Node.js in bytes.", value: (s) => s.memory.heapUsed },
  { name: "nodejs_external_memory_bytes", type: "gauge", help: "Node.js external memory size in bytes.", value: (s) => s.memory.external },
];

/** The process families' exposition: each a single series without labels, as prom-client writes them. */
const processText = (s: ProcessStats, f: ProcessFacts): string =>
  PROCESS_FAMILIES.map(({ name, type, help, value }) => {
    const v = value(s, f);
    return `# HELP ${P}${name} ${help}\n# TYPE ${P}${name} ${type}\n${P}${name} ${Number.isNaN(v) ? "Nan" : v}`;
  }).join("\n\n");

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

type Family = Counter | Gauge | Histogram;

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
  /** podwarden's own families and their names, in the order registered (that of the exposition). */
  readonly #names = new Map<Family, string>();
  /** Each family's last rendered text. */
  readonly #texts = new Map<string, string>();
  /** Families whose series changed since they were last rendered. */
  readonly #dirty = new Set<Family>();
  readonly #stats: () => ProcessStats;
  readonly #facts: ProcessFacts = { startS: Math.round(Date.now() / 1000 - process.uptime()), maxFds: ownMaxFds() };
  /** podwarden's own families, joined. */
  #own = "";
  /** The exposition a scrape gets: complete, from the last refresh. */
  #text = "";
  /** The refresh under way (or the last one) and whether another is queued behind it. */
  #refreshing: Promise<void> = Promise.resolve();
  #queued = false;
  #source: (() => Snapshot) | undefined;
  /** The last two scrapes (clock ms): the next one is foretold from their gap. */
  #readAt = Number.NEGATIVE_INFINITY;
  #readBefore = Number.NEGATIVE_INFINITY;
  /** When the last refresh sampled its values (clock ms). */
  #renderedAt = Number.NEGATIVE_INFINITY;
  /** Wakes the refresh loop: a scrape changed when its next refresh is due. */
  #wake: (() => void) | undefined;
  /** When the refresh loop's next refresh is due (undefined: none planned). */
  #planned: number | undefined;
  /** Aborted by unfollow(): ends the refresh loop. */
  #following: AbortController | undefined;
  readonly #clock: Clock;
  /** What the gauges were last set from (see update). */
  #fromSnapshot = "";

  constructor(opts: {
    readonly version: string;
    readonly containers: readonly string[];
    /** The containers with persisted directories (default none). */
    readonly persisted?: readonly string[];
    /** Each container's probe start period in seconds (see startPeriodsS); default none. */
    readonly startPeriodsS?: Readonly<Record<string, number>>;
    readonly wallNow?: () => number;
    /** Where the process families come from (default: this process). */
    readonly processStats?: () => ProcessStats;
    /** The refresh timer's clock (default: the system's). */
    readonly clock?: Clock;
  }) {
    this.#clock = opts.clock ?? systemClock;
    this.#wallNow = opts.wallNow ?? Date.now;
    this.#stats = opts.processStats ?? readProcessStats;
    const r = [this.registry];
    const named = <F extends Family>(f: F, name: string): F => (this.#names.set(f, P + name), f);
    const gauge = (name: string, help: string, labelNames: string[] = []) => named(new Gauge({ name: P + name, help, labelNames, registers: r }), name);
    const counter = (name: string, help: string, labelNames: string[] = []) => named(new Counter({ name: P + name, help, labelNames, registers: r }), name);
    const histogram = (name: string, help: string, labelNames: string[] = []) =>
      named(new Histogram({ name: P + name, help, labelNames, buckets: SECONDS, registers: r }), name);

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
      "Since when the container has not been ready (Unix time, as first seen by a metrics refresh; 0 while it is ready).",
      ["container"],
    );
    this.#backupInterval = gauge("backup_interval_seconds", "The longest gap between two runs of jobs.backup.schedule (0 when backups are not scheduled).");
    this.#backupInterval.set(0);

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
    for (const f of this.#names.keys()) this.#dirty.add(f);
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

  /** The longest gap between two scheduled backups (`run` sets it; 0: none scheduled). */
  setBackupInterval(seconds: number): void {
    this.#backupInterval.set(seconds);
  }

  onApiCall = (operation: ApiOperation, ms: number, ok: boolean): void => {
    this.#touch(this.#apiRequests, this.#apiFailures, this.#apiDuration);
    this.#apiRequests.inc({ operation });
    if (!ok) this.#apiFailures.inc({ operation });
    this.#apiDuration.observe({ operation }, ms / 1000);
  };

  onPass = (ms: number, ok: boolean, at: number): void => {
    this.#touch(this.#passes, this.#passFailures, this.#passDuration, this.#lastPass);
    this.#passes.inc();
    if (!ok) this.#passFailures.inc();
    this.#passDuration.observe(ms / 1000);
    this.#lastPass.set(at / 1000);
  };

  onEvent = (e: SupervisorEvent): void => {
    const container = e.container;
    if (!this.#containers.has(container)) return;
    this.#touch(this.#restarts, this.#startFailures, this.#probes, this.#probeFailures, this.#probeDuration);
    if (e.kind === "restart") this.#restarts.inc({ container, reason: reasonKind(e.reason) });
    else if (e.kind === "start-failed") this.#startFailures.inc({ container });
    else if (e.kind === "probe") {
      this.#probes.inc({ container });
      if (!e.ok) this.#probeFailures.inc({ container });
      this.#probeDuration.observe({ container }, e.ms / 1000);
    }
  };

  onJob = (o: { readonly job: string; readonly result: string; readonly ms: number }): void => {
    this.#touch(this.#jobRuns, this.#jobDuration);
    this.#jobRuns.inc({ job: o.job, result: o.result });
    if (o.result !== "skipped") this.#jobDuration.observe({ job: o.job }, o.ms / 1000);
  };

  onBackup = (r: { readonly bytes: number; readonly pausedMs: Readonly<Record<string, number>> }, at: number): void => {
    this.#touch(this.#backupLastSuccess, this.#backupBytes, this.#backupPause);
    this.#backupLastSuccess.set(at / 1000);
    this.#backupBytes.set(r.bytes);
    for (const container of this.#containers) this.#backupPause.set({ container }, (r.pausedMs[container] ?? 0) / 1000);
  };

  onUpdate = (o: { readonly container: string; readonly result: string }): void => {
    if (!this.#containers.has(o.container)) return;
    this.#touch(this.#updates, this.#rollbacks);
    this.#updates.inc({ container: o.container, result: o.result });
    if (o.result === "rolled-back") this.#rollbacks.inc({ container: o.container });
  };

  /** Sets the gauges from the snapshot (a refresh does, from the followed one). */
  update(s: Snapshot): void {
    const from = JSON.stringify([
      s.podman,
      s.pod,
      Object.entries(s.containers).map(([n, c]) => [n, c.state, c.health, c.ready, c.lastExitCode, c.running, c.startedAt, c.backoffSeconds, c.id, c.image, c.imageId, c.disk?.freeBytes, c.disk?.sizeBytes, c.disk?.full]),
    ]);
    if (from === this.#fromSnapshot) return;
    this.#fromSnapshot = from;
    this.#touch(
      this.#podmanUp,
      this.#eventsUp,
      this.#podState,
      this.#podReady,
      this.#containerInfo,
      this.#state,
      this.#health,
      this.#ready,
      this.#notReadySince,
      this.#exitCode,
      this.#startedAt,
      this.#backoff,
      this.#persistFree,
      this.#persistSize,
      this.#persistFull,
    );
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

  /** The exposition as of the last refresh (empty before the first). */
  text(): string {
    return this.#text;
  }

  /**
   * What a scrape answers: the kept text at once, or, when it is older than REFRESH_MS, the
   * text of a refresh made for this scrape.
   */
  scrape(): string | Promise<string> {
    const now = this.#clock.now();
    this.#readBefore = this.#readAt;
    this.#readAt = now;
    if (this.#nextRefresh() !== this.#planned) this.#wake?.();
    if (now - this.#renderedAt <= REFRESH_MS) return this.#text;
    return this.refresh().then(
      () => this.#text,
      () => this.#text,
    );
  }

  /**
   * When the next refresh is due (clock ms), or undefined: none until a scrape. A scraper
   * slower than REFRESH_MS gets one refresh per scrape, LEAD_MS before it is due; a faster
   * one, a refresh every REFRESH_MS / 2. Nobody scraping since the last refresh: none.
   */
  #nextRefresh(): number | undefined {
    const gap = this.#readAt - this.#readBefore;
    if (!Number.isFinite(gap)) return undefined; // fewer than two scrapes: nothing to go by
    if (gap > REFRESH_MS) {
      const due = this.#readAt + gap - LEAD_MS;
      // Made already (the scrape it was for has not come yet: it waits for that scrape).
      if (this.#renderedAt >= due) return undefined;
      return Math.max(this.#renderedAt + REFRESH_MS / 2, due);
    }
    if (this.#readAt < this.#renderedAt - REFRESH_MS) return undefined; // the fast scraper went away
    return this.#renderedAt + REFRESH_MS / 2;
  }

  /**
   * Keeps the exposition current from this snapshot for the scrapes (see #nextRefresh) until
   * unfollow(); resolves once the first refresh is done.
   */
  follow(snapshot: () => Snapshot): Promise<void> {
    this.#source = snapshot;
    if (!this.#following) {
      const following = new AbortController();
      this.#following = following;
      void (async () => {
        while (!following.signal.aborted) {
          const due = this.#nextRefresh();
          this.#planned = due;
          // Until the refresh is due, or a scrape (or unfollow) has it planned again.
          const replan = new AbortController();
          const wake = (): void => replan.abort(WAKE);
          this.#wake = wake;
          following.signal.addEventListener("abort", wake, { once: true });
          await sleepUntil(this.#clock, due, replan.signal);
          following.signal.removeEventListener("abort", wake);
          this.#wake = undefined;
          // A refresh that fails (it should not) keeps the last text, as a failed render once failed only its scrape.
          if (!replan.signal.aborted) await this.refresh().catch(() => undefined);
        }
      })();
    }
    return this.refresh();
  }

  unfollow(): void {
    this.#following?.abort(WAKE);
    this.#following = undefined;
    this.#source = undefined;
  }

  /**
   * Brings the exposition up to date: the gauges from the followed snapshot, then every
   * family changed since its last render, then the process families. Refreshes run one at a
   * time; one asked for while another runs starts after it, and later asks join that one.
   */
  refresh(): Promise<void> {
    if (this.#queued) return this.#refreshing;
    this.#queued = true;
    const run = (): Promise<void> => {
      this.#queued = false;
      return this.#render();
    };
    this.#refreshing = this.#refreshing.then(run, run);
    return this.#refreshing;
  }

  async #render(): Promise<void> {
    this.#renderedAt = this.#clock.now();
    if (this.#source) this.update(this.#source());
    const due = [...this.#names].filter(([f]) => this.#dirty.has(f)).map(([, name]) => name);
    // Cleared before rendering: a change meanwhile is rendered by the next refresh.
    this.#dirty.clear();
    for (let i = 0; i < due.length; i += FAMILIES_PER_CHUNK) {
      if (i > 0) await nextTurn();
      for (const name of due.slice(i, i + FAMILIES_PER_CHUNK)) this.#texts.set(name, await this.registry.getSingleMetricAsString(name));
    }
    // What prom-client's Registry.metrics() gives (families in the order registered), from the families' parts.
    if (due.length > 0) this.#own = [...this.#names.values()].map((name) => this.#texts.get(name)).join("\n\n");
    this.#text = `${this.#own}\n\n${processText(this.#stats(), this.#facts)}\n`;
  }

  #touch(...families: Family[]): void {
    for (const f of families) this.#dirty.add(f);
  }
}
