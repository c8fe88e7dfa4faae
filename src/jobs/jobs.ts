// The daemon's scheduled care in one place: the backup, restore and update jobs, their
// runners (one at a time, never blocking the reconcile loop), their schedules, and what
// /status shows about them.

import type { JobsSettings } from "../config/jobs.js";
import type { Clock } from "../lib/clock.js";
import { rm } from "node:fs/promises";
import { PodwardenError } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import type { ContainerRuntime, Progress } from "../runtime/port.js";
import { podReady } from "../domain/snapshot.js";
import { Backups, type ArchiveInfo, type BackupResult } from "./backup.js";
import type { PodControl } from "./pod-control.js";
import { restoreArchive, type RestoreResult } from "./restore.js";
import { recoverRestores } from "./restore-leftovers.js";
import type { JobOutcome, JobsStatus } from "../domain/jobs.js";
import { JobLock, JobRunner } from "./runner.js";
import { Scheduler, type ScheduledJob } from "./scheduler.js";
import { StateStore } from "./state.js";
import { Updates, type UpdateCheck, type UpdateOutcome } from "./update.js";

export interface JobHooks {
  /** Every run of every job (metrics: runs, failures, durations). */
  onOutcome?(o: JobOutcome): void;
  onBackup?(r: BackupResult, at: number): void;
  onUpdate?(o: UpdateOutcome): void;
}

export interface JobsDeps {
  readonly pod: PodControl;
  readonly runtime: ContainerRuntime;
  readonly settings: JobsSettings;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly hooks?: JobHooks;
  readonly progress?: Progress;
}

/** How long a daemon start waits for the pod to become ready on data restored before a crash. */
const RECOVERY_WAIT_MS = 24 * 3_600_000;

const notReady = (pod: PodControl) => (): string | undefined => {
  const s = pod.snapshot();
  return podReady(s) ? undefined : `the pod is not ready (${s.pod.containersReady} of ${s.pod.containersTotal} containers ready)`;
};

export class Jobs {
  readonly #d: JobsDeps;
  readonly #state: StateStore;
  readonly #backups: Backups | undefined;
  readonly #updates: Updates;
  readonly #backupRunner: JobRunner<void, BackupResult>;
  readonly #restoreRunner: JobRunner<string, RestoreResult>;
  readonly #updateRunner: JobRunner<string | undefined, UpdateOutcome[]>;
  #scheduler: Scheduler | undefined;
  readonly #stopping = new AbortController();

  constructor(deps: JobsDeps) {
    this.#d = deps;
    const { pod, runtime, settings, clock, logger, hooks } = deps;
    const log = logger.child({ component: "jobs" });
    this.#state = new StateStore(settings.stateDir, pod.spec().name);
    this.#backups = settings.backup && new Backups({ pod, runtime, settings: settings.backup, clock, logger: log });
    this.#updates = new Updates({
      pod,
      runtime,
      state: this.#state,
      clock,
      logger: log,
      ...(deps.progress ? { progress: deps.progress } : {}),
      ...(hooks?.onUpdate ? { onOutcome: hooks.onUpdate } : {}),
    });
    const lock = new JobLock();
    const base = { lock, logger: log, now: () => clock.now(), ...(hooks?.onOutcome ? { onOutcome: hooks.onOutcome } : {}) };
    this.#backupRunner = new JobRunner("backup", async (_: void, signal) => {
      const r = await this.#requireBackups().run(signal);
      hooks?.onBackup?.(r, clock.now());
      return r;
    }, { ...base, precondition: notReady(pod) });
    // A restore is what a broken pod may need most: it does not wait for readiness.
    this.#restoreRunner = new JobRunner("restore", (archive: string, signal) => restoreArchive(archive, { pod, clock, logger: log, maxBytes: this.#requireBackups().maxBytes }, signal), base);
    this.#updateRunner = new JobRunner("update", (only: string | undefined, signal) => this.#updates.run(only, signal), { ...base, precondition: notReady(pod) });
  }

  #requireBackups(): Backups {
    if (!this.#backups) throw new PodwardenError("E_USAGE", `backups are not configured: set jobs.backup.dir in ${this.#d.pod.spec().source}`);
    return this.#backups;
  }

  /**
   * Rolls back or finishes a restore cut short (before the first pass: no container starts on
   * half-swapped data), loads the state file (image pins apply before the first pass) and
   * starts the schedules.
   */
  async start(): Promise<void> {
    await this.#recover();
    const state = await this.#state.load();
    for (const [name, pin] of Object.entries(state.pins)) this.#d.pod.pinImage(name, pin);
    const scheduled: ScheduledJob[] = [];
    const schedule = this.#d.settings.backup?.schedule;
    if (schedule) scheduled.push({ name: "backup", schedule, fire: () => this.#backupRunner.scheduled() });
    for (const c of this.#updates.targets()) {
      if (c.update?.schedule) scheduled.push({ name: `update:${c.name}`, schedule: c.update.schedule, fire: () => this.#updateRunner.scheduled(c.name) });
    }
    this.#scheduler = new Scheduler(scheduled, this.#d.clock, this.#d.logger.child({ component: "scheduler" }));
    this.#scheduler.start();
  }

  async #recover(): Promise<void> {
    const { pod, logger } = this.#d;
    const log = logger.child({ component: "jobs" });
    const { whenReady, held } = await recoverRestores(pod.spec(), this.#backups?.dir, log);
    if (held.length > 0) pod.suspend(held);
    if (whenReady.length === 0) return;
    // The restored data is in place; the data it replaced goes once the pod is ready on it, as the restore itself would have done.
    void pod.waitFor("the pod ready after a restore cut short", podReady, RECOVERY_WAIT_MS, this.#stopping.signal).then(
      async () => {
        for (const path of whenReady) await rm(path, { recursive: true, force: true });
        log.info({ deleted: whenReady }, "the pod is ready on the restored data: the replaced data is deleted");
      },
      (err: unknown) => log.warn({ kept: whenReady, err }, "the pod did not become ready on the restored data: the replaced data is kept"),
    );
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#scheduler?.stop();
    await Promise.all([this.#backupRunner.stop(), this.#restoreRunner.stop(), this.#updateRunner.stop()]);
  }

  backupNow(): Promise<BackupResult> {
    this.#requireBackups();
    return this.#backupRunner.now();
  }

  listBackups(): Promise<ArchiveInfo[]> {
    return this.#requireBackups().list();
  }

  restore(archive: string): Promise<RestoreResult> {
    this.#requireBackups();
    return this.#restoreRunner.now(archive);
  }

  checkUpdates(only?: string): Promise<UpdateCheck[]> {
    return this.#updates.check(only);
  }

  update(only?: string): Promise<UpdateOutcome[]> {
    this.#updates.targets(only); // a usage error (unknown container, no policy) before the runner counts a run
    return this.#updateRunner.now(only);
  }

  status(): JobsStatus {
    const next = this.#scheduler?.nextRuns() ?? new Map<string, number | undefined>();
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    const s = this.#state.state;
    const running = [this.#backupRunner, this.#restoreRunner, this.#updateRunner].find((r) => r.running)?.name ?? null;
    const containers = Object.fromEntries(
      this.#d.pod.spec().containers.map((c) => [
        c.name,
        { pinnedImage: this.#d.pod.pins().get(c.name)?.image ?? null, previousImageId: s.previous[c.name] ?? null, lastUpdate: s.updates[c.name] ?? null },
      ]),
    );
    return {
      running,
      backup: {
        configured: this.#backups !== undefined,
        dir: this.#backups?.dir ?? null,
        schedule: this.#d.settings.backup?.schedule ?? null,
        nextRunAt: iso(next.get("backup")),
        last: this.#backupRunner.last ?? null,
      },
      update: {
        nextRunAt: Object.fromEntries([...next].filter(([k]) => k.startsWith("update:")).map(([k, v]) => [k.slice("update:".length), iso(v)])),
        last: this.#updateRunner.last ?? null,
      },
      containers,
    };
  }
}
