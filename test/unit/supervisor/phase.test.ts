import { describe, expect, it } from "vitest";
import { phaseText } from "../../../src/supervisor/phase.js";
import type { ContainerSnapshot, Snapshot } from "../../../src/domain/snapshot.js";
import { chainSpec } from "../../support/pod-spec.js";

const spec = chainSpec();
const c = (over: Partial<ContainerSnapshot> = {}): ContainerSnapshot => ({
  state: "ready",
  health: "healthy",
  ready: true,
  id: "x",
  image: "i",
  imageId: null,
  running: true,
  restarts: 0,
  lastExitCode: null,
  lastReason: null,
  startedAt: null,
  readyAt: null,
  nextAttemptAt: null,
  backoffSeconds: 0,
  dependsOn: [],
  softDependencyOf: [],
  lastProbe: null,
  disk: null,
  ...over,
});
const snap = (containers: Record<string, ContainerSnapshot>, over: Partial<Snapshot> = {}): Snapshot => ({
  mode: "up",
  settled: false,
  serving: Object.values(containers).every((x) => x.ready),
  softDown: [],
  error: null,
  podman: { reachable: true, events: true },
  blocked: null,
  lastPassAt: null,
  pod: { name: "p", exists: true, state: "Running", containersReady: Object.values(containers).filter((x) => x.ready).length, containersTotal: 4 },
  containers,
  ...over,
});

describe("phaseText", () => {
  it.each([
    [{ valkey: c(), falkordb: c(), datadog: c(), opencode: c() }, {}, "ready 4/4"],
    [{ valkey: c(), falkordb: c({ state: "starting", ready: false }), datadog: c({ state: "pending", ready: false }), opencode: c({ state: "pending", ready: false }) }, {}, "starting falkordb (2/4)"],
    [{ valkey: c({ state: "backing-off", ready: false, backoffSeconds: 8 }), falkordb: c(), datadog: c(), opencode: c() }, {}, "valkey backing off 8s (1/4)"],
    [{ valkey: c(), falkordb: c(), datadog: c(), opencode: c({ state: "unhealthy", ready: false }) }, {}, "opencode unhealthy, restarting (4/4)"],
    [{ valkey: c(), falkordb: c(), datadog: c(), opencode: c() }, { podman: { reachable: false, events: false } }, "Podman unreachable, retrying"],
    [
      { valkey: c({ state: "pending", ready: false }), falkordb: c({ state: "pending", ready: false }), datadog: c({ state: "pending", ready: false }), opencode: c({ state: "pending", ready: false }) },
      { blocked: { check: "runtime", cause: "catatonit missing", fix: "apt-get install catatonit" } },
      "blocked: catatonit missing: apt-get install catatonit",
    ],
    // A soft dependency down while everything else is ready: the pod serves, and says what is missing.
    [{ valkey: c(), falkordb: c(), datadog: c({ state: "backing-off", ready: false, backoffSeconds: 4, softDependencyOf: ["opencode"] }), opencode: c() }, { serving: true, softDown: ["datadog"] }, "ready 3/4 (datadog down: soft dependency)"],
    // Still on its first try, with its dependent waiting: not serving yet, the usual progress text.
    [{ valkey: c(), falkordb: c(), datadog: c({ state: "starting", ready: false, softDependencyOf: ["opencode"] }), opencode: c({ state: "pending", ready: false }) }, { serving: false }, "starting datadog (3/4)"],
    [{ valkey: c(), falkordb: c({ running: false }), datadog: c({ running: false }), opencode: c({ running: false }) }, { mode: "down" as const }, "stopping (1 running)"],
    // Out of disk space: said first, even while its probe still passes, and that it is not restarted.
    [
      { valkey: c({ state: "unhealthy", disk: { path: "/srv/p/valkey", filesystem: "/srv/p", freeBytes: 0, sizeBytes: 1 << 30, at: "2026-01-01T00:00:00.000Z", full: true, reason: "filesystem full" } }), falkordb: c(), datadog: c(), opencode: c() },
      {},
      "valkey out of disk space on /srv/p (0 B free): not restarted, free space",
    ],
  ])("%#: %s", (containers, over, text) => {
    expect(phaseText(spec, snap(containers, over))).toBe(text);
  });
});
