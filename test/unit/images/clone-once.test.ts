// The clone-once init script (config/images/opencode/podwarden-clone-once.sh) on the host,
// against a real git smart-HTTP server on loopback that requires basic auth.

import { spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../../support/podman-harness.js";
import { startGitServer, type GitServer } from "../../support/git-http-server.js";

const SCRIPT = join(REPO, "config/images/opencode/podwarden-clone-once.sh");
const TOKEN = "ghp_TESTTOKEN_0123456789abcdefXYZ";

/** Runs the script; meanwhile samples every process's argv for the token. */
const runScript = (env: Record<string, string>) =>
  new Promise<{ code: number | null; out: string; argvLeak: boolean }>((resolve) => {
    const child = spawn("sh", [SCRIPT], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.HOME ?? tmpdir(), ...env } });
    let out = "";
    let argvLeak = false;
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const sample = setInterval(() => {
      for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
        try {
          if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(TOKEN)) argvLeak = true;
        } catch {
          /* the process went away */
        }
      }
    }, 5);
    child.on("close", (code) => {
      clearInterval(sample);
      resolve({ code, out, argvLeak });
    });
  });

let server: GitServer;
let dir: string;
beforeAll(async () => {
  server = await startGitServer(TOKEN);
  dir = await mkdtemp(join(tmpdir(), "pw-clone-"));
});
afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("podwarden-clone-once", () => {
  it("a wrong token fails clearly and leaves nothing behind", async () => {
    const target = join(dir, "ws", "repo");
    const r = await runScript({ REPO_URL: server.url, REPO_DIR: target, REPO_TOKEN_VAR: "GITHUB_PAT", GITHUB_PAT: "wrong-token-value" });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/clone of http:\/\/127\.0\.0\.1:\d+\/repo\.git failed: check that the token in GITHUB_PAT is valid/);
    expect(existsSync(target)).toBe(false);
    expect(await readdir(join(dir, "ws"))).toEqual([]);
    expect(r.out).not.toContain("wrong-token-value");
  });

  it("first boot clones; the token is in no argv, no .git/config and no output", async () => {
    const target = join(dir, "ws", "repo");
    const r = await runScript({ REPO_URL: server.url, REPO_DIR: target, REPO_TOKEN_VAR: "GITHUB_PAT", GITHUB_PAT: TOKEN });
    expect(r.code, r.out).toBe(0);
    expect(await readFile(join(target, "README.md"), "utf8")).toContain("podwarden test repository");
    expect(await readFile(join(target, ".git/config"), "utf8")).not.toContain(TOKEN);
    expect(r.out).not.toContain(TOKEN);
    expect(r.argvLeak).toBe(false);
    expect(server.requests.length).toBeGreaterThan(0);
  });

  it("second boot sees the repository and exits at once without a request", async () => {
    const before = server.requests.length;
    const r = await runScript({ REPO_URL: server.url, REPO_DIR: join(dir, "ws", "repo"), REPO_TOKEN_VAR: "GITHUB_PAT", GITHUB_PAT: TOKEN });
    expect(r.code).toBe(0);
    expect(r.out).toContain("nothing to do");
    expect(server.requests.length).toBe(before);
  });

  it("refuses a non-empty directory that is not a repository, and credentials in the URL", async () => {
    const notRepo = join(dir, "other");
    await mkdir(notRepo, { recursive: true });
    await writeFile(join(notRepo, "x"), "data");
    expect((await runScript({ REPO_URL: server.url, REPO_DIR: notRepo })).code).toBe(65);
    expect(await readFile(join(notRepo, "x"), "utf8")).toBe("data");
    const withCreds = await runScript({ REPO_URL: server.url.replace("http://", "http://u:p@"), REPO_DIR: join(dir, "creds") });
    expect(withCreds.code).toBe(64);
  });
});
