import { describe, expect, it } from "vitest";
import { failureRecord } from "../../../src/commands/failure.js";
import { ConfigError, PodmanUnavailableError, UsageError } from "../../../src/lib/errors.js";

describe("a failure as a JSON log line", () => {
  const bad = new ConfigError([
    { file: "/etc/podwarden/x.yaml", path: "pod.name", message: "must be lowercase" },
    { file: "/etc/podwarden/x.yaml", path: "", message: "YAML syntax error" },
  ]);

  it("a bad config: every issue in an array, exit 78, fatal for the daemon", () => {
    expect(failureRecord("run", bad)).toEqual({
      level: "fatal",
      fields: { command: "run", code: "E_CONFIG", exitCode: 78, issues: ["/etc/podwarden/x.yaml: pod.name: must be lowercase", "/etc/podwarden/x.yaml: (root): YAML syntax error"] },
      msg: "invalid configuration (2 problems)",
    });
  });

  it("error (not fatal) for other commands, with the error's own code and exit code", () => {
    expect(failureRecord("reload", bad).level).toBe("error");
    expect(failureRecord("reload", new PodmanUnavailableError("no socket"))).toEqual({
      level: "error",
      fields: { command: "reload", code: "E_PODMAN_UNAVAILABLE", exitCode: 69 },
      msg: "no socket",
    });
    expect(failureRecord("run", new UsageError("run takes no arguments")).fields.exitCode).toBe(2);
  });

  it("an unexpected error: exit 1 with its stack as a field", () => {
    const r = failureRecord("run", new TypeError("boom"));
    expect(r.fields).toMatchObject({ code: "E_INTERNAL", exitCode: 1 });
    expect(r.fields.stack).toContain("TypeError: boom");
    expect(r.msg).toBe("unexpected error: boom");
    expect(failureRecord("run", "a string").fields.stack).toBeUndefined();
  });
});
