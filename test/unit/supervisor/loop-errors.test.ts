import { describe, expect, it } from "vitest";
import { PodmanUnavailableError } from "../../../src/lib/errors.js";
import { SecretScrubber, createLogger } from "../../../src/observability/logger.js";
import { ReconcileLoop } from "../../../src/supervisor/loop.js";
import { FakeClock } from "../../support/fake-clock.js";

describe("a failed reconcile pass in the log", () => {
  it("is the error itself: code, message, stack and its cause's code, the secret scrubbed", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ scrubber: new SecretScrubber(["pw-loop-secret-9"]), destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const stop = new AbortController();
    const refused = Object.assign(new Error("connect ECONNREFUSED /run/podman/podman.sock (pw-loop-secret-9)"), { code: "ECONNREFUSED" });
    const loop = new ReconcileLoop({
      pass: async () => {
        stop.abort();
        throw new PodmanUnavailableError("Podman does not answer", refused);
      },
      clock: new FakeClock(),
      logger,
      idleMs: 30_000,
      errorBackoff: { initialMs: 1_000, maxMs: 30_000 },
    });
    await loop.run(stop.signal);
    expect(JSON.stringify(lines)).not.toContain("pw-loop-secret-9");
    expect(lines).toHaveLength(1);
    const [line] = lines as [{ msg: string; retryInMs: number; err: { type: string; code: string; exitCode: number; message: string; stack: string; cause: { code: string; message: string; stack: string } } }];
    expect(line).toMatchObject({ msg: "reconcile pass failed", retryInMs: 1_000 });
    expect(line.err).toMatchObject({ type: "PodmanUnavailableError", code: "E_PODMAN_UNAVAILABLE", exitCode: 69, message: "Podman does not answer" });
    expect(line.err.stack).toMatch(/^PodmanUnavailableError: Podman does not answer\n\s+at /);
    expect(line.err.cause).toMatchObject({ code: "ECONNREFUSED", message: "connect ECONNREFUSED /run/podman/podman.sock ([REDACTED])" });
    expect(line.err.cause.stack).toMatch(/^Error: connect ECONNREFUSED/);
  });
});
