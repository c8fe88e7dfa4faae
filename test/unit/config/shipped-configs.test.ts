// The YAML files shipped in config/ load, and describe the seed's pod. Their env file
// (/run/secrets/opencode.env) does not exist here, so each is loaded through a small override
// file in a temp dir that points pod.envFile at a temp env file: which also exercises `extends`.

import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../../../src/config/load.js";
import { secretKeysFor } from "../../../src/domain/secret-env.js";
import type { PodSpec } from "../../../src/domain/spec.js";
import { REPO_CONFIG_DIR, fixture } from "./fixture.js";

const REPO_ROOT = path.resolve(REPO_CONFIG_DIR, "..");

async function loadShipped(name: string, env = "OPENCODE_SERVER_PASSWORD=s3cret\nDD_API_KEY=dd\n") {
  const fx = await fixture(env);
  const override = await fx.write("override.yaml", { extends: path.join(REPO_CONFIG_DIR, name), pod: { envFile: "secrets.env" } });
  const loaded = await loadConfig(override);
  return { ...loaded, fx };
}

/** The build context of the OpenCode image (config/images/opencode) may not exist yet: that is only a warning. */
const otherWarnings = (warnings: readonly string[]) => warnings.filter((w) => !/\.build\.context: build context .*images\/opencode/.test(w));

/** What both files share: the seed's pod. */
function expectSeedPod(spec: PodSpec): void {
  expect(spec.name).toBe("opencode-memory-pod");
  expect(spec.ports.map((p) => [p.host, p.container, p.protocol])).toEqual([
    [4096, 4096, "tcp"],
    [6379, 6379, "tcp"],
    [6380, 6380, "tcp"],
    [3000, 3000, "tcp"],
    [8126, 8126, "tcp"],
  ]);
  const byName = new Map(spec.containers.map((c) => [c.name, c]));
  expect([...byName.keys()]).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
  // The seed's chain; OpenCode's edge to the Agent is soft (telemetry never keeps it down).
  expect(spec.containers.map((c) => c.dependsOn.map((d) => [d.name, d.soft ? "soft" : "hard"]))).toEqual([
    [],
    [["valkey", "hard"]],
    [["falkordb", "hard"]],
    [["datadog", "soft"]],
  ]);

  const valkey = byName.get("valkey");
  expect(valkey?.command?.join(" ")).toBe("valkey-server --port 6380 --maxmemory 2gb --maxmemory-policy allkeys-lru --save 60 1000");
  expect(valkey?.mounts).toEqual([{ source: "/persist/containers/valkey", target: "/data", readOnly: false, optional: false, create: true }]);
  expect(valkey?.probe).toMatchObject({ kind: "redis", port: 6380 });

  const falkordb = byName.get("falkordb");
  expect(falkordb?.env).toEqual({ REDIS_ARGS: "--save 60 100" });
  expect(falkordb?.mounts[0]?.source).toBe("/persist/containers/falkordb");
  // Where the current image writes (FALKORDB_DATA_PATH), not the seed's /data (only a symlink there).
  expect(falkordb?.mounts[0]?.target).toBe("/var/lib/falkordb/data");
  expect(falkordb?.probe).toMatchObject({ kind: "redis", port: 6379 });

  const datadog = byName.get("datadog");
  // Least privilege: the Agent (which mounts the Podman socket) gets only its own keys.
  expect(datadog?.secretEnv).toEqual(["DD_*"]);
  expect(datadog?.env).toMatchObject({
    DD_LOGS_ENABLED: "true",
    DD_APM_ENABLED: "true",
    DD_APM_NON_LOCAL_TRAFFIC: "true",
    DD_LLM_OBSERVABILITY_ENABLED: "true",
    DD_LOGS_CONFIG_CONTAINER_COLLECT_ALL: "true",
    DOCKER_HOST: "unix:///var/run/docker.sock",
  });
  expect(datadog?.mounts).toEqual([
    { source: "/var/run/podman/podman.sock", target: "/var/run/docker.sock", readOnly: true, optional: false, create: false },
  ]);
  expect(datadog?.probe).toMatchObject({ kind: "tcp", port: 8126 });
  expect(datadog?.requiredSecrets).toEqual([{ key: "DD_API_KEY", why: "the Agent exits at start without it" }]);
  expect(datadog?.probe?.startPeriodMs).toBeGreaterThan(valkey?.probe?.startPeriodMs ?? Infinity);

  const opencode = byName.get("opencode");
  expect(opencode?.secretEnv).toEqual(["OPENCODE_*", "*_API_KEY", "!DD_*"]);
  expect(opencode?.mounts.map((m) => [m.source, m.target, m.readOnly, m.optional, m.create])).toEqual([
    ["/persist/containers/opencode", "/home/opencode/.local/share/opencode", false, false, true],
    ["/persist/opencode-plugins/plugin", "/home/opencode/.opencode/plugin", true, true, false],
    ["/persist/opencode-plugins/graphiti", "/home/opencode/.opencode/graphiti", true, true, false],
  ]);
  expect(opencode?.probe).toMatchObject({
    kind: "http",
    port: 4096,
    path: "/global/health",
    auth: { passwordKey: "OPENCODE_SERVER_PASSWORD", usernameKey: "OPENCODE_SERVER_USERNAME", defaultUsername: "opencode" },
  });
}

describe("config/opencode-memory-pod.yaml", () => {
  it("loads and describes the seed's pod from registry images", async () => {
    const { spec, warnings, fx } = await loadShipped("opencode-memory-pod.yaml");
    expect(otherWarnings(warnings)).toEqual([]);
    expect(spec.envFile).toBe(fx.envFile);
    expectSeedPod(spec);
    expect(spec.containers.map((c) => c.image)).toEqual([
      "docker.io/valkey/valkey:7.2",
      "docker.io/falkordb/falkordb:latest",
      "docker.io/datadog/agent:latest",
      "localhost/opencode-server:latest",
    ]);
    expect(spec.images).toEqual({
      "localhost/opencode-server:latest": {
        ref: "localhost/opencode-server:latest",
        build: { containerfile: path.join(REPO_ROOT, "Dockerfile.opencode"), context: path.join(REPO_CONFIG_DIR, "images/opencode"), args: {} },
      },
    });
  });

});

describe("config/local.yaml", () => {
  it("loads and describes the same pod from images built on this host", async () => {
    const { spec, warnings } = await loadShipped("local.yaml");
    expect(otherWarnings(warnings)).toEqual([]);
    expectSeedPod(spec);
    expect(spec.containers.map((c) => c.image)).toEqual([
      "localhost/podwarden-valkey:local",
      "localhost/podwarden-falkordb-standin:local",
      "localhost/podwarden-datadog-standin:local",
      "localhost/opencode-server:local",
    ]);
    const images = path.join(REPO_CONFIG_DIR, "images");
    expect(spec.images["localhost/podwarden-debian:bookworm"]).toEqual({
      ref: "localhost/podwarden-debian:bookworm",
      debootstrap: { suite: "bookworm", variant: "minbase", mirror: "http://deb.debian.org/debian" },
    });
    for (const [ref, containerfile, context] of [
      ["localhost/podwarden-valkey:local", path.join(images, "valkey.Containerfile"), images],
      ["localhost/podwarden-falkordb-standin:local", path.join(images, "falkordb-standin.Containerfile"), images],
      ["localhost/podwarden-datadog-standin:local", path.join(images, "datadog-standin.Containerfile"), images],
      ["localhost/opencode-server:local", path.join(REPO_ROOT, "Dockerfile.opencode"), path.join(images, "opencode")],
    ] as const) {
      expect(spec.images[ref]).toEqual({ ref, from: "localhost/podwarden-debian:bookworm", build: { containerfile, context, args: {} } });
    }
    // Every image a container uses is one this file knows how to build.
    for (const container of spec.containers) expect(Object.keys(spec.images)).toContain(container.image);
  });
});

/** An env file with keys for each container, some for nobody. */
const FULL_ENV = [
  "OPENCODE_SERVER_PASSWORD=s3cret",
  "OPENCODE_SERVER_USERNAME=me",
  "DD_API_KEY=dd",
  "DD_SITE=datadoghq.eu",
  "ANTHROPIC_API_KEY=sk-ant",
  "OPENAI_API_KEY=sk-oai",
  "GITHUB_PAT=ghp",
  "BACKUP_PASSPHRASE=bk",
].join("\n");

describe("both shipped files", () => {
  it.each(["opencode-memory-pod.yaml", "local.yaml"])("%s gives each container only the keys it needs", async (name) => {
    const { spec, secrets, warnings } = await loadShipped(name, `${FULL_ENV}\n`);
    expect(otherWarnings(warnings)).toEqual([]);
    const keys = Object.fromEntries(spec.containers.map((c) => [c.name, secretKeysFor(c, secrets.keys())]));
    expect(keys).toEqual({
      valkey: [],
      falkordb: [],
      datadog: ["DD_API_KEY", "DD_SITE"],
      opencode: ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENCODE_SERVER_PASSWORD", "OPENCODE_SERVER_USERNAME"],
    });
  });

  it.each(["opencode-memory-pod.yaml", "local.yaml"])("%s without DD_API_KEY in the env file: valid, with one warning naming the key", async (name) => {
    const { warnings, fx } = await loadShipped(name, "OPENCODE_SERVER_PASSWORD=s3cret\n");
    expect(otherWarnings(warnings)).toEqual([
      `${path.join(REPO_CONFIG_DIR, name)}: containers.datadog.requiredSecrets[0]: DD_API_KEY is not in the env file ${fx.envFile}: ` +
        "the Agent exits at start without it (soft dependency of opencode, which starts anyway)",
    ]);
  });

  it.each(["opencode-memory-pod.yaml", "local.yaml"])("%s reads the seed's env file and persist root, and extends nothing", async (name) => {
    const doc: unknown = parse(await readFile(path.join(REPO_CONFIG_DIR, name), "utf8"));
    expect(doc).toMatchObject({ pod: { envFile: "/run/secrets/opencode.env", persistRoot: "/persist/containers" } });
    expect(doc).not.toHaveProperty("extends");
  });
});
