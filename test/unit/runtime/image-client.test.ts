// PodmanImages against a stand-in for Podman's image endpoints on a unix socket: an image's
// inspect answers again for INSPECT_REUSE_MS (a start asks about each image several times),
// and a change made through the client (here a tag) forgets every answer.

import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { INSPECT_REUSE_MS, PodmanImages } from "../../../src/runtime/image-client.js";
import { PodmanApi } from "../../../src/runtime/podman-api.js";
import { RECIPE_LABEL } from "../../../src/runtime/port.js";

let dir: string;
let server: Server;
let inspects: string[];
let recipe: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "podwarden-images-"));
  inspects = [];
  recipe = "r1";
  server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "").split("?")[0]!);
    const inspect = /\/images\/(.+)\/json$/.exec(path);
    res.setHeader("Content-Type", "application/json");
    if (inspect && inspect[1] === "localhost/app:1") {
      inspects.push(inspect[1]);
      return void res.end(JSON.stringify({ Id: "sha256:" + "a".repeat(64), Config: { Labels: { [RECIPE_LABEL]: recipe }, Entrypoint: ["run"], Cmd: null } }));
    }
    if (inspect) return void res.writeHead(404).end(JSON.stringify({ message: "no such image" }));
    if (/\/images\/.+\/tag$/.test(path)) return void res.writeHead(201).end();
    res.writeHead(404).end("{}");
  });
  const socket = join(dir, "podman.sock");
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe("PodmanImages", () => {
  it("answers an image's recipe, id and command from one inspect within INSPECT_REUSE_MS, and asks again after it", async () => {
    let now = 1_000;
    const images = new PodmanImages(new PodmanApi(join(dir, "podman.sock")), undefined, () => now);
    const [r, id] = await Promise.all([images.imageRecipe("localhost/app:1"), images.imageId("localhost/app:1")]);
    expect(r).toBe("r1");
    expect(id).toBe("sha256:" + "a".repeat(64));
    now += INSPECT_REUSE_MS - 1;
    expect(await images.imageArgv("localhost/app:1")).toEqual({ entrypoint: ["run"], cmd: null });
    expect(inspects).toHaveLength(1);
    recipe = "r2";
    now += 1;
    expect(await images.imageRecipe("localhost/app:1")).toBe("r2");
    expect(inspects).toHaveLength(2);
  });

  it("reads a build context once within INSPECT_REUSE_MS for images that share it, and again after a change it made", async () => {
    let now = 0;
    const images = new PodmanImages(new PodmanApi(join(dir, "podman.sock")), undefined, () => now);
    const context = join(dir, "context");
    await mkdir(context);
    await writeFile(join(context, "Containerfile"), "FROM scratch\n");
    const build = { containerfile: join(context, "Containerfile"), context, args: {} };
    const first = await images.buildInputsHash(build);
    await writeFile(join(context, "Containerfile"), "FROM scratch\nLABEL a=b\n");
    expect(await images.buildInputsHash({ ...build })).toBe(first);
    await images.tagImage("localhost/app:1", "localhost/app", "keep");
    const second = await images.buildInputsHash(build);
    expect(second).not.toBe(first);
    now += INSPECT_REUSE_MS;
    await writeFile(join(context, "Containerfile"), "FROM scratch\n");
    expect(await images.buildInputsHash(build)).toBe(first);
  });

  it("forgets every answer when it changes the images (a tag); a missing image has no command to read", async () => {
    const images = new PodmanImages(new PodmanApi(join(dir, "podman.sock")), undefined, () => 0);
    expect(await images.imageRecipe("localhost/app:1")).toBe("r1");
    recipe = "r2";
    await images.tagImage("localhost/app:1", "localhost/app", "keep");
    expect(await images.imageRecipe("localhost/app:1")).toBe("r2");
    expect(inspects).toHaveLength(2);
    expect(await images.imageId("localhost/other:1")).toBeUndefined();
    await expect(images.imageArgv("localhost/other:1")).rejects.toThrow(/localhost\/other:1: not found/);
  });
});
