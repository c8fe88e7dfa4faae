// Jobs against fakes: schedules fire on a fake clock at the cron expression's times, a job
// never overlaps itself or another pod-changing job, errors are counted instead of thrown,
// retention keeps what it should, and a failed backup leaves no partial archive.

import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PodSpec } from "../../src/domain/spec.js";
import { Backups } from "../../src/jobs/backup.js";
import type { PodControl } from "../../src/jobs/pod-control.js";
import type { JobOutcome } from "../../src/domain/jobs.js";
import { JobLock, JobRunner } from "../../src/jobs/runner.js";
import { Scheduler } from "../../src/jobs/scheduler.js";
import { PodwardenError } from "../../src/lib/errors.js";
import type { Snapshot } from "../../src/domain/snapshot.js";
import { FakeClock } from "../support/fake-clock.js";
import { FakeRuntime } from "../support/fake-runtime.js";
import { silentLogger } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

/** Lets every promise that can settle now settle (the fake clock resolves sleeps synchronously). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
};

describe("scheduler on a fake clock", () => {
  it("fires at the cron expression's times, and not after stop()", async () => {
    // 2026-01-01T00:00:00Z is a Thursday; the host's zone does not matter for a seconds/minutes schedule.
    const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
    const fired: number[] = [];
    const s = new Scheduler([{ name: "tick", schedule: "*/20 * * * * *", fire: async () => void fired.push(clock.now()) }], clock, silentLogger());
    s.start();
    await settle();
    expect(s.nextRuns().get("tick")).toBe(Date.parse("2026-01-01T00:00:20Z"));
    for (let i = 0; i < 9; i++) {
      clock.advance(10_000);
      await settle();
    }
    expect(fired.map((t) => new Date(t).toISOString())).toEqual(["2026-01-01T00:00:20.000Z", "2026-01-01T00:00:40.000Z", "2026-01-01T00:01:00.000Z", "2026-01-01T00:01:20.000Z"]);
    await s.stop();
    clock.advance(60_000);
    await settle();
    expect(fired).toHaveLength(4);
    expect(s.nextRuns().get("tick")).toBeUndefined();
  });

  it("a daily schedule waits a day (hours and minutes of the host's local time)", async () => {
    const start = new Date(2026, 0, 1, 2, 59, 0).getTime();
    const clock = new FakeClock(start);
    const fired: number[] = [];
    const s = new Scheduler([{ name: "nightly", schedule: "0 3 * * *", fire: async () => void fired.push(clock.now()) }], clock, silentLogger());
    s.start();
    await settle();
    clock.advance(60_000);
    await settle();
    clock.advance(86_400_000 - 1);
    await settle();
    expect(fired).toEqual([new Date(2026, 0, 1, 3, 0, 0).getTime()]);
    clock.advance(1);
    await settle();
    expect(fired).toEqual([new Date(2026, 0, 1, 3, 0, 0).getTime(), new Date(2026, 0, 2, 3, 0, 0).getTime()]);
    await s.stop();
  });
});

describe("job runner", () => {
  const make = (lock: JobLock, name: string, work: () => Promise<string>, outcomes: JobOutcome[], precondition?: () => string | undefined) =>
    new JobRunner<void, string>(name, () => work(), { lock, logger: silentLogger(), now: () => 0, onOutcome: (o) => outcomes.push(o), ...(precondition ? { precondition } : {}) });

  it("never overlaps itself: a scheduled tick while it runs is skipped, an on-demand run is refused with E_BUSY", async () => {
    const lock = new JobLock();
    const outcomes: JobOutcome[] = [];
    const gate = deferred();
    let runs = 0;
    const r = make(lock, "backup", async () => {
      runs += 1;
      await gate.promise;
      return "done";
    }, outcomes);
    const first = r.scheduled();
    await settle();
    expect(r.running).toBe(true);
    await r.scheduled();
    await expect(r.now()).rejects.toMatchObject({ code: "E_BUSY" });
    gate.resolve();
    await first;
    expect(runs).toBe(1);
    expect(outcomes.map((o) => `${o.trigger}:${o.result}`)).toEqual(["scheduled:skipped", "manual:skipped", "scheduled:ok"]);
    expect(r.running).toBe(false);
  });

  it("pod-changing jobs exclude each other (a restore waits for no backup)", async () => {
    const lock = new JobLock();
    const outcomes: JobOutcome[] = [];
    const gate = deferred();
    const backup = make(lock, "backup", () => gate.promise.then(() => "b"), outcomes);
    const restore = make(lock, "restore", async () => "r", outcomes);
    const running = backup.now();
    await settle();
    await expect(restore.now()).rejects.toThrow(/restore: backup is running/);
    gate.resolve();
    await expect(running).resolves.toBe("b");
    await expect(restore.now()).resolves.toBe("r");
  });

  it("logs and counts a failure instead of throwing into the scheduler; an on-demand caller gets the error", async () => {
    const outcomes: JobOutcome[] = [];
    const r = make(new JobLock(), "update", async () => {
      throw new PodwardenError("E_UPDATE", "registry unreachable");
    }, outcomes);
    await expect(r.scheduled()).resolves.toBeUndefined();
    await expect(r.now()).rejects.toThrow("registry unreachable");
    expect(outcomes.map((o) => o.result)).toEqual(["failed", "failed"]);
    expect(outcomes[0]!.message).toBe("registry unreachable");
  });

  it("skips with the reason when the pod is not ready, and refuses to start once stopping", async () => {
    const outcomes: JobOutcome[] = [];
    let ran = false;
    const r = make(new JobLock(), "backup", async () => {
      ran = true;
      return "x";
    }, outcomes, () => "the pod is not ready (2 of 4 containers ready)");
    await r.scheduled();
    await expect(r.now()).rejects.toMatchObject({ code: "E_NOT_READY" });
    expect(ran).toBe(false);
    expect(outcomes.map((o) => o.message)).toEqual(["the pod is not ready (2 of 4 containers ready)", "the pod is not ready (2 of 4 containers ready)"]);
    await r.stop();
    await expect(r.now()).rejects.toMatchObject({ code: "E_ABORTED" });
  });

  it("stop() waits for the run in flight", async () => {
    const gate = deferred();
    let finished = false;
    const r = make(new JobLock(), "backup", async () => {
      await gate.promise;
      finished = true;
      return "x";
    }, []);
    void r.scheduled();
    await settle();
    const stopped = r.stop();
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await settle();
    expect(stopDone).toBe(false);
    gate.resolve();
    await stopped;
    expect(finished).toBe(true);
  });
});

describe("backups against a fake runtime and real files", () => {
  let dir: string;
  let clock: FakeClock;
  let runtime: FakeRuntime;
  let spec: PodSpec;
  const held: string[] = [];

  const handle = (): PodControl =>
    ({
      spec: () => spec,
      secrets: () => new Map(),
      snapshot: () => ({ pod: { containersReady: 1, containersTotal: 1 } }) as unknown as Snapshot,
      hold: (n: string) => void held.push(`hold ${n}`),
      release: (n: string) => void held.push(`release ${n}`),
    }) as unknown as PodControl;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-jobs-"));
    clock = new FakeClock(Date.parse("2026-03-01T00:00:00Z"));
    const data = join(dir, "data/app");
    await mkdir(join(data, "sub"), { recursive: true });
    await writeFile(join(data, "state.db"), "sessions");
    await writeFile(join(data, "sub/auth.json"), "{}");
    // No redis probe: the container is paused while its files are copied.
    spec = chainSpec({ containers: [container("app", [], { probe: undefined, mounts: [{ source: data, target: "/data", readOnly: false, optional: false, create: true }] })] });
    runtime = new FakeRuntime(clock, ["localhost/app:test"]);
    await runtime.createPod({ name: spec.name, labels: {} } as never);
    const id = await runtime.createContainer({ name: "testpod-app", pod: spec.name, image: "localhost/app:test", labels: { "io.podwarden.container": "app" } } as never);
    await runtime.startContainer(id);
    held.length = 0;
  });

  afterEach(async () => {
    await chmod(join(dir, "data/app/sub"), 0o755).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  const backups = (keep: number, maxAgeMs?: number) =>
    new Backups({ pod: handle(), runtime, settings: { schedule: undefined, dir: join(dir, "backups"), keep, maxAgeMs, maxBytes: 2 ** 30 }, clock, logger: silentLogger() });

  it("pauses the container only for the copy, hands it back, and retention keeps the newest `keep` after each success", async () => {
    const b = backups(2);
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      made.push((await b.run(new AbortController().signal)).archive);
      clock.advance(3_600_000);
    }
    expect(runtime.paused.size).toBe(0);
    expect(held).toEqual(["hold app", "release app", "hold app", "release app", "hold app", "release app"]);
    expect(runtime.journal.filter((j) => j.op === "pause" || j.op === "unpause").map((j) => j.op)).toEqual(["pause", "unpause", "pause", "unpause", "pause", "unpause"]);
    expect((await b.list()).map((a) => a.path)).toEqual([made[2], made[1]]);
    expect(await readdir(join(dir, "backups"))).toHaveLength(2);
  });

  it("maxAge deletes older archives but never the newest", async () => {
    const b = backups(10, 90 * 60_000);
    for (let i = 0; i < 3; i++) {
      await b.run(new AbortController().signal);
      clock.advance(3_600_000);
    }
    // Runs at 0h, 1h, 2h: after the third, the 0h one is older than 90 minutes.
    expect((await b.list()).map((a) => a.createdAt)).toEqual(["2026-03-01T02:00:00.000Z", "2026-03-01T01:00:00.000Z"]);
    clock.advance(24 * 3_600_000);
    await b.run(new AbortController().signal);
    expect((await b.list()).map((a) => a.createdAt)).toEqual(["2026-03-02T03:00:00.000Z"]);
  });

  it("a failed run leaves no partial archive, keeps the older ones, and thaws the container", async () => {
    const b = backups(2);
    const good = (await b.run(new AbortController().signal)).archive;
    clock.advance(60_000);
    // A directory the copy cannot read (as root, a missing source is the reliable failure).
    spec = { ...spec, containers: [{ ...spec.containers[0]!, mounts: [...spec.containers[0]!.mounts, { source: join(dir, "gone"), target: "/gone", readOnly: false, optional: false, create: true }] }] };
    await expect(b.run(new AbortController().signal)).rejects.toThrow(/gone/);
    expect(await readdir(join(dir, "backups"))).toEqual([good.split("/").pop()]);
    expect(runtime.paused.size).toBe(0);
    expect(held.slice(-2)).toEqual(["hold app", "release app"]);
  });
});
