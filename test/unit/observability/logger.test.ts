import { describe, expect, it } from "vitest";
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

  it("formats lines for people in the pretty mode", () => {
    const line = formatLine(JSON.stringify({ level: 40, time: Date.parse("2026-01-01T10:11:12.345Z"), container: "valkey", msg: "probe failed", failures: 2 }));
    expect(line).toBe("10:11:12.345 WARN  valkey: probe failed  failures=2\n");
  });
});
