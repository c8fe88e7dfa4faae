// The daemon's gate on the fake runtime and clock: a host problem found by the checks holds the
// start (nothing touched) and shows in the snapshot, /status and the STATUS= text; the checks
// run again on a timer and on request, and the pod comes up once they pass. A problem first
// seen in a pass's error is surfaced the same way and logged once.

import { afterEach, describe, expect, it, vi } from "vitest";
import { runChecks } from "../../src/doctor/checks.js";
import { HostGate, RECHECK_MS } from "../../src/doctor/gate.js";
import type { HostFacts, PathFacts } from "../../src/doctor/host-facts.js";
import { statusDocument } from "../../src/http/status-document.js";
import { ConfigError } from "../../src/lib/errors.js";
import { createLogger } from "../../src/observability/logger.js";
import { phaseText } from "../../src/supervisor/phase.js";
import { Harness } from "../support/harness.js";
import { chainSpec } from "../support/pod-spec.js";

const CATATONIT = 'failed to make pod: building local pause image: finding pause binary: exec: "catatonit": executable file not found in $PATH';

const facts = (over: { path?: PathFacts; hidden?: boolean } = {}): HostFacts => ({
  path: async () => over.path ?? { exists: true, isDirectory: true, writable: true, freeBytes: 10 * 1024 ** 3 },
  fileMode: async () => 0o100600,
  which: async (b) => `/usr/sbin/${b}`,
  portHolders: async (ports) => new Map(ports.map((p) => [`${p.protocol}/${p.port}`, []])),
  unitTmp: async () => ({ underUnit: over.hidden === true, hidden: over.hidden === true }),
  freePort: async () => 45_000,
});

const logs: { level: number; msg: string }[] = [];
const logger = createLogger({ level: "info", destination: { write: (l: string) => void logs.push(JSON.parse(l) as { level: number; msg: string }) } });
const errors = (): string[] => logs.filter((l) => l.level >= 50).map((l) => l.msg);

const setup = (over: { hidden?: boolean; persistRoot?: string } = {}) => {
  const spec = chainSpec({ persistRoot: over.persistRoot ?? "/persist/containers" });
  const h = new Harness({ spec });
  const supervisor = h.supervise({ logger });
  const rounds = { n: 0 };
  const gate = new HostGate({
    check: () => {
      rounds.n += 1;
      return runChecks({
        socket: "/fake.sock",
        runtime: h.runtime,
        config: { spec, secretCount: 0, warnings: [] },
        facts: facts(over),
        probe: "unless-running",
        info: false,
        probeName: "podwarden-doctor-gate",
      });
    },
    supervisor,
    clock: h.clock,
    logger,
    source: () => "/etc/podwarden/pod.yaml",
  });
  return { h, spec, supervisor, gate, rounds };
};

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
  logs.length = 0;
});

/** A gate begun on a runtime that fails pod creation with `fault` (none: a healthy host). */
const begun = async (fault?: string) => {
  const t = setup();
  cleanup = async () => {
    await t.gate.close();
    await t.supervisor.stop();
  };
  t.h.runtime.podCreateFault = fault;
  await t.gate.firstCheck();
  t.gate.begin();
  return t;
};

describe("the host gate", () => {
  it("holds the start while catatonit is missing, says so once, and starts the pod when a later round passes", async () => {
    const { h, spec, supervisor, gate, rounds } = await begun(CATATONIT);

    const s = supervisor.snapshot();
    expect(s.blocked).toEqual({ check: "runtime", cause: "catatonit missing", fix: "apt-get install catatonit" });
    expect(phaseText(spec, s)).toBe("blocked: catatonit missing: apt-get install catatonit");
    const doc = statusDocument(s, { version: "t", warnings: [], events: [] });
    expect(doc.status).toBe("fail");
    expect(doc.notes[0]).toBe("host not ready (runtime): catatonit missing; fix: apt-get install catatonit");
    expect(h.runtime.pod).toBeNull();
    expect(h.runtime.containers.size).toBe(0);
    expect(s.lastPassAt).toBeNull();
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toContain("fix: apt-get install catatonit");
    // A round counts as progress: systemd's watchdog keeps seeing a live daemon while it waits.
    expect(supervisor.loopAlive()).toBe(true);

    // Still missing at the next round: not said again, still blocked.
    h.clock.advance(RECHECK_MS - 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(rounds.n).toBe(1);
    h.clock.advance(1);
    await vi.waitFor(() => expect(rounds.n).toBe(2));
    await new Promise((r) => setTimeout(r, 20));
    expect(errors()).toHaveLength(1);
    expect(supervisor.snapshot().blocked).not.toBeNull();

    // Fixed (apt-get install catatonit): the next round passes and the supervisor starts.
    h.runtime.podCreateFault = undefined;
    h.clock.advance(RECHECK_MS);
    await vi.waitFor(() => expect(h.runtime.pod?.name).toBe(spec.name));
    expect(gate.open).toBe(true);
    expect(supervisor.snapshot().blocked).toBeNull();
    expect(logs.some((l) => l.msg === "host checks passed: starting the pod")).toBe(true);
    // The throwaway pods of the rounds are gone; only the pod itself is there.
    expect(h.runtime.journal.filter((j) => j.op === "remove-pod").map((j) => j.name)).toEqual(["podwarden-doctor-gate"]);
  });

  it("checks again at once on request (SIGHUP)", async () => {
    const { h, spec, gate } = await begun(CATATONIT);
    h.runtime.podCreateFault = undefined;
    gate.recheck();
    await vi.waitFor(() => expect(h.runtime.pod?.name).toBe(spec.name));
  });

  it("refuses a persistRoot under /tmp when the unit's /tmp is private: a config error naming the field", async () => {
    const { h, gate } = setup({ hidden: true, persistRoot: "/tmp/pw/persist" });
    const err = await gate.firstCheck().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(78);
    expect((err as ConfigError).issues[0]).toMatchObject({ file: "/etc/podwarden/pod.yaml", path: "pod.persistRoot" });
    expect((err as ConfigError).message).toContain("outside /tmp and /var/tmp");
    expect(h.runtime.journal.filter((j) => j.name === "testpod")).toEqual([]);
  });

  it("a pass that fails on a known host problem shows it like the gate does, logged once, gone when fixed", async () => {
    const { h, spec, supervisor } = await begun();
    await vi.waitFor(() => expect(h.runtime.pod?.name).toBe(spec.name));
    // The pause image is pruned and catatonit removed while the daemon runs; the pod goes.
    h.runtime.podCreateFault = CATATONIT;
    h.runtime.removePodByHand();
    supervisor.kick();
    await vi.waitFor(() => expect(supervisor.snapshot().blocked).toEqual({ check: "pod", cause: "catatonit missing", fix: "apt-get install catatonit" }));
    for (let i = 0; i < 3; i++) {
      h.clock.advance(30_000);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(errors().filter((m) => m.startsWith("host problem: catatonit missing"))).toHaveLength(1);
    expect(phaseText(spec, supervisor.snapshot())).toBe("blocked: catatonit missing: apt-get install catatonit");
    h.runtime.podCreateFault = undefined;
    h.clock.advance(30_000);
    await vi.waitFor(() => expect(h.runtime.pod?.name).toBe(spec.name));
    await vi.waitFor(() => expect(supervisor.snapshot().blocked).toBeNull());
  });
});
