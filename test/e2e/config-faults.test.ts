// Hostile config and host faults on real Podman, with a one-container pod of the test's own (Valkey,
// which receives a secret, so the env file reaches a container as it does in the real pod):
//   - env files sh cannot source: validate and up exit 78 naming file, line and key, nothing created;
//   - such a file while `run` supervises: reload and SIGHUP are refused, the pod keeps its containers;
//   - a host port taken after the host checks passed (a pod that exists but does not run): `up`
//     stops at once (exit 72) naming the port and the process holding it, instead of Podman's
//     "internal libpod error".

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupRun,
  cli,
  createRun,
  identities,
  logIs,
  managedContainers,
  podExists,
  podman,
  runEnv,
  spawnCli,
  startDaemon,
  waitFor,
  type Daemon,
  type E2eRun,
} from "../support/podman-harness.js";

const runs: E2eRun[] = [];
const bases: string[] = [];
afterAll(async () => {
  for (const r of runs) await cleanupRun(r);
  for (const b of bases) await rm(b, { recursive: true, force: true });
});

/** Values no output may show. */
const V1 = "cfgfault-value-one";
const V2 = "cfgfault-value-two";
const PASTED = "cfgfault-pasted-secret";

/** A run whose config extends a pod of one container: Valkey on 6380, with DD_API_KEY as a secret. */
const newRun = async (): Promise<E2eRun> => {
  const dir = await mkdtemp(join(tmpdir(), "pw-e2e-cfgfault-base-"));
  bases.push(dir);
  const base = join(dir, "base.yaml");
  await writeFile(
    base,
    [
      "defaults:",
      "  probe: { interval: 2s, startInterval: 100ms, timeout: 1s, retries: 3, startPeriod: 60s }",
      "containers:",
      "  valkey:",
      "    image: localhost/podwarden-valkey:local",
      '    command: [valkey-server, --port, "6380", --save, ""]',
      "    secretEnv: [DD_API_KEY]",
      "    probe: { redis: { port: 6380 } }",
      "    stopTimeout: 5s",
      "",
    ].join("\n"),
  );
  const run = await createRun({ prefix: "pw-e2e-cfgfault", base });
  runs.push(run);
  return run;
};

const BAD_ENV_FILES: readonly { name: string; lines: string[]; line: number; says: RegExp }[] = [
  { name: "a key that is no shell name", lines: [`DD_API_KEY=${V1}`, `A-B=${V2}`], line: 2, says: /key "A-B" is not a shell variable name/ },
  { name: "a line without =", lines: [`DD_API_KEY=${V1}`, "OPENCODE_SERVER_PASSWORD=p", PASTED], line: 3, says: /not KEY=VALUE/ },
  { name: "a duplicate key", lines: [`DD_API_KEY=${V1}`, "OPENCODE_SERVER_PASSWORD=p", `DD_API_KEY=${V2}`], line: 3, says: /key "DD_API_KEY" is set twice, at line 1 and line 3/ },
];

describe("bad env files: validate and up refuse them, nothing created", () => {
  let run: E2eRun;
  beforeAll(async () => {
    run = await newRun();
  });

  it.each(BAD_ENV_FILES)("$name: exit 78 naming file, line and key; no pod, no container, no secret", async ({ lines, line, says }) => {
    await writeFile(run.envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
    for (const command of ["validate", "up"]) {
      const r = await cli(command === "up" ? ["up", "-c", run.config, "--timeout", "60s"] : ["validate", "-c", run.config]);
      expect(r.code, `${command}: ${r.stdout}${r.stderr}`).toBe(78);
      const said = r.stdout + r.stderr;
      const where = said.split("\n").find((l) => l.includes(`${run.envFile}: line ${line}: `));
      expect(where, `${command} said:\n${said}`).toMatch(says);
      for (const value of [V1, V2, PASTED]) expect(said).not.toContain(value);
    }
    expect(await podExists(run.pod)).toBe(false);
    expect(await managedContainers(run.pod)).toEqual([]);
    expect((await podman("secret", "ls", "--format", "{{.Name}}")).split("\n").filter((s) => s.startsWith(`${run.pod}--`))).toEqual([]);
  }, 120_000);
});

describe("a bad env file while run supervises the pod", () => {
  let run: E2eRun;
  let daemon: Daemon;
  beforeAll(async () => {
    run = await newRun();
    daemon = startDaemon(run.config, { env: runEnv(run) });
    await daemon.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 180_000 });
  }, 200_000);
  afterAll(async () => {
    await daemon?.stop("SIGTERM");
  }, 150_000);

  it("podwarden reload and SIGHUP are refused naming file:line:key; the pod keeps its container (same id, same start)", async () => {
    const before = await identities(run.pod, ["valkey"]);
    expect(before.valkey!.running).toBe(true);
    await writeFile(run.envFile, `DD_API_KEY=${V1}\nOPENCODE_SERVER_PASSWORD=p\nA-B=${V2}\n`, { mode: 0o600 });

    const r = await cli(["reload", "-c", run.config], 60_000, { env: runEnv(run) });
    expect(r.code, r.stdout + r.stderr).toBe(78);
    expect(r.stderr).toMatch(new RegExp(`${run.envFile}: line 3: key "A-B" is not a shell variable name`));

    const from = daemon.mark();
    daemon.child.kill("SIGHUP");
    const rejected = await daemon.waitForLog("the rejection", logIs("config reload rejected; the pod is left as it is"), { from, timeoutMs: 30_000 });
    expect(JSON.stringify(rejected.issues)).toContain(`${run.envFile}: line 3: key \\"A-B\\"`);
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(daemon.alive).toBe(true);
    expect(await identities(run.pod, ["valkey"])).toEqual(before);
    for (const value of [V1, V2]) expect(daemon.text() + r.stdout + r.stderr).not.toContain(value);
  }, 90_000);
});

describe("a host port taken after the host checks passed", () => {
  it("up stops at once with exit 72, naming the port and the process that holds it", async () => {
    const run = await newRun();
    // The first published port: Podman 4.3 binds them in order and, when one fails, keeps the ones
    // before it bound in its service process (seen: they stay held after the pod is removed).
    const port = run.hostPort[4096]!;
    const squatter: Server = createServer();
    // A pod that exists but does not run: its checks start a throwaway pod, and its own infra
    // binds the ports only when its first container starts. (With no pod yet, the checks make and
    // start the real pod, so the ports are already held when they pass.)
    expect((await cli(["up", "-c", run.config, "--timeout", "120s"])).code).toBe(0);
    await podman("pod", "stop", "-t", "0", run.pod);
    try {
      // The checks run first (they would find the port taken and exit 72 before starting anything);
      // the port is taken the moment they have passed, so the clash is met by Podman itself.
      const up = spawnCli(["up", "-c", run.config, "--timeout", "120s", "--log-level", "debug"]);
      await waitFor("the host checks to pass", () => up.lines.some((l) => l.includes("host checks passed")), 60_000, 5);
      await new Promise<void>((resolve) => squatter.listen(port, "127.0.0.1", resolve));
      const started = performance.now();
      const code = await up.exited;
      const said = up.lines.join("\n");
      console.log(`up with host port ${port} taken after the checks: exit ${code} in ${Math.round(performance.now() - started)} ms after the port was taken`);
      expect(code, said).toBe(72);
      expect(said).toMatch(new RegExp(`host port ${port} is taken, held by pid ${process.pid} \\(\\S*node`));
      expect(said).toContain("valkey cannot start");
      expect(said).not.toMatch(/internal libpod error\s*$/m);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 180_000);
});
