// The control socket answers through an app built on its first request, not at the start.

import { mkdtemp, rm, stat } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { afterEach, describe, expect, it } from "vitest";
import { listenControl } from "../../../src/daemon/serve.js";
import type { FastifyLikeServer } from "../../../src/daemon/serve.js";
import { silentLogger } from "../../support/harness.js";

const get = (socketPath: string, path: string): Promise<{ status: number; body: string }> =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: "GET" }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the control socket", () => {
  it("builds its app on the first request, once; answers through it; closes", async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-control-"));
    const path = join(dir, "control.sock");
    let built = 0;
    const build = (): FastifyLikeServer => {
      built += 1;
      const app = Fastify();
      app.get("/ping", () => ({ pong: true }));
      return app as unknown as FastifyLikeServer;
    };
    const socket = await listenControl(build, silentLogger(), path);
    expect(((await stat(path)).mode & 0o777).toString(8)).toBe("600");
    expect(built).toBe(0);
    expect(await get(path, "/ping")).toEqual({ status: 200, body: '{"pong":true}' });
    expect((await get(path, "/nothing")).status).toBe(404);
    expect(built).toBe(1);
    await socket.close();
    await expect(get(path, "/ping")).rejects.toThrow();
  });
});
