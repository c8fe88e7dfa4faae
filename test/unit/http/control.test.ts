import { describe, expect, it } from "vitest";
import { buildControlServer, type ControlDeps } from "../../../src/http/control.js";
import { PodwardenError, UsageError } from "../../../src/lib/errors.js";

const deps = (over: Partial<ControlDeps> = {}): ControlDeps => ({
  backupNow: async () => ({ archive: "/b/x.tar.gz" }),
  listBackups: async () => [],
  restore: async (archive) => ({ archive }),
  checkUpdates: async (container) => [{ container: container ?? "all" }],
  update: async () => [],
  reload: async (config) => ({ changed: config ? [config] : [], podChanged: false }),
  ...over,
});

describe("control socket routes", () => {
  it("reload: passes the file the CLI checked and answers with what changed; a refused config is a 400 with E_CONFIG", async () => {
    const ok = buildControlServer(deps());
    const r = await ok.inject({ method: "POST", url: "/reload", payload: { config: "/etc/p.yaml" } });
    expect([r.statusCode, r.json()]).toEqual([200, { changed: ["/etc/p.yaml"], podChanged: false }]);
    expect((await ok.inject({ method: "POST", url: "/reload", payload: { config: "" } })).statusCode).toBe(400);
    const bad = buildControlServer(
      deps({
        reload: async () => {
          throw new PodwardenError("E_CONFIG", "invalid configuration (1 problem)");
        },
      }),
    );
    const refused = await bad.inject({ method: "POST", url: "/reload", payload: {} });
    expect([refused.statusCode, refused.json()]).toEqual([400, { error: "invalid configuration (1 problem)", code: "E_CONFIG" }]);
  });

  it("answers with the job's result", async () => {
    const app = buildControlServer(deps());
    const r = await app.inject({ method: "POST", url: "/restore", payload: { archive: "/b/x.tar.gz" } });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ archive: "/b/x.tar.gz" });
    expect((await app.inject({ method: "GET", url: "/updates?container=valkey" })).json()).toEqual([{ container: "valkey" }]);
  });

  it("keeps the error code, so the CLI can choose its exit code (busy: 409, usage: 400, anything else: 500)", async () => {
    const app = buildControlServer(
      deps({
        backupNow: async () => {
          throw new PodwardenError("E_BUSY", "backup: restore is running");
        },
        update: async () => {
          throw new UsageError("containers.x.update is not set");
        },
        listBackups: async () => {
          throw new Error("EACCES: /b");
        },
      }),
    );
    const busy = await app.inject({ method: "POST", url: "/backups" });
    expect([busy.statusCode, busy.json()]).toEqual([409, { error: "backup: restore is running", code: "E_BUSY" }]);
    const usage = await app.inject({ method: "POST", url: "/updates?container=x" });
    expect([usage.statusCode, usage.json().code]).toEqual([400, "E_USAGE"]);
    const internal = await app.inject({ method: "GET", url: "/backups" });
    expect([internal.statusCode, internal.json().code]).toEqual([500, "E_INTERNAL"]);
  });

  it("rejects a restore without an archive, and unknown query keys", async () => {
    const app = buildControlServer(deps());
    for (const payload of [{}, { archive: "" }, { archive: 3 }]) {
      const refused = await app.inject({ method: "POST", url: "/restore", payload });
      expect([refused.statusCode, refused.json().code]).toEqual([400, "E_USAGE"]);
      expect(refused.json().error).toMatch(/^body\/?\S* /);
    }
    const query = await app.inject({ method: "GET", url: "/updates?container=" });
    expect([query.statusCode, query.json().code]).toEqual([400, "E_USAGE"]);
    expect(query.json().error).toMatch(/^querystring\/container /);
    const unknown = await app.inject({ method: "GET", url: "/updates?image=x" });
    expect([unknown.statusCode, unknown.json().code]).toEqual([400, "E_USAGE"]);
  });
});
