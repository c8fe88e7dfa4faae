import { execFileSync } from "node:child_process";
import { lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handoverDecision, keepPodPath, parseMarker, readMarker, withdrawMarker, writeMarker } from "../../../src/daemon/keep-pod.js";

describe("the keep-pod marker: parsing and the decision", () => {
  it("accepts exactly one pid, optionally with one newline", () => {
    expect(parseMarker("1234\n")).toEqual({ kind: "pid", pid: 1234 });
    expect(parseMarker("1")).toEqual({ kind: "pid", pid: 1 });
    expect(parseMarker("4194304")).toEqual({ kind: "pid", pid: 4194304 });
    for (const bad of ["", "\n", "0", "-5", "01", "12 34", "1234\n\n", " 1234", "1234 ", "4194305", "12345678", "1e3", "0x10", "1234\nmore", "../../etc/passwd"]) {
      expect(parseMarker(bad).kind, JSON.stringify(bad)).toBe("invalid");
    }
  });

  it("hands over only when the marker names this very daemon", () => {
    expect(handoverDecision({ kind: "pid", pid: 42 }, 42)).toEqual({ handover: true });
    expect(handoverDecision({ kind: "absent" }, 42)).toEqual({ handover: false });
    expect(handoverDecision({ kind: "pid", pid: 41 }, 42)).toEqual({ handover: false, ignored: "it names pid 41, not this daemon (42): stale" });
    expect(handoverDecision({ kind: "invalid", reason: "a symbolic link" }, 42)).toEqual({ handover: false, ignored: "a symbolic link" });
  });

  it("lives in the runtime directory, named after the pod", () => {
    expect(keepPodPath({ RUNTIME_DIRECTORY: "/run/podwarden" }, "opencode-memory-pod")).toBe("/run/podwarden/opencode-memory-pod.keep-pod");
    expect(keepPodPath({}, "p")).toBe("/run/podwarden/p.keep-pod");
  });
});

describe("the keep-pod marker on disk (hostile input)", () => {
  let dir: string;
  let marker: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-keep-pod-"));
    marker = join(dir, "pod.keep-pod");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the pid root-only, and reads it back", async () => {
    await writeMarker(marker, 4321);
    expect(await readFile(marker, "utf8")).toBe("4321\n");
    expect((await stat(marker)).mode & 0o777).toBe(0o600);
    expect(await readMarker(marker)).toEqual({ kind: "pid", pid: 4321 });
  });

  it("absent is absent", async () => {
    expect(await readMarker(marker)).toEqual({ kind: "absent" });
  });

  it("never follows a link: reading one is invalid, writing replaces the link and leaves its target alone", async () => {
    const target = join(dir, "target");
    await writeFile(target, "77\n");
    await symlink(target, marker);
    expect(await readMarker(marker)).toEqual({ kind: "invalid", reason: "a symbolic link" });
    await writeMarker(marker, 88);
    expect((await lstat(marker)).isSymbolicLink()).toBe(false);
    expect(await readFile(target, "utf8")).toBe("77\n");
    expect(await readMarker(marker)).toEqual({ kind: "pid", pid: 88 });
  });

  it("a directory, a FIFO (without blocking), a long file, another owner: invalid", async () => {
    await mkdir(marker);
    expect(await readMarker(marker)).toEqual({ kind: "invalid", reason: "not a regular file" });
    await rm(marker, { recursive: true });
    execFileSync("mkfifo", [marker]);
    expect(await readMarker(marker)).toEqual({ kind: "invalid", reason: "not a regular file" });
    await rm(marker);
    await writeFile(marker, `${"1".repeat(40)}\n`);
    expect((await readMarker(marker)).kind).toBe("invalid");
    await writeFile(marker, "123\n");
    expect(await readMarker(marker, 12345)).toEqual({ kind: "invalid", reason: `owned by uid ${process.getuid!()}, not 12345` });
  });

  it("withdraws the marker only while it still names that pid", async () => {
    await writeMarker(marker, 5);
    await withdrawMarker(marker, 6);
    expect(await readMarker(marker)).toEqual({ kind: "pid", pid: 5 });
    await withdrawMarker(marker, 5);
    expect(await readMarker(marker)).toEqual({ kind: "absent" });
    const target = join(dir, "t");
    await writeFile(target, "5\n");
    await symlink(target, marker);
    await withdrawMarker(marker, 5); // a link is not our marker: left for the daemon to discard
    expect(await readlink(marker)).toBe(target);
  });
});
