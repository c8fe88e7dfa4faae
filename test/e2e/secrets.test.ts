// Secrets on real Podman: what `podman secret ls` and `podman inspect` show holds no unkeyed
// hash of any secret (nothing to test guessed passwords against offline), each container's
// secret file holds only the keys its secretEnv patterns give it (the Agent, which mounts the
// Podman socket, never OpenCode's password), and the naming key in jobs.stateDir keeps names
// stable: a killed daemon's successor adopts every container; a new key (as after an upgrade
// from unkeyed names) recreates exactly the containers that have a secret, once.
// FalkorDB and the Agent are stand-ins (config/local.yaml).

import { createHash } from "node:crypto";
import { appendFile, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  cleanupRun,
  createRun,
  ensureImages,
  identities,
  logIs,
  podman,
  runEnv,
  startDaemon,
  type Daemon,
  type E2eRun,
} from "../support/podman-harness.js";

const CHAIN = ["valkey", "falkordb", "datadog", "opencode"] as const;
const NAMING_KEY = "secret-names.key";

let run: E2eRun;
let stateDir: string;
let env: Map<string, string>;
const daemons: Daemon[] = [];
const figures: string[] = [];

const launch = async (what: string): Promise<Daemon> => {
  const d = startDaemon(run.config, { env: runEnv(run) });
  daemons.push(d);
  const t0 = Date.now();
  await d.waitForLog("the pod ready", logIs("pod ready"), { timeoutMs: 300_000 });
  figures.push(`${what}: pod ready ${Date.now() - t0} ms after the spawn`);
  return d;
};

const secretNames = async (): Promise<string[]> =>
  (await podman("secret", "ls", "--format", "{{.Name}}"))
    .split("\n")
    .filter((n) => n.startsWith(`${run.pod}--`))
    .sort();

/** The secret file as the container's main process sees it, and that process's environment. */
const secretFileOf = (c: string): Promise<string> => podman("exec", `${run.pod}-${c}`, "cat", "/run/secrets/podwarden.env");
const mainEnvOf = async (c: string): Promise<string[]> => (await podman("exec", `${run.pod}-${c}`, "cat", "/proc/1/environ")).split("\0");

const shq = (v: string): string => `'${v.replace(/'/g, `'\\''`)}'`;

/** Every rendering of the secrets an attacker might hash, and every unkeyed digest of each, in hex. */
const unkeyedDigests = async (): Promise<string[]> => {
  const entries = [...env].sort(([a], [b]) => a.localeCompare(b));
  const subsets = [entries, entries.filter(([k]) => k.startsWith("DD_")), entries.filter(([k]) => !k.startsWith("DD_"))];
  const renderings = [
    await readFile(run.envFile, "utf8"),
    ...subsets.flatMap((s) => [
      s.map(([k, v]) => `export ${k}=${shq(v)}\n`).join(""),
      s.map(([k, v]) => `${k}=${v}\n`).join(""),
      s.map(([k, v]) => `${k}=${v}`).join("\n"),
      JSON.stringify(Object.fromEntries(s)),
    ]),
    ...entries.flatMap(([k, v]) => [v, `${k}=${v}`, `export ${k}=${shq(v)}\n`]),
  ];
  return renderings.flatMap((r) => ["sha256", "sha1", "md5", "sha512", "sha384", "sha224"].map((alg) => createHash(alg).update(r).digest("hex")));
};

beforeAll(async () => {
  run = await createRun();
  stateDir = join(run.dir, "state");
  await appendFile(run.config, `\njobs:\n  stateDir: ${stateDir}\n`);
  env = new Map([
    ["OPENCODE_SERVER_PASSWORD", run.password],
    ["DD_API_KEY", `e2e-dd-${run.pod}`],
    ["DD_SITE", "datadoghq.eu"],
    ["ANTHROPIC_API_KEY", `sk-ant-e2e-${run.pod}`],
  ]);
  await writeFile(run.envFile, [...env].map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  await ensureImages(run.config);
}, 1_500_000);

afterAll(async () => {
  for (const d of daemons) await d.kill();
  console.log(["secrets figures:", ...figures].join("\n  "));
  if (run) await cleanupRun(run);
}, 120_000);

describe("secrets on real Podman: least privilege, no oracle", () => {
  let firstNames: string[] = [];
  let firstIds: Record<string, string> = {};

  it("the naming key is made in jobs.stateDir, 0600, owned by the daemon's user", async () => {
    await launch("first start (images present, naming key made)");
    const st = await stat(join(stateDir, NAMING_KEY));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(process.getuid!());
    expect((await readFile(join(stateDir, NAMING_KEY), "utf8")).trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(daemons[0]!.logs().find(logIs("made a new secret-naming key"))).toMatchObject({ keyFile: join(stateDir, NAMING_KEY) });
  }, 600_000);

  it("podman secret ls and podman inspect show no unkeyed hash of any rendering of the secrets, and no value", async () => {
    firstNames = await secretNames();
    // Only the Agent and OpenCode have secrets; Valkey and FalkorDB get none.
    expect(firstNames.map((n) => n.replace(/--[0-9a-f]{16}$/, ""))).toEqual([`${run.pod}--datadog`, `${run.pod}--opencode`]);
    const inspected = await podman("inspect", ...CHAIN.map((c) => `${run.pod}-${c}`));
    const labels = (JSON.parse(inspected) as { Config: { Labels: Record<string, string> } }[]).map((i) => i.Config.Labels["io.podwarden.spec-hash"]!);
    expect(labels).toHaveLength(4);
    const secretLs = await podman("secret", "ls", "--format", "json");
    const shown = [firstNames.join("\n"), labels.join("\n"), inspected, secretLs].join("\n");
    const digests = await unkeyedDigests();
    // No 8-hex-digit run of a name or label is part of any digest...
    const runs = [...firstNames, ...labels].flatMap((t) => t.match(/[0-9a-f]{8,}/g) ?? []);
    expect(runs.length).toBeGreaterThanOrEqual(firstNames.length + labels.length);
    for (const r of runs) for (const d of digests) expect(d.includes(r), `${r} is part of an unkeyed digest`).toBe(false);
    // ...and no digest prefix of the old (12) or new (16) length appears anywhere Podman shows.
    for (const d of digests) for (const n of [12, 16]) expect(shown.includes(d.slice(0, n))).toBe(false);
    for (const v of env.values()) expect(shown.includes(v), "a secret value in podman's output").toBe(false);
    figures.push(`${digests.length} unkeyed digests checked against ${runs.length} hex runs of names and labels`);
  });

  it("the Agent's secret file holds only DD_* keys; OpenCode's its password and the provider key, not DD_API_KEY", async () => {
    const agent = await secretFileOf("datadog");
    expect(agent).toBe(`export DD_API_KEY=${shq(env.get("DD_API_KEY")!)}\nexport DD_SITE='datadoghq.eu'\n`);
    expect(agent).not.toContain("OPENCODE_SERVER_PASSWORD");
    expect(agent).not.toContain(run.password);
    const opencode = await secretFileOf("opencode");
    expect(opencode).toBe(
      `export ANTHROPIC_API_KEY=${shq(env.get("ANTHROPIC_API_KEY")!)}\nexport OPENCODE_SERVER_PASSWORD=${shq(run.password)}\n`,
    );
    expect(opencode).not.toContain("DD_API_KEY");
    // What the main processes really run with.
    const agentEnv = await mainEnvOf("datadog");
    expect(agentEnv).toContain(`DD_API_KEY=${env.get("DD_API_KEY")}`);
    expect(agentEnv.filter((e) => e.startsWith("OPENCODE_SERVER_PASSWORD=") || e.startsWith("ANTHROPIC_API_KEY="))).toEqual([]);
    const openEnv = await mainEnvOf("opencode");
    expect(openEnv).toContain(`OPENCODE_SERVER_PASSWORD=${run.password}`);
    expect(openEnv.filter((e) => e.startsWith("DD_API_KEY="))).toEqual([]);
    // Valkey and FalkorDB have no secret at all.
    for (const c of ["valkey", "falkordb"]) await expect(secretFileOf(c)).rejects.toThrow();
  });

  it("a killed daemon's successor adopts every container: same ids, same start times, same secret names", async () => {
    const before = await identities(run.pod, CHAIN);
    firstIds = Object.fromEntries(CHAIN.map((c) => [c, before[c]!.id]));
    await daemons[0]!.kill();
    const second = await launch("restart after kill -9 (adoption)");
    expect(await identities(run.pod, CHAIN)).toEqual(before);
    expect(await secretNames()).toEqual(firstNames);
    expect(second.logs().filter((e) => ["creating container", "starting", "removing container"].includes(e.msg))).toEqual([]);
    expect(second.logs().find(logIs("made a new secret-naming key"))).toBeUndefined();
  }, 400_000);

  it("a new key (as after an upgrade from unkeyed names) recreates only the containers with a secret, once; old secrets are pruned", async () => {
    await daemons[1]!.kill();
    await rm(join(stateDir, NAMING_KEY));
    const third = await launch("restart with a new naming key (Agent and OpenCode recreated)");
    const after = await identities(run.pod, CHAIN);
    expect(after.valkey!.id).toBe(firstIds.valkey);
    expect(after.falkordb!.id).toBe(firstIds.falkordb);
    expect(after.datadog!.id).not.toBe(firstIds.datadog);
    expect(after.opencode!.id).not.toBe(firstIds.opencode);
    // Pruned once the pod has settled on the new names.
    const names = await (async () => {
      for (let i = 0; i < 100; i++) {
        const now = await secretNames();
        if (now.length === 2) return now;
        await new Promise((r) => setTimeout(r, 100));
      }
      return secretNames();
    })();
    expect(names).toHaveLength(2);
    for (const n of firstNames) expect(names).not.toContain(n);
    expect(third.logs().filter(logIs("creating container")).map((e) => e.container).sort()).toEqual(["datadog", "opencode"]);
    // And then stable again: the next daemon adopts.
    await third.kill();
    await launch("restart after kill -9 with the new key (adoption)");
    expect(await identities(run.pod, CHAIN)).toEqual(after);
    expect(await secretNames()).toEqual(names);
  }, 600_000);

  it("SIGTERM stops the pod and removes its secrets", async () => {
    const last = daemons.at(-1)!;
    expect(await last.stop("SIGTERM")).toBe(0);
    expect(await secretNames()).toEqual([]);
  }, 200_000);
});
