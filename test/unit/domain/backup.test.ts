import { describe, expect, it } from "vitest";
import { archiveName, archiveTime, backupPlan, expiredArchives } from "../../../src/domain/backup.js";
import { chainSpec, container, probe } from "../../support/pod-spec.js";

const H = 3_600_000;
const NOW = Date.parse("2026-05-10T12:00:00Z");
const at = (hoursAgo: number) => ({ name: `a-${hoursAgo}`, at: NOW - hoursAgo * H });

describe("retention", () => {
  it.each([
    { name: "keeps the newest `keep`", archives: [0, 1, 2, 3], keep: 2, maxAge: undefined, deleted: ["a-2", "a-3"] },
    { name: "fewer than `keep`: nothing", archives: [0, 1], keep: 5, maxAge: undefined, deleted: [] },
    { name: "maxAge removes older ones within `keep`", archives: [0, 1, 30, 50], keep: 10, maxAge: 24 * H, deleted: ["a-30", "a-50"] },
    { name: "the newest is never deleted, however old", archives: [100, 200], keep: 1, maxAge: 24 * H, deleted: ["a-200"] },
    { name: "order of the input does not matter", archives: [3, 0, 2, 1], keep: 3, maxAge: undefined, deleted: ["a-3"] },
  ])("$name", ({ archives, keep, maxAge, deleted }) => {
    expect(expiredArchives(archives.map(at), keep, maxAge, NOW).map((a) => a.name)).toEqual(deleted);
  });
});

describe("archive names", () => {
  it("carry the pod and the time to the millisecond, and are read back", () => {
    const t = Date.parse("2026-11-22T03:00:05.123Z");
    const name = archiveName("opencode-memory-pod", t);
    expect(name).toBe("opencode-memory-pod-20261122T030005.123Z.tar.gz");
    expect(archiveTime("opencode-memory-pod", name)).toBe(t);
  });

  it("are not mistaken for another pod's (whose name starts the same) or for temporary files", () => {
    const name = archiveName("pod-2", 0);
    expect(archiveTime("pod", name)).toBeUndefined();
    expect(archiveTime("pod-2", `${name}.partial`)).toBeUndefined();
  });
});

describe("what a backup holds", () => {
  it("containers with created, writable mounts, in start order: redis-probed ones are saved, others paused", () => {
    const data = (source: string) => ({ source, target: "/data", readOnly: false, optional: false, create: true });
    const spec = chainSpec({
      containers: [
        container("app", ["cache"], { mounts: [data("/p/app"), { ...data("/p/plugins"), readOnly: true, create: false }] }),
        container("cache", [], { probe: { ...probe(6380), kind: "redis" } as never, mounts: [data("/p/cache")] }),
        container("agent", [], { mounts: [{ ...data("/var/run/podman.sock"), create: false }] }),
      ],
    });
    expect(backupPlan(spec).map((p) => `${p.container.name}:${p.quiesce}`)).toEqual(["cache:redis-save", "app:pause"]);
  });
});
