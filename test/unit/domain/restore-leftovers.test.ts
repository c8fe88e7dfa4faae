// Every point where a restore can be cut short, and what the next start does there.

import { describe, expect, it } from "vitest";
import { parseLeftover, planLeftovers, type PersistedDirState } from "../../../src/domain/restore-leftovers.js";

const dir = (source: string, exists: boolean, ...leftovers: string[]): PersistedDirState => ({
  container: source.split("/").pop()!,
  source,
  exists,
  leftovers: leftovers.map((l) => ({ kind: l.split("-")[0] as "restore" | "replaced", tag: l.split("-")[1]! })),
});
const show = (dirs: PersistedDirState[]): string[] => planLeftovers(dirs).map((a) => (a.do === "rename" ? `rename ${a.from} -> ${a.to}` : `${a.do} ${a.path}`));

describe("leftovers of a restore cut short", () => {
  it("recognises only its own names", () => {
    expect(parseLeftover("/p/valkey", "valkey.podwarden-restore-1700000000000")).toEqual({ kind: "restore", tag: "1700000000000" });
    expect(parseLeftover("/p/valkey", "valkey.podwarden-replaced-12")).toEqual({ kind: "replaced", tag: "12" });
    for (const n of ["valkey", "valkey2.podwarden-restore-1", "valkey.podwarden-restore-", "valkey.podwarden-restore-1x", "valkey.podwarden-partial-1", "other.podwarden-restore-1"]) {
      expect(parseLeftover("/p/valkey", n)).toBeUndefined();
    }
  });

  it("nothing left: nothing to do", () => expect(show([dir("/p/valkey", true), dir("/p/opencode", true)])).toEqual([]));

  it("cut off while unpacking (or before the swap): the unpacked copies go, the live data stays", () => {
    expect(show([dir("/p/valkey", true, "restore-5"), dir("/p/opencode", true, "restore-5")])).toEqual(["remove /p/valkey.podwarden-restore-5", "remove /p/opencode.podwarden-restore-5"]);
  });

  it("cut off inside one mount's swap (moved aside, not yet replaced): the old data goes back", () => {
    expect(show([dir("/p/valkey", false, "restore-5", "replaced-5")])).toEqual(["rename /p/valkey.podwarden-replaced-5 -> /p/valkey", "remove /p/valkey.podwarden-restore-5"]);
  });

  it("cut off between two mounts' swaps: the swapped one is rolled back too (all or nothing)", () => {
    expect(show([dir("/p/valkey", true, "replaced-5"), dir("/p/opencode", true, "restore-5")])).toEqual([
      "remove /p/valkey",
      "rename /p/valkey.podwarden-replaced-5 -> /p/valkey",
      "remove /p/opencode.podwarden-restore-5",
    ]);
  });

  it("cut off after every swap: finished, the replaced data goes once the pod is ready (never before)", () => {
    expect(show([dir("/p/valkey", true, "replaced-5"), dir("/p/opencode", true, "replaced-5")])).toEqual(["remove-when-ready /p/valkey.podwarden-replaced-5", "remove-when-ready /p/opencode.podwarden-replaced-5"]);
  });

  it("a directory that did not exist before the restore: the unpacked copy goes, nothing is invented", () => {
    expect(show([dir("/p/valkey", false, "restore-5")])).toEqual(["remove /p/valkey.podwarden-restore-5"]);
  });

  it("two restores cut short (an older podwarden ran in between): the newest is undone, the older's data is kept for the operator", () => {
    expect(show([dir("/p/valkey", false, "replaced-9", "restore-9", "replaced-10", "restore-10")])).toEqual([
      "rename /p/valkey.podwarden-replaced-10 -> /p/valkey",
      "remove /p/valkey.podwarden-restore-10",
      "keep /p/valkey.podwarden-replaced-9",
      "remove /p/valkey.podwarden-restore-9",
    ]);
  });

  it("a state no crash of this version leaves (the directory, its copy and its replaced data all there): nothing live is deleted", () => {
    expect(show([dir("/p/valkey", true, "replaced-5", "restore-5")])).toEqual(["keep /p/valkey.podwarden-replaced-5", "remove /p/valkey.podwarden-restore-5"]);
  });
});
