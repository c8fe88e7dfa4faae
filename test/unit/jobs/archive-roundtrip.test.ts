// Property: every archive a backup writes restores to the same tree. Trees come from a small
// seeded generator (files, directories, empty directories, relative and absolute symlinks,
// links that leave the tree, hard links, names with spaces, unicode, leading dashes, newlines,
// long names, modes, owners, times), go through the backup layer (copy, describe, pack) and
// the restore layer (read, check, unpack), and must come out identical. The seed of a failing
// case is in the assertion message.

import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, lchown, link, lstat, lutimes, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tarFs from "tar-fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Manifest, ManifestMount } from "../../../src/domain/backup.js";
import { copyTree, describeTree, packArchive, readArchive, treeWriter } from "../../../src/jobs/archive.js";
import { mulberry32 } from "../../support/prng.js";

const CASES = 200;
const isRoot = process.getuid?.() === 0;

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
const prng = (seed: number) => {
  const next = mulberry32(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  return { next, int, pick };
};

const NAMES = ["a", "data.db", "with space", "-rf", "--help", "ünïcødé", "日本語", "emoji-🙂", "line\nbreak", "tab\there", ".hidden", "x".repeat(120), "ends-with-space ", "'quote\"", "back\\slash", "n".repeat(250)];
const LINK_TARGETS = ["../../../../etc", "/etc/passwd", "/nonexistent/abs", "sibling", "../", ".", "sub/dir/file", "dangling-😀", "x".repeat(300)];

type Rng = ReturnType<typeof prng>;

/** Writes a random tree under `root` (which it creates); returns the number of entries. */
const generate = async (rng: Rng, root: string): Promise<number> => {
  await mkdir(root);
  const dirs = [root];
  const files: string[] = [];
  const count = rng.int(0, 30);
  const when = (): number => rng.int(946_684_800, 1_900_000_000);
  const owner = async (p: string): Promise<void> => {
    if (isRoot && rng.next() < 0.5) await lchown(p, rng.int(0, 70_000), rng.int(0, 70_000));
  };
  for (let i = 0; i < count; i++) {
    const parent = rng.pick(dirs);
    const name = `${rng.pick(NAMES)}${rng.next() < 0.5 ? "" : `.${i}`}`;
    const p = join(parent, name);
    if (Buffer.byteLength(name) > 255 || (await lstat(p).then(() => true, () => false))) continue;
    const kind = rng.next();
    if (kind < 0.4) {
      const size = rng.pick([0, 1, 511, 512, 513, rng.int(0, 5000), rng.int(0, 5000), rng.int(200_000, 600_000)]);
      const bytes = Buffer.alloc(size);
      for (let j = 0; j < size; j += 97) bytes[j] = rng.int(0, 255);
      await writeFile(p, bytes);
      await chmod(p, rng.int(0, 0o777));
      await owner(p);
      await utimes(p, when(), when());
      files.push(p);
    } else if (kind < 0.65) {
      await mkdir(p);
      dirs.push(p);
    } else if (kind < 0.85) {
      await symlink(rng.pick(LINK_TARGETS), p);
      await owner(p);
      await lutimes(p, when(), when());
    } else if (files.length > 0) {
      await link(rng.pick(files), p);
    }
  }
  // Directory modes and times last (children change a directory's mtime); deepest first.
  for (const d of dirs.reverse()) {
    await chmod(d, rng.pick([0o755, 0o700, 0o750, 0o2770, 0o1777, 0o555, rng.int(0, 0o777)]));
    await owner(d);
    await utimes(d, when(), when());
  }
  return count;
};

interface Seen {
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
  readonly content?: string;
  readonly target?: string;
  /** The first path (sorted) of the file's inode: hard links compare by it. */
  readonly inode?: string;
}

/** Everything observable of a tree, by relative path. */
const observe = async (root: string): Promise<Record<string, Seen>> => {
  const out: Record<string, Seen> = {};
  const inodes = new Map<number, string>();
  const walk = async (abs: string, rel: string): Promise<void> => {
    const st = await lstat(abs);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
    if (st.isDirectory()) {
      out[rel] = { type: "dir", ...base };
      for (const n of (await readdir(abs)).sort()) await walk(join(abs, n), rel === "" ? n : `${rel}/${n}`);
    } else if (st.isSymbolicLink()) {
      out[rel] = { type: "symlink", ...base, mode: 0, target: await readlink(abs) };
    } else {
      if (!inodes.has(st.ino)) inodes.set(st.ino, rel);
      out[rel] = { type: "file", ...base, content: createHash("sha256").update(await readFile(abs)).digest("hex"), inode: inodes.get(st.ino)! };
    }
  };
  await walk(root, "");
  return out;
};

describe("archive round trip (property)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-roundtrip-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`${CASES} generated trees: backup -> restore gives the same tree`, async () => {
    let entries = 0;
    for (let seed = 1; seed <= CASES; seed++) {
      const work = join(dir, String(seed));
      await mkdir(join(work, "staging/data/app"), { recursive: true });
      entries += await generate(prng(seed), join(work, "src"));
      const mounts: ManifestMount[] = [{ container: "app", source: join(work, "src"), target: "/data", path: "data/app/0" }];
      expect(await copyTree(join(work, "src"), join(work, "staging/data/app/0"))).toEqual([]);
      const items = await describeTree(join(work, "staging"), mounts);
      const list = items.map((i) => i.entry);
      const bytes = list.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
      const manifest: Manifest = { format: 2, pod: "p", podSpecHash: null, createdAt: "x", finishedAt: "x", containers: {}, mounts, entries: list, bytes };
      await packArchive(manifest, items, join(work, "a.tar.gz"));
      await readArchive(join(work, "a.tar.gz"), { maxBytes: 2 ** 30, sink: treeWriter(new Map([["data/app/0", join(work, "out")]])) });
      expect(await observe(join(work, "out")), `seed ${seed}`).toEqual(await observe(join(work, "src")));
      await rm(work, { recursive: true, force: true });
    }
    console.log(`archive round trip: ${CASES} trees, ${entries} generated entries, all restored identical`);
  }, 300_000);
});

describe("archives of the first format (written by podwarden 0.1 with tar-fs)", () => {
  it("still restore: files checked against the manifest, directories implied", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pw-format1-"));
    try {
      const data = join(dir, "staging/data/app/0");
      await mkdir(join(data, "sub/empty"), { recursive: true });
      await writeFile(join(data, "dump.rdb"), "rdb");
      await writeFile(join(data, "sub/x y"), "x");
      const files = [
        { path: "data/app/0/dump.rdb", size: 3, sha256: createHash("sha256").update("rdb").digest("hex") },
        { path: "data/app/0/sub/x y", size: 1, sha256: createHash("sha256").update("x").digest("hex") },
      ];
      const mounts = [{ container: "app", source: "/srv/app", target: "/data", path: "data/app/0" }];
      await writeFile(join(dir, "staging/manifest.json"), JSON.stringify({ format: 1, pod: "p", createdAt: "x", finishedAt: "x", containers: {}, mounts, files, bytes: 4 }));
      await pipeline(tarFs.pack(join(dir, "staging"), { entries: ["manifest.json", "data"] }), createGzip(), createWriteStream(join(dir, "old.tar.gz")));
      const m = await readArchive(join(dir, "old.tar.gz"), { maxBytes: 100, sink: treeWriter(new Map([["data/app/0", join(dir, "out")]])) });
      expect(m.entries).toEqual(files.map((f) => ({ ...f, type: "file" })));
      expect(await observe(join(dir, "out"))).toEqual(await observe(data));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
