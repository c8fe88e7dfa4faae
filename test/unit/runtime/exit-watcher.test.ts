// watchExits on a real directory standing in for conmon's exit directory: how conmon writes
// an exit file (a temporary file renamed into place) and how Podman removes it again.

import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { watchExits } from "../../../src/runtime/exit-watcher.js";
import type { RuntimeEvent } from "../../../src/runtime/port.js";

const ID = "a".repeat(64);
const OTHER = "b".repeat(64);
let dir: string;
let events: RuntimeEvent[];
let stop: () => void;

/** As conmon does it (g_file_set_contents): write a temporary file, rename it to the id. */
const exitFile = async (id: string, code: number): Promise<void> => {
  const tmp = join(dir, `${id}.XYZ123`);
  await writeFile(tmp, String(code));
  await rename(tmp, join(dir, id));
};

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "podwarden-exits-"));
  events = [];
  stop = watchExits(dir, (id) => (id === ID ? "valkey" : undefined), (e) => events.push(e));
});

afterEach(async () => {
  stop();
  await rm(dir, { recursive: true, force: true });
});

describe("watchExits", () => {
  it("reports one death per exit file of a known container, none for others", async () => {
    await exitFile(OTHER, 0);
    await exitFile(ID, 137);
    await expect.poll(() => events.length).toBe(1);
    await settle();
    expect(events).toEqual([{ type: "container", action: "died", name: "valkey", id: ID, exitCode: undefined, at: expect.any(Number) }]);
  });

  it("reports a second exit right after the first (removed on the restart, written anew)", async () => {
    await exitFile(ID, 1);
    await expect.poll(() => events.length).toBe(1);
    await rm(join(dir, ID));
    await exitFile(ID, 1);
    await expect.poll(() => events.length).toBe(2);
    await settle();
    expect(events).toHaveLength(2);
  });

  it("says nothing when the file goes away", async () => {
    await exitFile(ID, 0);
    await expect.poll(() => events.length).toBe(1);
    await rm(join(dir, ID));
    await settle();
    expect(events).toHaveLength(1);
  });

  it("is off, without an error, when the directory cannot be watched", () => {
    expect(() => watchExits(join(dir, "missing"), () => "x", () => undefined)()).not.toThrow();
  });
});
