import { describe, expect, it } from "vitest";
import { RELEASE_AFTER_MS, releaseOnceStarted } from "../../../src/daemon/daemon.js";
import type { ContainerSnapshot, Snapshot } from "../../../src/domain/snapshot.js";
import { FakeClock } from "../../support/fake-clock.js";

/** A supervisor as releaseOnceStarted sees it: passes, and each pass's snapshot. */
const fakeSupervisor = () => {
  const listeners = new Set<() => void>();
  let containers: Record<string, Partial<ContainerSnapshot>> = {};
  const s = {
    serving: false,
    settled: false,
    onPass: (l: () => void) => (listeners.add(l), () => void listeners.delete(l)),
    snapshot: () => ({ containers }) as unknown as Snapshot,
    pass(next: Record<string, Partial<ContainerSnapshot>>) {
      containers = next;
      for (const l of [...listeners]) l();
    },
    listeners,
  };
  return s;
};

const counting = () => {
  const r = { released: 0, release: () => void (r.released += 1) };
  return r;
};

describe("releaseOnceStarted: when the throwaway pods may go", () => {
  it("not while containers wait for their start; once each has had it (running, or backing off without ever running: an Agent without its key)", () => {
    const s = fakeSupervisor();
    const r = counting();
    releaseOnceStarted(s, r, new FakeClock());
    s.pass({ valkey: { state: "starting", running: true }, datadog: { state: "pending", running: false }, opencode: { state: "pending", running: false } });
    expect(r.released).toBe(0);
    s.pass({ valkey: { state: "ready", running: true }, datadog: { state: "backing-off", running: false }, opencode: { state: "starting", running: true } });
    expect(r.released).toBe(1);
    s.pass({ valkey: { state: "ready", running: true }, datadog: { state: "backing-off", running: false }, opencode: { state: "ready", running: true } });
    expect(r.released).toBe(1);
    expect(s.listeners.size).toBe(0);
  });

  it("at the latest RELEASE_AFTER_MS after the checks, if the pod never gets there; and never after it was called off", async () => {
    const clock = new FakeClock();
    const s = fakeSupervisor();
    const r = counting();
    releaseOnceStarted(s, r, clock);
    s.pass({ valkey: { state: "backing-off", running: false }, falkordb: { state: "pending", running: false } });
    clock.advance(RELEASE_AFTER_MS - 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.released).toBe(0);
    clock.advance(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.released).toBe(1);
    const off = counting();
    const stop = releaseOnceStarted(fakeSupervisor(), off, clock);
    stop();
    clock.advance(RELEASE_AFTER_MS);
    await new Promise((resolve) => setImmediate(resolve));
    expect(off.released).toBe(0);
  });
});
