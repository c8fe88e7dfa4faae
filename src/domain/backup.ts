// Backups, the pure parts: what an archive is called, what its manifest says, which archives
// retention deletes, and which persisted directories a backup holds.

import { startOrder } from "./graph.js";
import type { ContainerSpec, PodSpec } from "./spec.js";
import { collate } from "./collate.js";

export const MANIFEST_NAME = "manifest.json";
/** 1: regular files only (links were left out); 2: every entry, links with their targets. */
export const MANIFEST_FORMAT = 2;
const SUFFIX = ".tar.gz";

/** A regular file of a format-1 manifest (path inside the archive: data/<container>/<n>/...). */
export interface ManifestFile {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

/**
 * One entry of a format-2 manifest: every directory, file and link under a mount's directory,
 * the mount's directory itself included. A symlink's target is data, kept byte for byte
 * (absolute or relative); a hard link's target is the archive path of a file listed before it.
 */
export type ManifestEntry =
  | { readonly path: string; readonly type: "dir" }
  | { readonly path: string; readonly type: "file"; readonly size: number; readonly sha256: string }
  | { readonly path: string; readonly type: "symlink"; readonly target: string }
  | { readonly path: string; readonly type: "link"; readonly target: string };

export interface ManifestMount {
  readonly container: string;
  /** Host directory (bind-mount source) at backup time. */
  readonly source: string;
  readonly target: string;
  /** Directory inside the archive. */
  readonly path: string;
}

export interface ManifestContainer {
  readonly image: string;
  readonly imageId: string | null;
  readonly specHash: string | null;
  /** How the copy was made consistent: redis-save (BGSAVE completed), pause (frozen while copied). */
  readonly quiesce: Quiesce;
  /** How long the container was paused, for `pause`. */
  readonly pausedMs: number | null;
}

export interface Manifest {
  readonly format: number;
  readonly pod: string;
  readonly podSpecHash: string | null;
  readonly createdAt: string;
  readonly finishedAt: string;
  readonly containers: Readonly<Record<string, ManifestContainer>>;
  readonly mounts: readonly ManifestMount[];
  readonly entries: readonly ManifestEntry[];
  /** Bytes of regular-file content in the archive. */
  readonly bytes: number;
}

export type Quiesce = "redis-save" | "pause";

/** A persisted directory: created by podwarden, writable (read-only mounts are config or code, not data). */
export const persistedMounts = (c: ContainerSpec) => c.mounts.filter((m) => m.create && !m.readOnly);

/** Containers with data to back up, in start order, with how each is made consistent. */
export const backupPlan = (spec: PodSpec): { container: ContainerSpec; quiesce: Quiesce }[] =>
  startOrder(spec.containers)
    .map((n) => spec.containers.find((c) => c.name === n)!)
    .filter((c) => !c.init && persistedMounts(c).length > 0)
    .map((c) => ({ container: c, quiesce: c.probe?.kind === "redis" ? "redis-save" : "pause" }));

/** 2026-11-22T03:00:05.123Z -> 20261122T030005.123Z (sorts by time; two runs in one second differ) */
const stamp = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, "");

export const archiveName = (pod: string, at: number): string => `${pod}-${stamp(at)}${SUFFIX}`;

/** The time in an archive's name, or undefined when the name is not one of this pod's archives. */
export const archiveTime = (pod: string, name: string): number | undefined => {
  if (!name.startsWith(`${pod}-`) || !name.endsWith(SUFFIX)) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z$/.exec(name.slice(pod.length + 1, -SUFFIX.length));
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : undefined;
};

export interface ArchiveEntry {
  readonly name: string;
  readonly at: number;
}

/**
 * The archives retention deletes: all but the newest `keep`, and any older than `maxAgeMs`,
 * never the newest one (the run that just succeeded).
 */
export const expiredArchives = (archives: readonly ArchiveEntry[], keep: number, maxAgeMs: number | undefined, now: number): ArchiveEntry[] => {
  const newestFirst = [...archives].sort((a, b) => b.at - a.at || collate(b.name, a.name));
  return newestFirst.filter((a, i) => i > 0 && (i >= keep || (maxAgeMs !== undefined && now - a.at > maxAgeMs)));
};
