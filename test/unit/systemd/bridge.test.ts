// The systemd bridge against a real datagram socket: STATUS on phase changes, READY only
// once the pod is ready, WATCHDOG only while the loop progresses, STOPPING at the end.

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../../src/observability/logger.js";
import type { ContainerSnapshot, Snapshot } from "../../../src/domain/snapshot.js";
import { bridgeToSystemd } from "../../../src/systemd/bridge.js";
import { createNotifier } from "../../../src/systemd/sd-notify.js";
import { receivers, startReceiver } from "../../support/notify-receiver.js";
import { chainSpec } from "../../support/pod-spec.js";
import { FakeClock } from "../../support/fake-clock.js";

const spec = chainSpec();
const ready = (r: boolean): ContainerSnapshot =>
  ({ state: r ? "ready" : "starting", ready: r, running: true, backoffSeconds: 0, softDependencyOf: [] }) as unknown as ContainerSnapshot;
/** The Agent crash-looping without its key: only OpenCode depends on it, softly. */
const agentDown = { state: "backing-off", ready: false, running: false, backoffSeconds: 4, softDependencyOf: ["opencode"] } as unknown as ContainerSnapshot;

/**
 * A supervisor stand-in the test drives by hand: which containers are ready (in start order),
 * whether the Agent (a soft dependency) is down, whether the loop moves.
 */
const fakeSupervisor = () => {
  const listeners = new Set<() => void>();
  const state = { readyCount: 0, progressing: true, agentDown: false };
  const containers = () =>
    Object.fromEntries(spec.containers.map((c, i) => [c.name, state.agentDown && c.name === "datadog" ? agentDown : ready(i < state.readyCount)]));
  const snapshot = (): Snapshot => {
    const cs = containers();
    return {
      mode: "up",
      serving: state.readyCount === 4,
      softDown: state.agentDown ? ["datadog"] : [],
      podman: { reachable: true, events: true },
      blocked: null,
      pod: { name: "p", exists: true, state: "Running", containersReady: Object.values(cs).filter((c) => c.ready).length, containersTotal: 4 },
      containers: cs,
    } as unknown as Snapshot;
  };
  return {
    state,
    pass: () => listeners.forEach((l) => l()),
    supervisor: {
      onPass: (l: () => void) => (listeners.add(l), () => listeners.delete(l)),
      snapshot,
      get serving() {
        return state.readyCount === 4;
      },
      loopAlive: () => state.progressing,
    },
  };
};

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A notify socket in a fresh directory, with a receiver listening on it. */
const receiver = async () => {
  const dir = await mkdtemp(join(tmpdir(), "pw-bridge-"));
  dirs.push(dir);
  const socket = join(dir, "notify.sock");
  return { socket, rx: await startReceiver(socket) };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("systemd bridge", () => {
  it("STATUS… READY=1 (only when all are ready) … WATCHDOG=1 … STOPPING=1, and no pings while the loop is stuck", async () => {
    const { socket, rx } = await receiver();
    const notifier = createNotifier({ NOTIFY_SOCKET: socket, WATCHDOG_USEC: "200000" });
    const f = fakeSupervisor();
    const bridge = bridgeToSystemd({ notifier, supervisor: f.supervisor, spec: () => spec, mode: () => "up", logger: createLogger({ level: "silent" }) });

    for (let n = 0; n <= 4; n++) {
      f.state.readyCount = n;
      f.pass();
      f.pass(); // the same phase twice says nothing new
    }
    await sleep(350); // about three watchdog periods of 100 ms
    f.state.progressing = false;
    await sleep(100);
    const before = rx.got.length;
    await sleep(400);
    const duringStall = rx.got.length - before;
    await bridge.stopping();
    await bridge.close();
    await rx.waitFor(before + duringStall + 1);

    const data = rx.got.map((d) => d.data);
    const statuses = data.filter((d) => d.startsWith("STATUS=")).map((d) => d.slice(7));
    expect(statuses).toEqual(["starting valkey (1/4)", "starting falkordb (2/4)", "starting datadog (3/4)", "starting opencode (4/4)", "ready 4/4"]);
    const readyAt = data.findIndex((d) => d.includes("READY=1"));
    expect(readyAt).toBe(data.indexOf("STATUS=ready 4/4") + 1);
    expect(data.filter((d) => d.includes("READY=1"))).toHaveLength(1);
    const pings = data.map((d, i) => (d === "WATCHDOG=1" ? i : -1)).filter((i) => i >= 0);
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(duringStall).toBe(0);
    expect(data.at(-1)).toMatch(/^STOPPING=1/);
    expect(rx.got.every((d) => d.pid === process.pid)).toBe(true);
  });

  it("READY=1 once the pod serves with a soft dependency down; STATUS names it, and says ready 4/4 once it is back", async () => {
    const { socket, rx } = await receiver();
    const f = fakeSupervisor();
    const bridge = bridgeToSystemd({ notifier: createNotifier({ NOTIFY_SOCKET: socket }), supervisor: f.supervisor, spec: () => spec, mode: () => "up", logger: createLogger({ level: "silent" }) });
    f.state.readyCount = 2;
    f.pass();
    f.state.agentDown = true;
    f.pass(); // the Agent failed; OpenCode is not ready yet
    f.state.readyCount = 4;
    f.pass(); // OpenCode ready without the Agent
    f.state.agentDown = false;
    f.pass(); // the Agent is back
    await bridge.close();
    const data = (await rx.waitFor(5)).map((d) => d.data);
    expect(data.filter((d) => d.startsWith("STATUS=")).map((d) => d.slice(7))).toEqual([
      "starting datadog (3/4)",
      "datadog backing off 4s (3/4)",
      "ready 3/4 (datadog down: soft dependency)",
      "ready 4/4",
    ]);
    expect(data.filter((d) => d.includes("READY=1"))).toEqual(["READY=1\nSTATUS=ready 3/4 (datadog down: soft dependency)"]);
  });

  it("asks for more start time while images build, but not after READY", async () => {
    const { socket, rx } = await receiver();
    const f = fakeSupervisor();
    const bridge = bridgeToSystemd({ notifier: createNotifier({ NOTIFY_SOCKET: socket }), supervisor: f.supervisor, spec: () => spec, mode: () => "up", logger: createLogger({ level: "silent" }), extendByMs: 90_000 });
    bridge.progress("STEP 1/5: FROM base");
    bridge.progress("STEP 2/5: RUN apt-get install"); // throttled: within a third of the extension
    f.state.readyCount = 4;
    f.pass();
    bridge.progress("late line");
    await bridge.close();
    const data = (await rx.waitFor(3)).map((d) => d.data);
    expect(data.filter((d) => d.startsWith("EXTEND_TIMEOUT_USEC="))).toEqual(["EXTEND_TIMEOUT_USEC=90000000\nSTATUS=building images"]);
  });

  it("runs its watchdog and the extensions' spacing on the injected clock: no ping before the period has passed on it", async () => {
    const { socket, rx } = await receiver();
    const clock = new FakeClock();
    const f = fakeSupervisor();
    const notifier = createNotifier({ NOTIFY_SOCKET: socket, WATCHDOG_USEC: "200000" });
    const bridge = bridgeToSystemd({ notifier, supervisor: f.supervisor, spec: () => spec, mode: () => "up", logger: createLogger({ level: "silent" }), clock, extendByMs: 90_000 });
    bridge.progress("STEP 1/5");
    await sleep(300); // three periods of real time: the fake clock has not moved
    expect(rx.got.map((d) => d.data).filter((d) => d === "WATCHDOG=1")).toHaveLength(0);
    clock.advance(100);
    await rx.waitFor(2);
    clock.advance(29_899); // another period: a second ping; a third of the extension after the first, less 1 ms
    await rx.waitFor(3);
    bridge.progress("STEP 2/5"); // still throttled
    clock.advance(1);
    bridge.progress("STEP 3/5");
    await bridge.close();
    const data = (await rx.waitFor(4)).map((d) => d.data);
    expect(data.filter((d) => d.startsWith("EXTEND_TIMEOUT_USEC="))).toHaveLength(2);
    expect(data.filter((d) => d === "WATCHDOG=1")).toHaveLength(2);
  });
});
