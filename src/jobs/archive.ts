// Archives on disk. Backing up: copy a persisted directory as it is (files, directories,
// symlinks and hard links, with owners, modes and times; nothing read through a link),
// list and checksum the copy, pack it (manifest first) as .tar.gz through a temporary name.
// Restoring: read the archive with tar.ts, check every entry against the checked manifest
// (archive-rules.ts), and create each entry ourselves: never through a link, never outside
// the directory it belongs to, never more bytes than declared.

import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { chmod, chown, lchown, link, lstat, lutimes, mkdir, open, readdir, readlink, realpath, rename, rm, symlink, utimes, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { MANIFEST_MAX_BYTES, archivePathProblem, checkManifest, mountOf, parentOf, structuralDirs } from "../domain/archive-rules.js";
import { MANIFEST_NAME, type Manifest, type ManifestEntry, type ManifestMount } from "../domain/backup.js";
import { PodwardenError, errorMessage } from "../lib/errors.js";
import { ArchiveError, BLOCK, ByteReader, END_OF_ARCHIVE, PAX_MAX_BYTES, encodeHeader, entryPadding, readHeader, skipPadding, type TarHeader } from "./tar.js";

const CHUNK = 256 * 1024;
const isRoot = process.getuid?.() === 0;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reading: never through a link at the last step, never blocking on a FIFO swapped in. */
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** Writing: a new file only, never through a link. */
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Restored files never become set-uid or set-gid on the host (directories keep set-gid: group inheritance). */
const fileMode = (mode: number): number => mode & 0o1777;
const dirMode = (mode: number): number => mode & 0o3777;

/** Owner, mode and times of `to` as `st` has them (no-op owner change unless root). */
const copyAttributes = async (to: string, st: { uid: number; gid: number; mode: number; atime: Date; mtime: Date }, kind: "file" | "dir"): Promise<void> => {
  if (isRoot) await chown(to, st.uid, st.gid);
  await chmod(to, kind === "dir" ? dirMode(st.mode) : fileMode(st.mode));
  await utimes(to, st.atime, st.mtime);
};

/** Directory names as UTF-8 strings; a name that is not UTF-8 cannot be listed in a manifest. */
const names = async (dir: string, fail: (m: string) => Error): Promise<string[]> =>
  (await readdir(dir, { encoding: "buffer" })).map((raw) => {
    try {
      return utf8.decode(raw);
    } catch {
      throw fail(`${dir}: the name ${JSON.stringify(raw.toString("latin1"))} is not UTF-8 (rename it to back it up)`);
    }
  });

const sorted = (xs: string[]): string[] => xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Copies the directory `from` into `to` (which must not exist): directories, regular files,
 * symlinks (verbatim, never followed) and hard links (linked again in the copy), with owners,
 * modes and times. Every file is opened without following a link and must still lie inside
 * `from` once open (a container swapping a file for a link mid-copy gets an error, not a host
 * file in the archive). Sockets, FIFOs and devices are not data: skipped, and returned.
 */
export const copyTree = async (from: string, to: string): Promise<string[]> => {
  const fail = (m: string): PodwardenError => new PodwardenError("E_BACKUP", m);
  const top = await lstat(from);
  if (!top.isDirectory()) throw fail(`${from} is not a directory (a persisted directory must be a real directory, not a link)`);
  const inside = `${await realpath(from)}/`;
  const linked = new Map<string, string>();
  const skipped: string[] = [];
  const copyFile = async (src: string, dst: string): Promise<void> => {
    const handle = await open(src, READ_FLAGS).catch((err: NodeJS.ErrnoException) => {
      throw err.code === "ELOOP" ? fail(`${src} became a symlink while it was copied`) : err;
    });
    try {
      const st = await handle.stat();
      const real = await readlink(`/proc/self/fd/${handle.fd}`);
      if (!st.isFile() || !real.startsWith(inside)) throw fail(`${src} changed while it was copied (now ${real}, not a file inside ${from})`);
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? linked.get(key) : undefined;
      if (first !== undefined) return await link(first, dst);
      await writeNew(dst, async (out) => {
        for await (const chunk of chunksOf(handle)) await out.write(chunk);
      });
      await copyAttributes(dst, st, "file");
      if (st.nlink > 1) linked.set(key, dst);
    } finally {
      await handle.close();
    }
  };
  const walk = async (src: string, dst: string): Promise<void> => {
    const st = await lstat(src);
    await mkdir(dst, { mode: 0o700 });
    for (const name of sorted(await names(src, fail))) {
      const s = join(src, name);
      const d = join(dst, name);
      const entry = await lstat(s);
      if (entry.isDirectory()) await walk(s, d);
      else if (entry.isFile()) await copyFile(s, d);
      else if (entry.isSymbolicLink()) {
        await symlink(await readlink(s), d);
        if (isRoot) await lchown(d, entry.uid, entry.gid);
        await lutimes(d, entry.atime, entry.mtime);
      } else skipped.push(s);
    }
    await copyAttributes(dst, st, "dir");
  };
  await walk(from, to);
  return skipped;
};

/**
 * The content of an open file from its start, in chunks (at most `limit` bytes). FileHandle
 * streams with autoClose off can leave a pipeline waiting for a close that never comes.
 */
async function* chunksOf(f: FileHandle, limit = Number.MAX_SAFE_INTEGER): AsyncGenerator<Buffer> {
  let at = 0;
  while (at < limit) {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, limit - at));
    const { bytesRead } = await f.read(buf, 0, buf.length, at);
    if (bytesRead === 0) return;
    at += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/** Runs `use` on `path` opened for reading without following a link, and closes it. */
const withFile = async <T>(path: string, use: (h: FileHandle) => Promise<T>): Promise<T> => {
  const h = await open(path, READ_FLAGS);
  try {
    return await use(h);
  } finally {
    await h.close();
  }
};

/** Creates `path` (new, not through a link, mode 0600), runs `fill` on it, and closes it. */
const writeNew = async <T>(path: string, fill: (h: FileHandle) => Promise<T>): Promise<T> => {
  const h = await open(path, CREATE_FLAGS, 0o600);
  try {
    return await fill(h);
  } finally {
    await h.close();
  }
};

const sha256File = (path: string): Promise<string> =>
  withFile(path, async (f) => {
    const h = createHash("sha256");
    for await (const chunk of chunksOf(f)) h.update(chunk);
    return h.digest("hex");
  });

/** One entry to pack: what the manifest says of it and where its copy is. */
export interface PackItem {
  readonly entry: ManifestEntry;
  readonly abs: string;
}

/**
 * Lists the copy of each mount (under `staging`, at the mount's archive path) as manifest
 * entries, parents before children: files with size and checksum, symlinks with their target,
 * hard links (a second name of a file already listed) with the first name as target.
 */
export const describeTree = async (staging: string, mounts: readonly ManifestMount[]): Promise<PackItem[]> => {
  const out: PackItem[] = [];
  for (const m of mounts) {
    const firstName = new Map<string, string>();
    const visit = async (path: string): Promise<void> => {
      const abs = join(staging, path);
      const st = await lstat(abs);
      if (st.isDirectory()) {
        out.push({ entry: { path, type: "dir" }, abs });
        for (const name of sorted(await readdir(abs))) await visit(`${path}/${name}`);
      } else if (st.isSymbolicLink()) {
        out.push({ entry: { path, type: "symlink", target: await readlink(abs) }, abs });
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const first = st.nlink > 1 ? firstName.get(key) : undefined;
        if (first !== undefined) out.push({ entry: { path, type: "link", target: first }, abs });
        else {
          if (st.nlink > 1) firstName.set(key, path);
          out.push({ entry: { path, type: "file", size: st.size, sha256: await sha256File(abs) }, abs });
        }
      }
    };
    await visit(m.path);
  }
  return out;
};

async function* archiveBytes(manifest: Buffer, items: readonly PackItem[]): AsyncGenerator<Buffer> {
  const now = Math.floor(Date.now() / 1000);
  yield encodeHeader({ path: MANIFEST_NAME, type: "file", size: manifest.length, mode: 0o600, uid: 0, gid: 0, mtime: now, linkTarget: "" });
  yield manifest;
  yield entryPadding(manifest.length);
  for (const { entry, abs } of items) {
    const st = await lstat(abs);
    const size = entry.type === "file" ? entry.size : 0;
    const linkTarget = entry.type === "symlink" || entry.type === "link" ? entry.target : "";
    yield encodeHeader({ path: entry.path, type: entry.type, size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), linkTarget });
    if (entry.type !== "file") continue;
    let sent = 0;
    if (size > 0) {
      const f = await open(abs, READ_FLAGS);
      try {
        for await (const chunk of chunksOf(f, size + 1)) {
          sent += chunk.length;
          if (sent <= size) yield chunk;
        }
      } finally {
        await f.close();
      }
    }
    if (sent !== size) throw new PodwardenError("E_BACKUP", `${abs} changed size while it was packed (${sent} of ${size} bytes)`);
    yield entryPadding(size);
  }
  yield END_OF_ARCHIVE;
}

/**
 * Packs the manifest and the listed items into `file` (.tar.gz). Written under a temporary
 * name, synced, then renamed: `file` is either complete or absent. Returns its size.
 */
export const packArchive = async (manifest: Manifest, items: readonly PackItem[], file: string): Promise<number> => {
  const partial = `${file}.partial`;
  try {
    const json = Buffer.from(JSON.stringify(manifest, null, 2) + "\n", "utf8");
    await writeNew(partial, async (out) => {
      await pipeline(Readable.from(archiveBytes(json, items)), createGzip(), new Writable({ write: (chunk: Buffer, _, done) => void out.write(chunk).then(() => done(), done) }));
      await out.sync();
    });
    await rename(partial, file);
    return (await lstat(file)).size;
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
};

/** Where a restore writes each entry: events in archive order, after the entry passed every check. */
export interface ArchiveSink {
  dir(h: TarHeader): Promise<void>;
  file(h: TarHeader): Promise<{ write(chunk: Buffer): Promise<void>; close(): Promise<void> }>;
  symlink(h: TarHeader): Promise<void>;
  link(h: TarHeader): Promise<void>;
  /** After the last entry (directory modes and times go on last); not called when reading failed. */
  finish(): Promise<void>;
}

export interface ReadOptions {
  /** Most bytes of file content the archive may hold (jobs.backup.maxSize). */
  readonly maxBytes: number;
  /** Throws when the manifest does not fit where it is restored (pod, containers, mounts). */
  readonly fits?: (manifest: Manifest) => void;
  /** Without one, the archive is only read and checked: nothing is written anywhere. */
  readonly sink?: ArchiveSink;
}

/** Directory headers a format-1 archive may hold beyond its listed files (it did not list directories). */
const FORMAT1_DIRS_MAX = 100_000;

/** Everything after the manifest may take at most this: each entry's headers and its content, padded. */
const budgetAfterManifest = (manifest: Manifest, implicitDirs: boolean): number => {
  const perEntry = 2 * BLOCK + PAX_MAX_BYTES;
  const data = manifest.entries.reduce((n, e) => n + (e.type === "file" ? Math.ceil(e.size / BLOCK) * BLOCK : 0), 0);
  const unlisted = implicitDirs ? FORMAT1_DIRS_MAX * perEntry : 0;
  return (manifest.entries.length + structuralDirs(manifest.mounts).size) * perEntry + unlisted + data + END_OF_ARCHIVE.length;
};

const readManifest = async (r: ByteReader, maxBytes: number) => {
  const h = await readHeader(r);
  if (h?.path !== MANIFEST_NAME || h.type !== "file") throw new ArchiveError("altered", `${MANIFEST_NAME} is not its first entry: not a podwarden backup`);
  if (h.size > MANIFEST_MAX_BYTES) throw new ArchiveError("too-big", `${MANIFEST_NAME} is ${h.size} bytes (at most ${MANIFEST_MAX_BYTES})`);
  const body = h.size === 0 ? Buffer.alloc(0) : await r.exactly(h.size, MANIFEST_NAME);
  if (body === undefined) throw new ArchiveError("damaged", `truncated (in ${MANIFEST_NAME})`);
  await skipPadding(r, h.size);
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new ArchiveError("altered", `${MANIFEST_NAME} is not UTF-8`);
  }
  const verdict = checkManifest(text, maxBytes);
  if ("problem" in verdict) throw new ArchiveError(/more than the limit/.test(verdict.problem) ? "too-big" : "altered", `${MANIFEST_NAME}: ${verdict.problem}`);
  return verdict.ok;
};

/** Checks one entry's header against the manifest and what came before; returns what it is listed as. */
const admit = (h: TarHeader, ctx: { manifest: Manifest; implicitDirs: boolean; listed: Map<string, ManifestEntry>; structural: ReadonlySet<string>; seen: Map<string, TarHeader> }): ManifestEntry | "structure" => {
  const refuse = (why: string): never => {
    throw new ArchiveError("altered", `entry ${JSON.stringify(h.path)}: ${why}`, h.path);
  };
  const problem = archivePathProblem(h.path);
  if (problem) refuse(problem);
  if (ctx.seen.has(h.path)) refuse("appears twice");
  if (ctx.structural.has(h.path)) return h.type === "dir" ? "structure" : refuse("must be a directory");
  const m = mountOf(ctx.manifest.mounts, h.path);
  const listed = ctx.listed.get(h.path) ?? (ctx.implicitDirs && m && h.type === "dir" ? ({ path: h.path, type: "dir" } as const) : undefined);
  if (!m || !listed) return refuse("not in the manifest");
  if (listed.type !== h.type) refuse(`a ${h.type} in the archive, a ${listed.type} in the manifest`);
  if (h.path !== m.path && ctx.seen.get(parentOf(h.path))?.type !== "dir") refuse(`comes before its directory ${parentOf(h.path)}, or that is not a directory`);
  if (listed.type === "file" && listed.size !== h.size) throw new ArchiveError("too-big", `entry ${JSON.stringify(h.path)}: ${h.size} bytes in the archive, ${listed.size} in the manifest`, h.path);
  if ((listed.type === "symlink" || listed.type === "link") && listed.target !== h.linkTarget) refuse(`links to ${JSON.stringify(h.linkTarget)}, the manifest says ${JSON.stringify(listed.target)}`);
  if (listed.type === "link" && ctx.seen.get(listed.target)?.type !== "file") refuse(`hard link to ${JSON.stringify(listed.target)}, which is not a file before it`);
  return listed;
};

const readEntries = async (r: ByteReader, manifest: Manifest, implicitDirs: boolean, sink: ArchiveSink | undefined): Promise<void> => {
  const ctx = { manifest, implicitDirs, listed: new Map(manifest.entries.map((e) => [e.path, e])), structural: structuralDirs(manifest.mounts), seen: new Map<string, TarHeader>() };
  for (let h = await readHeader(r); h !== undefined; h = await readHeader(r)) {
    const listed = admit(h, ctx);
    ctx.seen.set(h.path, h);
    if (listed === "structure") continue;
    if (listed.type === "file") {
      const hash = createHash("sha256");
      const out = await sink?.file(h);
      try {
        await r.stream(h.size, h.path, async (chunk) => {
          hash.update(chunk);
          await out?.write(chunk);
        });
      } finally {
        await out?.close();
      }
      await skipPadding(r, h.size);
      if (hash.digest("hex") !== listed.sha256) throw new ArchiveError("damaged", `entry ${JSON.stringify(h.path)} does not match its checksum`, h.path);
    } else await sink?.[listed.type](h);
  }
  const missing = manifest.entries.find((e) => !ctx.seen.has(e.path)) ?? manifest.mounts.find((m) => !ctx.seen.has(m.path));
  if (missing) throw new ArchiveError("damaged", `${missing.path} is missing from the archive`, missing.path);
  await sink?.finish();
};

/**
 * Reads `file` once from start to end: the manifest (checked, then `fits`), then every entry
 * against it, streaming each to `sink` if there is one. Refuses with an ArchiveError (or the
 * sink's PodwardenError) naming the entry at fault; never throws anything untyped.
 */
export const readArchive = async (file: string, opts: ReadOptions): Promise<Manifest> => {
  let handle: FileHandle | undefined;
  let feeding: Promise<void> | undefined;
  const gunzip = createGunzip();
  try {
    handle = await open(file, READ_FLAGS & ~constants.O_NOFOLLOW);
    if (!(await handle.stat()).isFile()) throw new PodwardenError("E_RESTORE", `${file} is not a regular file`);
    // Errors of the file or of gzip reach the reader through gunzip's iterator; this promise only says when reading stopped.
    feeding = pipeline(Readable.from(chunksOf(handle)), gunzip).catch(() => undefined);
    const r = new ByteReader(gunzip, 2 * (BLOCK + PAX_MAX_BYTES) + MANIFEST_MAX_BYTES);
    const { manifest, implicitDirs } = await readManifest(r, opts.maxBytes);
    opts.fits?.(manifest);
    r.budget = r.taken + budgetAfterManifest(manifest, implicitDirs);
    await readEntries(r, manifest, implicitDirs, opts.sink);
    return manifest;
  } catch (err) {
    if (err instanceof ArchiveError) throw new ArchiveError(err.fault, `${file}: refused (archive ${err.fault}): ${err.message}`, err.entry, err);
    if (err instanceof PodwardenError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new PodwardenError("E_RESTORE", code === "ENOENT" ? `${file}: no such file` : `${file}: cannot be read: ${errorMessage(err)}`, { cause: err });
  } finally {
    gunzip.destroy();
    await feeding;
    await handle?.close();
  }
};

/**
 * Creates each entry under the directory its mount is restored to (`roots`: mount archive path
 * -> host directory, which must not exist yet). Everything is created new (O_EXCL, mkdir),
 * nothing is opened through a link, and an entry's parent is always a directory this writer
 * made (the reader refuses anything else), so no write resolves outside its root.
 */
export const treeWriter = (roots: ReadonlyMap<string, string>): ArchiveSink => {
  const dirs: TarHeader[] = [];
  const host = (archivePath: string): string => {
    for (const [at, root] of roots) {
      if (archivePath === at) return root;
      if (archivePath.startsWith(`${at}/`)) return root + archivePath.slice(at.length);
    }
    throw new PodwardenError("E_INTERNAL", `${archivePath} belongs to no mount being restored`);
  };
  const failing =
    <A extends unknown[], T>(what: (...a: A) => string, fn: (...a: A) => Promise<T>) =>
    async (...a: A): Promise<T> => {
      try {
        return await fn(...a);
      } catch (err) {
        if (err instanceof PodwardenError) throw err;
        throw new PodwardenError("E_RESTORE", `cannot write ${what(...a)}: ${errorMessage(err)}`, { cause: err });
      }
    };
  const owner = (p: string, h: TarHeader): Promise<void> => (isRoot ? lchown(p, h.uid, h.gid) : Promise.resolve());
  return {
    dir: failing(
      (h) => host(h.path),
      async (h) => {
        await mkdir(host(h.path), { mode: 0o700 });
        dirs.push(h);
      },
    ),
    file: failing(
      (h) => host(h.path),
      async (h) => {
        const p = host(h.path);
        const fh = await open(p, CREATE_FLAGS, 0o600);
        let closed = false;
        return {
          write: failing(
            (_: Buffer) => p,
            async (chunk: Buffer) => void (await fh.write(chunk)),
          ),
          close: failing(
            () => p,
            async () => {
              if (closed) return;
              closed = true;
              try {
                if (isRoot) await fh.chown(h.uid, h.gid);
                await fh.chmod(fileMode(h.mode));
                await fh.utimes(h.mtime, h.mtime);
              } finally {
                await fh.close();
              }
            },
          ),
        };
      },
    ),
    symlink: failing(
      (h) => host(h.path),
      async (h) => {
        const p = host(h.path);
        await symlink(h.linkTarget, p);
        await owner(p, h);
        await lutimes(p, h.mtime, h.mtime);
      },
    ),
    link: failing(
      (h) => host(h.path),
      async (h) => link(host(h.linkTarget), host(h.path)),
    ),
    finish: failing(
      () => [...roots.values()].join(", "),
      async () => {
        for (const h of [...dirs].reverse()) {
          const p = host(h.path);
          await owner(p, h);
          await chmod(p, dirMode(h.mode));
          await utimes(p, h.mtime, h.mtime);
        }
      },
    ),
  };
};
