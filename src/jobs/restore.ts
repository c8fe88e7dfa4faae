// Restore: read the whole archive and check every entry of it before anything is touched,
// unpack each mount's directory next to where it goes (same file system, so the swap is a
// rename) while the pod still runs, stop the affected containers (reverse order), swap the
// directories, start them again (in order) and only once the pod is ready delete the data
// that was replaced. A restore that does not become ready keeps the replaced data aside; one
// cut short by a crash is rolled back or finished at the next start (restore-leftovers.ts).

import { mkdir, rename, rm, stat, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type { Manifest, ManifestMount } from "../domain/backup.js";
import { persistedMounts } from "../domain/backup.js";
import { stopOrder, transitiveDependentsOf } from "../domain/graph.js";
import { leftoverName } from "../domain/restore-leftovers.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError, errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { podReady, type Snapshot } from "../domain/snapshot.js";
import type { PodControl } from "./pod-control.js";

export interface RestoreResult {
  readonly archive: string;
  readonly createdAt: string;
  /** Containers whose data was restored. */
  readonly containers: readonly string[];
  /** Every container stopped and started again: the restored ones and what depends on them. */
  readonly restarted: readonly string[];
  readonly files: number;
  readonly bytes: number;
  /** From the first stop to the pod ready again. */
  readonly downtimeMs: number;
  readonly ms: number;
}

export interface RestoreDeps {
  readonly pod: PodControl;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Most bytes of file content an archive may hold (jobs.backup.maxSize). */
  readonly maxBytes: number;
}

const allStopped = (names: readonly string[]) => (s: Snapshot): boolean => names.every((n) => s.containers[n]?.running === false);

/** Every mount in the archive must be a persisted directory of the same container in today's spec. */
const checkFits = (manifest: Manifest, pod: PodControl, archive: string): void => {
  const spec = pod.spec();
  if (manifest.pod !== spec.name) {
    throw new PodwardenError("E_RESTORE", `${archive} is a backup of pod ${manifest.pod}, not of ${spec.name}`);
  }
  for (const m of manifest.mounts) {
    const c = spec.containers.find((x) => x.name === m.container);
    if (!c) throw new PodwardenError("E_RESTORE", `${archive}: container ${m.container} is not in the pod any more (config ${spec.source})`);
    if (!persistedMounts(c).some((x) => x.source === m.source)) {
      throw new PodwardenError("E_RESTORE", `${archive}: ${m.source} is not a persisted directory of ${m.container} (config ${spec.source})`);
    }
  }
};

/** Each file system the restore writes to must have room for the unpacked copy beside the current data. */
const checkSpace = async (manifest: Manifest): Promise<void> => {
  const need = new Map<number, { dir: string; bytes: number }>();
  for (const m of manifest.mounts) {
    const dir = dirname(m.source);
    await mkdir(dir, { recursive: true });
    const dev = (await stat(dir)).dev;
    const bytes = manifest.entries.reduce((n, e) => n + (e.type === "file" && (e.path === m.path || e.path.startsWith(`${m.path}/`)) ? e.size : 0), 0);
    need.set(dev, { dir, bytes: (need.get(dev)?.bytes ?? 0) + bytes });
  }
  for (const { dir, bytes } of need.values()) {
    const fs = await statfs(dir);
    const free = fs.bavail * fs.bsize;
    if (free < bytes) throw new PodwardenError("E_RESTORE", `not enough free space on the file system of ${dir} to unpack beside the current data: ${bytes} bytes needed, ${free} free`);
  }
};

/**
 * Reads and checks the whole archive (nothing written), then reads it again unpacking each
 * mount's directory beside its place; the second read checks everything again and must find
 * the same manifest (an archive changed in between is refused).
 */
const prepare = async (archive: string, staged: (m: ManifestMount) => string, deps: RestoreDeps): Promise<Manifest> => {
  const { pod, logger, maxBytes } = deps;
  // Loaded with the first restore (see backup.ts).
  const { readArchive, treeWriter } = await import("./archive.js");
  logger.info({ archive }, "verifying the archive");
  const manifest = await readArchive(archive, { maxBytes, fits: (m) => checkFits(m, pod, archive) });
  await checkSpace(manifest);
  const same = JSON.stringify(manifest);
  const roots = new Map(manifest.mounts.map((m) => [m.path, staged(m)]));
  try {
    for (const m of manifest.mounts) await rm(staged(m), { recursive: true, force: true });
    logger.info({ archive, into: [...roots.values()] }, "unpacking beside the current data");
    await readArchive(archive, {
      maxBytes,
      fits: (m) => {
        if (JSON.stringify(m) !== same) throw new PodwardenError("E_RESTORE", `${archive} changed while it was restored`);
      },
      sink: treeWriter(roots),
    });
    return manifest;
  } catch (err) {
    for (const m of manifest.mounts) await rm(staged(m), { recursive: true, force: true });
    throw err;
  }
};

export const restoreArchive = async (archive: string, deps: RestoreDeps, signal: AbortSignal): Promise<RestoreResult> => {
  const { pod, clock, logger } = deps;
  const started = clock.now();
  const tag = `${started}`;
  const staged = (m: ManifestMount): string => leftoverName(m.source, "restore", tag);
  const aside = (m: ManifestMount): string => leftoverName(m.source, "replaced", tag);
  const manifest = await prepare(archive, staged, deps);
  const restored = [...new Set(manifest.mounts.map((m) => m.container))];
  // Whatever depends on restored data restarts after it, in order, so nothing runs against the old data.
  const containers = pod.spec().containers;
  const names = stopOrder(containers).filter((n) => restored.includes(n) || restored.some((r) => transitiveDependentsOf(containers, r).has(n)));
  const stopBudget = pod.spec().containers.filter((c) => names.includes(c.name)).reduce((ms, c) => ms + c.stopTimeoutS * 1000, 0) + 60_000;
  const readyBudget = Math.max(...pod.spec().containers.map((c) => c.probe?.startPeriodMs ?? 0)) + stopBudget;
  const downAt = clock.now();
  // Per mount, how far the swap got: its data moved aside (if it had any), then the copy put in place.
  const done: { m: ManifestMount; movedAside: boolean; inPlace: boolean }[] = [];
  pod.suspend(names);
  try {
    logger.info({ restored, stopping: names }, "stopping the containers whose data is restored, and what depends on them");
    await pod.waitFor(`${names.join(", ")} stopped`, allStopped(names), stopBudget, signal);
    for (const m of manifest.mounts) {
      const step = { m, movedAside: false, inPlace: false };
      done.push(step);
      step.movedAside = await rename(m.source, aside(m)).then(
        () => true,
        (err: NodeJS.ErrnoException) => {
          if (err.code === "ENOENT") return false;
          throw err;
        },
      );
      await rename(staged(m), m.source);
      step.inPlace = true;
    }
  } catch (err) {
    // Put back whatever was swapped; nothing of the current data is lost. What cannot be put
    // back stays under its leftover name, which the next start recognises (restore-leftovers.ts).
    for (const { m, movedAside, inPlace } of done.reverse()) {
      try {
        if (inPlace) await rename(m.source, staged(m));
        if (movedAside) await rename(aside(m), m.source);
      } catch (undo) {
        logger.error({ source: m.source, err: undo }, "cannot put the data back after a failed swap: the next start will");
      }
    }
    for (const m of manifest.mounts) await rm(staged(m), { recursive: true, force: true });
    pod.resume(names);
    throw err;
  }
  pod.resume(names);
  logger.info({ containers: names }, "data swapped; starting in order");
  try {
    await pod.waitFor("the restored pod ready", podReady, readyBudget, signal);
  } catch (err) {
    const kept = manifest.mounts.map(aside).join(", ");
    throw new PodwardenError("E_RESTORE", `the restored pod did not become ready (${errorMessage(err)}); the replaced data is kept in ${kept}`, { cause: err });
  }
  for (const m of manifest.mounts) await rm(aside(m), { recursive: true, force: true });
  const result = {
    archive,
    createdAt: manifest.createdAt,
    containers: restored,
    restarted: names,
    files: manifest.entries.filter((e) => e.type === "file").length,
    bytes: manifest.bytes,
    downtimeMs: clock.now() - downAt,
    ms: clock.now() - started,
  };
  logger.info(result, "restored");
  return result;
};
