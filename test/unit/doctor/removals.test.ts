import { describe, expect, it } from "vitest";
import { Removals } from "../../../src/doctor/removals.js";
import { createLogger } from "../../../src/observability/logger.js";

const removal = (log: string[], name: string, fail = false) => async (): Promise<void> => {
  log.push(name);
  if (fail) throw new Error(`${name} was not removed`);
};

describe("Removals", () => {
  it("holds the first removal back until release(), then runs every one at once", async () => {
    const done: string[] = [];
    const r = new Removals(createLogger({ level: "silent" }));
    r.add(removal(done, "first"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual([]);
    r.release();
    r.add(removal(done, "after"));
    await r.settled();
    expect(done).toEqual(["first", "after"]);
  });

  it("a second removal before release (a check made again while blocked) releases both: no pile of throwaway pods", async () => {
    const done: string[] = [];
    const r = new Removals(createLogger({ level: "silent" }));
    r.add(removal(done, "round 1"));
    r.add(removal(done, "round 2"));
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual(["round 1", "round 2"]);
  });

  it("settled() releases, waits, and a failure is a warning, not an error of its own", async () => {
    const done: string[] = [];
    const lines: string[] = [];
    const r = new Removals(createLogger({ level: "warn", destination: { write: (l: string) => void lines.push(l) } }));
    r.add(removal(done, "pod-x", true));
    await r.settled();
    expect(done).toEqual(["pod-x"]);
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["pod-x was not removed"]);
  });
});
