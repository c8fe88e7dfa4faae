// Restore: unpack and verify the whole archive before anything is touched, copy each
// directory next to where it goes, stop the affected containers (reverse order), swap the
// directories, start them again (in order) and only once the pod is ready delete the data
// that was replaced. A restore that does not become ready keeps the replaced data aside.

import { access, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Manifest, ManifestMount } from "../domain/backup.js";
import { persistedMounts } from "../domain/backup.js";
import { stopOrder, transitiveDependentsOf } from "../domain/graph.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError, errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { podReady, type Snapshot } from "../supervisor/snapshot.js";
import { copyTree, unpackArchive, verifyUnpacked } from "./archive.js";
import type { PodHandle } from "./pod-handle.js";

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
  readonly pod: PodHandle;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the archive is unpacked and checked (the backup directory). */
  readonly workDir: string;
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

const allStopped = (names: readonly string[]) => (s: Snapshot): boolean => names.every((n) => s.containers[n]?.running === false);

/** Every mount in the archive must be a persisted directory of the same container in today's spec. */
const checkFits = (manifest: Manifest, pod: PodHandle, archive: string): void => {
  const spec = pod.spec();
  if (manifest.pod !== spec.name) {
    throw new PodwardenError("E_RESTORE", `${archive} is a backup of pod ${manifest.pod}, not of ${spec.name}`);
  }
  for (const m of manifest.mounts) {
    const c = spec.containers.find((x) => x.name === m.container);
    if (!c) throw new PodwardenError("E_RESTORE", `${archive}: container ${m.container} is not in the pod any more (config ${spec.source})`);
    if (!persistedMounts(c).some((x) => x.source === m.source)) {
      throw new PodwardenError("E_RESTORE", `${archive}: ${m.source} is no longer a persisted directory of ${m.container} (config ${spec.source})`);
    }
  }
};

/** Unpacks, verifies and checks the archive, then copies each directory next to its place (same file system, so the swap is a rename) while the pod still runs. */
const prepare = async (archive: string, unpacked: string, staged: (m: ManifestMount) => string, pod: PodHandle, logger: Logger): Promise<Manifest> => {
  let manifest: Manifest | undefined;
  try {
    logger.info({ archive }, "unpacking and verifying");
    await unpackArchive(archive, unpacked).catch((err: unknown) => {
      throw new PodwardenError("E_RESTORE", `${archive}: cannot unpack: ${errorMessage(err)}`);
    });
    manifest = await verifyUnpacked(unpacked, archive);
    checkFits(manifest, pod, archive);
    for (const m of manifest.mounts) {
      await rm(staged(m), { recursive: true, force: true });
      await copyTree(join(unpacked, m.path), staged(m));
    }
    return manifest;
  } catch (err) {
    for (const m of manifest?.mounts ?? []) await rm(staged(m), { recursive: true, force: true });
    throw err;
  } finally {
    await rm(unpacked, { recursive: true, force: true });
  }
};

export const restoreArchive = async (archive: string, deps: RestoreDeps, signal: AbortSignal): Promise<RestoreResult> => {
  const { pod, clock, logger } = deps;
  const started = clock.now();
  const tag = `${started}`;
  const unpacked = join(deps.workDir, `.restore-${basename(archive)}-${tag}`);
  const staged = (m: ManifestMount): string => `${m.source}.podwarden-restore-${tag}`;
  const aside = (m: ManifestMount): string => `${m.source}.podwarden-replaced-${tag}`;
  if (!(await exists(archive))) throw new PodwardenError("E_RESTORE", `${archive}: no such file`);
  const manifest = await prepare(archive, unpacked, staged, pod, logger);
  const restored = [...new Set(manifest.mounts.map((m) => m.container))];
  // Whatever depends on restored data restarts after it, in order, so nothing runs against the old data.
  const containers = pod.spec().containers;
  const names = stopOrder(containers).filter((n) => restored.includes(n) || restored.some((r) => transitiveDependentsOf(containers, r).has(n)));
  const stopBudget = pod.spec().containers.filter((c) => names.includes(c.name)).reduce((ms, c) => ms + c.stopTimeoutS * 1000, 0) + 60_000;
  const readyBudget = Math.max(...pod.spec().containers.map((c) => c.probe?.startPeriodMs ?? 0)) + stopBudget;
  const downAt = clock.now();
  const swapped: ManifestMount[] = [];
  pod.suspend(names);
  try {
    logger.info({ restored, stopping: names }, "stopping the containers whose data is restored, and what depends on them");
    await pod.waitFor(`${names.join(", ")} stopped`, allStopped(names), stopBudget, signal);
    for (const m of manifest.mounts) {
      if (await exists(m.source)) await rename(m.source, aside(m));
      await rename(staged(m), m.source);
      swapped.push(m);
    }
  } catch (err) {
    // Put back whatever was swapped; nothing of the current data is lost.
    for (const m of swapped.reverse()) {
      await rename(m.source, staged(m)).catch(() => undefined);
      await rename(aside(m), m.source).catch(() => undefined);
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
    files: manifest.files.length,
    bytes: manifest.bytes,
    downtimeMs: clock.now() - downAt,
    ms: clock.now() - started,
  };
  logger.info(result, "restored");
  return result;
};
