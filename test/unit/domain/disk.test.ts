import { describe, expect, it } from "vitest";
import { FASTEST_FILL_BYTES_PER_S, FULL_BELOW_BYTES, diskNote, diskVerdicts, formatBytes, fullContainers, nextDiskLookMs, persistedPaths, saysOutOfSpace, type FsSample } from "../../../src/domain/disk.js";
import { emptyHistory, type ContainerHistory } from "../../../src/domain/history.js";
import type { MountSpec } from "../../../src/domain/spec.js";
import { chainSpec, container } from "../../support/pod-spec.js";

const mount = (source: string, over: Partial<MountSpec> = {}): MountSpec => ({ source, target: `/t${source}`, readOnly: false, optional: false, create: true, ...over });

const spec = chainSpec({
  containers: [
    container("valkey", [], { mounts: [mount("/p/valkey")] }),
    // Two persisted directories on different filesystems; a read-only and a plain bind mount that are not persisted data.
    container("opencode", ["valkey"], { mounts: [mount("/p/opencode"), mount("/big/ws"), mount("/etc/x", { readOnly: true }), mount("/sock", { create: false })] }),
    container("agent", ["opencode"]),
  ],
});

const MiB = 1024 * 1024;
const sample = (path: string, freeBytes: number, filesystem = "/p"): FsSample => ({ path, filesystem, freeBytes, sizeBytes: 16 * MiB, at: 1_000 });
const samples = (...s: FsSample[]) => new Map(s.map((x) => [x.path, x]));

/** The message Valkey 8.0's PING returns after a failed BGSAVE (stop-writes-on-bgsave-error), as the redis probe reports it. */
const MISCONF =
  "server replied MISCONF Valkey is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during";

const running = (over: Partial<ContainerHistory> = {}): ContainerHistory => ({ ...emptyHistory(), running: true, ready: true, ...over });
const failedProbe = (message: string, over: Partial<ContainerHistory> = {}) => running({ lastProbe: { ok: false, ms: 1, at: 900, message }, consecutiveFailures: 3, ...over });

describe("persisted filesystems and out-of-space verdicts", () => {
  it("knows each container's persisted directories: create mounts that are writable; containers without any have none", () => {
    expect(Object.fromEntries(persistedPaths(spec))).toEqual({ valkey: ["/p/valkey"], opencode: ["/p/opencode", "/big/ws"] });
  });

  const cases: { name: string; samples: Map<string, FsSample>; history?: [string, ContainerHistory][]; full: string[]; reasons?: Record<string, string | null> }[] = [
    { name: "nothing sampled yet: no verdicts, nothing full", samples: samples(), full: [] },
    { name: "plenty of space everywhere: nothing full", samples: samples(sample("/p/valkey", 8 * MiB), sample("/p/opencode", 8 * MiB), sample("/big/ws", 900 * MiB, "/big")), full: [] },
    {
      name: "free space below the threshold: full",
      samples: samples(sample("/p/valkey", FULL_BELOW_BYTES - 1), sample("/p/opencode", FULL_BELOW_BYTES - 1), sample("/big/ws", 900 * MiB, "/big")),
      full: ["valkey", "opencode"],
      reasons: { valkey: "filesystem full", opencode: "filesystem full" },
    },
    { name: "exactly the threshold free: not full", samples: samples(sample("/p/valkey", FULL_BELOW_BYTES)), full: [] },
    {
      name: "the fullest of a container's filesystems counts",
      samples: samples(sample("/p/opencode", 900 * MiB), sample("/big/ws", 0, "/big")),
      full: ["opencode"],
    },
    {
      name: "Valkey refusing PING with MISCONF counts as full though space came back (its failed snapshot was removed)",
      samples: samples(sample("/p/valkey", 8 * MiB)),
      history: [["valkey", failedProbe(MISCONF)]],
      full: ["valkey"],
      reasons: { valkey: `it cannot write its data (probe: ${MISCONF})` },
    },
    {
      name: "full and MISCONF: both reasons",
      samples: samples(sample("/p/valkey", 0)),
      history: [["valkey", failedProbe(MISCONF)]],
      full: ["valkey"],
      reasons: { valkey: `filesystem full; it cannot write its data (probe: ${MISCONF})` },
    },
    { name: "a probe failing for another reason is not a full disk", samples: samples(sample("/p/valkey", 8 * MiB)), history: [["valkey", failedProbe("connect ECONNREFUSED 127.0.0.1:6380")]], full: [] },
    { name: "a MISCONF probe of an instance that has exited no longer counts", samples: samples(sample("/p/valkey", 8 * MiB)), history: [["valkey", failedProbe(MISCONF, { running: false })]], full: [] },
    { name: "a passing probe after MISCONF: not full", samples: samples(sample("/p/valkey", 8 * MiB)), history: [["valkey", running({ lastProbe: { ok: true, ms: 1, at: 900, message: "PONG" } })]], full: [] },
  ];

  it.each(cases)("$name", ({ samples: s, history, full, reasons }) => {
    const v = diskVerdicts(spec, s, new Map(history ?? []));
    expect([...fullContainers(v)].sort()).toEqual([...full].sort());
    for (const [name, reason] of Object.entries(reasons ?? {})) expect(v.get(name)?.reason).toBe(reason);
    expect(v.has("agent")).toBe(false);
  });

  it("recognises the messages of servers that cannot write, and nothing else", () => {
    for (const m of [MISCONF, "write /data/x: no space left on device", "ENOSPC", "EDQUOT: Disk quota exceeded", "HTTP 500: SQLITE_FULL: database or disk is full"]) expect([m, saysOutOfSpace(m)]).toEqual([m, true]);
    for (const m of ["PONG", "connect ECONNREFUSED 127.0.0.1:6380", "timed out after 2000 ms", "server replied LOADING Valkey is loading the dataset in memory", "HTTP 401"]) {
      expect([m, saysOutOfSpace(m)]).toEqual([m, false]);
    }
  });

  it("writes sizes the way df -h does, in binary units", () => {
    expect([0, 512, 1024, 1536, 16 * MiB, 3.94 * MiB, 250 * 1024 * MiB, 5 * 1024 * 1024 * MiB].map(formatBytes)).toEqual(["0 B", "512 B", "1.0 KiB", "1.5 KiB", "16.0 MiB", "3.9 MiB", "250 GiB", "5.0 TiB"]);
  });

  it("the note names the container, the filesystem, the directory, the free space and why, and says restarts are held off", () => {
    const v = diskVerdicts(spec, samples(sample("/p/valkey", 4096, "/srv/persist")), new Map([["valkey", failedProbe(MISCONF)]])).get("valkey")!;
    expect(diskNote("valkey", v)).toBe(
      `valkey: out of disk space: filesystem /srv/persist (holding /p/valkey) has 4.0 KiB free of 16.0 MiB: filesystem full; it cannot write its data (probe: ${MISCONF}); ` +
        "liveness restarts are held off (a restart frees no space and loses what it holds in memory) until it can write again",
    );
  });
});

describe("nextDiskLookMs: how soon the filesystems are looked at again", () => {
  const at = (freeBytes: number, path = "/p"): FsSample => ({ path, filesystem: "/", freeBytes, sizeBytes: 100 * 1024 ** 3, at: 0 });
  const GiB = 1024 ** 3;

  it("soon when one is near full or full, seldom when all have room; the tightest decides", () => {
    expect(nextDiskLookMs([], 5_000, 60_000)).toBe(5_000); // nothing known yet
    expect(nextDiskLookMs([at(0)], 5_000, 60_000)).toBe(5_000); // full: to see it writable again
    expect(nextDiskLookMs([at(200 * 1024 ** 2)], 5_000, 60_000)).toBe(5_000);
    expect(nextDiskLookMs([at(100 * GiB)], 5_000, 60_000)).toBe(60_000);
    // 10 s of room at the fastest fill rate: looked at again in 10 s.
    expect(nextDiskLookMs([at(FULL_BELOW_BYTES + 10 * FASTEST_FILL_BYTES_PER_S)], 5_000, 60_000)).toBe(10_000);
    expect(nextDiskLookMs([at(100 * GiB, "/a"), at(FULL_BELOW_BYTES + 10 * FASTEST_FILL_BYTES_PER_S, "/b")], 5_000, 60_000)).toBe(10_000);
  });
});
