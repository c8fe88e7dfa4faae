import { describe, expect, it } from "vitest";
import { buildControlServer } from "../../../src/http/control.js";
import { buildServer, type HttpDeps } from "../../../src/http/server.js";
import { SecretScrubber, createLogger } from "../../../src/observability/logger.js";
import { Metrics } from "../../../src/observability/metrics.js";
import { buildSnapshot, type Snapshot } from "../../../src/domain/snapshot.js";
import { Timeline } from "../../../src/supervisor/timeline.js";
import { Harness } from "../../support/harness.js";
import { chainSpec } from "../../support/pod-spec.js";

const SECRET = "s3cret-in-an-error-77";

const readySnapshot = async (): Promise<Snapshot> => {
  const spec = chainSpec();
  const h = new Harness({ spec });
  await h.runUntil((r) => r.settled);
  const now = h.clock.now();
  return buildSnapshot({ spec, mode: "up", observed: h.reconciler.lastObserved, plan: h.reconciler.lastPlan, history: h.reconciler.history, lastError: undefined, podmanReachable: true, eventsConnected: true, lastPassAt: now, now });
};

/** A server on a real logger at `level`, writing JSON lines into `lines`. */
const logged = async (level: string, over: Partial<HttpDeps> = {}) => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, scrubber: new SecretScrubber([SECRET]), destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
  const snap = await readySnapshot();
  const timeline = new Timeline();
  const metrics = new Metrics({ version: "1", containers: Object.keys(snap.containers) });
  const app = buildServer({ version: "1", snapshot: () => snap, timeline: () => timeline.entries(), warnings: () => [], metrics, alive: () => true, logger, ...over });
  return { app, lines, logger };
};

describe("HTTP logging through the daemon's logger", () => {
  it("at info, requests (a scrape, a 404) write nothing", async () => {
    const { app, lines } = await logged("info");
    for (const url of ["/status", "/metrics", "/healthz", "/readyz", "/", "/nope"]) await app.inject(url);
    expect(lines).toEqual([]);
  });

  it("at debug, one line per request, from component http", async () => {
    const { app, lines } = await logged("debug");
    await app.inject("/status");
    await app.inject("/nope");
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests.map((l) => [l.component, l.method, l.url, l.statusCode, typeof l.ms])).toEqual([
      ["http", "GET", "/status", 200, "number"],
      ["http", "GET", "/nope", 404, "number"],
    ]);
    expect(lines.filter((l) => l.msg === "no such route").map((l) => l.url)).toEqual(["/nope"]);
  });

  it("a route that throws is a 500 logged as an error: type, message, stack and cause, the secret scrubbed", async () => {
    const good = await readySnapshot();
    let broken = false;
    const { app, lines } = await logged("info", {
      // Sound while the server gets ready (the metrics' first render reads it), broken after.
      snapshot: () => {
        if (!broken) return good;
        throw new Error(`snapshot broke near ${SECRET}`, { cause: Object.assign(new Error("underneath"), { code: "EIO" }) });
      },
    });
    await app.ready();
    broken = true;
    const res = await app.inject("/readyz");
    expect(res.statusCode).toBe(500);
    expect(JSON.stringify(lines)).not.toContain(SECRET);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ component: "http", url: "/readyz", statusCode: 500, err: { type: "Error", message: "snapshot broke near [REDACTED]", cause: { message: "underneath", code: "EIO" } } });
    expect(String((errors[0]!.err as { stack: string }).stack)).toMatch(/^Error: snapshot broke near \[REDACTED\]\n\s+at /);
  });

  it("the control socket logs as component control; a refused request is its caller's business (debug)", async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: "debug", destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } });
    const refuse = async (): Promise<never> => Promise.reject(new Error("not here"));
    const app = buildControlServer({ backupNow: refuse, listBackups: refuse, restore: refuse, checkUpdates: refuse, update: refuse, reload: refuse, logger });
    expect((await app.inject({ method: "POST", url: "/restore", payload: {} })).statusCode).toBe(400);
    expect(lines.filter((l) => Number(l.level) >= 40)).toEqual([]);
    expect(lines.filter((l) => l.msg === "request").map((l) => [l.component, l.url, l.statusCode])).toEqual([["control", "/restore", 400]]);
  });
});
