// `podman kube play` of `podwarden render kube` on real Podman with the local images and a
// workspace configured: the rendered init container (the clone-once script in the OpenCode
// image) clones the repository on the first play from a real git smart-HTTP server (git
// http-backend, basic auth) that runs on the loopback of the played pod's own network
// namespace; every container runs and OpenCode answers with the password only; a session
// is created. `podman kube down`, then play again with the volumes kept: the init container
// finds the repository and exits without a request reaching the (running, reachable) git
// server, and the session is still listed.
//
// How the test plays, and why:
// - `kube play --start=false`, then the infra container, then the git server inside its
//   network namespace, then `podman pod start`: the namespace exists only once the infra
//   container runs, and the init container must find the server on its first run.
// - `--log-opt path=FILE`: Podman 4.3 removes a played init container once it has run
//   (init type "once"), its log with it; a log path of the test's keeps what it printed.
// - The init container's run time is measured from Podman's own start and died events
//   (the container is gone afterwards, so there is no inspect to read StartedAt/FinishedAt
//   from). Podman 4.3 also restarts a played init container while the pod's restart policy
//   is Always (podman#15631, #16343; fixed in 4.6 by #18481; a Deployment must say Always),
//   for about 20 s: the first run is the one measured, and every later one must skip too.
//   Then `pod start` removes it, and fails ("failed to remove once init container") when
//   the removal meets a restarted run, about 3 plays in 4 here, leaving the other
//   containers created. The test then does what the README tells users of Podman < 4.6:
//   `podman rm -f` the init container and `podman pod start` again. It counts how often.
// - The second play plays the rendered file without its PersistentVolumeClaims: Podman 4.3
//   refuses a claim whose volume exists ("volume already exists", podman#16348; 4.4 reuses
//   the volume), and the volumes kept from the first play are the point of the second.
// FalkorDB and the Datadog Agent are stand-ins (config/local.yaml); Valkey and OpenCode are real.

import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { containerEvents } from "../support/podman-events.js";
import { LOCAL_CONFIG, SOCKET, cli, podman, waitFor } from "../support/podman-harness.js";
import { openCodeInContainer, startGitServerInPod, tokenForms, type PodGitServer } from "../support/opencode.js";

const id = `pw-kube-${randomBytes(3).toString("hex")}`;
const pod = `${id}-pod-0`;
const password = `pw-${randomBytes(6).toString("hex")}`;
const token = `ghp_kube${randomBytes(8).toString("hex")}`;
const ddKey = `dd-${randomBytes(6).toString("hex")}`;
// Only inside the pod's network namespace; none of the pod's own ports.
const gitPort = 20_000 + Math.floor(Math.random() * 10_000);
const repoUrl = `http://127.0.0.1:${gitPort}/repo.git`;
const names = ["valkey", "falkordb", "datadog", "opencode"];
const volumes = ["workspaces", "valkey", "falkordb", "opencode"].map((v) => `${id}-${v}`);
const secrets = [...tokenForms(token), password, ddKey];

let dir = "";
let kubeFile = "";
const servers: PodGitServer[] = [];
const figures: string[] = [];
let podmanInitBug = 0;
const api = openCodeInContainer(`${pod}-opencode`);

afterAll(async () => {
  for (const s of servers) await s.stop();
  if (kubeFile) await podman("kube", "down", kubeFile).catch(() => "");
  await podman("pod", "rm", "-f", "--ignore", pod).catch(() => "");
  for (const v of volumes) await podman("volume", "rm", "-f", v).catch(() => "");
  await podman("secret", "rm", `${id}-env`).catch(() => "");
  if (dir) await rm(dir, { recursive: true, force: true });
  figures.push(`plays where Podman 4.3's init-container removal failed (podman#15631) and the test removed it and started the pod again: ${podmanInitBug} of 2`);
  console.log(`render e2e figures:\n  ${figures.join("\n  ")}`);
}, 300_000);

interface Play {
  readonly git: PodGitServer;
  /** What every container of the pod printed (the test's --log-opt path). */
  readonly log: () => Promise<string>;
  /** The init container's first run on this play: Podman's start and died events. */
  readonly initRun: { readonly ms: number; readonly exitCode: string | undefined };
}

/** Plays `file` with the git server in the pod's network namespace; returns once OpenCode answers. */
const play = async (label: string, file: string): Promise<Play> => {
  const logFile = join(dir, `${label}.log`);
  await podman("kube", "play", "--start=false", "--log-opt", `path=${logFile}`, file);
  await podman("start", (await podman("pod", "inspect", pod, "--format", "{{.InfraContainerID}}")).trim());
  const git = await startGitServerInPod(pod, token, gitPort);
  servers.push(git);
  const events = containerEvents(SOCKET, { container: [`${pod}-workspace`] });
  await events.ready;
  try {
    await podman("pod", "start", pod).catch(async (err: Error) => {
      if (!err.message.includes("failed to remove once init container")) throw err;
      podmanInitBug += 1;
      await podman("rm", "-f", `${pod}-workspace`);
      await podman("pod", "start", pod);
    });
    await waitFor(
      "every container running",
      async () => {
        const out = await podman("ps", "--filter", `pod=${pod}`, "--format", "{{.Names}} {{.Status}}");
        // podman 4.3 prints "Up 3 seconds ago (starting)" as the status of a running container.
        const running = out.split("\n").filter((l) => / Up /.test(l));
        return names.every((n) => running.some((l) => l.startsWith(`${pod}-${n} `))) || undefined;
      },
      180_000,
      500,
    );
    await waitFor("OpenCode's health with the password", async () => ((await api.call("GET", "/global/health").catch(() => undefined))?.status === 200 ? true : undefined), 120_000, 500);
    const [start] = events.events("start");
    const [died] = events.events("died");
    if (!start || !died) throw new Error(`no start/died events of ${pod}-workspace: ${JSON.stringify(events.events())}`);
    return { git, log: () => readFile(logFile, "utf8"), initRun: { ms: (died.timeNano - start.timeNano) / 1e6, exitCode: died.exitCode } };
  } finally {
    events.close();
  }
};

const cloneLines = (log: string): string[] => log.split("\n").filter((l) => l.includes("clone-once:"));

describe("render kube + podman kube play, with a workspace", () => {
  let sessionId = "";

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "podwarden-render-e2e-"));
    await writeFile(join(dir, "secrets.env"), `OPENCODE_SERVER_PASSWORD=${password}\nDD_API_KEY=${ddKey}\nGITHUB_PAT=${token}\n`, { mode: 0o600 });
    await writeFile(join(dir, "config.yaml"), stringify({ extends: LOCAL_CONFIG, pod: { name: id, envFile: "secrets.env" }, workspace: { repo: repoUrl, tokenKey: "GITHUB_PAT" } }));
    const rendered = await cli(["render", "kube", "--config", join(dir, "config.yaml")]);
    expect(rendered.code, rendered.stderr).toBe(0);
    for (const s of secrets) expect(rendered.stdout).not.toContain(s);
    kubeFile = join(dir, "kube.yaml");
    await writeFile(kubeFile, rendered.stdout);
    // The Secret the manifest refers to (`<pod>-env`). podman 4.3 reads a secretRef's or
    // secretKeyRef's podman secret as JSON {KEY: base64(value)}.
    const b64 = (v: string): string => Buffer.from(v).toString("base64");
    await writeFile(join(dir, "secret.json"), JSON.stringify({ OPENCODE_SERVER_PASSWORD: b64(password), DD_API_KEY: b64(ddKey), GITHUB_PAT: b64(token) }), { mode: 0o600 });
    await podman("secret", "create", `${id}-env`, join(dir, "secret.json"));
  }, 120_000);

  it("first play (FLUX/HA-04, -05, -02 on Podman): the init container clones the repository over basic auth; every container runs; OpenCode works in it, behind its password", async () => {
    const first = await play("first", kubeFile);
    const log = await first.log();
    figures.push(`init container, first play (clone): ${first.initRun.ms.toFixed(0)} ms (Podman start -> died event)`);
    expect(first.initRun.exitCode).toBe("0");

    // The clone reached the server (inside the pod's namespace), authorised every time.
    expect(first.git.requests.length).toBeGreaterThan(0);
    expect(first.git.requests.filter((r) => !r.authorised)).toEqual([]);
    expect(first.git.requests.map((r) => r.line)).toEqual(expect.arrayContaining([expect.stringMatching(/^POST \/repo\.git\/git-upload-pack/)]));
    const lines = cloneLines(log);
    expect(lines[0]).toContain(`clone-once: cloning ${repoUrl} into /workspaces/repo`);
    expect(lines[1]).toContain("clone-once: cloned into /workspaces/repo");
    // Podman 4.3's extra runs of the init container (see the header) find the repository.
    expect(lines.slice(2).filter((l) => !l.includes("/workspaces/repo already holds a repository; nothing to do"))).toEqual([]);

    // OpenCode works in the cloned repository.
    const where = await api.call("GET", "/path");
    expect(where.status).toBe(200);
    expect(where.json<{ directory: string; worktree: string }>()).toMatchObject({ directory: "/workspaces/repo", worktree: "/workspaces/repo" });
    expect(await podman("exec", `${pod}-opencode`, "cat", "/workspaces/repo/README.md")).toContain("podwarden test repository");

    // Without the password the web UI answers 401 with a basic-auth challenge (a browser prompts).
    const open = await podman("exec", `${pod}-opencode`, "curl", "-sS", "-o", "/dev/null", "-D", "-", "--max-time", "10", "http://127.0.0.1:4096/");
    expect(open.split("\r\n")[0]).toMatch(/^HTTP\/1\.1 401/);
    expect(open).toMatch(/^www-authenticate: Basic/im);
    expect((await api.call("GET", "/", { password: null })).status).toBe(401);
    expect((await api.call("GET", "/")).status).toBe(200);

    const created = await api.call("POST", "/session", { body: { title: `kube-${id}` } });
    expect(created.status, created.text).toBe(200);
    sessionId = created.json<{ id: string }>().id;
    expect(sessionId).toMatch(/^ses_/);

    for (const s of secrets) expect(log, "the pod's output").not.toContain(s);
    for (const s of secrets) expect(await podman("pod", "inspect", pod), "podman pod inspect").not.toContain(s);
  }, 600_000);

  it("down, then play again with the volumes kept (FLUX/HA-06, -07 on Podman): the init container skips at once without a request, the session is listed", async () => {
    expect(sessionId).not.toBe("");
    await podman("kube", "down", kubeFile);
    expect((await podman("pod", "ps", "--filter", `name=^${pod}$`, "--format", "{{.Name}}")).trim()).toBe("");
    for (const v of volumes) await podman("volume", "exists", v);

    // The rendered documents but the claims (see the header): the volumes are there already.
    const withoutClaims = join(dir, "kube-without-claims.yaml");
    const docs = parseAllDocuments(await readFile(kubeFile, "utf8"));
    expect(docs.map((d) => d.get("kind"))).toEqual(["PersistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaim", "Deployment"]);
    await writeFile(withoutClaims, docs.filter((d) => d.get("kind") !== "PersistentVolumeClaim").map((d) => d.toString()).join("---\n"));
    const second = await play("second", withoutClaims);
    const ms = second.initRun.ms;
    figures.push(`init container, second play (repository there): ${ms.toFixed(0)} ms (Podman start -> died event)`);
    expect(second.initRun.exitCode).toBe("0");
    expect(ms).toBeLessThan(2_000);

    // It said so, and never cloned; the git server, running in this pod's namespace, saw nothing.
    const lines = cloneLines(await second.log());
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.includes("/workspaces/repo already holds a repository; nothing to do"))).toEqual([]);
    expect(second.git.requests).toEqual([]);
    // ...though the pod could reach it: a request without the token is refused, and counted.
    expect(await podman("exec", `${pod}-opencode`, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", `${repoUrl}/info/refs?service=git-upload-pack`)).toBe("401");
    expect(second.git.requests.map((r) => r.authorised)).toEqual([false]);

    const listed = await api.call("GET", "/session");
    expect(listed.status).toBe(200);
    expect(listed.json<{ id: string; title: string }[]>()).toContainEqual(expect.objectContaining({ id: sessionId, title: `kube-${id}` }));
    expect((await api.call("GET", "/path")).json<{ directory: string }>().directory).toBe("/workspaces/repo");
  }, 600_000);
});
