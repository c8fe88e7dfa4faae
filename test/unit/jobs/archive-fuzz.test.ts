// The archive reader against hostile and broken input: crafted archives (path tricks, link
// tricks, duplicates, unlisted entries, huge declared sizes, truncation, wrong sizes, trailing
// data) and seeded random damage to a good archive. Whatever comes in, the reader refuses with
// a typed error (PodwardenError, code E_RESTORE) or restores a tree, and never writes outside
// the directory it unpacks into.

import { lstat, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyTree, describeTree, packArchive, readArchive, treeWriter } from "../../../src/jobs/archive.js";
import { ArchiveError, END_OF_ARCHIVE } from "../../../src/jobs/tar.js";
import { PodwardenError } from "../../../src/lib/errors.js";
import { entry, header, sha, withManifest, type Listed } from "../../support/archive-craft.js";

const FUZZ_CASES = 400;

let box: string;
let outside: string;
let stage: string;
const root = (): string => join(stage, "0");

const h = header;
const file = (path: string, content: string): Buffer => entry(h(path, "file", Buffer.byteLength(content)), Buffer.from(content));

const mount = (over: Record<string, string> = {}) => ({ container: "c", source: "/srv/c", target: "/data", path: "data/c/0", ...over });
const manifestOf = (entries: Listed[], over: Record<string, unknown> = {}): Buffer =>
  Buffer.from(JSON.stringify({ format: 2, pod: "p", createdAt: "x", mounts: [mount()], entries, bytes: entries.reduce((n, e) => n + (e.size ?? 0), 0), ...over }));
const ROOT: Listed = { path: "data/c/0", type: "dir" };
const listedFile = (path: string, content: string): Listed => ({ path, type: "file", size: Buffer.byteLength(content), sha256: sha(content) });

/** Everything in the box except the unpack directory: must never change. */
const snapshotOutside = async (): Promise<string[]> => {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const n of (await readdir(d)).sort()) {
      const p = join(d, n);
      if (p === stage) continue;
      const st = await lstat(p);
      out.push(`${p}:${st.mode}:${st.isFile() ? sha(await readFile(p)) : ""}`);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(box);
  return out;
};

/** Every non-link entry written resolves inside the unpack directory. */
const assertContained = async (): Promise<void> => {
  const top = await realpath(stage);
  const walk = async (d: string): Promise<void> => {
    for (const n of await readdir(d)) {
      const p = join(d, n);
      const st = await lstat(p);
      if (st.isSymbolicLink()) continue;
      expect((await realpath(p)).startsWith(`${top}/`), p).toBe(true);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(stage);
};

type Outcome = { ok: true } | { ok: false; err: unknown };

const restore = async (tar: Buffer, opts: { gzip?: boolean; maxBytes?: number } = {}): Promise<Outcome> => {
  await rm(stage, { recursive: true, force: true });
  await mkdir(stage);
  const archive = `${box}.archive.tar.gz`;
  await writeFile(archive, opts.gzip === false ? tar : gzipSync(tar));
  const before = await snapshotOutside();
  let outcome: Outcome;
  try {
    await readArchive(archive, { maxBytes: opts.maxBytes ?? 10_000_000, sink: treeWriter(new Map([["data/c/0", root()]])) });
    outcome = { ok: true };
  } catch (err) {
    outcome = { ok: false, err };
  }
  await rm(archive);
  expect(await snapshotOutside()).toEqual(before);
  await assertContained();
  return outcome;
};

const refused = async (tar: Buffer, fault: string, message: RegExp, opts?: { gzip?: boolean; maxBytes?: number }): Promise<ArchiveError> => {
  const o = await restore(tar, opts);
  if (o.ok) throw new Error("accepted");
  expect(o.err).toBeInstanceOf(ArchiveError);
  const e = o.err as ArchiveError;
  expect(e.code).toBe("E_RESTORE");
  expect([e.fault, e.message]).toEqual([fault, expect.stringMatching(message)]);
  return e;
};

beforeAll(async () => {
  box = await mkdtemp(join(tmpdir(), "pw-fuzz-"));
  outside = join(box, "outside");
  stage = join(box, "stage");
  await mkdir(outside);
  await writeFile(join(outside, "sentinel"), "host data");
});
afterAll(async () => {
  await rm(box, { recursive: true, force: true });
  await rm(`${box}.archive.tar.gz`, { force: true });
});

describe("crafted archives are refused, naming the entry, with nothing written outside", () => {
  it("a good crafted archive restores (the crafting is right)", async () => {
    const m = manifestOf([ROOT, listedFile("data/c/0/f", "hello"), { path: "data/c/0/l", type: "symlink", target: "../../outside" }]);
    expect(await restore(withManifest(m, entry(h("data/c/0", "dir")), file("data/c/0/f", "hello"), entry(h("data/c/0/l", "symlink", 0, "../../outside"))))).toEqual({ ok: true });
    expect(await readFile(join(root(), "f"), "utf8")).toBe("hello");
  });

  it("a manifest mount path with ..", async () => {
    const m = manifestOf([{ path: "data/c/../../outside", type: "dir" }], { mounts: [mount({ path: "data/c/../../outside" })] });
    await refused(withManifest(m), "altered", /mounts\[0\]\.path .*"\.\." path segment/);
  });

  it("an entry path with .. (not listed)", async () => {
    await refused(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir")), file("data/c/0/../../outside/x", "x")), "altered", /data\/c\/0\/\.\.\/\.\.\/outside\/x.*"\.\." path segment/);
  });

  it("an absolute entry path (also through a pax header)", async () => {
    const abs = join(outside, "planted");
    await refused(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir")), file(abs, "x")), "altered", /an absolute path/);
    await refused(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir")), file(`${"/x".repeat(80)}`, "x")), "altered", /an absolute path/);
  });

  it("an entry not in the manifest", async () => {
    const e = await refused(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir")), file("data/c/0/extra", "x")), "altered", /"data\/c\/0\/extra": not in the manifest/);
    expect(e.entry).toBe("data/c/0/extra");
  });

  it("a symlink as the mount's directory (would make the persisted directory a link)", async () => {
    await refused(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "symlink", 0, "../../etc"))), "altered", /a symlink in the archive, a dir in the manifest/);
  });

  it("a file written through a listed symlink (format 1: files only)", async () => {
    const m = Buffer.from(JSON.stringify({ format: 1, pod: "p", createdAt: "x", mounts: [mount()], files: [{ path: "data/c/0/l/sentinel", size: 1, sha256: sha("x") }], bytes: 1 }));
    await refused(withManifest(m, entry(h("data/c/0", "dir")), entry(h("data/c/0/l", "symlink", 0, outside)), file("data/c/0/l/sentinel", "x")), "altered", /"data\/c\/0\/l": not in the manifest/);
  });

  it("a symlink whose target differs from the manifest's", async () => {
    const m = manifestOf([ROOT, { path: "data/c/0/l", type: "symlink", target: "harmless" }]);
    await refused(withManifest(m, entry(h("data/c/0", "dir")), entry(h("data/c/0/l", "symlink", 0, "/etc"))), "altered", /links to "\/etc", the manifest says "harmless"/);
  });

  it("a hard link to a host file", async () => {
    const m = manifestOf([ROOT, listedFile("data/c/0/f", "x"), { path: "data/c/0/h", type: "link", target: "data/c/0/f" }]);
    await refused(withManifest(m, entry(h("data/c/0", "dir")), file("data/c/0/f", "x"), entry(h("data/c/0/h", "link", 0, join(outside, "sentinel")))), "altered", /links to/);
  });

  it("an entry twice", async () => {
    const m = manifestOf([ROOT, listedFile("data/c/0/f", "x")]);
    await refused(withManifest(m, entry(h("data/c/0", "dir")), file("data/c/0/f", "x"), file("data/c/0/f", "x")), "altered", /"data\/c\/0\/f": appears twice/);
  });

  it("a header declaring 1 TB for an entry the manifest lists as 5 bytes: refused before a byte is written", async () => {
    const m = manifestOf([ROOT, listedFile("data/c/0/big", "hello")]);
    await refused(withManifest(m, entry(h("data/c/0", "dir")), entry(h("data/c/0/big", "file", 2 ** 40))), "too-big", /1099511627776 bytes in the archive, 5 in the manifest/);
    await expect(lstat(join(root(), "big"))).rejects.toThrow(/ENOENT/);
  });

  it("a manifest declaring more than the limit: refused before any entry is read", async () => {
    const m = manifestOf([ROOT, { path: "data/c/0/big", type: "file", size: 2 ** 40, sha256: sha("") }]);
    await refused(withManifest(m, entry(h("data/c/0", "dir"))), "too-big", /more than the limit of 10000000 \(jobs\.backup\.maxSize\)/);
    await expect(lstat(root())).rejects.toThrow(/ENOENT/);
  });

  it("content that does not match its checksum", async () => {
    const m = manifestOf([ROOT, { ...listedFile("data/c/0/f", "hello"), sha256: sha("HELLO") }]);
    await refused(withManifest(m, entry(h("data/c/0", "dir")), file("data/c/0/f", "hello")), "damaged", /does not match its checksum/);
  });

  it("a header size larger than the body (the next header is read as content)", async () => {
    const m = manifestOf([ROOT, listedFile("data/c/0/f", "x".repeat(600))]);
    await refused(withManifest(m, entry(h("data/c/0", "dir")), entry(h("data/c/0/f", "file", 600), Buffer.from("x".repeat(3)))), "damaged", /truncated|checksum/);
  });

  it("a missing entry", async () => {
    await refused(withManifest(manifestOf([ROOT, listedFile("data/c/0/f", "x")]), entry(h("data/c/0", "dir"))), "damaged", /data\/c\/0\/f is missing/);
  });

  it("truncated anywhere", async () => {
    const good = withManifest(manifestOf([ROOT, listedFile("data/c/0/f", "hello")]), entry(h("data/c/0", "dir")), file("data/c/0/f", "hello"));
    for (const cut of [0, 100, 512, 1000, good.length - 1024, good.length - 600]) {
      const o = await restore(good.subarray(0, cut));
      expect(o.ok, `cut at ${cut}`).toBe(false);
      expect((o as { err: PodwardenError }).err.code).toBe("E_RESTORE");
    }
  });

  it("not gzip, or a damaged gzip stream", async () => {
    await refused(Buffer.from("plain text, not an archive"), "damaged", /unreadable/, { gzip: false });
    const gz = gzipSync(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir"))));
    gz[gz.length - 6]! ^= 0xff;
    await refused(gz, "damaged", /unreadable/, { gzip: false });
  });

  it("data after the end-of-archive marker, or a zero flood after it", async () => {
    const good = withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir")));
    await refused(Buffer.concat([good, file("data/c/0/late", "x")]), "altered", /data after the end-of-archive marker/);
    await refused(Buffer.concat([good, Buffer.alloc(10 * 2 ** 20)]), "altered", /bytes of padding after the end-of-archive marker/);
  });

  it("the manifest not first, or too big", async () => {
    await refused(Buffer.concat([entry(h("data/c/0", "dir")), END_OF_ARCHIVE]), "altered", /manifest\.json is not its first entry/);
    await refused(Buffer.concat([entry(h("manifest.json", "file", 2 ** 30)), END_OF_ARCHIVE]), "too-big", /manifest\.json is 1073741824 bytes/);
  });

  it("devices, FIFOs, GNU long names and global pax headers", async () => {
    for (const flag of ["3", "4", "6", "g", "L", "K", "7"]) {
      const raw = Buffer.from(entry(h("data/c/0/x", "file")));
      raw.write(flag, 156, "latin1");
      raw.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of raw.subarray(0, 512)) sum += b;
      raw.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
      await refused(withManifest(manifestOf([ROOT]), entry(h("data/c/0", "dir")), raw), "altered", /is not a file, directory or link/);
    }
  });

  it("a header whose checksum is wrong", async () => {
    const raw = Buffer.from(entry(h("data/c/0", "dir")));
    raw[0] = 0x65;
    await refused(withManifest(manifestOf([ROOT]), raw), "damaged", /checksum does not match/);
  });
});

describe("seeded random damage to a good archive", () => {
  it(`${FUZZ_CASES} mutated archives: a typed refusal or a contained tree, never anything else`, async () => {
    const src = join(box, "src");
    await mkdir(join(src, "sub"), { recursive: true });
    await writeFile(join(src, "a"), "a".repeat(2000));
    await writeFile(join(src, "sub/b"), "b");
    const { symlink, link } = await import("node:fs/promises");
    await symlink("../../outside/sentinel", join(src, "up"));
    await symlink("/etc/passwd", join(src, "abs"));
    await link(join(src, "a"), join(src, "hard"));
    const staging = join(box, "staging");
    await mkdir(join(staging, "data/c"), { recursive: true });
    await copyTree(src, join(staging, "data/c/0"));
    const mounts = [mount()];
    const items = await describeTree(staging, mounts);
    const list = items.map((i) => i.entry);
    const good = join(box, "good.tar.gz");
    await packArchive({ format: 2, pod: "p", podSpecHash: null, createdAt: "x", finishedAt: "x", containers: {}, mounts, entries: list, bytes: 2001 }, items, good);
    await rm(src, { recursive: true });
    await rm(staging, { recursive: true });
    const tar = gunzipSync(await readFile(good));
    await rm(good);

    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const tally = { accepted: 0, refused: 0 };
    for (let i = 0; i < FUZZ_CASES; i++) {
      let t = Buffer.from(tar);
      switch (rand(5)) {
        case 0: // flip a few bytes
          for (let k = 0; k <= rand(4); k++) {
            const at = rand(t.length);
            t[at] = t[at]! ^ (1 << rand(8));
          }
          break;
        case 1: // cut short
          t = t.subarray(0, rand(t.length));
          break;
        case 2: {
          // repeat a block range (duplicate headers, shifted content)
          const at = rand(t.length / 512) * 512;
          t = Buffer.concat([t.subarray(0, at), t.subarray(at, at + 512 * (1 + rand(3))), t.subarray(at)]);
          break;
        }
        case 3: // overwrite a header's size field with a huge octal number
          t.write("77777777777", rand(Math.max(1, t.length / 512 - 2)) * 512 + 124, "ascii");
          break;
        default: // random bytes in a random block
          for (let k = 0; k < 64; k++) t[rand(512) + rand(t.length / 512) * 512] = rand(256);
      }
      const o = await restore(t);
      if (o.ok) tally.accepted += 1;
      else {
        tally.refused += 1;
        expect(o.err, `case ${i}`).toBeInstanceOf(PodwardenError);
        expect((o.err as PodwardenError).code, `case ${i}: ${String(o.err)}`).toBe("E_RESTORE");
      }
    }
    console.log(`archive fuzz: ${FUZZ_CASES} mutated archives, ${tally.refused} refused (typed), ${tally.accepted} accepted (mutation in padding or unchecked header bytes), nothing outside the unpack directory`);
  }, 300_000);
});
