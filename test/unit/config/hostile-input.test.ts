// The loader against input that would break at run time: env files sh cannot source, mount paths
// that cannot work, image references that are no references, sizes past the bounds.

import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import { LIMITS } from "../../../src/config/limits.js";
import { expectIssue, fixture, loadError, writeConfig } from "./fixture.js";

const lineIssue = (error: { issues: readonly { file: string; path: string; message: string }[] }, file: string, line: number) =>
  error.issues.find((i) => i.file === file && i.path === `line ${line}`);

describe("the env file", () => {
  it("refuses keys sh cannot export, lines that are no KEY=VALUE and duplicate keys, all at once, never showing a value", async () => {
    const fx = await fixture(
      [
        "OPENCODE_SERVER_PASSWORD=s3cret",
        "A-B=value-one",
        "A.B=value-two",
        "MY KEY=value-three",
        "a-pasted-value-four",
        "DD_API_KEY=dd-key",
        "CACHE_PASSWORD=c4che",
        "DD_API_KEY=value-five",
      ].join("\n"),
    );
    const error = await loadError(await writeConfig(fx));
    expect(lineIssue(error, fx.envFile, 2)?.message).toMatch(/key "A-B" is not a shell variable name/);
    expect(lineIssue(error, fx.envFile, 3)?.message).toMatch(/key "A\.B" is not a shell variable name/);
    expect(lineIssue(error, fx.envFile, 4)?.message).toMatch(/key "MY KEY" is not a shell variable name/);
    expect(lineIssue(error, fx.envFile, 5)?.message).toMatch(/not KEY=VALUE/);
    expect(lineIssue(error, fx.envFile, 8)?.message).toMatch(/key "DD_API_KEY" is set twice, at line 6 and line 8/);
    expect(error.issues).toHaveLength(5);
    expect(error.message).toContain(`${fx.envFile}: line 2: key "A-B"`);
    for (const value of ["value-one", "value-two", "value-three", "value-four", "value-five", "s3cret", "dd-key"]) {
      expect(error.message).not.toContain(value);
    }
  });

  it("refuses an env file larger than its bound without reading it, and a device or FIFO without hanging", async () => {
    const fx = await fixture("A=" + "x".repeat(LIMITS.envFileBytes) + "\n");
    const file = await writeConfig(fx);
    expectIssue(await loadError(file), file, "pod.envFile", /is 524291 bytes, more than the limit of 512 KiB/);
    const zero = await writeConfig(fx, { "pod.envFile": "/dev/zero" }, "zero.yaml");
    expectIssue(await loadError(zero), zero, "pod.envFile", /cannot read env file \/dev\/zero: is not a regular file/);
    const fifo = path.join(fx.dir, "fifo.env");
    execFileSync("mkfifo", [fifo]);
    const piped = await writeConfig(fx, { "pod.envFile": fifo }, "fifo.yaml");
    expectIssue(await loadError(piped), piped, "pod.envFile", /is not a regular file/);
  });

  it("bounds the number of keys and the length of a value", async () => {
    const keys = Array.from({ length: LIMITS.envKeys + 1 }, (_, i) => `K${i}=1`);
    const fx = await fixture([...keys, "OPENCODE_SERVER_PASSWORD=a", "DD_API_KEY=b", "CACHE_PASSWORD=c", `LONG=${"v".repeat(LIMITS.envValueChars + 1)}`].join("\n"));
    const error = await loadError(await writeConfig(fx));
    expect(error.issues.find((i) => i.file === fx.envFile && i.path === "keys")?.message).toMatch(/holds 1005 keys, more than the limit of 1000/);
    expect(lineIssue(error, fx.envFile, LIMITS.envKeys + 5)?.message).toMatch(/"LONG": the value is 65537 characters, more than the limit of 65536/);
  });

  it("refuses a container whose secret file Podman would refuse (512000 bytes or more)", async () => {
    // A single quote takes 4 bytes in the file ('\''): 4 values of 40000 quotes render to 640 kB.
    const big = Array.from({ length: 4 }, (_, i) => `DD_BIG${i}="${"'".repeat(40_000)}"`).join("\n");
    const fx = await fixture(`OPENCODE_SERVER_PASSWORD=a\nDD_API_KEY=b\nCACHE_PASSWORD=c\n${big}\n`);
    const file = await writeConfig(fx);
    expectIssue(await loadError(file), file, "containers.agent.secretEnv", /the 5 keys it receives make a secret file of \d+ bytes; Podman takes at most 511999/);
  });
});

describe("bounds of the config", () => {
  it("refuses more containers than the limit, naming it", async () => {
    const fx = await fixture();
    const containers = Object.fromEntries(Array.from({ length: LIMITS.containers + 1 }, (_, i) => [`c${i}`, { image: "x" }]));
    const file = await fx.write("pod.yaml", { pod: { name: "p", envFile: fx.envFile, persistRoot: "d" }, containers });
    const error = await loadError(file);
    expectIssue(error, file, "containers", /65 entries, more than the limit of 64 per pod/);
    expect(error.issues).toHaveLength(1);
  });

  it("refuses a config file larger than 1 MiB without parsing it, and an extends chain too long", async () => {
    const fx = await fixture();
    const file = await fx.write("big.yaml", `# ${"x".repeat(LIMITS.configBytes)}\n`);
    expect((await loadError(file)).message).toMatch(/cannot read config file: it is 1048579 bytes, more than the limit of 1 MiB/);
    for (let i = 0; i < 20; i += 1) await fx.write(`l${i}.yaml`, i === 19 ? "{}" : `extends: l${i + 1}.yaml\n`);
    expect((await loadError(path.join(fx.dir, "l0.yaml"))).message).toMatch(/extends: more than 16 files in the extends chain/);
  });
});

describe("mounts, images and names", () => {
  it("refuses mount targets and sources that cannot work", async () => {
    const fx = await fixture();
    // [source, target]
    const pairs = [
      ["a", "/"], ["b", "/data/../.."], ["c", "/proc"], ["d", "/sys/fs/cgroup"], ["e", "/dev"], ["f", "/run/secrets/podwarden.env"],
      ["g", "/data"], ["h", "/data/"], ["/", "/i"], ["/proc/1", "/j"], ["/srv/../etc", "/k"], ["l", "/l\nx"],
    ];
    const mounts = pairs.map(([source, target]) => ({ source, target }));
    const file = await writeConfig(fx, { "containers.cache.mounts": mounts });
    const error = await loadError(file);
    const at = (i: number, field: string, message: RegExp): void => expectIssue(error, file, `containers.cache.mounts[${i}].${field}`, message);
    at(0, "target", /cannot be \/ \(a mount over the container's root/);
    at(1, "target", /must not contain "\.\."/);
    at(2, "target", /cannot be \/proc or under it/);
    at(3, "target", /cannot be \/sys or under it/);
    at(4, "target", /cannot be \/dev or under it/);
    at(5, "target", /podwarden mounts the container's secrets there/);
    at(7, "target", /\/data is already the target of mounts\[6\]/);
    at(8, "source", /cannot be \/ \(that would hand the container the host's whole file system\)/);
    at(9, "source", /cannot be \/proc or under it/);
    at(10, "source", /must not contain "\.\."/);
    at(11, "target", /control character/);
  });

  it("parses image references by the grammar, for containers and images", async () => {
    const fx = await fixture();
    const file = await writeConfig(fx, {
      "containers.cache.image": "bad image ref",
      "containers.web.image": "Localhost/Web",
      "images.Bad Image:1": { build: { containerfile: "Containerfile" } },
    });
    const error = await loadError(file);
    expectIssue(error, file, "containers.cache.image", /"bad image ref" is not an image reference: has whitespace in it/);
    expectIssue(error, file, "containers.web.image", /path component "Web"/);
    expectIssue(error, file, 'images["Bad Image:1"]', /is not an image reference/);
  });

  it("reports every bad name at once: containers, their env keys, the pod, probe paths", async () => {
    const fx = await fixture();
    const config = {
      pod: { name: "Bad Pod", envFile: fx.envFile, persistRoot: "d", ports: [80] },
      containers: {
        Web: { image: "x", env: { "1-x": "a", "2-y": "b" } },
        db_1: { image: "x" },
        ok: { image: "x", env: { "3-z": "c" }, probe: { http: { port: 80, path: "/a b" } } },
        "also bad": { image: "x" },
      },
    };
    const file = await fx.write("pod.yaml", config);
    const error = await loadError(file);
    expectIssue(error, file, "pod.name", /must be lowercase/);
    for (const name of ["Web", "db_1"]) expectIssue(error, file, `containers.${name}`, /invalid key/);
    expectIssue(error, file, 'containers["also bad"]', /invalid key "also bad"/);
    expectIssue(error, file, 'containers.Web.env["1-x"]', /invalid key "1-x"/);
    expectIssue(error, file, 'containers.Web.env["2-y"]', /invalid key "2-y"/);
    expectIssue(error, file, 'containers.ok.env["3-z"]', /invalid key "3-z"/);
    expectIssue(error, file, "containers.ok.probe.http.path", /printable ASCII without spaces/);
  });

  it("a duplicate YAML key is named with its line (the check is the loader's own, linear one)", async () => {
    const fx = await fixture();
    const file = await fx.write("dup.yaml", `pod: { name: p, envFile: ${fx.envFile}, persistRoot: d }\ncontainers:\n  a: { image: x }\n  a: { image: y }\n`);
    expect((await loadError(file)).message).toMatch(/YAML syntax error at line 4, column 3: Map keys must be unique \("a" repeats\)/);
  });

  it("still loads a valid config after all these checks", async () => {
    const fx = await fixture();
    const loaded = await loadConfig(await writeConfig(fx));
    expect(loaded.spec.containers.map((c) => c.name)).toEqual(["cache", "web", "agent"]);
    expect(loaded.secrets.get("OPENCODE_SERVER_PASSWORD")).toBe("s3cret");
  });
});
