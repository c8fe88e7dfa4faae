import { describe, expect, it } from "vitest";
import { blockingError, exitCodeFor, formatCheck, formatChecks, type Check } from "../../../src/doctor/report.js";
import { ConfigError, HostNotReadyError } from "../../../src/lib/errors.js";

const ok: Check = { name: "socket", status: "ok", detail: "Podman 4.3.1 answers" };
const warn: Check = { name: "persist-root", status: "warn", detail: "/tmp/x is under /tmp", fix: "move it" };
const host: Check = { name: "runtime", status: "error", blocking: true, cause: "catatonit missing", detail: "catatonit missing: ...", fix: "apt-get install catatonit" };
const podman: Check = { name: "socket", status: "error", kind: "podman", detail: "no answer", fix: "start it" };
const config: Check = { name: "persist-root", status: "error", kind: "config", field: "pod.persistRoot", blocking: true, detail: "/tmp/p is hidden", fix: "move pod.persistRoot" };

describe("exit codes", () => {
  it.each([
    [[ok], 0],
    [[ok, warn], 0],
    [[ok, host], 72],
    [[podman, host], 69],
    [[host, podman, config], 78],
    [[{ ...host, blocking: false }], 72],
  ] as [Check[], number][])("%#", (checks, code) => {
    expect(exitCodeFor(checks)).toBe(code);
  });
});

describe("lines", () => {
  it("one line per check: status, name, what was found, and the fix for warnings and errors only", () => {
    expect(formatCheck(host)).toBe("error runtime        catatonit missing: ...; fix: apt-get install catatonit");
    expect(formatCheck({ ...ok, fix: "never shown" })).toBe("ok    socket         Podman 4.3.1 answers");
    expect(formatChecks([ok, warn]).split("\n")).toEqual(["ok    socket         Podman 4.3.1 answers", "warn  persist-root   /tmp/x is under /tmp; fix: move it"]);
    expect(formatChecks([ok, { ...ok, name: "image-with-a-long-name" }]).split("\n")[0]).toBe(`ok    socket${" ".repeat(17)}Podman 4.3.1 answers`);
  });
});

describe("blockingError", () => {
  it("host problems: exit 72 naming each with its fix", () => {
    const err = blockingError([host], "/etc/pod.yaml");
    expect(err).toBeInstanceOf(HostNotReadyError);
    expect(err.exitCode).toBe(72);
    expect(err.code).toBe("E_HOST");
    expect(err.message).toContain("runtime: catatonit missing: ...; fix: apt-get install catatonit");
  });

  it("a config field that cannot work here: exit 78 naming the file and the field", () => {
    const err = blockingError([host, config], "/etc/pod.yaml");
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.exitCode).toBe(78);
    expect((err as ConfigError).issues).toEqual([{ file: "/etc/pod.yaml", path: "pod.persistRoot", message: "/tmp/p is hidden; fix: move pod.persistRoot" }]);
  });
});
