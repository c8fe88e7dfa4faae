// Free space on the filesystems that hold the persisted directories, and when a container
// counts as out of space: its filesystem is (nearly) full, or it says it cannot write there.
// A restart cannot free space and throws away what the server holds in memory, so plan()
// holds off liveness restarts of such a container (see plan.ts).

import { persistedMounts } from "./backup.js";
import type { ContainerHistory } from "./history.js";
import type { PodSpec } from "./spec.js";

/** One statfs of a persisted directory (or, before it exists, of its nearest existing parent). */
export interface FsSample {
  /** The persisted directory (a mount source). */
  readonly path: string;
  /** Where the filesystem holding it is mounted. */
  readonly filesystem: string;
  /** Bytes an unprivileged writer may still use (statfs f_bavail × f_bsize, as `df` shows). */
  readonly freeBytes: number;
  readonly sizeBytes: number;
  readonly at: number;
}

/** Below this many free bytes a filesystem is full. */
export const FULL_BELOW_BYTES = 1024 * 1024;

/** A filesystem is not expected to fill faster than this (a fast SSD written flat out). */
export const FASTEST_FILL_BYTES_PER_S = 500 * 1024 ** 2;

/**
 * How long until the persisted filesystems are looked at again between passes: the time the
 * one with least room would take to fill at FASTEST_FILL_BYTES_PER_S, between `minMs` (near
 * full, or full: to see it writable again) and `maxMs` (plenty of room everywhere). With no
 * sample yet: `minMs`.
 */
export const nextDiskLookMs = (samples: Iterable<FsSample>, minMs: number, maxMs: number): number => {
  let least = Number.POSITIVE_INFINITY;
  for (const s of samples) least = Math.min(least, s.freeBytes - FULL_BELOW_BYTES);
  if (!Number.isFinite(least)) return minMs;
  return Math.min(maxMs, Math.max(minMs, Math.floor((least / FASTEST_FILL_BYTES_PER_S) * 1000)));
};

/**
 * Probe messages that say the server cannot write its data: Valkey/Redis refusing writes (and
 * PING) after a failed snapshot (MISCONF), SQLite's "database or disk is full", errno names.
 */
const OUT_OF_SPACE = /\bMISCONF\b|no space left on device|\bENOSPC\b|\bEDQUOT\b|disk quota exceeded|database or disk is full/i;

export const saysOutOfSpace = (message: string): boolean => OUT_OF_SPACE.test(message);

export interface DiskVerdict {
  /** The persisted directory with the least free space, and its filesystem. */
  readonly path: string;
  readonly filesystem: string;
  readonly freeBytes: number;
  readonly sizeBytes: number;
  readonly at: number;
  /** Full, or the container says it cannot write its data. */
  readonly full: boolean;
  /** Why it counts as full (null when it does not). */
  readonly reason: string | null;
}

/** The persisted directories of every container that has some (container name -> paths). */
export const persistedPaths = (spec: PodSpec): Map<string, string[]> =>
  new Map(spec.containers.flatMap((c) => {
    const paths = persistedMounts(c).map((m) => m.source);
    return paths.length > 0 ? [[c.name, paths] as const] : [];
  }));

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"] as const;

/** 0 B, 512 B, 3.9 MiB, 120 GiB. */
export const formatBytes = (n: number): string => {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${UNITS[u]}`;
};

/**
 * Each container's disk verdict from the latest samples (containers without persisted
 * directories, or not sampled yet, have none). A running container whose last probe failed
 * with an out-of-space message counts as full whatever the filesystem shows now: Valkey
 * removes its half-written snapshot, so the space comes back while it still refuses writes.
 */
export const diskVerdicts = (
  spec: PodSpec,
  samples: ReadonlyMap<string, FsSample>,
  history: ReadonlyMap<string, ContainerHistory>,
): Map<string, DiskVerdict> => {
  const out = new Map<string, DiskVerdict>();
  for (const [name, paths] of persistedPaths(spec)) {
    const tightest = paths
      .map((p) => samples.get(p))
      .filter((s): s is FsSample => s !== undefined)
      .sort((a, b) => a.freeBytes - b.freeBytes)[0];
    if (!tightest) continue;
    const h = history.get(name);
    const probe = h?.running && h.lastProbe && !h.lastProbe.ok ? h.lastProbe.message : undefined;
    const reasons = [
      ...(tightest.freeBytes < FULL_BELOW_BYTES ? ["filesystem full"] : []),
      ...(probe !== undefined && saysOutOfSpace(probe) ? [`it cannot write its data (probe: ${probe})`] : []),
    ];
    out.set(name, { ...tightest, full: reasons.length > 0, reason: reasons.length > 0 ? reasons.join("; ") : null });
  }
  return out;
};

export const fullContainers = (verdicts: ReadonlyMap<string, DiskVerdict>): Set<string> =>
  new Set([...verdicts].filter(([, v]) => v.full).map(([n]) => n));

/** "valkey: out of disk space: filesystem /srv (holding /srv/valkey) has 0 B free of 16 MiB; ..." */
export const diskNote = (name: string, v: Pick<DiskVerdict, "path" | "filesystem" | "freeBytes" | "sizeBytes" | "reason">): string =>
  `${name}: out of disk space: filesystem ${v.filesystem} (holding ${v.path}) has ${formatBytes(v.freeBytes)} free of ${formatBytes(v.sizeBytes)}` +
  `${v.reason ? `: ${v.reason}` : ""}; liveness restarts are held off (a restart frees no space and loses what it holds in memory) until it can write again`;
