// The built CLI as a person meets it: help, version, usage errors, exit codes.

import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { randomBytes } from "node:crypto";
import { cli, LOCAL_CONFIG, managedContainers, podExists, podman } from "../support/podman-harness.js";

const validConfig = async (pod = "pw-cli-test"): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), "pw-cli-"));
  await writeFile(join(dir, "env"), "OPENCODE_SERVER_PASSWORD=cli-test-password\n", { mode: 0o600 });
  const file = join(dir, "pod.yaml");
  await writeFile(file, `extends: ${LOCAL_CONFIG}\npod:\n  name: ${pod}\n  envFile: ${join(dir, "env")}\n  persistRoot: ${join(dir, "persist")}\n`);
  return file;
};

describe("podwarden CLI", () => {
  it("--help lists every command and the exit codes", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["run", "up", "down", "validate", "images"]) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, "m"));
    expect(r.stdout).toContain("78 bad config");
  });

  it("--version prints the package version", async () => {
    const r = await cli(["--version"]);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each([
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["up", "--bogus"], /Unknown option '--bogus'/],
    [["up", "extra"], /takes no arguments/],
    [[], /Usage: podwarden/],
  ])("usage errors exit 2: %j", async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr + r.stdout).toMatch(message);
  });

  it("a usage error is one line naming the fault, then where help is, not the whole help", async () => {
    for (const [args, fault] of [
      [["down", "--with-memory"], "--with-memory is an option of render, not down"],
      [["up", "--bogus"], "Unknown option '--bogus'"],
    ] as const) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      const lines = r.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toContain(fault);
      expect(lines[1]).toBe(`see podwarden ${args[0]} --help`);
    }
  });

  it("<command> --help shows that command's options only", async () => {
    const r = await cli(["status", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("--url URL");
    expect(r.stdout).not.toContain("--with-memory");
  });

  it("status needs no config: it asks 127.0.0.1:9090 by default, or --url", async () => {
    const bare = await cli(["status"], 30_000, { env: { PODWARDEN_CONFIG: "" } });
    // Whatever answers (or not) on the default address, the missing /etc/podwarden config is not an error.
    expect(bare.code).not.toBe(78);
    if (bare.code === 69) expect(bare.stderr).toContain("http://127.0.0.1:9090/status");
    const doc = {
      status: "pass",
      version: "0",
      notes: [],
      podman: { reachable: true, events: true },
      pod: { name: "pw-url-test", state: "Running", containersReady: 1, containersTotal: 1, serving: true },
      containers: { app: { state: "ready", health: "healthy", ready: true, restarts: 0, backoffSeconds: 0, lastProbe: null, lastReason: null, lastUpdate: null } },
      jobs: { running: null, backup: { configured: false }, update: {} },
      events: [],
    };
    const server = createServer((req, res) => {
      res.writeHead(req.url === "/status" ? 200 : 404, { "content-type": "application/health+json" });
      res.end(JSON.stringify(doc));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await cli(["status", "--url", `http://127.0.0.1:${port}`, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ pod: { name: "pw-url-test" } });
      const table = await cli(["status", "--url", `http://127.0.0.1:${port}/`]);
      expect(table.stdout).toContain("pod pw-url-test: pass, 1/1 ready");
    } finally {
      server.close();
    }
  });

  it("render falls back to the shipped seed config, with a note, when none is installed", async () => {
    const r = await cli(["render", "kube", "-c", "/nonexistent/podwarden.yaml"]);
    expect(r.code, "a named config that is missing stays an error").toBe(78);
    const missing = await cli(["render", "kube"], 60_000, { env: { PODWARDEN_CONFIG: "" } });
    // On a host with an installed config, that one is used; otherwise the shipped one, with a note.
    expect(missing.code, missing.stderr).toBe(0);
    expect(missing.stdout).toContain("kind: Deployment");
    if (!existsSync("/etc/podwarden/opencode-memory-pod.yaml")) expect(missing.stderr).toContain("rendering the shipped");
  });

  it("a bad --timeout is a usage error naming the flag", async () => {
    const r = await cli(["up", "-c", await validConfig(), "--timeout", "soon"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--timeout");
  });

  it("validate --json describes a valid config", async () => {
    const r = await cli(["validate", "-c", await validConfig(), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, pod: "pw-cli-test", startOrder: ["valkey", "falkordb", "datadog", "opencode"] });
  });

  it("validate exits 78 and names every problem, file and field", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pw-cli-bad-"));
    const file = join(dir, "bad.yaml");
    await writeFile(file, `extends: ${LOCAL_CONFIG}\npod:\n  envFile: ${join(dir, "missing.env")}\n  ports: [4096, 70000]\ncontainers:\n  opencode:\n    dependsOn: [nosuch]\n`);
    const r = await cli(["validate", "-c", file]);
    expect(r.code).toBe(78);
    expect(r.stderr).toContain(file);
    for (const field of ["pod.envFile", "pod.ports[1]", "containers.opencode.dependsOn[0]"]) expect(r.stderr).toContain(field);
  });

  it("refuses to take over a pod of the same name that it did not create", async () => {
    const pod = `pw-foreign-${randomBytes(3).toString("hex")}`;
    await podman("pod", "create", "--name", pod);
    try {
      const r = await cli(["up", "-c", await validConfig(pod), "--timeout", "60s"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`pod ${pod} exists but was not created by podwarden`);
      expect(await managedContainers(pod)).toEqual([]);
      expect(await podExists(pod)).toBe(true);
    } finally {
      await podman("pod", "rm", "-f", pod);
    }
  });

  it("exits 69 with a hint when the Podman socket is not there", async () => {
    const r = await cli(["up", "-c", await validConfig(), "--socket", "/nonexistent/podman.sock"]);
    expect(r.code).toBe(69);
    expect(r.stderr).toMatch(/\/nonexistent\/podman\.sock/);
  });
});
