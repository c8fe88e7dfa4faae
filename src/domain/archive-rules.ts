// What an archive may contain, decided before a byte of it is written: a manifest is parsed
// field by field (nothing in it is trusted), every path is relative, normalised and inside
// one mount's directory, every link has a listed target, and the declared sizes stay under
// the limit. Pure: the reader in jobs/ applies these rules to each tar entry it meets.

import type { Manifest, ManifestEntry, ManifestMount } from "./backup.js";

/** manifest.json is read into memory: a larger one is refused before it is read. */
export const MANIFEST_MAX_BYTES = 64 * 1024 * 1024;
/** Linux's limit on a symlink's target (PATH_MAX less the NUL). */
const LINK_TARGET_MAX_BYTES = 4095;

export interface CheckedManifest {
  readonly manifest: Manifest;
  /**
   * Format 1 listed regular files only: its directories are accepted wherever a mount's
   * directory allows them (they hold no data), and its links cannot be verified (refused).
   */
  readonly implicitDirs: boolean;
}

export type ManifestVerdict = { readonly ok: CheckedManifest } | { readonly problem: string };

/** Why `p` cannot name an entry of an archive, or undefined: relative, normalised, no NUL. */
export const archivePathProblem = (p: string): string | undefined => {
  if (p.length === 0) return "an empty path";
  if (p.includes("\0")) return "a NUL byte in the path";
  if (p.startsWith("/")) return "an absolute path";
  for (const seg of p.split("/")) {
    if (seg === "") return "an empty path segment (// or a trailing /)";
    if (seg === "." || seg === "..") return `a "${seg}" path segment`;
  }
  return undefined;
};

/** The mount whose directory holds `path` (or is `path`). */
export const mountOf = (mounts: readonly ManifestMount[], path: string): ManifestMount | undefined =>
  mounts.find((m) => path === m.path || path.startsWith(`${m.path}/`));

/** Directories above the mounts' directories (data, data/<container>): structure only, never restored. */
export const structuralDirs = (mounts: readonly ManifestMount[]): ReadonlySet<string> =>
  new Set(mounts.flatMap((m) => m.path.split("/").slice(0, -1).map((_, i, segs) => segs.slice(0, i + 1).join("/"))));

export const parentOf = (path: string): string => path.slice(0, Math.max(0, path.lastIndexOf("/")));

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const SHA256 = /^[0-9a-f]{64}$/;
const MOUNT_PATH = /^data\/([^/]+)\/(0|[1-9][0-9]{0,3})$/;

class Refusal {
  constructor(readonly problem: string) {}
}
const refuse = (problem: string): never => {
  throw new Refusal(problem);
};

const str = (o: Record<string, unknown>, key: string, where: string): string => {
  const v = o[key];
  return typeof v === "string" ? v : refuse(`${where}.${key} is not a string`);
};

const checkMount = (raw: unknown, i: number): ManifestMount => {
  const where = `mounts[${i}]`;
  if (!isObject(raw)) return refuse(`${where} is not an object`);
  const m = { container: str(raw, "container", where), source: str(raw, "source", where), target: str(raw, "target", where), path: str(raw, "path", where) };
  const pathProblem = archivePathProblem(m.path);
  if (pathProblem) refuse(`${where}.path ${JSON.stringify(m.path)}: ${pathProblem}`);
  if (MOUNT_PATH.exec(m.path)?.[1] !== m.container) refuse(`${where}.path ${JSON.stringify(m.path)} is not data/${m.container}/<n>`);
  const sourceProblem = m.source.startsWith("/") ? archivePathProblem(m.source.slice(1)) : "not an absolute path";
  if (sourceProblem) refuse(`${where}.source ${JSON.stringify(m.source)}: ${sourceProblem}`);
  return m;
};

const checkEntry = (raw: unknown, i: number, format: number): ManifestEntry => {
  const where = format === 1 ? `files[${i}]` : `entries[${i}]`;
  if (!isObject(raw)) return refuse(`${where} is not an object`);
  const path = str(raw, "path", where);
  const problem = archivePathProblem(path);
  if (problem) refuse(`${where}: ${JSON.stringify(path)}: ${problem}`);
  const type = format === 1 ? "file" : raw.type;
  switch (type) {
    case "dir":
      return { path, type };
    case "file": {
      const { size, sha256 } = raw;
      if (!isCount(size)) refuse(`${where} (${path}): size is not a whole number of bytes`);
      if (typeof sha256 !== "string" || !SHA256.test(sha256)) refuse(`${where} (${path}): sha256 is not 64 lowercase hex digits`);
      return { path, type, size: size as number, sha256: sha256 as string };
    }
    case "symlink":
    case "link": {
      const target = str(raw, "target", where);
      if (target.length === 0 || target.includes("\0") || new TextEncoder().encode(target).length > LINK_TARGET_MAX_BYTES) {
        refuse(`${where} (${path}): target is empty, has a NUL byte or is longer than ${LINK_TARGET_MAX_BYTES} bytes`);
      }
      return { path, type, target };
    }
    default:
      return refuse(`${where} (${path}): type ${JSON.stringify(type)} is not dir, file, symlink or link`);
  }
};

/** Cross-entry rules: inside a mount, listed once, a real directory at each mount's top, parents listed, link targets listed before. */
const checkTree = (mounts: readonly ManifestMount[], entries: readonly ManifestEntry[], implicitDirs: boolean): void => {
  const seen = new Map<string, ManifestEntry>();
  const paths = new Set<string>();
  const sources = new Set<string>();
  for (const m of mounts) {
    if (paths.has(m.path) || sources.has(m.source)) refuse(`mounts: ${m.path} or ${m.source} is listed twice`);
    paths.add(m.path);
    sources.add(m.source);
  }
  const listed = new Set(entries.map((e) => e.path));
  for (const e of entries) {
    const m = mountOf(mounts, e.path);
    if (!m) refuse(`${e.path} is not inside the directory of any mount`);
    if (seen.has(e.path)) refuse(`${e.path} is listed twice`);
    if (e.path === m!.path && e.type !== "dir") refuse(`${e.path} is a mount's directory but listed as a ${e.type}: it must be a directory`);
    if (e.path !== m!.path && !implicitDirs) {
      const parent = seen.get(parentOf(e.path));
      if (parent?.type !== "dir") refuse(`${e.path}: its parent ${parentOf(e.path)} is not a directory listed before it`);
    }
    if (e.type === "link") {
      const t = seen.get(e.target);
      if (t?.type !== "file" || mountOf(mounts, e.target) !== m) refuse(`${e.path}: hard link target ${JSON.stringify(e.target)} is not a file of the same mount listed before it`);
    }
    seen.set(e.path, e);
  }
  if (!implicitDirs) for (const m of mounts) if (!listed.has(m.path)) refuse(`the directory of mount ${m.path} is not listed`);
};

/**
 * Parses and checks manifest.json's text. `maxBytes` bounds the file content the archive may
 * hold: a manifest declaring more is refused (the entries are then never read).
 */
export const checkManifest = (text: string, maxBytes: number): ManifestVerdict => {
  try {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return { problem: "manifest.json is not JSON" };
    }
    if (!isObject(raw)) return { problem: "manifest.json is not an object" };
    const format = raw.format;
    if (format !== 1 && format !== 2) return { problem: `manifest format ${JSON.stringify(format)} is not one this podwarden reads (1 or 2)` };
    const pod = str(raw, "pod", "manifest");
    const createdAt = str(raw, "createdAt", "manifest");
    if (!Array.isArray(raw.mounts)) return { problem: "manifest.mounts is not a list" };
    const list = format === 1 ? raw.files : raw.entries;
    if (!Array.isArray(list)) return { problem: `manifest.${format === 1 ? "files" : "entries"} is not a list` };
    const mounts = raw.mounts.map(checkMount);
    const entries = list.map((e, i) => checkEntry(e, i, format));
    const implicitDirs = format === 1;
    checkTree(mounts, entries, implicitDirs);
    const bytes = entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
    if (raw.bytes !== bytes) return { problem: `manifest.bytes (${JSON.stringify(raw.bytes)}) is not the sum of the file sizes (${bytes})` };
    if (bytes > maxBytes) return { problem: `it holds ${bytes} bytes, more than the limit of ${maxBytes} (jobs.backup.maxSize)` };
    const manifest: Manifest = {
      format,
      pod,
      podSpecHash: typeof raw.podSpecHash === "string" ? raw.podSpecHash : null,
      createdAt,
      finishedAt: typeof raw.finishedAt === "string" ? raw.finishedAt : createdAt,
      containers: isObject(raw.containers) ? (raw.containers as Manifest["containers"]) : {},
      mounts,
      entries,
      bytes,
    };
    return { ok: { manifest, implicitDirs } };
  } catch (err) {
    if (err instanceof Refusal) return { problem: err.problem };
    throw err;
  }
};
