// `podwarden render flux` in-process: which OpenCode image the tree gets. A cluster must be
// able to pull it, pinned: without --image a config's local image gives way to the stock
// image; an --image that is local, moving, or the stock image outside 1.x is a usage error
// (exit 2) with the reason; with --with-memory a local memory image is one too, a :latest one a warning.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { render } from "../../../src/commands/render.js";
import { readOptions, type ContextOf } from "../../../src/commands/options.js";
import { RENDER } from "../../../src/commands/declarations.js";
import { EXIT } from "../../../src/lib/errors.js";
import { LOCAL_CONFIG, REPO } from "../../support/podman-harness.js";

let dir: string;
let shippedConfig: string;
let localConfig: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pw-render-cmd-"));
  await writeFile(join(dir, "env"), "OPENCODE_SERVER_PASSWORD=render-cmd-password\nDD_API_KEY=render-cmd-dd\n", { mode: 0o600 });
  shippedConfig = join(dir, "shipped.yaml");
  await writeFile(shippedConfig, `extends: ${join(REPO, "config/opencode-memory-pod.yaml")}\npod:\n  envFile: ${join(dir, "env")}\n`);
  localConfig = join(dir, "local.yaml");
  await writeFile(localConfig, `extends: ${LOCAL_CONFIG}\npod:\n  envFile: ${join(dir, "env")}\n`);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const renderFlux = async (config: string, flags: { image?: string; withMemory?: boolean } = {}) => {
  const out: string[] = [];
  const err: string[] = [];
  const ctx = {
    global: { config, configGiven: true, env: {}, logLevel: "silent", logFormat: "json", version: "0" },
    args: ["flux"],
    options: readOptions(RENDER.options, { domain: "example.com", workspace: ["flux=https://github.com/o/k8s-cluster.git"], image: flags.image, "with-memory": flags.withMemory }),
    out: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
    err: new Writable({ write: (c, _e, cb) => (err.push(String(c)), cb()) }),
  } as unknown as ContextOf<typeof RENDER>;
  const code = await render(ctx);
  return { code, out: out.join(""), err: err.join("") };
};

describe("render flux: the OpenCode image", () => {
  it("the config's localhost/ image (local.yaml, the shipped config's localhost/opencode-server:latest): the stock image, pinned, with a note", async () => {
    for (const config of [localConfig, shippedConfig]) {
      const r = await renderFlux(config);
      expect(r.code).toBe(EXIT.ok);
      expect(r.err).toMatch(/^note: render flux: no --image and the config's localhost\/opencode-server:\S+ is not one a cluster can pull: using the stock image ghcr\.io\/anomalyco\/opencode:1\.18\.33\n$/);
      expect(r.out).toContain("image: ghcr.io/anomalyco/opencode:1.18.33\n");
      expect(r.out).not.toContain("localhost/");
    }
  });

  it("an --image that cannot work is a usage error with the reason: localhost/, the stock image outside 1.x", async () => {
    await expect(renderFlux(localConfig, { image: "localhost/opencode-server:local" })).rejects.toMatchObject({
      exitCode: EXIT.usage,
      message: expect.stringMatching(/the OpenCode image localhost\/opencode-server:local \(--image\) is in this host's local image store .*use the stock image .*or build Dockerfile\.opencode, push it .*--image REGISTRY\/NAME:VERSION/),
    });
    await expect(renderFlux(localConfig, { image: "ghcr.io/anomalyco/opencode:2.0.1" })).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringContaining("not a 1.x release") });
  });

  it("--image with no tag or :latest is a usage error; a version tag or a digest is used as given", async () => {
    await expect(renderFlux(localConfig, { image: "ghcr.io/o/opencode-server" })).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringContaining("(--image) has no tag") });
    await expect(renderFlux(localConfig, { image: "ghcr.io/o/opencode-server:latest" })).rejects.toMatchObject({ exitCode: EXIT.usage, message: expect.stringContaining("(--image) is tagged :latest") });
    for (const image of ["ghcr.io/o/opencode-server:1.18.33", `ghcr.io/o/opencode-server@sha256:${"0".repeat(64)}`]) {
      const r = await renderFlux(localConfig, { image });
      expect(r.code).toBe(EXIT.ok);
      expect(r.err).toBe("");
      expect(r.out).toContain(`image: ${image}\n`);
      expect(r.out).not.toContain("localhost/");
    }
  });

  it("--with-memory: a localhost/ memory image is a usage error; :latest ones (the seed's FalkorDB and Agent) are warnings", async () => {
    await expect(renderFlux(localConfig, { image: "ghcr.io/o/opencode-server:1.18.33", withMemory: true })).rejects.toMatchObject({
      exitCode: EXIT.usage,
      message: expect.stringContaining("valkey's image localhost/podwarden-valkey:local is in this host's local image store"),
    });
    const r = await renderFlux(shippedConfig, { image: "ghcr.io/o/opencode-server:1.18.33", withMemory: true });
    expect(r.code).toBe(EXIT.ok);
    expect(r.err.trim().split("\n")).toEqual([
      "warning: render flux --with-memory: falkordb's image docker.io/falkordb/falkordb:latest is tagged :latest, which moves: pin a version in the config for repeatable rollouts",
      "warning: render flux --with-memory: datadog's image docker.io/datadog/agent:latest is tagged :latest, which moves: pin a version in the config for repeatable rollouts",
    ]);
    expect(r.out).not.toContain("render-cmd-");
  });
});
