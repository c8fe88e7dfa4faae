// `podman kube play` of what `podwarden render flux` writes (built with `kubectl kustomize`),
// on real Podman, with the stock-image layout: OpenCode from a STAND-IN of the stock image
// ghcr.io/anomalyco/opencode (test/images/opencode-stock-standin.Containerfile: git,
// ripgrep and the real opencode binary, no curl, no USER, ENTRYPOINT opencode; Debian, since
// Alpine's packages cannot be had here) and the two pinned helper images
// (docker.io/alpine/git, docker.io/library/node) from one STAND-IN with git and Node
// (test/images/flux-helpers-standin.Containerfile), each tagged under the name the manifest
// pins, so the rendered Deployment is played unchanged. No registry is reachable here.
//
// First play: the clone-once step (script from the ConfigMap, in the git image, as uid 1000)
// clones from a real git smart-HTTP server (basic auth) on the loopback of the pod's own
// network namespace; the copilot-auth step merges the Doppler entry (from the Secret, as env)
// into auth.json; OpenCode runs as uid 1000 with no capabilities, answers only with the
// password, works in the repository and has Copilot connected. A second provider is logged in
// through the API. Second play (volumes kept, a commit pushed upstream, the Doppler entry
// changed): the pull fast-forwards before OpenCode starts, the merge keeps the other
// provider, the session is still listed.
//
// Podman 4.3's kube play, as the existing render e2e describes (test/e2e/render.test.ts):
// init containers restarted under restartPolicy Always (podman#15631; removed by hand, then
// the pod started again: counted), a claim whose volume exists refused (the second play
// leaves the claims out), `--log-opt path=` keeps the removed init containers' output. Two
// more seen here: it ignores subPath (both of OpenCode's mounts see the whole claim, so the
// test reads files through the mount points), and it takes a Secret either as env or as a
// volume, never both (the rendering uses env references only). A Podman volume new to a
// container with runAsUser is given to that user (what fsGroup does on a cluster).

import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { commitUpstream } from "../support/git-http-server.js";
import { containerEvents } from "../support/podman-events.js";
import { LOCAL_CONFIG, REPO, SOCKET, cli, ensureImages, podman, waitFor } from "../support/podman-harness.js";
import { openCodeInPodNetns, startGitServerInPod, tokenForms, type PodGitServer } from "../support/opencode.js";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const exec = promisify(execFile);
const hex = randomBytes(3).toString("hex");
const ws = `f${hex}`;
const app = `opencode-${ws}`;
const pod = `${app}-pod-0`;
const password = `pw-${randomBytes(6).toString("hex")}`;
const token = `ghp_flux${randomBytes(8).toString("hex")}`;
const copilot = (access: string) => ({ "github-copilot": { type: "oauth", refresh: `ghr_${hex}_refresh`, access, expires: 0 } });
const gitPort = 20_000 + Math.floor(Math.random() * 10_000);
const repoUrl = `http://127.0.0.1:${gitPort}/repo.git`;
const STOCK = "ghcr.io/anomalyco/opencode:1.18.33";
const HELPERS = ["docker.io/alpine/git:v2.49.1", "docker.io/library/node:22.12.0-alpine3.21"];
const secrets = [...tokenForms(token), password, `ghr_${hex}_refresh`];

let dir = "";
let playFile = "";
const servers: PodGitServer[] = [];
const figures: string[] = [];
let podmanInitBug = 0;
const api = openCodeInPodNetns(pod, password);

const b64 = (v: string): string => Buffer.from(v).toString("base64");
/** The workspace Secret the ExternalSecret would make; Podman 4.3 reads it as JSON {KEY: base64(value)}. */
const createSecret = async (access: string): Promise<void> => {
  await podman("secret", "rm", `${app}-secret`).catch(() => "");
  const file = join(dir, "secret.json");
  await writeFile(file, JSON.stringify({ GITHUB_PAT: b64(token), OPENCODE_SERVER_PASSWORD: b64(password), "auth.json": b64(JSON.stringify(copilot(access))) }), { mode: 0o600 });
  await podman("secret", "create", `${app}-secret`, file);
  await rm(file);
};

afterAll(async () => {
  for (const s of servers) await s.stop();
  await podman("pod", "rm", "-f", "--ignore", pod).catch(() => "");
  await podman("volume", "rm", "-f", app).catch(() => "");
  await podman("secret", "rm", `${app}-secret`).catch(() => "");
  if (dir) await rm(dir, { recursive: true, force: true });
  figures.push(`plays where Podman 4.3's init-container removal failed (podman#15631) and the test removed them and started the pod again: ${podmanInitBug}`);
  console.log(`render flux e2e figures:\n  ${figures.join("\n  ")}`);
}, 300_000);

interface Play {
  readonly git: PodGitServer;
  readonly log: () => Promise<string>;
  /** The clone-once step's first run: Podman's start and died events. */
  readonly cloneMs: number;
}

const play = async (label: string, file: string): Promise<Play> => {
  const logFile = join(dir, `${label}.log`);
  await podman("kube", "play", "--start=false", "--log-opt", `path=${logFile}`, file);
  await podman("start", (await podman("pod", "inspect", pod, "--format", "{{.InfraContainerID}}")).trim());
  const git = await startGitServerInPod(pod, token, gitPort, 0, join(dir, "upstream"));
  servers.push(git);
  const events = containerEvents(SOCKET, { container: [`${pod}-clone-once`] });
  await events.ready;
  try {
    for (let i = 0; ; i++) {
      const err = await podman("pod", "start", pod).then(
        () => undefined,
        (e: Error) => e,
      );
      if (!err) break;
      // Only the init container Podman names (it has run; the other may not have yet).
      const stuck = /(?:failed to remove once init container|container) ([0-9a-f]{64})/.exec(err.message)?.[1];
      if (!stuck || !/failed to remove once init container|must be in Created or Stopped state/.test(err.message) || i > 10) throw err;
      podmanInitBug += 1;
      await podman("rm", "-f", "--ignore", stuck);
    }
    await waitFor("OpenCode's health with the password", async () => ((await api.call("GET", "/global/health").catch(() => undefined))?.status === 200 ? true : undefined), 180_000, 500);
    const [start] = events.events("start");
    const [died] = events.events("died");
    if (!start || !died) throw new Error(`no start/died events of ${pod}-clone-once: ${JSON.stringify(events.events())}`);
    expect(died.exitCode).toBe("0");
    // Both init steps ran before OpenCode: their output is in the log.
    const log = await readFile(logFile, "utf8");
    expect(log).toContain("merge-auth: ");
    return { git, log: () => readFile(logFile, "utf8"), cloneMs: (died.timeNano - start.timeNano) / 1e6 };
  } finally {
    events.close();
  }
};

const inOpenCode = (...cmd: string[]): Promise<string> => podman("exec", `${pod}-opencode`, ...cmd);

describe("render flux + kubectl kustomize + podman kube play, stock-image layout", () => {
  let sessionId = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "podwarden-flux-e2e-"));
    await ensureImages(LOCAL_CONFIG);
    await podman("build", "--pull=never", "-q", "-f", join(REPO, "test/images/opencode-stock-standin.Containerfile"), "-t", STOCK, join(REPO, "test/images"));
    await podman("build", "--pull=never", "-q", "-f", join(REPO, "test/images/flux-helpers-standin.Containerfile"), "-t", HELPERS[0]!, join(REPO, "test/images"));
    await podman("tag", HELPERS[0]!, HELPERS[1]!);
    // The stand-in has what the stock image has, and not what it lacks.
    expect(await podman("run", "--rm", "--entrypoint", "sh", STOCK, "-c", "command -v curl || echo no-curl; id -u; for p in git rg opencode; do command -v $p; done")).toBe("no-curl\n0\n/usr/bin/git\n/usr/bin/rg\n/usr/local/bin/opencode\n");

    await writeFile(join(dir, "secrets.env"), `OPENCODE_SERVER_PASSWORD=${password}\n`, { mode: 0o600 });
    await writeFile(join(dir, "config.yaml"), stringify({ extends: LOCAL_CONFIG, pod: { envFile: "secrets.env" } }));
    const r = await cli(["render", "flux", "--config", join(dir, "config.yaml"), "--domain", "example.com", "--workspace", `${ws}=${repoUrl}`, "--pull", "--out", join(dir, "tree")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`using the stock image ${STOCK}`);
    // What Flux applies: the app/ directory through kustomize; Podman plays the claim, the scripts and the Deployment.
    const { stdout } = await exec("kubectl", ["kustomize", join(dir, "tree/kubernetes/apps/opencode", ws, "app")], { maxBuffer: 16 * 1024 * 1024 });
    for (const s of secrets) expect(stdout).not.toContain(s);
    const docs = parseAllDocuments(stdout).filter((d) => ["PersistentVolumeClaim", "ConfigMap", "Deployment"].includes(String(d.get("kind"))));
    expect(docs.map((d) => d.get("kind")).sort()).toEqual(["ConfigMap", "Deployment", "PersistentVolumeClaim"]);
    playFile = join(dir, "play.yaml");
    await writeFile(playFile, docs.map((d) => d.toString()).join("---\n"));
    await createSecret(`tid=first_${hex}`);
  }, 1_200_000);

  it("first play: clone from the ConfigMap's script in the git image, the Doppler entry merged, OpenCode (stock layout) as uid 1000 behind its password in the repository, Copilot connected", async () => {
    const first = await play("first", playFile);
    figures.push(`clone-once, first play (clone): ${first.cloneMs.toFixed(0)} ms (Podman start -> died event)`);
    const log = await first.log();
    expect(log).toContain(`clone-once: cloning ${repoUrl} into /workspaces/repo`);
    expect(log).toMatch(/merge-auth: merged github-copilot into \/var\/lib\/opencode\/opencode\/auth\.json \(mode 0600\)/);
    expect(first.git.requests.filter((r) => !r.authorised)).toEqual([]);

    // Non-root, no capabilities, no new privileges; the stock image's ENTRYPOINT is bypassed by the named command.
    const status = await inOpenCode("cat", "/proc/1/status");
    expect(status).toMatch(/^Uid:\s+1000\s+1000\s+1000\s+1000$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    expect(await inOpenCode("cat", "/proc/1/cmdline")).toBe("opencode\0serve\0--hostname\x000.0.0.0\0--port\x004096\0");

    expect((await api.call("GET", "/", { password: null })).status).toBe(401);
    expect((await api.call("GET", "/path")).json<{ directory: string }>().directory).toBe("/workspaces/repo");
    expect(await inOpenCode("cat", "/workspaces/repo/README.md")).toContain("podwarden test repository");
    expect((await api.call("GET", "/provider")).json<{ connected: string[] }>().connected).toContain("github-copilot");

    const created = await api.call("POST", "/session", { body: { title: `flux-${hex}` } });
    expect(created.status, created.text).toBe(200);
    sessionId = created.json<{ id: string }>().id;
    // Another provider's login made in the UI (FLUX-08: a restart must keep it).
    expect((await api.call("PUT", "/auth/anthropic", { body: { type: "api", key: `sk-ant-${hex}` } })).text).toBe("true");

    for (const s of secrets) expect(log, "the pod's output").not.toContain(s);
    for (const s of secrets) expect(await podman("pod", "inspect", pod), "podman pod inspect").not.toContain(s);
  }, 900_000);

  it("second play (volumes kept; a commit upstream, a new Doppler entry): AUTO-01 fast-forwards before OpenCode starts, the merge keeps the other provider (0600), the session is listed", async () => {
    expect(sessionId).not.toBe("");
    const pushed = commitUpstream(join(dir, "upstream"), "NEWS.md", "pushed between plays\n");
    await podman("kube", "down", playFile);
    await createSecret(`tid=second_${hex}`);
    const withoutClaims = join(dir, "play-without-claims.yaml");
    await writeFile(withoutClaims, parseAllDocuments(await readFile(playFile, "utf8")).filter((d) => d.get("kind") !== "PersistentVolumeClaim").map((d) => d.toString()).join("---\n"));
    const second = await play("second", withoutClaims);
    figures.push(`clone-once, second play (fetch + fast-forward of one commit): ${second.cloneMs.toFixed(0)} ms (Podman start -> died event)`);
    const log = await second.log();
    expect(log).toMatch(new RegExp(`clone-once: fast-forwarded main from [0-9a-f]{12} to ${pushed.slice(0, 12)}`));
    expect(await inOpenCode("cat", "/workspaces/repo/NEWS.md")).toBe("pushed between plays\n");
    expect(log).toContain("merge-auth: merged github-copilot into /var/lib/opencode/opencode/auth.json (mode 0600); kept anthropic");

    const auth = JSON.parse(await inOpenCode("cat", "/var/lib/opencode/opencode/auth.json")) as Record<string, { access?: string; key?: string }>;
    expect(auth["github-copilot"]?.access).toBe(`tid=second_${hex}`);
    expect(auth.anthropic?.key).toBe(`sk-ant-${hex}`);
    expect((await inOpenCode("stat", "-c", "%a %u", "/var/lib/opencode/opencode/auth.json")).trim()).toBe("600 1000");
    const connected = (await api.call("GET", "/provider")).json<{ connected: string[] }>().connected;
    expect(connected).toEqual(expect.arrayContaining(["github-copilot", "anthropic"]));
    const listed = (await api.call("GET", "/session")).json<{ id: string }[]>().map((s) => s.id);
    expect(listed).toContain(sessionId);
    for (const s of [...secrets, `sk-ant-${hex}`]) expect(log, "the pod's output").not.toContain(s);
  }, 900_000);
});
