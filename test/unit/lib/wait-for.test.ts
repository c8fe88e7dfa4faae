// lib/wait-for.ts: the one "wait until the next passes show X" (the supervisor's up/down waits
// and the jobs' waits). Time is a fake clock; "a pass" is a call of the listeners.

import { describe, expect, it } from "vitest";
import { waitFor, type WaitOn } from "../../../src/lib/wait-for.js";
import { PodwardenError } from "../../../src/lib/errors.js";
import { FakeClock } from "../../support/fake-clock.js";

const setup = () => {
  const clock = new FakeClock();
  const listeners = new Set<() => void>();
  const on: WaitOn = {
    clock,
    changes: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    timedOut: () => new PodwardenError("E_TIMEOUT", "not there in time"),
  };
  const pass = (): void => {
    for (const l of [...listeners]) l();
  };
  return { clock, on, pass, listeners };
};

/** How `p` stands after a few ticks of real time: fulfilled, rejected or still pending. */
const settle = <T>(p: Promise<T>): Promise<{ ok: T } | { err: unknown } | "pending"> =>
  Promise.race([p.then((ok) => ({ ok }), (err: unknown) => ({ err })), new Promise<"pending">((res) => setTimeout(() => res("pending"), 10))]);

describe("waitFor", () => {
  it("resolves at the first pass that shows it, not before (a true state before any pass is not looked at)", async () => {
    const { on, pass, listeners } = setup();
    let there = true;
    const p = waitFor(() => there, 60_000, undefined, on);
    expect(await settle(p)).toBe("pending");
    there = false;
    pass();
    expect(await settle(p)).toBe("pending");
    there = true;
    pass();
    expect(await settle(p)).toEqual({ ok: undefined });
    expect(listeners.size).toBe(0);
  });

  it("rejects with the Error the predicate returns (a state that waiting does not change)", async () => {
    const { on, pass } = setup();
    const conflict = new PodwardenError("E_CONFLICT", "a pod of that name is not ours");
    const p = waitFor(() => conflict, 60_000, undefined, on);
    pass();
    expect(await settle(p)).toEqual({ err: conflict });
  });

  it("times out on the injected clock, at the deadline and not before", async () => {
    const { clock, on, listeners } = setup();
    const p = waitFor(() => false, 5_000, undefined, on);
    clock.advance(4_999);
    expect(await settle(p)).toBe("pending");
    clock.advance(1);
    const r = await settle(p);
    expect(r).toMatchObject({ err: { code: "E_TIMEOUT", message: "not there in time" } });
    expect(listeners.size).toBe(0);
  });

  it("rejects when the signal aborts, and at once when it already has", async () => {
    const { on } = setup();
    const ac = new AbortController();
    const p = waitFor(() => false, 60_000, ac.signal, { ...on, interrupted: () => new PodwardenError("E_ABORTED", "interrupted while waiting until X") });
    expect(await settle(p)).toBe("pending");
    ac.abort();
    expect(await settle(p)).toMatchObject({ err: { code: "E_ABORTED", message: "interrupted while waiting until X" } });
    const q = waitFor(() => true, 60_000, ac.signal, on);
    expect(await settle(q)).toMatchObject({ err: { code: "E_ABORTED", message: "interrupted" } });
  });
});
