// Stopping means stopping, on the fake runtime and clock: a stop signal that comes in the middle
// of a start-up pass (many creates planned at once, a start in flight, an image pull) ends the
// creating and starting at once; the down mode then stops in reverse order what was started
// and removes the pod. The signal is delivered as `podwarden run` delivers it: quiesce() in the
// handler, then, a moment later, start("down").

import { describe, expect, it } from "vitest";
import type { ContainerCreateRequest } from "../../src/domain/create-request.js";
import type { ContainerRuntime } from "../../src/runtime/port.js";
import { Harness } from "../support/harness.js";
import { chainSpec, container } from "../support/pod-spec.js";

const names = (n: number) => Array.from({ length: n }, (_, i) => `c${String(i + 1).padStart(2, "0")}`);

/** Lets the background loop run: timer turns, with the fake clock moving a little each time. */
const until = async (h: Harness, done: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 2000 && !done(); i++) {
    // Real time passes too (at least 1 ms a turn): run.ts goes down a few ms after the signal.
    await new Promise((r) => setTimeout(r, 1));
    h.clock.advance(50);
  }
  if (!done()) throw new Error(`not ${what}; journal: ${h.runtime.journal.map((j) => `${j.op} ${j.name}`).join(", ")}`);
};

const setup = (h: Harness) => {
  const supervisor = h.supervise();
  /** Journal length when the signal came. */
  let at: number | undefined;
  const signal = (): void => {
    at = h.runtime.journal.length;
    supervisor.quiesce();
    // run.ts goes down after reading the keep-pod marker: a few turns later.
    setTimeout(() => supervisor.start("down"), 5);
  };
  const after = () => h.runtime.journal.slice(at);
  const ops = (op: string) => after().filter((j) => j.op === op).map((j) => j.name);
  return { supervisor, signal, after, ops, signalled: () => at !== undefined };
};

describe("a stop signal during start-up", () => {
  it("40 independent containers, signal during the 6th create: nothing is created or started after it; what started is stopped, the pod removed", async () => {
    const all = names(40);
    const h = new Harness({ spec: chainSpec({ containers: all.map((n) => container(n)) }) });
    const s = setup(h);
    const create = h.runtime.createContainer.bind(h.runtime);
    h.runtime.createContainer = async (req: ContainerCreateRequest) => {
      if (h.runtime.order("create").length === 5 && !s.signalled()) s.signal();
      return create(req);
    };
    s.supervisor.start("up");
    await until(h, () => h.runtime.pod === null && s.signalled(), "down");
    await s.supervisor.stop();
    // The create in flight when the signal came completes; it is not started. Nothing after it.
    expect(s.ops("create")).toEqual(["c06"]);
    expect(s.ops("start")).toEqual([]);
    expect(h.runtime.order("start")).toEqual(["c01", "c02", "c03", "c04", "c05"]);
    expect(new Set(s.ops("stop"))).toEqual(new Set(["c01", "c02", "c03", "c04", "c05"]));
    expect(s.after().at(-1)).toMatchObject({ op: "remove-pod" });
    expect(h.runtime.containers.size).toBe(0);
    // A stop is not a failure: nothing is counted against the containers.
    expect([...h.reconciler.history.values()].every((x) => x.failures === 0)).toBe(true);
  });

  it("a chain of 10, signal while the 6th starts (waiting for health): no later create or start, stops in reverse order", async () => {
    const chain = names(10);
    const spec = chainSpec({ containers: chain.map((n, i) => container(n, i === 0 ? [] : [chain[i - 1]!])) });
    const h = new Harness({ spec, readyAfterMs: Object.fromEntries(chain.map((n) => [n, 400])) });
    const s = setup(h);
    const start = h.runtime.startContainer.bind(h.runtime);
    h.runtime.startContainer = async (id: string) => {
      await start(id);
      if (h.runtime.order("start").length === 6 && !s.signalled()) s.signal();
    };
    s.supervisor.start("up");
    await until(h, () => h.runtime.pod === null && s.signalled(), "down");
    await s.supervisor.stop();
    expect(s.ops("create")).toEqual([]);
    expect(s.ops("start")).toEqual([]);
    expect(s.ops("stop")).toEqual(["c06", "c05", "c04", "c03", "c02", "c01"]);
    expect(s.after().at(-1)).toMatchObject({ op: "remove-pod" });
  });

  it("signal while an image is being pulled: the pull is cut short, nothing is created, no failure is recorded, the pod is removed", async () => {
    const h = new Harness({ spec: chainSpec() });
    h.runtime.images.delete("localhost/valkey:test");
    const s = setup(h);
    let pullSignal: AbortSignal | undefined;
    (h.runtime as ContainerRuntime).pullImage = (_ref, _progress, signal) =>
      new Promise<void>((_resolve, reject) => {
        pullSignal = signal;
        signal?.addEventListener("abort", () => reject(new Error("pull aborted")), { once: true });
      });
    s.supervisor.start("up");
    await until(h, () => pullSignal !== undefined, "pulling");
    s.signal();
    await until(h, () => h.runtime.pod === null, "down");
    await s.supervisor.stop();
    expect(pullSignal?.aborted).toBe(true);
    expect(h.runtime.order("create")).toEqual([]);
    expect(h.reconciler.history.get("valkey")?.failures ?? 0).toBe(0);
    expect(h.runtime.journal.map((j) => j.op)).toEqual(["create-pod", "remove-pod"]);
  });
});
