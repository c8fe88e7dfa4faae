import { describe, expect, it } from "vitest";
import { sleepUntil } from "../../../src/lib/clock.js";
import { FakeClock } from "../../support/fake-clock.js";

const settledAfter = async (p: Promise<void>): Promise<boolean> => {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
};

describe("sleepUntil", () => {
  it("ends at the time given, or early when the signal aborts", async () => {
    const clock = new FakeClock();
    const at = clock.now() + 500;
    const p = sleepUntil(clock, at, new AbortController().signal);
    clock.advance(499);
    expect(await settledAfter(p)).toBe(false);
    clock.advance(1);
    expect(await settledAfter(p)).toBe(true);
    const wake = new AbortController();
    const q = sleepUntil(clock, clock.now() + 10_000, wake.signal);
    wake.abort();
    expect(await settledAfter(q)).toBe(true);
  });

  it("without a time, only the signal ends it (also one aborted already)", async () => {
    const clock = new FakeClock();
    const wake = new AbortController();
    const p = sleepUntil(clock, undefined, wake.signal);
    clock.advance(3_600_000);
    expect(await settledAfter(p)).toBe(false);
    wake.abort();
    expect(await settledAfter(p)).toBe(true);
    expect(await settledAfter(sleepUntil(clock, undefined, wake.signal))).toBe(true);
  });
});
