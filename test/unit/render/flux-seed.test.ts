// Seed 004 items of `render flux` that need more than a look at the manifests: the rendered
// scripts/seed-copilot-auth.sh run against a fake `doppler` on PATH (SECR-04) and the runbook
// beside it (OPS-04); the auth.json merge contract shared by the cluster's copilot-auth step
// and `podwarden auth import` (FLUX-08); the workspaces' dependencies (INFRA-04); AUTO-01 in
// the manifests; the image check; and every rendered directory built by the real
// `kubectl kustomize` (CI installs kubectl: .ci/setup-host.sh --test).

import { execFile, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { loadConfig } from "../../../src/config/load.js";
import { readFluxScripts } from "../../../src/commands/render.js";
import { mergeAuthEntry } from "../../../src/domain/opencode-auth.js";
import { FLUX_DEFAULTS, STOCK_IMAGE, openCodeImageProblem, renderFlux, type FluxOptions } from "../../../src/render/flux.js";
import { REPO } from "../../support/podman-harness.js";

const exec = promisify(execFile);
const SCRIPTS = await readFluxScripts();
const COPILOT = { type: "oauth", refresh: "ghu_REFRESH_distinctive_123", access: "tid=ACCESS_distinctive", expires: 0 };
const TOKEN_PARTS = ["ghu_REFRESH_distinctive_123", "tid=ACCESS_distinctive"];

let work = "";
let files: ReadonlyMap<string, string>;
const options = (over: Partial<FluxOptions> = {}): FluxOptions => ({
  ...FLUX_DEFAULTS,
  domain: "angryninja.cloud",
  workspaces: [
    { name: "flux", repo: "https://github.com/angryninja/k8s-cluster.git", pull: true },
    { name: "ha", repo: "https://github.com/angryninja/home-assistant-config.git" },
  ],
  image: STOCK_IMAGE,
  scripts: SCRIPTS,
  ...over,
});

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "pw-flux-seed-"));
  await writeFile(path.join(work, "secrets.env"), "OPENCODE_SERVER_PASSWORD=x\nDD_API_KEY=y\n", { mode: 0o600 });
  await writeFile(path.join(work, "c.yaml"), stringify({ extends: path.join(REPO, "config/opencode-memory-pod.yaml"), pod: { envFile: "secrets.env" } }));
  const { spec, secrets } = await loadConfig(path.join(work, "c.yaml"));
  files = renderFlux(spec, options({ envKeys: [...secrets.keys()].sort() }));
  for (const [f, content] of files) {
    await mkdir(path.dirname(path.join(work, "out", f)), { recursive: true });
    await writeFile(path.join(work, "out", f), content);
  }
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fake doppler CLI: secrets in files under $FAKE_DOPPLER, every call's argv and stdin logged. */
const fakeDoppler = async (dir: string): Promise<string> => {
  const bin = path.join(dir, "bin");
  await mkdir(bin, { recursive: true });
  await mkdir(path.join(dir, "store"), { recursive: true });
  await writeFile(
    path.join(bin, "doppler"),
    [
      "#!/bin/sh",
      'printf "%s\\n" "$*" >> "$FAKE_DOPPLER/argv.log"',
      '[ "$1 $2" = "secrets get" ] && { [ -f "$FAKE_DOPPLER/store/$3" ] || { echo "Doppler Error: Could not find requested secret: $3" >&2; exit 1; }; cat "$FAKE_DOPPLER/store/$3"; exit 0; }',
      // Like the real CLI, `set` prints a table with the value: the script must send it nowhere.
      '[ "$1 $2" = "secrets set" ] && { cat > "$FAKE_DOPPLER/store/$3"; echo "NAME $3 VALUE $(cat "$FAKE_DOPPLER/store/$3")"; echo set >> "$FAKE_DOPPLER/sets.log"; exit 0; }',
      "exit 2",
    ].join("\n"),
  );
  await chmod(path.join(bin, "doppler"), 0o755);
  return bin;
};

const runSeed = (dir: string, bin: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    const child = spawn("sh", [path.join(work, "out/scripts/seed-copilot-auth.sh"), ...args], {
      env: { PATH: `${bin}:${process.env.PATH ?? ""}`, HOME: dir, FAKE_DOPPLER: dir, ...env },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });

describe("seed 004 in render flux, beyond the manifests", () => {
  it("SECR-04: scripts/seed-copilot-auth.sh reads ~/.local/share/opencode/auth.json and sets each workspace's Doppler secret only on change, never printing the token (fake doppler on PATH)", async () => {
    const dir = await mkdtemp(path.join(work, "seed-"));
    const bin = await fakeDoppler(dir);
    await mkdir(path.join(dir, ".local/share/opencode"), { recursive: true });
    const authFile = path.join(dir, ".local/share/opencode/auth.json");
    await writeFile(authFile, JSON.stringify({ "github-copilot": COPILOT, anthropic: { type: "api", key: "sk-ant-other" } }), { mode: 0o600 });

    const first = await runSeed(dir, bin);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toContain("OPENCODE_FLUX_COPILOT_AUTH_JSON (flux) set from");
    expect(first.out).toContain("OPENCODE_HA_COPILOT_AUTH_JSON (ha) set from");
    // The Doppler value is an auth.json of its own with the Copilot entry only.
    const stored = JSON.parse(await readFile(path.join(dir, "store/OPENCODE_FLUX_COPILOT_AUTH_JSON"), "utf8")) as unknown;
    expect(stored).toEqual({ "github-copilot": COPILOT });
    // Idempotent: a second run sets nothing.
    const second = await runSeed(dir, bin);
    expect(second.code).toBe(0);
    expect(second.out.match(/unchanged/g)).toHaveLength(2);
    expect((await readFile(path.join(dir, "sets.log"), "utf8")).trim().split("\n")).toHaveLength(2);
    // A new login: only the named workspace changes.
    await writeFile(authFile, JSON.stringify({ "github-copilot": { ...COPILOT, access: "tid=ACCESS_distinctive_2" } }));
    const third = await runSeed(dir, bin, ["ha"]);
    expect(third.out).toContain("OPENCODE_HA_COPILOT_AUTH_JSON (ha) set from");
    expect(third.out).not.toContain("FLUX");
    // Never the token: not in the output, not in doppler's argv (the value goes on stdin).
    const argv = await readFile(path.join(dir, "argv.log"), "utf8");
    for (const t of [...TOKEN_PARTS, "ACCESS_distinctive_2", "sk-ant-other"]) {
      for (const out of [first.out, second.out, third.out, argv]) expect(out).not.toContain(t);
    }
    expect(argv).toContain("secrets set OPENCODE_FLUX_COPILOT_AUTH_JSON");
    // Clear failures: an unknown workspace, no Copilot login, no auth.json.
    expect((await runSeed(dir, bin, ["nope"])).code).toBe(64);
    await writeFile(authFile, JSON.stringify({ anthropic: { type: "api", key: "k" } }));
    expect((await runSeed(dir, bin)).out).toContain("has no github-copilot entry");
    expect((await runSeed(dir, bin, [], { AUTH_JSON: path.join(dir, "missing.json") })).code).toBe(66);
  });

  it("OPS-04: scripts/README.md is the Copilot re-auth runbook: how to tell the token expired, the steps, how to check it worked", () => {
    const readme = files.get("scripts/README.md") ?? "";
    expect(readme).toMatch(/## Runbook: the Copilot token expired \(OPS-04\)/);
    expect(readme).toMatch(/\*\*How to tell\.\*\*[\s\S]*401\/403/);
    expect(readme).toMatch(/\*\*Steps\.\*\*[\s\S]*opencode auth login[\s\S]*scripts\/seed-copilot-auth\.sh[\s\S]*force-sync/);
    expect(readme).toMatch(/\*\*Check that it worked\.\*\*[\s\S]*logs deploy\/opencode-flux -c copilot-auth[\s\S]*merged github-copilot/);
    expect(readme).toContain("AUTO-02 is not");
  });

  it("FLUX-08: the copilot-auth step's merge keeps other providers, is idempotent, writes 0600, and agrees with auth import's mergeAuthEntry (one tested contract)", async () => {
    const script = path.join(work, "out/merge-auth.mjs");
    await writeFile(script, SCRIPTS.mergeAuth);
    const cases: { target: Record<string, unknown> | undefined; entry: unknown }[] = [
      { target: undefined, entry: COPILOT },
      { target: { anthropic: { type: "api", key: "k" } }, entry: COPILOT },
      { target: { anthropic: { type: "api", key: "k" }, "github-copilot": { ...COPILOT, access: "old" } }, entry: COPILOT },
      { target: { "github-copilot": { expires: 0, access: "tid=ACCESS_distinctive", type: "oauth", refresh: "ghu_REFRESH_distinctive_123" } }, entry: COPILOT },
    ];
    for (const [i, c] of cases.entries()) {
      const dir = await mkdtemp(path.join(work, `merge-${i}-`));
      const src = path.join(dir, "doppler.json");
      const dst = path.join(dir, "auth.json");
      await writeFile(src, JSON.stringify({ "github-copilot": c.entry }));
      if (c.target) await writeFile(dst, JSON.stringify(c.target), { mode: 0o644 });
      const { stdout } = await exec("node", [script, src, dst]);
      const expected = mergeAuthEntry(c.target ?? {}, "github-copilot", c.entry);
      expect(JSON.parse(await readFile(dst, "utf8"))).toEqual(expected.next);
      expect(stdout).toContain(expected.changed ? "merged github-copilot" : "unchanged");
      if (expected.changed) expect((await stat(dst)).mode & 0o777).toBe(0o600);
      for (const t of TOKEN_PARTS) expect(stdout).not.toContain(t);
      expect((await readdir(dir)).sort()).toEqual(["auth.json", "doppler.json"]);
    }
    // As the cluster runs it: the Doppler entry from an env reference (env:NAME), not a file.
    const dir = await mkdtemp(path.join(work, "merge-env-"));
    const dst = path.join(dir, "auth.json");
    await writeFile(dst, JSON.stringify({ anthropic: { type: "api", key: "k" } }));
    const { stdout } = await exec("node", [script, "env:COPILOT_AUTH_JSON", dst], { env: { ...process.env, COPILOT_AUTH_JSON: JSON.stringify({ "github-copilot": COPILOT }) } });
    expect(stdout).toContain("merged github-copilot");
    expect(JSON.parse(await readFile(dst, "utf8"))).toEqual({ anthropic: { type: "api", key: "k" }, "github-copilot": COPILOT });
    await expect(exec("node", [script, "env:NOT_SET_ANYWHERE", dst])).rejects.toMatchObject({ code: 1 });
  });

  it("INFRA-04: each workspace's Flux Kustomization depends on the secret store and cert-manager, and waits for its ExternalSecret to be Ready", () => {
    for (const ws of ["flux", "ha"]) {
      const [ks] = parseAllDocuments(files.get(`kubernetes/apps/opencode/${ws}/ks.yaml`) ?? "").map((d) => d.toJS() as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      expect(ks?.spec.dependsOn).toEqual([
        { name: "external-secrets-stores", namespace: "flux-system" },
        { name: "cert-manager", namespace: "flux-system" },
      ]);
      expect(ks?.spec.wait).toBe(true);
    }
    const none = renderFlux({ ...{ source: "x.yaml" }, containers: [], ports: [] } as never, options({ dependsOn: [] }));
    expect(none.get("kubernetes/apps/opencode/flux/ks.yaml")).not.toContain("dependsOn");
  });

  it("AUTO-01 in the manifests: --pull gives the workspace's clone-once step REPO_PULL=1; a workspace without it has none", () => {
    const env = (ws: string): Record<string, unknown> => {
      const dep = parseAllDocuments(files.get(`kubernetes/apps/opencode/${ws}/app/deployment.yaml`) ?? "")[0]?.toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const clone = dep.spec.template.spec.initContainers.find((c: { name: string }) => c.name === "clone-once");
      return Object.fromEntries(clone.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    };
    expect(env("flux").REPO_PULL).toBe("1");
    expect(env("ha").REPO_PULL).toBeUndefined();
  });

  it("the stock image works: OpenCode named in full (its ENTRYPOINT is the terminal UI), non-root under a restricted-compatible securityContext; an image that cannot work is refused with the reason", () => {
    const dep = parseAllDocuments(files.get("kubernetes/apps/opencode/flux/app/deployment.yaml") ?? "")[0]?.toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const pod = dep.spec.template.spec;
    const oc = pod.containers[0];
    expect(oc.image).toBe(STOCK_IMAGE);
    expect([oc.command, oc.args]).toEqual([["opencode"], ["serve", "--hostname", "0.0.0.0", "--port", "4096"]]);
    expect(pod.securityContext).toEqual({ fsGroup: 1000, fsGroupChangePolicy: "OnRootMismatch", seccompProfile: { type: "RuntimeDefault" } });
    for (const c of [...pod.initContainers, oc]) {
      expect(c.securityContext, c.name).toEqual({ allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, capabilities: { drop: ["ALL"] } });
    }
    expect(openCodeImageProblem(STOCK_IMAGE)).toBeUndefined();
    expect(openCodeImageProblem("ghcr.io/anomalyco/opencode:1.2.3")).toBeUndefined();
    expect(openCodeImageProblem("ghcr.io/angryninja/opencode-server:7")).toBeUndefined();
    expect(openCodeImageProblem("ghcr.io/anomalyco/opencode:2.0.0")).toMatch(/not a 1\.x release.*migrates the database/);
    expect(openCodeImageProblem("ghcr.io/sst/opencode:dev")).toMatch(/version dev, not a 1\.x release/);
    expect(openCodeImageProblem("ghcr.io/anomalyco/opencode")).toMatch(/no tag/);
    expect(openCodeImageProblem("localhost/opencode-server:local")).toMatch(/local image store/);
  });

  it("every rendered directory builds with the real `kubectl kustomize` (the tree, each workspace's app/)", async () => {
    const root = path.join(work, "out/kubernetes/apps/opencode");
    const dirs = [root, ...["flux", "ha"].map((ws) => path.join(root, ws, "app"))];
    for (const dir of dirs) {
      const { stdout } = await exec("kubectl", ["kustomize", dir], { maxBuffer: 16 * 1024 * 1024 });
      const kinds = parseAllDocuments(stdout).map((d) => (d.toJS() as { kind: string }).kind);
      const own = (await readdir(dir)).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
      expect(kinds.length, dir).toBeGreaterThanOrEqual(own.length);
      if (dir !== root) expect(kinds).toEqual(expect.arrayContaining(["ConfigMap", "Deployment", "ExternalSecret", "PersistentVolumeClaim", "Service", "HTTPRoute"]));
      else expect(kinds).toEqual(expect.arrayContaining(["Namespace", "Certificate", "Kustomization"]));
    }
  });
});
