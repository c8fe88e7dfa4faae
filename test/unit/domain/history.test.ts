import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "../../../src/domain/backoff.js";
import { absorbNoProbe, absorbObservation, absorbProbe, emptyHistory, markStartAttempt, markStartFailed, markStopping, FIRST_START_PROBE_MS, PROBE_GRID_MS, onProbeGrid } from "../../../src/domain/history.js";
import type { ObservedContainer } from "../../../src/domain/observed.js";
import { container } from "../../support/pod-spec.js";

const NOW = 1_000_000;
const ctx = { now: NOW, backoff: DEFAULT_BACKOFF, random: () => 0.5 };
const o = (over: Partial<ObservedContainer> = {}): ObservedContainer => ({
  id: "a",
  name: "db",
  podmanName: "p-db",
  specHash: "h",
  state: "running",
  running: true,
  exitCode: null,
  startedAt: NOW - 100,
  finishedAt: null,
  oomKilled: false,
  health: "none",
  image: "i",
  imageId: "s",
  ...over,
});
const spec = container("db");

describe("container history", () => {
  it("a new running instance resets probe state and makes a probe due now", () => {
    const h = absorbObservation({ ...emptyHistory(), ready: true, consecutiveFailures: 2 }, o(), ctx);
    expect(h).toMatchObject({ running: true, ready: false, consecutiveFailures: 0, nextProbeAt: NOW, startedAt: NOW - 100 });
  });

  it("records an unexpected exit as a failure with its exit code and schedules the retry", () => {
    let h = absorbObservation(emptyHistory(), o(), ctx);
    h = absorbObservation(h, o({ running: false, state: "exited", exitCode: 3 }), ctx);
    expect(h).toMatchObject({ running: false, failures: 1, lastExitCode: 3, lastReason: "exited (code 3)", nextAttemptAt: NOW });
  });

  it("does not count a stop podwarden asked for on shutdown", () => {
    let h = absorbObservation(emptyHistory(), o(), ctx);
    h = markStopping(h, "shutdown", NOW + 15_000);
    h = absorbObservation(h, o({ running: false, state: "exited", exitCode: 0 }), ctx);
    expect(h.failures).toBe(0);
  });

  it("counts a stop for a failed start deadline, with that reason", () => {
    let h = absorbObservation(emptyHistory(), o(), ctx);
    h = absorbObservation(markStopping(h, "start-timeout", NOW + 15_000), o({ running: false, exitCode: 143 }), ctx);
    expect(h).toMatchObject({ failures: 1, lastReason: "start-timeout" });
  });

  it("a start that dies before it was ever seen running still counts", () => {
    const h = absorbObservation(markStartAttempt(emptyHistory(), {}), o({ running: false, state: "exited", exitCode: 1 }), ctx);
    expect(h.failures).toBe(1);
  });

  it("probe failures while starting do not count toward unhealthy; after ready they do", () => {
    const start = absorbObservation(emptyHistory(), o(), ctx);
    const fail = { ok: false, ms: 2, at: NOW, message: "refused" };
    const h1 = absorbProbe(start, spec, fail);
    // Right after the start, probed again soon: FIRST_START_PROBE_MS.
    expect(h1).toMatchObject({ ready: false, consecutiveFailures: 0, nextProbeAt: NOW + FIRST_START_PROBE_MS });
    const ready = absorbProbe(h1, spec, { ok: true, ms: 1, at: NOW + 200, message: "ok" });
    // Once ready: its interval on, on the probe grid.
    expect(ready).toMatchObject({ ready: true, readyAt: NOW + 200, nextProbeAt: onProbeGrid(NOW + 10_200) });
    expect(onProbeGrid(NOW + 10_200) - (NOW + 10_200)).toBeLessThan(PROBE_GRID_MS);
    const h2 = absorbProbe(ready, spec, { ...fail, at: NOW + 10_200 });
    expect(h2).toMatchObject({ ready: true, consecutiveFailures: 1 });
  });

  it("a starting container is probed every FIRST_START_PROBE_MS for its first 1.5 s, then at a 150th of the time since it was first seen, up to startInterval", () => {
    const start = absorbObservation(emptyHistory(), o(), ctx);
    const gapAfter = (ms: number): number => absorbProbe(start, spec, { ok: false, ms: 1, at: NOW + ms, message: "refused" }).nextProbeAt! - (NOW + ms);
    expect([0, 10, 300, 1_100, 1_500, 3_000, 15_000, 30_000, 60_000].map(gapAfter)).toEqual([
      FIRST_START_PROBE_MS,
      FIRST_START_PROBE_MS,
      FIRST_START_PROBE_MS,
      FIRST_START_PROBE_MS,
      FIRST_START_PROBE_MS,
      20,
      100,
      200,
      200,
    ]);
    expect(spec.probe!.startIntervalMs).toBe(200);
  });

  it("tells failing to come up (failedUnready) from a one-off failure once ready, and forgets it once ready", () => {
    const exited = o({ running: false, state: "exited", exitCode: 1 });
    const started = absorbObservation(emptyHistory(), o(), ctx);
    // Died before its first passing probe: failing to come up.
    expect(absorbObservation(started, exited, ctx)).toMatchObject({ failures: 1, failedUnready: true });
    // A refused start, too.
    expect(markStartFailed(emptyHistory(), "no such image", ctx)).toMatchObject({ failures: 1, failedUnready: true });
    // Died after it was ready (a crash, the pod removed by hand): not failing to come up.
    const ready = absorbProbe(started, spec, { ok: true, ms: 1, at: NOW, message: "ok" });
    const crashed = absorbObservation(ready, exited, ctx);
    expect(crashed).toMatchObject({ failures: 1, failedUnready: false });
    expect(absorbObservation(ready, undefined, ctx)).toMatchObject({ lastReason: "removed", failedUnready: false });
    // A new instance that gets ready clears it (with or without a probe).
    const again = absorbObservation(absorbObservation(started, exited, ctx), o({ id: "b", startedAt: NOW + 1_000 }), { ...ctx, now: NOW + 1_000 });
    expect(again.failedUnready).toBe(true);
    expect(absorbProbe(again, spec, { ok: true, ms: 1, at: NOW + 1_100, message: "ok" }).failedUnready).toBe(false);
    expect(absorbNoProbe(again, NOW + 1_100).failedUnready).toBe(false);
  });

  it("forgives failures after staying ready for the reset period", () => {
    const h = { ...absorbObservation(emptyHistory(), o(), ctx), ready: true, readyAt: NOW, failures: 4 };
    const later = absorbObservation(h, o(), { ...ctx, now: NOW + DEFAULT_BACKOFF.resetAfterMs });
    expect(later.failures).toBe(0);
  });

  it("forgives at the exit a container that had stayed ready for the reset period, with no look in between", () => {
    const h = { ...absorbObservation(emptyHistory(), o(), ctx), ready: true, readyAt: NOW, failures: 4 };
    const exitAt = NOW + DEFAULT_BACKOFF.resetAfterMs + 1_000;
    const exited = absorbObservation(h, o({ running: false, state: "exited", exitCode: 137, finishedAt: exitAt }), { ...ctx, now: exitAt + 50 });
    expect(exited).toMatchObject({ failures: 1, lastExitCode: 137, nextAttemptAt: exitAt + 50 }); // a first failure: retried at once
    // One that exited before the period was up is not, however late the exit is seen.
    const early = absorbObservation(h, o({ running: false, state: "exited", exitCode: 137, finishedAt: NOW + 1_000 }), { ...ctx, now: exitAt });
    expect(early.failures).toBe(5);
  });
});
