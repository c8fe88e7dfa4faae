import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDiskSampler, type FsCalls } from "../../../src/probes/disk.js";

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

describe("the disk sampler when a filesystem does not answer (a hung network mount)", () => {
  /** /ok and /hung are filesystems of their own; statfs of /hung never returns until released. */
  const hangingFs = () => {
    let release: () => void = () => undefined;
    const hung = new Promise<void>((r) => (release = r));
    const statfsCalls: string[] = [];
    const calls: FsCalls = {
      stat: async (p) => ({ dev: p === "/" ? 1 : p.startsWith("/hung") ? 3 : 2 }),
      statfs: async (p) => {
        statfsCalls.push(p);
        if (p.startsWith("/hung")) await hung;
        return { bavail: 10, blocks: 100, bsize: 4096 };
      },
    };
    return { calls, statfsCalls, release: () => release() };
  };

  it("answers within its deadline with what did answer, keeps one call in flight per path, and asks again once it has returned", async () => {
    const fs = hangingFs();
    const sample = createDiskSampler(50, fs.calls);
    const started = performance.now();
    const first = await sample(["/ok/valkey", "/hung/opencode"], 1);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect([...first.keys()]).toEqual(["/ok/valkey"]);
    expect(first.get("/ok/valkey")).toMatchObject({ filesystem: "/ok", freeBytes: 40960, sizeBytes: 409600, at: 1 });
    await sample(["/ok/valkey", "/hung/opencode"], 2);
    expect(fs.statfsCalls.filter((p) => p === "/hung/opencode")).toHaveLength(1);
    fs.release();
    await new Promise((r) => setTimeout(r, 10));
    const later = await sample(["/ok/valkey", "/hung/opencode"], 3);
    // Answering again: a new call is made, and answers in time.
    expect(later.get("/hung/opencode")).toMatchObject({ filesystem: "/hung", at: 3 });
    expect(fs.statfsCalls.filter((p) => p === "/hung/opencode")).toHaveLength(2);
  });
});
