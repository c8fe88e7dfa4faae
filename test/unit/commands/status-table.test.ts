import { describe, expect, it } from "vitest";
import { renderTable } from "../../../src/commands/status.js";
import type { StatusDocument } from "../../../src/http/schemas.js";

const container = (over: Partial<StatusDocument["containers"][string]> = {}): StatusDocument["containers"][string] => ({
  state: "ready",
  health: "healthy",
  ready: true,
  restarts: 0,
  lastExitCode: null,
  lastReason: null,
  startedAt: null,
  readyAt: null,
  backoffSeconds: 0,
  nextAttemptAt: null,
  dependsOn: [],
  softDependencyOf: [],
  image: "localhost/valkey:test",
  id: "abc",
  imageId: "sha256:1",
  pinnedImage: null,
  previousImageId: null,
  lastUpdate: null,
  lastProbe: null,
  disk: null,
  ...over,
});

const doc = (jobs: StatusDocument["jobs"], containers: StatusDocument["containers"]): StatusDocument => ({
  status: "pass",
  version: "0",
  description: "",
  notes: [],
  podman: { reachable: true, events: true },
  blocked: null,
  lastPassAt: null,
  pod: { name: "p", state: "Running", containersReady: 1, containersTotal: 1, serving: true },
  containers,
  jobs,
  events: [],
});

describe("podwarden status table", () => {
  it("says how backups and updates went under the containers", () => {
    const text = renderTable(
      doc(
        {
          running: "update",
          backup: { configured: true, dir: "/b", schedule: "30 3 * * *", nextRunAt: "2026-11-23T03:30:00.000Z", last: { job: "backup", trigger: "scheduled", result: "failed", ms: 2100, message: "valkey: save failed" } },
          update: { nextRunAt: {}, last: null },
        },
        { valkey: container({ lastUpdate: { at: "2026-11-22T04:00:00.000Z", result: "rolled-back", from: "sha256:1", to: "sha256:2", message: "2 failed; back on 1", ms: 9000 } }) },
      ),
      false,
    );
    expect(text).toContain("  job running: update");
    expect(text).toContain("  backups: last failed (scheduled, 2 s): valkey: save failed; next 2026-11-23T03:30:00.000Z");
    expect(text).toContain("  update valkey: rolled-back at 2026-11-22T04:00:00.000Z: 2 failed; back on 1");
  });

  it("stays quiet about jobs that are not configured", () => {
    const text = renderTable(doc({ running: null, backup: { configured: false, dir: null, schedule: null, nextRunAt: null, last: null }, update: { nextRunAt: {}, last: null } }, { valkey: container() }), false);
    expect(text).not.toMatch(/backups|update|job/);
  });
});
