import { describe, expect, it } from "vitest";
import { PodmanApiError } from "../../../src/lib/errors.js";
import { SecretScrubber, createLogger, makeScrubber } from "../../../src/observability/logger.js";
import { formatLine } from "../../../src/observability/pretty.js";

const capture = () => {
  const lines: string[] = [];
  return { lines, destination: { write: (l: string) => void lines.push(l) } };
};

describe("logger", () => {
  it("never writes a secret value, whatever field or message carries it", () => {
    const { lines, destination } = capture();
    const log = createLogger({ scrubber: new SecretScrubber(["hunter2-xyz", 'quo"te-secret']), destination });
    log.info({ detail: "the value is hunter2-xyz", nested: { deep: ['quo"te-secret'] } }, "msg with hunter2-xyz inside");
    log.info({ password: "plain-field-secret" }, "redacted by key");
    const out = lines.join("");
    expect(out).not.toContain("hunter2-xyz");
    expect(out).not.toContain("quo");
    expect(out).not.toContain("plain-field-secret");
    expect(out.match(/\[REDACTED\]/g)?.length).toBe(4);
  });

  it("scrubs the new values after a reload", () => {
    const { lines, destination } = capture();
    const scrubber = new SecretScrubber(["old-secret-1"]);
    const log = createLogger({ scrubber, destination });
    scrubber.set(["new-secret-2"]);
    log.info("old-secret-1 new-secret-2");
    expect(lines.join("")).toContain("old-secret-1 [REDACTED]");
  });

  it("does not scrub values too short to be secrets", () => {
    expect(makeScrubber(["ab"])("ab cd")).toBe("ab cd");
  });

  it("logs an error whole (type, code, message and stack with its causes, extra fields) with the secret values scrubbed from every part", () => {
    const { lines, destination } = capture();
    const log = createLogger({ scrubber: new SecretScrubber(["hunter2-xyz", 'quo"te-secret']), destination });
    const root = Object.assign(new Error('socket said quo"te-secret'), { code: "ECONNRESET", detail: "token=hunter2-xyz" });
    const middle = new Error("dial failed for hunter2-xyz", { cause: root });
    log.error({ container: "valkey", err: new PodmanApiError("start container", "refused with hunter2-xyz", 500, middle) }, "start failed");
    const out = lines.join("");
    expect(out).not.toContain("hunter2-xyz");
    expect(out).not.toContain("quo");
    const { err } = JSON.parse(out) as { err: Record<string, unknown> & { cause: Record<string, unknown> & { cause: Record<string, unknown> } } };
    expect(err).toMatchObject({
      type: "PodmanApiError",
      code: "E_PODMAN_API",
      exitCode: 1,
      status: 500,
      operation: "start container",
      message: "start container: refused with [REDACTED]",
      cause: { type: "Error", message: "dial failed for [REDACTED]", cause: { type: "Error", code: "ECONNRESET", message: "socket said [REDACTED]", detail: "token=[REDACTED]" } },
    });
    // Each has its stack, scrubbed too.
    expect(String(err.stack)).toMatch(/^PodmanApiError: start container: refused with \[REDACTED\]\n\s+at .*logger\.test\.ts/);
    expect(String(err.cause.stack)).toMatch(/^Error: dial failed for \[REDACTED\]\n\s+at /);
    expect(String(err.cause.cause.stack)).toMatch(/^Error: socket said \[REDACTED\]\n\s+at /);
  });

  it("shows an error as its code and message in the pretty mode", () => {
    const { lines, destination } = capture();
    const log = createLogger({ destination });
    log.warn({ err: new PodmanApiError("list containers", "socket closed") }, "pass failed");
    log.warn({ err: Object.assign(new Error("ENOENT: no such file"), { code: "ENOENT" }) }, "cannot read");
    log.warn({ err: "a thrown string" }, "odd");
    expect(lines.map((l) => formatLine(l.trimEnd()).slice(13))).toEqual([
      'WARN  pass failed  err="E_PODMAN_API: list containers: socket closed"\n',
      'WARN  cannot read  err="ENOENT: no such file"\n',
      'WARN  odd  err="a thrown string"\n',
    ]);
  });

  it("formats lines for people in the pretty mode", () => {
    const line = formatLine(JSON.stringify({ level: 40, time: Date.parse("2026-01-01T10:11:12.345Z"), container: "valkey", msg: "probe failed", failures: 2 }));
    expect(line).toBe("10:11:12.345 WARN  valkey: probe failed  failures=2\n");
  });
});
