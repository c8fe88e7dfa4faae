// jobs/archive.ts, case by case (the round trip and crafted archives have property and fuzz
// tests of their own): what the copy skips and refuses, what a backup archive lists, that a
// failed pack leaves nothing, and how reading refuses a file that is not an archive, an archive
// that does not fit, or a place to restore to that already exists.

import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Manifest, ManifestMount } from "../../../src/domain/backup.js";
import { copyTree, describeTree, packArchive, readArchive, treeWriter, type PackItem } from "../../../src/jobs/archive.js";
import { PodwardenError } from "../../../src/lib/errors.js";

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), "pw-archive-"));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const MOUNT: ManifestMount = { container: "app", source: "/persist/app", target: "/data", path: "data/app/0" };

/** A small tree under work/src: a file, an empty file, a subdirectory, a symlink and a hard link. */
const sourceTree = async (): Promise<string> => {
  const src = join(work, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "a.txt"), "hello\n");
  await writeFile(join(src, "sub", "empty"), "");
  await symlink("../a.txt", join(src, "sub", "link"));
  execFileSync("ln", [join(src, "a.txt"), join(src, "hard")]);
  return src;
};

/** Copies the tree to staging, lists it and packs it; returns the archive path and its manifest. */
const backup = async (src: string): Promise<{ file: string; manifest: Manifest; items: PackItem[] }> => {
  await mkdir(join(work, "staging", "data", "app"), { recursive: true });
  expect(await copyTree(src, join(work, "staging", MOUNT.path))).toEqual([]);
  const items = await describeTree(join(work, "staging"), [MOUNT]);
  const entries = items.map((i) => i.entry);
  const bytes = entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
  const manifest: Manifest = { format: 2, pod: "p", podSpecHash: null, createdAt: "x", finishedAt: "x", containers: {}, mounts: [MOUNT], entries, bytes };
  const file = join(work, "backup.tar.gz");
  await packArchive(manifest, items, file);
  return { file, manifest, items };
};

const rejection = async (p: Promise<unknown>): Promise<PodwardenError> => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PodwardenError);
  return err as PodwardenError;
};

describe("copyTree", () => {
  it("skips FIFOs and sockets (not data) and returns them", async () => {
    const src = join(work, "src");
    await mkdir(src);
    await writeFile(join(src, "keep"), "x");
    execFileSync("mkfifo", [join(src, "pipe")]);
    const skipped = await copyTree(src, join(work, "copy"));
    expect(skipped).toEqual([join(src, "pipe")]);
    expect(await readdir(join(work, "copy"))).toEqual(["keep"]);
  });

  it("refuses a persisted directory that is a link, naming it", async () => {
    await mkdir(join(work, "real"));
    await symlink(join(work, "real"), join(work, "src"));
    const err = await rejection(copyTree(join(work, "src"), join(work, "copy")));
    expect(err.code).toBe("E_BACKUP");
    expect(err.message).toContain(`${join(work, "src")} is not a directory`);
  });

  it("refuses a name that is not UTF-8 (it could not be listed in the manifest)", async () => {
    const src = join(work, "src");
    await mkdir(src);
    await writeFile(Buffer.from(`${src}/bad-\xff-name`, "latin1"), "x");
    const err = await rejection(copyTree(src, join(work, "copy")));
    expect(err.code).toBe("E_BACKUP");
    expect(err.message).toMatch(/is not UTF-8/);
  });
});

describe("describeTree + packArchive", () => {
  it("lists parents before children: files with size and checksum, symlinks with their target, a second name as a link", async () => {
    const { manifest } = await backup(await sourceTree());
    expect(manifest.entries).toEqual([
      { path: "data/app/0", type: "dir" },
      { path: "data/app/0/a.txt", type: "file", size: 6, sha256: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03" },
      { path: "data/app/0/hard", type: "link", target: "data/app/0/a.txt" },
      { path: "data/app/0/sub", type: "dir" },
      { path: "data/app/0/sub/empty", type: "file", size: 0, sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
      { path: "data/app/0/sub/link", type: "symlink", target: "../a.txt" },
    ]);
  });

  it("a failed pack leaves neither the archive nor a partial file", async () => {
    const { manifest, items } = await backup(await sourceTree());
    // The staged file grows after it was listed: packing notices and gives up.
    await writeFile(join(work, "staging", MOUNT.path, "a.txt"), "hello, and more\n");
    const file = join(work, "second.tar.gz");
    const err = await rejection(packArchive(manifest, items, file));
    expect(err.message).toMatch(/changed size while it was packed/);
    expect((await readdir(work)).filter((n) => n.startsWith("second"))).toEqual([]);
  });
});

describe("readArchive", () => {
  it("round trip: the manifest comes back, and the tree is written under the mount's new root", async () => {
    const { file, manifest } = await backup(await sourceTree());
    const out = join(work, "out");
    expect(await readArchive(file, { maxBytes: 1 << 20, sink: treeWriter(new Map([[MOUNT.path, out]])) })).toEqual(manifest);
    expect((await readdir(out)).sort()).toEqual(["a.txt", "hard", "sub"]);
    expect((await lstat(join(out, "hard"))).nlink).toBe(2);
  });

  it("without a sink only checks: nothing is written", async () => {
    const { file } = await backup(await sourceTree());
    const before = (await readdir(work)).sort();
    await readArchive(file, { maxBytes: 1 << 20 });
    expect((await readdir(work)).sort()).toEqual(before);
  });

  it("refuses an archive that does not fit before writing anything", async () => {
    const { file } = await backup(await sourceTree());
    const out = join(work, "out");
    const fits = (m: Manifest): void => {
      throw new PodwardenError("E_RESTORE", `made for pod ${m.pod}, not this one`);
    };
    const err = await rejection(readArchive(file, { maxBytes: 1 << 20, fits, sink: treeWriter(new Map([[MOUNT.path, out]])) }));
    expect(err.message).toBe("made for pod p, not this one");
    await expect(lstat(out)).rejects.toThrow(/ENOENT/);
  });

  it("refuses content beyond maxBytes (jobs.backup.maxSize)", async () => {
    const { file } = await backup(await sourceTree());
    const err = await rejection(readArchive(file, { maxBytes: 3 }));
    expect(err.message).toMatch(/refused \(archive too-big\)/);
  });

  it("will not restore over an existing directory", async () => {
    const { file } = await backup(await sourceTree());
    const out = join(work, "out");
    await mkdir(out);
    const err = await rejection(readArchive(file, { maxBytes: 1 << 20, sink: treeWriter(new Map([[MOUNT.path, out]])) }));
    expect(err.code).toBe("E_RESTORE");
    expect(err.message).toMatch(new RegExp(`cannot write ${out}: .*EEXIST`));
  });

  it("a missing file, a directory and a file that is not gzip: typed refusals naming the file", async () => {
    const missing = await rejection(readArchive(join(work, "nope.tar.gz"), { maxBytes: 1 }));
    expect(missing.message).toBe(`${join(work, "nope.tar.gz")}: no such file`);
    const dir = await rejection(readArchive(work, { maxBytes: 1 }));
    expect(dir.message).toBe(`${work} is not a regular file`);
    await writeFile(join(work, "notes.txt"), "not an archive\n");
    const text = await rejection(readArchive(join(work, "notes.txt"), { maxBytes: 1 }));
    expect(text.code).toBe("E_RESTORE");
    expect(text.message).toMatch(new RegExp(`^${join(work, "notes.txt")}: refused \\(archive damaged\\)`));
  });
});
