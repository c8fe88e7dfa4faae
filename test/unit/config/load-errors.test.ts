import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { loadConfig } from "../../../src/config/load.js";
import { expectIssue, fixture, loadError, validConfig, writeConfig } from "./fixture.js";

describe("loadConfig rejects", () => {
  it("an unknown key at the top level, listing the allowed ones", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { volumes: ["x"] });
    const error = await loadError(file);
    expectIssue(error, file, "volumes", /unknown key "volumes" \(allowed: extends, pod, images, defaults, http, jobs, workspace, containers\)/);
  });

  it("an unknown key deep inside a container", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.cache.probe.redis.prot": 6380 });
    const error = await loadError(file);
    expectIssue(error, file, "containers.cache.probe.redis.prot", /unknown key "prot" \(allowed: port, passwordKey\)/);
  });

  it("values of the wrong type, with a hint to quote YAML scalars", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "containers.cache.command": ["valkey-server", "--port", 6380],
      "containers.web.env": { DEBUG: true },
      "pod.name": 42,
      "containers.cache.mounts[0].readOnly": "yes",
    });
    const error = await loadError(file);
    expectIssue(error, file, "containers.cache.command[2]", /must be a string \(quote it in YAML\) \(got 6380\)/);
    expectIssue(error, file, "containers.web.env.DEBUG", /must be a string.*quote.*\(got true\)/);
    expectIssue(error, file, "pod.name", /must be lowercase letters.*\(got 42\)/);
    expectIssue(error, file, "containers.cache.mounts[0].readOnly", /must be true or false \(got "yes"\)/);
  });

  it("a control token file that others can read, or that is missing", async () => {
    const fx = await fixture();
    const token = path.join(fx.dir, "token");
    await writeFile(token, "0123456789abcdef0123\n", { mode: 0o644 });
    const file = await writeConfig(fx, { "http.tokenFile": token });
    expectIssue(await loadError(file), file, "http.tokenFile", /readable by others \(mode 644\): chmod 600 it/);
    const file2 = await writeConfig(fx, { "http.tokenFile": path.join(fx.dir, "missing") });
    expectIssue(await loadError(file2), file2, "http.tokenFile", /cannot read/);
  });

  it("a restart backoff that would spin or shrink", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "defaults.restart": { initialDelay: "0s" } });
    expectIssue(await loadError(file), file, "defaults.restart.initialDelay", /must be more than 0/);
    const file2 = await writeConfig(fx, { "defaults.restart": { initialDelay: "5s", maxDelay: "1s" } });
    expectIssue(await loadError(file2), file2, "defaults.restart.maxDelay", /must be at least initialDelay \(5s\)/);
  });

  it("a missing required field", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.image": undefined });
    expectIssue(await loadError(file), file, "containers.web.image", /is required/);
  });

  it("a dependsOn that names no container", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.dependsOn": ["cache", "falkordb"] });
    const error = await loadError(file);
    expectIssue(error, file, "containers.web.dependsOn[1]", /unknown container "falkordb" \(containers: cache, web, agent\)/);
  });

  it("a dependency that is both soft and restart: true (a soft dependency never takes its dependent down)", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.agent.dependsOn": [{ name: "web", restart: true, soft: true }] });
    expectIssue(await loadError(file), file, "containers.agent.dependsOn[0]", /soft and restart cannot both be true/);
  });

  it("a soft flag that is not a boolean, and requiredSecrets entries that are not keys", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "containers.agent.dependsOn": [{ name: "web", soft: "yes" }],
      "containers.agent.requiredSecrets": ["DD-API-KEY", { key: "DD_API_KEY", because: "x" }],
    });
    const error = await loadError(file);
    expectIssue(error, file, "containers.agent.dependsOn[0].soft", /must be true or false \(got "yes"\)/);
    expectIssue(error, file, "containers.agent.requiredSecrets[0]", /must be a key of the env file or \{ key, why \} \(got "DD-API-KEY"\)/);
    expectIssue(error, file, "containers.agent.requiredSecrets[1].because", /unknown key "because" \(allowed: key, why\)/);
  });

  it("a dependency cycle a -> b -> a, naming the cycle", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.cache.dependsOn": ["web"] });
    const error = await loadError(file);
    expectIssue(error, file, "containers.web.dependsOn[0]", /dependency cycle: cache -> web -> cache/);
  });

  it("a container that depends on itself", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.cache.dependsOn": [{ name: "cache" }] });
    expectIssue(await loadError(file), file, "containers.cache.dependsOn[0]", /dependency cycle: cache -> cache/);
  });

  it("a host port published twice", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "pod.ports": [6380, "18080:8080", "6380:6381", "6380:6380/udp", 8126] });
    const error = await loadError(file);
    expectIssue(error, file, "pod.ports[2]", /host port 6380\/tcp is already published by pod.ports\[0\]/);
    expect(error.issues, error.message).toHaveLength(1); // the same number over UDP is another port
  });

  it.each([
    [0, /must be a port number 1..65535.*\(got 0\)/],
    [70000, /must be a port number 1..65535.*\(got 70000\)/],
    ["70000:80", /host port 70000 is out of range 1..65535/],
    ["8080:0", /container port 0 is out of range 1..65535/],
    ["8080-8081", /must be a port number.*"HOST:CONTAINER".*\(got "8080-8081"\)/],
  ])("the out-of-range or malformed port %s", async (port, message) => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "pod.ports": [port, 6380, "18080:8080", 8126] });
    expectIssue(await loadError(file), file, "pod.ports[0]", message);
  });

  it("an env file that does not exist", async () => {
    const fx = await fixture();
    const missing = path.join(fx.dir, "nope.env");
    const file = await writeConfig(fx, { "pod.envFile": "nope.env" });
    expectIssue(await loadError(file), file, "pod.envFile", new RegExp(`cannot read env file ${missing}: does not exist`));
  });

  it("a secretEnv key that the env file lacks", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.secretEnv": ["OPENCODE_SERVER_PASSWORD", "GITHUB_TOKEN"] });
    const error = await loadError(file);
    expectIssue(error, file, "containers.web.secretEnv[1]", new RegExp(`GITHUB_TOKEN is not in the env file ${fx.envFile}`));
    expect(error.issues).toHaveLength(1);
  });

  it("a probe without a kind", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.agent.probe": { interval: "5s" } });
    expectIssue(await loadError(file), file, "containers.agent.probe", /must have exactly one of redis, http, tcp, exec \(found none\)/);
  });

  it("a probe with two kinds", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.agent.probe.exec": ["true"] });
    expectIssue(await loadError(file), file, "containers.agent.probe", /exactly one of .* \(found tcp and exec\)/);
  });

  it.each([
    ["containers.cache.probe.interval", "10 seconds"],
    ["containers.cache.stopTimeout", "fast"],
    ["defaults.probe.startPeriod", "2min"],
    ["defaults.stopTimeout", 10],
  ])("a bad duration at %s", async (field, value) => {
    const fx = await fixture();
    const file = await writeConfig(fx, { [field]: value });
    expectIssue(await loadError(file), file, field, /must be a duration such as "500ms", "10s", "2m", "1h"/);
  });

  it("an extends that points to a missing file", async () => {
    const fx = await fixture();
    const file = await fx.write("override.yaml", { extends: "./base/missing.yaml", pod: { name: "other" } });
    const error = await loadError(file);
    expectIssue(error, file, "extends", new RegExp(`cannot read base config ${path.join(fx.dir, "base/missing.yaml")}: does not exist`));
  });

  it("an extends loop", async () => {
    const fx = await fixture();
    const a = await fx.write("a.yaml", { extends: "b.yaml" });
    const b = await fx.write("b.yaml", { extends: "a.yaml" });
    expectIssue(await loadError(a), b, "extends", new RegExp(`extends loop: ${a} -> ${b} -> ${a}`));
  });

  it("bad YAML syntax, naming the file and line", async () => {
    const fx = await fixture();
    const file = await fx.write("broken.yaml", "pod:\n  name: testpod\n  ports: [6380, 8126\ncontainers: {}\n");
    const error = await loadError(file);
    expectIssue(error, file, "(root)", /YAML syntax error at line 4, column 1: Flow sequence/);
  });

  it("a key given twice in the same YAML mapping", async () => {
    const fx = await fixture();
    const yaml = stringify(validConfig(fx.envFile)).replace("containers:\n", "containers:\n  web:\n    image: a\n");
    const file = await fx.write("dup.yaml", yaml);
    expectIssue(await loadError(file), file, "(root)", /YAML syntax error at line \d+, column \d+: Map keys must be unique/);
  });

  it("a syntax error in a base file, naming the base", async () => {
    const fx = await fixture();
    const base = await fx.write("base.yaml", "pod: [\n");
    const file = await fx.write("pod.yaml", { extends: "base.yaml" });
    expectIssue(await loadError(file), base, "(root)", /YAML syntax error at line 2/);
  });

  it("a probe port the pod does not publish", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.probe.http.port": 18080 });
    const error = await loadError(file);
    expectIssue(
      error,
      file,
      "containers.web.probe.http.port",
      /container port 18080 is not published by the pod \(pod.ports publishes container ports: 6380, 8080, 8126\)/,
    );
  });

  it("probe timings that cannot work", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "containers.cache.probe.timeout": "10s",
      "containers.web.probe.interval": "0s",
      "containers.web.probe.http.path": "health",
      "containers.agent.probe.retries": 0,
    });
    const error = await loadError(file);
    expectIssue(error, file, "containers.cache.probe.timeout", /timeout \(10s\) must be shorter than interval \(10s\)/);
    expectIssue(error, file, "containers.web.probe.interval", /must be longer than 0s/);
    expectIssue(error, file, "containers.web.probe.http.path", /must start with \/ \(got "health"\)/);
    expectIssue(error, file, "containers.agent.probe.retries", /must be an integer of at least 1 \(got 0\)/);
  });

  it.each(["500ms", "11m"])("a stop timeout of %s (allowed: 1s to 10m)", async (value) => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "containers.web.stopTimeout": value });
    expectIssue(await loadError(file), file, "containers.web.stopTimeout", new RegExp(`must be between 1s and 10m \\(got ${value}\\)`));
  });

  it("mounts that are both created and optional, escape persistRoot, or share a target", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "containers.cache.mounts[0].optional": true,
      "containers.web.mounts": [
        { source: "../etc", target: "/etc/app" },
        { source: "/srv/a", target: "/data" },
        { source: "/srv/b", target: "/data/" },
      ],
    });
    const error = await loadError(file);
    expectIssue(error, file, "containers.cache.mounts[0]", /create and optional cannot both be true/);
    expectIssue(error, file, "containers.web.mounts[0].source", /a relative source must name a directory inside pod.persistRoot/);
    expectIssue(error, file, "containers.web.mounts[2].target", /\/data is already the target of mounts\[1\]/);
  });

  it("a pod without containers, and container names that are not names", async () => {
    const fx = await fixture();
    const empty = await writeConfig(fx, { containers: {} }, "empty.yaml");
    expectIssue(await loadError(empty), empty, "containers", /must define at least one container/);
    const badName = await writeConfig(fx, { "containers.Web_1": { image: "x" } }, "bad-name.yaml");
    expectIssue(await loadError(badName), badName, "containers.Web_1", /invalid key "Web_1": container names are a lowercase letter/);
  });

  it("images that are not buildable", async () => {
    const fx = await fixture();
    await fx.write("images/ok.Containerfile", "FROM scratch\n");
    const file = await writeConfig(fx, {
      images: {
        "localhost/base:1": { debootstrap: { suite: "bookworm" }, build: { containerfile: "images/ok.Containerfile" } },
        "localhost/app:1": { from: "localhost/nope:1", build: { containerfile: "images/missing.Containerfile" } },
        "localhost/other:1": { from: "localhost/app:1", debootstrap: { suite: "bookworm" } },
      },
    });
    const error = await loadError(file);
    expectIssue(error, file, 'images["localhost/base:1"]', /must have exactly one of build or debootstrap \(found both\)/);
    expectIssue(error, file, 'images["localhost/app:1"].from', /unknown image "localhost\/nope:1": from must name another key of images/);
    expectIssue(
      error,
      file,
      'images["localhost/app:1"].build.containerfile',
      new RegExp(`Containerfile ${path.join(fx.dir, "images/missing.Containerfile")}: does not exist`),
    );
    expectIssue(error, file, 'images["localhost/other:1"].from', /only a build image can have a base/);
  });

  it("images built from each other in a cycle", async () => {
    const fx = await fixture();
    await fx.write("a.Containerfile", "FROM scratch\n");
    const build = { containerfile: "a.Containerfile" };
    const file = await writeConfig(fx, {
      images: { "localhost/a:1": { from: "localhost/b:1", build }, "localhost/b:1": { from: "localhost/a:1", build } },
    });
    expectIssue(await loadError(file), file, 'images["localhost/b:1"].from', /image cycle: localhost\/a:1 -> localhost\/b:1 -> localhost\/a:1/);
  });

  it("several problems at once, reporting every one", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      bogus: 1,
      "pod.ports[3]": 0,
      "pod.envFile": "missing.env",
      "containers.cache.probe.tcp": { port: 6380 },
      "containers.web.dependsOn": ["nothing"],
      "containers.web.stopTimeout": "1 minute",
      "containers.agent.dependsOn": ["agent"],
    });
    const error = await loadError(file);
    const expected = [
      "bogus",
      "pod.ports[3]",
      "containers.web.stopTimeout",
      "containers.cache.probe",
      "containers.web.dependsOn[0]",
      "containers.agent.dependsOn[0]",
      "pod.envFile",
    ];
    expect(error.issues.map((i) => i.path).sort()).toEqual([...expected].sort());
    expect(error.message).toMatch(/^invalid configuration \(7 problems\):/);
    for (const fieldPath of expected) expectIssue(error, file, fieldPath, /./);
  });

  it("an unreadable top-level file, naming it", async () => {
    const fx = await fixture();
    const file = path.join(fx.dir, "absent.yaml");
    expectIssue(await loadError(file), file, "(root)", /cannot read config file: does not exist/);
  });

  it("a document that is not a mapping", async () => {
    const fx = await fixture();
    const file = await fx.write("list.yaml", "- pod\n- containers\n");
    expectIssue(await loadError(file), file, "(root)", /must be a YAML mapping/);
  });
});

describe("loadConfig names the file that set a bad field", () => {
  it("the base file for a field only the base sets, the override for one it overrides", async () => {
    const fx = await fixture();
    const base = await writeConfig(fx, { "containers.cache.probe.redis.port": 6399 }, "base.yaml");
    const override = await fx.write("override.yaml", { extends: "base.yaml", containers: { web: { user: 1000 } } });
    const error = await loadError(override);
    expectIssue(error, base, "containers.cache.probe.redis.port", /container port 6399 is not published/);
    expectIssue(error, override, "containers.web.user", /must be a string \(quote it in YAML\) \(got 1000\)/);
  });

  it("does not throw for warnings: returns the spec, with each warning naming its file and field", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, { "http.host": "0.0.0.0" });
    const loaded = await loadConfig(file);
    expect(loaded.warnings).toEqual([
      `${file}: http.host: 0.0.0.0 is not a loopback address: /status and /metrics will be reachable from the network, without authentication`,
    ]);
    expect(loaded.http.host).toBe("0.0.0.0");
    expect(loaded.spec.name).toBe("testpod");
    expect(loaded.spec.containers.map((c) => c.name)).toEqual(["cache", "web", "agent"]);
    expect(loaded.secrets.get("CACHE_PASSWORD")).toBe("c4che");
  });
});

describe("loadConfig: jobs", () => {
  it("names the field of a bad cron expression and of a local update without a build", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      jobs: { backup: { dir: path.join(fx.dir, "data/cache/backups"), schedule: "61 3 * * *", maxAge: "a week" } },
      "containers.cache.update": { policy: "local", schedule: "every night" },
    });
    const error = await loadError(file);
    expectIssue(error, file, "jobs.backup.schedule", /"61 3 \* \* \*" is not a cron expression: minute/);
    expectIssue(error, file, "jobs.backup.maxAge", /must be a duration such as/);
    expectIssue(error, file, "jobs.backup.dir", /is inside .*data\/cache, which cache persists and every backup copies/);
    expectIssue(error, file, "containers.cache.update.schedule", /"every night" is not a cron expression/);
    expectIssue(error, file, "containers.cache.update.policy", /"local" rebuilds the image from its Containerfile, but images\.".*" has no build section/);
  });

  it("reads backups (keep 7 by default) and update policies with their window", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      jobs: { stateDir: "/var/lib/pw", backup: { dir: "/var/backups/pw", schedule: "0 3 * * *", maxAge: "30d" } },
      "containers.cache.update": { policy: "registry", schedule: "0 4 * * SUN", window: "5m" },
    });
    const loaded = await loadConfig(file);
    expect(loaded.jobs).toEqual({ stateDir: "/var/lib/pw", backup: { dir: "/var/backups/pw", schedule: "0 3 * * *", keep: 7, maxAgeMs: 30 * 86_400_000, maxBytes: 32 * 2 ** 30 } });
    expect(loaded.spec.containers.find((c) => c.name === "cache")!.update).toEqual({ policy: "registry", schedule: "0 4 * * SUN", windowMs: 300_000 });
    expect(loaded.spec.containers.find((c) => c.name === "web")!.update).toBeUndefined();
  });
});
