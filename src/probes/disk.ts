// Free space of the persisted directories' filesystems, from the host: one stat and one
// statfs per directory (a few microseconds), so it can run on every reconcile pass. A
// directory not created yet is sampled through its nearest existing parent, which is where
// it will be made.

import { stat, statfs } from "node:fs/promises";
import { dirname } from "node:path";
import type { FsSample } from "../domain/disk.js";

export type DiskSampler = (paths: readonly string[], at: number) => Promise<ReadonlyMap<string, FsSample>>;

const devOf = async (path: string): Promise<number | undefined> => (await stat(path).catch(() => undefined))?.dev;

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

/** A sampler that remembers each directory's mount point (found again if its device changes). */
export const createDiskSampler = (): DiskSampler => {
  const mounts = new Map<string, { readonly dev: number; readonly at: string }>();
  return async (paths, at) => {
    const out = new Map<string, FsSample>();
    await Promise.all(
      paths.map(async (path) => {
        const found = await existing(path);
        if (!found) return;
        let mount = mounts.get(found.path);
        if (mount?.dev !== found.dev) {
          mount = { dev: found.dev, at: await mountPointOf(found.path, found.dev) };
          mounts.set(found.path, mount);
        }
        const s = await statfs(found.path).catch(() => undefined);
        if (s) out.set(path, { path, filesystem: mount.at, freeBytes: s.bavail * s.bsize, sizeBytes: s.blocks * s.bsize, at });
      }),
    );
    return out;
  };
};
