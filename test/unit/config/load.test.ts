import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { fixture, writeConfig } from "./fixture.js";

describe("loadConfig maps a valid file to a PodSpec", () => {
  it("keeps the file's container order and maps every field", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx);
    const { spec, secrets, warnings } = await loadConfig(file);

    expect(warnings).toEqual([]);
    expect(spec.name).toBe("testpod");
    expect(spec.source).toBe(file);
    expect(spec.envFile).toBe(fx.envFile);
    expect(spec.containers.map((c) => c.name)).toEqual(["cache", "web", "agent"]);
    expect(spec.containers[0]).toEqual({
      name: "cache",
      image: "localhost/cache:test",
      command: ["valkey-server", "--port", "6380"],
      env: {},
      secretEnv: [],
      mounts: [{ source: path.join(fx.dir, "data/cache"), target: "/data", readOnly: false, optional: false, create: true }],
      dependsOn: [],
      probe: {
        kind: "redis",
        port: 6380,
        passwordKey: "CACHE_PASSWORD",
        intervalMs: 10_000,
        startIntervalMs: 25,
        timeoutMs: 2_000,
        retries: 3,
        startPeriodMs: 120_000,
      },
      stopTimeoutS: 10,
    });
    expect(spec.containers[1]?.dependsOn).toEqual([{ name: "cache", restart: false, soft: false }]);
    expect(spec.containers[2]?.dependsOn).toEqual([{ name: "web", restart: true, soft: false }]);
    expect(spec.containers[2]?.secretEnv).toEqual(["DD_*"]);
    expect(spec.images).toEqual({});
    expect([...secrets]).toEqual([
      ["OPENCODE_SERVER_PASSWORD", "s3cret"],
      ["DD_API_KEY", "dd-key"],
      ["CACHE_PASSWORD", "c4che"],
    ]);
  });

  it("reads the port shorthand: a number, HOST:CONTAINER, HOST:CONTAINER/udp", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "pod.ports": [6380, "18080:8080", "5353:53/udp", "8126:8126/tcp"] });
    const { spec } = await loadConfig(file);
    expect(spec.ports).toEqual([
      { host: 6380, container: 6380, protocol: "tcp" },
      { host: 18080, container: 8080, protocol: "tcp" },
      { host: 5353, container: 53, protocol: "udp" },
      { host: 8126, container: 8126, protocol: "tcp" },
    ]);
  });

  it("applies the built-in defaults when there is no defaults section", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.probe": { http: { port: 8080 } } });
    const web = (await loadConfig(file)).spec.containers[1];
    expect(web?.probe).toEqual({
      kind: "http",
      port: 8080,
      path: "/",
      intervalMs: 10_000,
      startIntervalMs: 25,
      timeoutMs: 2_000,
      retries: 3,
      startPeriodMs: 120_000,
    });
    expect(web?.stopTimeoutS).toBe(10);
    expect(web?.env).toEqual({});
    expect(web?.mounts).toEqual([]);
  });

  it("applies the defaults section, and a container's own keys over it", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      defaults: { probe: { interval: "30s", timeout: "5s", startPeriod: "1m30s" }, stopTimeout: "20s" },
      "containers.cache.probe.retries": 5,
      "containers.cache.probe.startInterval": "250ms",
      "containers.web.stopTimeout": "1500ms",
    });
    const [cache, web] = (await loadConfig(file)).spec.containers;
    expect(cache?.probe).toMatchObject({ intervalMs: 30_000, startIntervalMs: 250, timeoutMs: 5_000, retries: 5, startPeriodMs: 90_000 });
    expect(cache?.stopTimeoutS).toBe(20);
    expect(web?.stopTimeoutS).toBe(2); // whole seconds, rounded up
  });

  it("maps http auth with the default user name, and exec probes", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "containers.web.probe.http.auth.usernameKey": "WEB_USER",
      "containers.agent.probe": { exec: ["agent", "health"], timeout: "1s" },
    });
    const [, web, agent] = (await loadConfig(file)).spec.containers;
    expect(web?.probe).toMatchObject({
      kind: "http",
      path: "/health",
      auth: { usernameKey: "WEB_USER", defaultUsername: "opencode", passwordKey: "OPENCODE_SERVER_PASSWORD" },
    });
    expect(agent?.probe).toMatchObject({ kind: "exec", command: ["agent", "health"], timeoutMs: 1_000 });
  });

  it("resolves mount sources: relative under persistRoot, absolute as they are", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "pod.persistRoot": "/persist/containers",
      "containers.web.mounts": [
        { source: "web/state", target: "/state" },
        { source: "/etc/web", target: "/etc/web", readOnly: true, optional: true },
      ],
    });
    const web = (await loadConfig(file)).spec.containers[1];
    expect(web?.mounts).toEqual([
      { source: "/persist/containers/web/state", target: "/state", readOnly: false, optional: false, create: false },
      { source: "/etc/web", target: "/etc/web", readOnly: true, optional: true, create: false },
    ]);
  });

  it("maps images with absolute paths and debootstrap defaults", async () => {
    const fx = await fixture();
    await fx.write("images/app.Containerfile", "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n");
    await fx.write("ctx/.keep", "");
    const file = await writeConfig(fx, {
      images: {
        "localhost/base:bookworm": { debootstrap: { suite: "bookworm" } },
        "localhost/app:1": { from: "localhost/base:bookworm", build: { containerfile: "images/app.Containerfile", args: { V: "1" } } },
        "localhost/other:1": { build: { containerfile: "images/app.Containerfile", context: "ctx" } },
      },
    });
    const { spec } = await loadConfig(file);
    expect(spec.images).toEqual({
      "localhost/base:bookworm": {
        ref: "localhost/base:bookworm",
        debootstrap: { suite: "bookworm", variant: "minbase", mirror: "http://deb.debian.org/debian" },
      },
      "localhost/app:1": {
        ref: "localhost/app:1",
        from: "localhost/base:bookworm",
        build: { containerfile: path.join(fx.dir, "images/app.Containerfile"), context: path.join(fx.dir, "images"), args: { V: "1" } },
      },
      "localhost/other:1": {
        ref: "localhost/other:1",
        build: { containerfile: path.join(fx.dir, "images/app.Containerfile"), context: path.join(fx.dir, "ctx"), args: {} },
      },
    });
  });

  it("returns a deeply frozen spec", async () => {
    const fx = await fixture();
    const { spec } = await loadConfig(await writeConfig(fx));
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.ports[0])).toBe(true);
    expect(Object.isFrozen(spec.containers[0]?.mounts[0])).toBe(true);
    expect(Object.isFrozen(spec.containers[0]?.probe)).toBe(true);
    expect(() => (spec.containers as unknown[]).push({})).toThrow(TypeError);
  });
});

describe("loadConfig warns without failing", () => {
  it("when the env file is readable by group or others", async () => {
    const fx = await fixture();
    await fx.write("secrets.env", "OPENCODE_SERVER_PASSWORD=s3cret\nCACHE_PASSWORD=c\nDD_API_KEY=dd\n", 0o644);
    const file = await writeConfig(fx);
    const { warnings } = await loadConfig(file);
    expect(warnings).toEqual([
      `${file}: pod.envFile: env file ${fx.envFile} holds secrets but is accessible by group or others (mode 0644); chmod 600 it`,
    ]);
  });

  it("when an http probe's password is not in the env file (the server would be open)", async () => {
    const fx = await fixture("CACHE_PASSWORD=c\nDD_API_KEY=dd\n");
    const file = await writeConfig(fx, { "containers.web.secretEnv": [] });
    const { warnings } = await loadConfig(file);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${file}: containers.web.probe.http.auth.passwordKey: OPENCODE_SERVER_PASSWORD is not in the env file`);
    expect(warnings[0]).toMatch(/runs WITHOUT authentication, open to anyone who can reach port 8080/);
  });

  it("when an http probe's password is not passed to its container, or a redis password is missing", async () => {
    const fx = await fixture("OPENCODE_SERVER_PASSWORD=s3cret\nDD_API_KEY=dd\n");
    const file = await writeConfig(fx, { "containers.web.secretEnv": [] });
    const { warnings } = await loadConfig(file);
    expect(warnings).toEqual([
      expect.stringContaining("containers.cache.probe.redis.passwordKey: CACHE_PASSWORD is not in the env file"),
      expect.stringContaining("containers.web.probe.http.auth.passwordKey: OPENCODE_SERVER_PASSWORD is not in containers.web.secretEnv"),
    ]);
  });

  it("when a key in requiredSecrets is not in the env file, saying what its absence does to the dependents", async () => {
    const fx = await fixture("OPENCODE_SERVER_PASSWORD=s3cret\nCACHE_PASSWORD=c\n");
    const file = await writeConfig(fx, {
      // agent: a soft dependency of web (web -> agent, softly); cache: a hard one of web.
      "containers.agent.dependsOn": undefined,
      "containers.web.dependsOn": ["cache", { name: "agent", soft: true }],
      "containers.agent.requiredSecrets": [{ key: "DD_API_KEY", why: "the Agent exits at start without it" }, "OPENCODE_SERVER_PASSWORD"],
      "containers.agent.secretEnv": ["DD_*", "OPENCODE_*"],
      "containers.cache.requiredSecrets": ["CACHE_TOKEN"],
    });
    const { spec, warnings } = await loadConfig(file);
    expect(spec.containers.find((c) => c.name === "web")?.dependsOn).toEqual([
      { name: "cache", restart: false, soft: false },
      { name: "agent", restart: false, soft: true },
    ]);
    // OPENCODE_SERVER_PASSWORD is there and OPENCODE_* hands it to agent: no warning for it. DD_*
    // matches nothing, but the warning for DD_API_KEY says so already.
    expect(warnings).toEqual([
      `${file}: containers.cache.requiredSecrets[0]: CACHE_TOKEN is not in the env file ${fx.envFile}: ` +
        "the container may fail without it (web waits for it)",
      `${file}: containers.agent.requiredSecrets[0]: DD_API_KEY is not in the env file ${fx.envFile}: ` +
        "the Agent exits at start without it (soft dependency of web, which starts anyway)",
    ]);
  });

  it("when a key in requiredSecrets is in the env file but not in the container's secretEnv list", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.requiredSecrets": ["DD_API_KEY"] });
    const { warnings } = await loadConfig(file);
    expect(warnings).toEqual([
      `${file}: containers.web.requiredSecrets[0]: DD_API_KEY is not in containers.web.secretEnv: the container does not receive it: ` +
        "the container may fail without it (agent waits for it)",
    ]);
  });

  it("when a build context directory does not exist", async () => {
    const fx = await fixture();
    await fx.write("app.Containerfile", "FROM scratch\n");
    const file = await writeConfig(fx, { images: { "localhost/app:1": { build: { containerfile: "app.Containerfile", context: "nowhere" } } } });
    const { warnings } = await loadConfig(file);
    expect(warnings).toEqual([
      `${file}: images["localhost/app:1"].build.context: build context ${path.join(fx.dir, "nowhere")}: does not exist; ` +
        "building this image will fail until it exists",
    ]);
  });
});

describe("loadConfig with extends", () => {
  it("deep-merges maps, replaces arrays and scalars", async () => {
    const fx = await fixture();
    await writeConfig(fx, { "containers.web.env": { A: "1", B: "2" }, "containers.web.command": ["serve", "--verbose"] }, "base.yaml");
    const file = await fx.write("override.yaml", {
      extends: "base.yaml",
      pod: { name: "overridden", ports: [6380, "18080:8080", 8126, 9999] },
      containers: {
        web: { image: "localhost/web:2", env: { B: "two", C: "3" }, command: ["serve"] },
        extra: { image: "localhost/extra:1", dependsOn: ["agent"] },
      },
    });
    const { spec } = await loadConfig(file);
    const web = spec.containers.find((c) => c.name === "web");
    expect(spec.name).toBe("overridden");
    expect(spec.ports.map((p) => p.host)).toEqual([6380, 18080, 8126, 9999]);
    expect(web?.image).toBe("localhost/web:2");
    expect(web?.env).toEqual({ A: "1", B: "two", C: "3" });
    expect(web?.command).toEqual(["serve"]);
    expect(web?.probe?.kind).toBe("http"); // untouched keys of the base stay
    expect(spec.containers.map((c) => c.name)).toEqual(["cache", "web", "agent", "extra"]);
    expect(spec.source).toBe(file);
  });

  it("follows a chain of bases", async () => {
    const fx = await fixture();
    await writeConfig(fx, {}, "a.yaml");
    await fx.write("b.yaml", { extends: "a.yaml", pod: { name: "from-b" } });
    const file = await fx.write("c.yaml", { extends: "b.yaml", containers: { cache: { image: "localhost/cache:c" } } });
    const { spec } = await loadConfig(file);
    expect(spec.name).toBe("from-b");
    expect(spec.containers[0]?.image).toBe("localhost/cache:c");
  });

  it("resolves relative paths against the file that declares them", async () => {
    const fx = await fixture();
    await fx.write("base/base.env", "OPENCODE_SERVER_PASSWORD=s\nCACHE_PASSWORD=c\n");
    await fx.write("base/images/app.Containerfile", "FROM scratch\n");
    await writeConfig(
      fx,
      {
        "pod.envFile": "base.env",
        "pod.persistRoot": "state",
        images: { "localhost/app:1": { build: { containerfile: "images/app.Containerfile" } } },
      },
      "base/pod.yaml",
    );
    const file = await fx.write("site/override.yaml", { extends: "../base/pod.yaml", pod: { persistRoot: "./data" } });
    const { spec } = await loadConfig(file);
    expect(spec.envFile).toBe(path.join(fx.dir, "base/base.env"));
    expect(spec.containers[0]?.mounts[0]?.source).toBe(path.join(fx.dir, "site/data/cache"));
    expect(spec.images["localhost/app:1"]?.build?.containerfile).toBe(path.join(fx.dir, "base/images/app.Containerfile"));
  });
});

describe("http settings", () => {
  it("default to 127.0.0.1:9090 with no control token", async () => {
    const fx = await fixture();
    const { http } = await loadConfig(await writeConfig(fx, {}));
    expect(http).toEqual({ enabled: true, host: "127.0.0.1", port: 9090, token: undefined });
  });

  it("read a root-only token file and warn when listening beyond loopback", async () => {
    const fx = await fixture();
    const token = path.join(fx.dir, "token");
    await writeFile(token, "0123456789abcdef0123\n", { mode: 0o600 });
    const loaded = await loadConfig(await writeConfig(fx, { "http.tokenFile": token, "http.host": "0.0.0.0", "http.port": 19090 }));
    expect(loaded.http).toEqual({ enabled: true, host: "0.0.0.0", port: 19090, token: "0123456789abcdef0123" });
    expect(loaded.warnings.join("\n")).toMatch(/http\.host: 0\.0\.0\.0 is not a loopback address/);
  });
});

describe("workspace", () => {
  const wsFixture = async () => {
    const fx = await fixture();
    await writeFile(fx.envFile, "OPENCODE_SERVER_PASSWORD=pw-123456\nGITHUB_PAT=ghp_secret_value\n");
    return fx;
  };

  it("becomes a clone-once init step before OpenCode, with the token as a secret and the repo as OpenCode's workdir", async () => {
    const local = path.resolve(import.meta.dirname, "../../../config/local.yaml");
    const fx = await wsFixture();
    const file = path.join(fx.dir, "ws.yaml");
    await writeFile(
      file,
      `extends: ${local}\npod:\n  envFile: ${fx.envFile}\n  persistRoot: ${fx.dir}/persist\nworkspace:\n  repo: https://github.com/acme/infra.git\n  branch: main\n  tokenKey: GITHUB_PAT\n`,
    );
    const { spec } = await loadConfig(file);
    const init = spec.containers.find((c) => c.name === "workspace")!;
    expect(init).toMatchObject({
      init: true,
      image: "localhost/opencode-server:local",
      entrypoint: ["/usr/local/bin/podwarden-clone-once"],
      env: { REPO_URL: "https://github.com/acme/infra.git", REPO_DIR: "/workspaces/infra", REPO_BRANCH: "main", REPO_TOKEN_VAR: "GITHUB_PAT" },
      secretEnv: ["GITHUB_PAT"],
    });
    expect(init.mounts[0]).toMatchObject({ source: `${fx.dir}/persist/workspaces`, target: "/workspaces", create: true });
    const oc = spec.containers.find((c) => c.name === "opencode")!;
    expect(oc.workdir).toBe("/workspaces/infra");
    expect(oc.dependsOn.map((d) => d.name)).toEqual(["datadog", "workspace"]);
    expect(oc.mounts.map((m) => m.target)).toContain("/workspaces");
    expect(JSON.stringify(spec)).not.toContain("ghp_secret_value");
  });

  it("pull: true gives the init step REPO_PULL=1 (AUTO-01); OpenCode gets the credential helper through git's environment and the token by secret reference", async () => {
    const local = path.resolve(import.meta.dirname, "../../../config/local.yaml");
    const fx = await wsFixture();
    const file = path.join(fx.dir, "ws.yaml");
    await writeFile(file, `extends: ${local}\npod:\n  envFile: ${fx.envFile}\n  persistRoot: ${fx.dir}/persist\nworkspace:\n  repo: https://github.com/acme/infra.git\n  tokenKey: GITHUB_PAT\n  pull: true\n`);
    const { spec } = await loadConfig(file);
    expect(spec.containers.find((c) => c.name === "workspace")!.env.REPO_PULL).toBe("1");
    const oc = spec.containers.find((c) => c.name === "opencode")!;
    expect(oc.env).toMatchObject({
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "credential.helper",
      GIT_CONFIG_VALUE_0: "!sh /usr/local/bin/podwarden-git-credential",
      REPO_URL: "https://github.com/acme/infra.git",
      REPO_TOKEN_VAR: "GITHUB_PAT",
    });
    expect(oc.secretEnv).toContain("GITHUB_PAT");
    expect(JSON.stringify(spec)).not.toContain("ghp_secret_value");
    // Without the option, no REPO_PULL.
    await writeFile(file, `extends: ${local}\npod:\n  envFile: ${fx.envFile}\n  persistRoot: ${fx.dir}/persist\nworkspace:\n  repo: https://github.com/acme/infra.git\n`);
    const plain = (await loadConfig(file)).spec;
    expect(plain.containers.find((c) => c.name === "workspace")!.env.REPO_PULL).toBeUndefined();
    expect(plain.containers.find((c) => c.name === "opencode")!.env.GIT_CONFIG_COUNT).toBeUndefined();
  });

  it("rejects credentials in the URL and a token key missing from the env file", async () => {
    const fx = await wsFixture();
    const local = path.resolve(import.meta.dirname, "../../../config/local.yaml");
    const file = path.join(fx.dir, "bad.yaml");
    await writeFile(file, `extends: ${local}\npod:\n  envFile: ${fx.envFile}\n  persistRoot: ${fx.dir}/persist\nworkspace:\n  repo: https://user:tok@github.com/acme/infra.git\n`);
    await expect(loadConfig(file)).rejects.toThrow(/workspace\.repo: must be an http\(s\) URL without credentials/);
    await writeFile(file, `extends: ${local}\npod:\n  envFile: ${fx.envFile}\n  persistRoot: ${fx.dir}/persist\nworkspace:\n  repo: https://github.com/acme/infra.git\n  tokenKey: NOPE\n`);
    await expect(loadConfig(file)).rejects.toThrow(/workspace\.tokenKey: NOPE is not in the env file/);
  });
});
