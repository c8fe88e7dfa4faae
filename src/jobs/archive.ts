// Archives on disk: copy a directory tree, checksum it, pack it (manifest first) as .tar.gz
// through a temporary name, unpack it, and check it against its manifest.

import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { cp, lstat, open, readFile, readdir, rename, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import tar from "tar-fs";
import { MANIFEST_NAME, type Manifest, type ManifestFile } from "../domain/backup.js";
import { PodwardenError } from "../lib/errors.js";

/** Copies `from` into `to` (which must not exist), keeping modes, owners and times. */
export const copyTree = (from: string, to: string): Promise<void> =>
  cp(from, to, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, errorOnExist: true, force: false });

const sha256File = async (path: string): Promise<string> => {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
};

/** Every regular file under `root`, as paths relative to `base`, with size and checksum (sorted). */
export const hashTree = async (root: string, base: string): Promise<ManifestFile[]> => {
  const out: ManifestFile[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.push({ path: relative(base, path), size: (await lstat(path)).size, sha256: await sha256File(path) });
    }
  };
  await walk(root);
  return out.sort((a, b) => a.path.localeCompare(b.path));
};

/**
 * Packs `dir` (manifest.json first, so a reader finds it at the head) into `file`. Written under
 * a temporary name, synced, then renamed: `file` is either complete or absent.
 */
export const packArchive = async (dir: string, entries: readonly string[], file: string): Promise<number> => {
  const partial = `${file}.partial`;
  try {
    await pipeline(tar.pack(dir, { entries: [MANIFEST_NAME, ...entries] }), createGzip(), createWriteStream(partial, { mode: 0o600 }));
    const handle = await open(partial, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(partial, file);
    return (await lstat(file)).size;
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
};

/** Unpacks `file` into `dir`, keeping owners and modes as they were packed. */
export const unpackArchive = (file: string, dir: string): Promise<void> => {
  // tar-fs applies the process umask unless told otherwise (its types omit the option).
  const options: tar.ExtractOptions & { umask: number } = { umask: 0 };
  return pipeline(createReadStream(file), createGunzip(), tar.extract(dir, options));
};

/** Reads an unpacked archive's manifest and checks every file against it; throws naming the first difference. */
export const verifyUnpacked = async (dir: string, archive: string): Promise<Manifest> => {
  const text = await readFile(join(dir, MANIFEST_NAME), "utf8").catch(() => {
    throw new PodwardenError("E_RESTORE", `${archive}: no ${MANIFEST_NAME}: not a podwarden backup`);
  });
  const manifest = JSON.parse(text) as Manifest;
  const found = new Map((await hashTree(join(dir, "data"), dir).catch(() => [])).map((f) => [f.path, f]));
  for (const f of manifest.files) {
    const have = found.get(f.path);
    if (!have) throw new PodwardenError("E_RESTORE", `${archive}: ${f.path} is missing from the archive`);
    if (have.size !== f.size || have.sha256 !== f.sha256) {
      throw new PodwardenError("E_RESTORE", `${archive}: ${f.path} does not match its checksum (archive damaged)`);
    }
    found.delete(f.path);
  }
  const extra = [...found.keys()][0];
  if (extra !== undefined) throw new PodwardenError("E_RESTORE", `${archive}: ${extra} is not in the manifest (archive altered)`);
  return manifest;
};
