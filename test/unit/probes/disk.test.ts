import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskSampler } from "../../../src/probes/disk.js";

/** What df says of the filesystem holding `path`: mount point, size and available bytes. */
const df = (path: string) => {
  const [, line] = execFileSync("df", ["-B1", "--output=target,size,avail", path], { encoding: "utf8" }).trim().split("\n");
  const [target, size, avail] = line!.trim().split(/\s+/);
  return { filesystem: target!, sizeBytes: Number(size), freeBytes: Number(avail) };
};

describe("the disk sampler on this host's filesystems", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-disk-sampler-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("reports the filesystem's mount point, size and free bytes as df does", async () => {
    const got = (await createDiskSampler()([dir], 123)).get(dir)!;
    const want = df(dir);
    expect({ ...got, freeBytes: 0 }).toEqual({ path: dir, filesystem: want.filesystem, sizeBytes: want.sizeBytes, freeBytes: 0, at: 123 });
    // Free space moves while other processes write: within 64 MiB of df's figure.
    expect(Math.abs(got.freeBytes - want.freeBytes)).toBeLessThan(64 * 1024 * 1024);
  });

  it("samples a directory not created yet through its nearest existing parent, and /proc as its own filesystem", async () => {
    const missing = join(dir, "not", "yet");
    const sample = createDiskSampler();
    const got = await sample([missing, "/proc/self"], 1);
    expect(got.get(missing)).toMatchObject({ path: missing, filesystem: df(dir).filesystem });
    expect(got.get("/proc/self")).toMatchObject({ filesystem: "/proc" });
  });
});
