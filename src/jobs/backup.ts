// The backup job: each container with persisted data is made consistent (Redis/Valkey write
// their snapshot first; anything else, OpenCode's SQLite included, is paused while its files
// are copied), the copies are checksummed into a manifest and packed into one archive, and
// retention runs only after that archive is complete.

import { lstat, mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  MANIFEST_FORMAT,
  archiveName,
  archiveTime,
  backupPlan,
  expiredArchives,
  persistedMounts,
  type Manifest,
  type ManifestContainer,
  type ManifestMount,
} from "../domain/backup.js";
import type { ContainerSpec } from "../domain/spec.js";
import type { BackupSettings } from "../config/jobs.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { hostPortFor } from "../probes/prober.js";
import type { ContainerRuntime } from "../runtime/port.js";
import type { PodControl } from "./pod-control.js";
import { redisSave } from "./redis-save.js";

export interface BackupResult {
  readonly archive: string;
  readonly bytes: number;
  readonly ms: number;
  readonly files: number;
  /** Per container: how long it was paused (pause) or how long its save took (redis-save), ms. */
  readonly pausedMs: Readonly<Record<string, number>>;
  readonly saveMs: Readonly<Record<string, number>>;
  /** Archives retention deleted after this run. */
  readonly deleted: readonly string[];
}

export interface ArchiveInfo {
  readonly name: string;
  readonly path: string;
  readonly createdAt: string;
  readonly bytes: number;
}

export interface BackupDeps {
  readonly pod: PodControl;
  readonly runtime: Pick<ContainerRuntime, "observe" | "pauseContainer" | "unpauseContainer">;
  readonly settings: BackupSettings;
  readonly clock: Clock;
  readonly logger: Logger;
}

const SAVE_TIMEOUT_MS = 5 * 60_000;

export class Backups {
  readonly #d: BackupDeps;

  constructor(deps: BackupDeps) {
    this.#d = deps;
  }

  get dir(): string {
    return this.#d.settings.dir;
  }

  get maxBytes(): number {
    return this.#d.settings.maxBytes;
  }

  /** This pod's archives, newest first. */
  async list(): Promise<ArchiveInfo[]> {
    const pod = this.#d.pod.spec().name;
    const names = await readdir(this.dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    const found = names.flatMap((name) => {
      const at = archiveTime(pod, name);
      return at === undefined ? [] : [{ name, at }];
    });
    const infos = await Promise.all(
      found.map(async ({ name, at }) => ({ name, path: join(this.dir, name), createdAt: new Date(at).toISOString(), bytes: (await lstat(join(this.dir, name))).size, at })),
    );
    return infos.sort((a, b) => b.at - a.at).map(({ name, path, createdAt, bytes }) => ({ name, path, createdAt, bytes }));
  }

  async run(signal: AbortSignal): Promise<BackupResult> {
    const { pod, clock, logger } = this.#d;
    const spec = pod.spec();
    const started = clock.now();
    const name = archiveName(spec.name, started);
    const file = join(this.dir, name);
    const staging = join(this.dir, `.${name}.staging`);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await this.#removeLeftovers(spec.name);
    await mkdir(join(staging, "data"), { recursive: true });
    try {
      // The archive code loads with the first backup: a daemon that never makes one never loads it.
      const { copyTree, describeTree, packArchive } = await import("./archive.js");
      const observed = await this.#d.runtime.observe(spec.name);
      const containers: Record<string, ManifestContainer> = {};
      const mounts: ManifestMount[] = [];
      const pausedMs: Record<string, number> = {};
      const saveMs: Record<string, number> = {};
      for (const { container: c, quiesce } of backupPlan(spec)) {
        if (signal.aborted) throw new PodwardenError("E_ABORTED", "backup interrupted: the daemon is stopping");
        const o = observed.containers.get(c.name);
        if (!o?.running) throw new PodwardenError("E_BACKUP", `${c.name} is not running: its data cannot be made consistent`);
        const copy = async (): Promise<void> => {
          for (const [i, m] of persistedMounts(c).entries()) {
            const path = `data/${c.name}/${i}`;
            await mkdir(join(staging, "data", c.name), { recursive: true });
            const skipped = await copyTree(m.source, join(staging, path));
            if (skipped.length > 0) logger.warn({ container: c.name, skipped }, "not data (sockets, FIFOs, devices): left out of the backup");
            mounts.push({ container: c.name, source: m.source, target: m.target, path });
          }
        };
        if (quiesce === "redis-save") {
          saveMs[c.name] = await this.#save(c, signal);
          await copy();
        } else {
          pausedMs[c.name] = await this.#whilePaused(c.name, o.id, copy);
        }
        logger.info({ container: c.name, quiesce, ms: pausedMs[c.name] ?? saveMs[c.name] }, quiesce === "pause" ? "copied while paused" : "copied after save");
        containers[c.name] = { image: o.image, imageId: o.imageId || null, specHash: o.specHash ?? null, quiesce, pausedMs: pausedMs[c.name] ?? null };
      }
      const items = await describeTree(staging, mounts);
      const entries = items.map((i) => i.entry);
      const files = entries.filter((e) => e.type === "file");
      const total = files.reduce((n, f) => n + f.size, 0);
      if (total > this.#d.settings.maxBytes) {
        throw new PodwardenError("E_BACKUP", `the persisted data holds ${total} bytes, more than jobs.backup.maxSize (${this.#d.settings.maxBytes} bytes), which a restore would refuse: raise it in ${spec.source}`);
      }
      const manifest: Manifest = {
        format: MANIFEST_FORMAT,
        pod: spec.name,
        podSpecHash: observed.pod?.specHash ?? null,
        createdAt: new Date(started).toISOString(),
        finishedAt: new Date(clock.now()).toISOString(),
        containers,
        mounts,
        entries,
        bytes: total,
      };
      const bytes = await packArchive(manifest, items, file);
      const deleted = await this.#retain(spec.name);
      const result = { archive: file, bytes, ms: clock.now() - started, files: files.length, pausedMs, saveMs, deleted };
      logger.info({ archive: file, bytes, files: files.length, ms: result.ms, pausedMs, saveMs, deleted }, "backup written");
      return result;
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async #save(c: ContainerSpec, signal: AbortSignal): Promise<number> {
    const { pod, clock } = this.#d;
    const probe = c.probe;
    if (probe?.kind !== "redis") throw new PodwardenError("E_INTERNAL", `${c.name} has no redis probe`);
    const target = { host: "127.0.0.1", port: hostPortFor(pod.spec(), probe.port) };
    const password = probe.passwordKey === undefined ? undefined : pod.secrets().get(probe.passwordKey);
    return redisSave(c.name, target, password, clock, SAVE_TIMEOUT_MS, signal);
  }

  /** Freezes the container (hands off for the supervisor meanwhile), runs `copy`, thaws it; returns the paused time. */
  async #whilePaused(name: string, id: string, copy: () => Promise<void>): Promise<number> {
    const { pod, runtime, clock } = this.#d;
    pod.hold(name);
    try {
      await runtime.pauseContainer(id);
      const paused = clock.now();
      try {
        await copy();
      } finally {
        await runtime.unpauseContainer(id);
      }
      return clock.now() - paused;
    } finally {
      pod.release(name);
    }
  }

  /** Temporary files of a run that was cut off (crash, power loss): never mistaken for archives. */
  async #removeLeftovers(pod: string): Promise<void> {
    for (const n of await readdir(this.dir)) {
      if ((n.startsWith(`${pod}-`) && n.endsWith(".partial")) || (n.startsWith(`.${pod}-`) && n.endsWith(".staging"))) {
        await rm(join(this.dir, n), { recursive: true, force: true });
      }
    }
  }

  async #retain(pod: string): Promise<string[]> {
    const { keep, maxAgeMs } = this.#d.settings;
    const all = (await this.list()).map((a) => ({ name: a.name, at: Date.parse(a.createdAt) }));
    const expired = expiredArchives(all, keep, maxAgeMs, this.#d.clock.now());
    for (const a of expired) await rm(join(this.dir, a.name), { force: true });
    if (expired.length > 0) this.#d.logger.info({ pod, deleted: expired.map((a) => a.name), keep, maxAgeMs }, "old backups deleted");
    return expired.map((a) => a.name);
  }
}
