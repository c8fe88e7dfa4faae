// Free space of the persisted directories' filesystems, from the host: one stat and one
// statfs per directory (about 30 µs of CPU each here), so it can run on every reconcile
// pass. A directory not created yet is sampled through its nearest existing parent, which is
// where it will be made. A filesystem that does not answer (a hung network mount) cannot stall
// the pass: the sampler waits at most `deadlineMs`, keeps the last sample it had (its `at`
// shows its age), and asks again only once the call in flight has returned.

import * as fs from "node:fs/promises";
import { dirname } from "node:path";
import type { FsSample } from "../domain/disk.js";

export type DiskSampler = (paths: readonly string[], at: number) => Promise<ReadonlyMap<string, FsSample>>;

/** The two calls it makes (tests stand in for a filesystem that hangs). */
export interface FsCalls {
  stat(path: string): Promise<{ readonly dev: number }>;
  statfs(path: string): Promise<{ readonly bavail: number; readonly blocks: number; readonly bsize: number }>;
}

/** Waits for `work`, for at most `ms`. */
const within = async (work: Promise<unknown>, ms: number): Promise<void> => {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
};

/** A sampler that remembers each directory's mount point (found again if its device changes). */
export const createDiskSampler = (deadlineMs = 1_000, calls: FsCalls = fs): DiskSampler => {
  const devOf = async (path: string): Promise<number | undefined> => (await calls.stat(path).catch(() => undefined))?.dev;
  /** The path itself, or its nearest existing parent, with its device. */
  const existing = async (path: string): Promise<{ path: string; dev: number } | undefined> => {
    for (let p = path; ; p = dirname(p)) {
      const dev = await devOf(p);
      if (dev !== undefined) return { path: p, dev };
      if (dirname(p) === p) return undefined;
    }
  };
  /** The top directory of the filesystem holding `path` (walks up while the device stays the same). */
  const mountPointOf = async (path: string, dev: number): Promise<string> => {
    let p = path;
    while (dirname(p) !== p && (await devOf(dirname(p))) === dev) p = dirname(p);
    return p;
  };
  const mounts = new Map<string, { readonly dev: number; readonly at: string }>();
  const last = new Map<string, FsSample>();
  const inFlight = new Map<string, Promise<void>>();

  const sampleOne = async (path: string, at: number): Promise<void> => {
    const found = await existing(path);
    if (!found) return;
    let mount = mounts.get(found.path);
    if (mount?.dev !== found.dev) {
      mount = { dev: found.dev, at: await mountPointOf(found.path, found.dev) };
      mounts.set(found.path, mount);
    }
    const s = await calls.statfs(found.path).catch(() => undefined);
    if (s) last.set(path, { path, filesystem: mount.at, freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize, at });
  };

  return async (paths, at) => {
    for (const path of paths) {
      if (inFlight.has(path)) continue;
      inFlight.set(path, sampleOne(path, at).finally(() => inFlight.delete(path)));
    }
    await within(Promise.all(paths.map((p) => inFlight.get(p))), deadlineMs);
    return new Map(paths.flatMap((p) => (last.has(p) ? [[p, last.get(p)!] as const] : [])));
  };
};
