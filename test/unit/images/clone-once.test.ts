// The clone-once init script (config/images/opencode/podwarden-clone-once.sh) on the host,
// against a real git smart-HTTP server on loopback that requires basic auth.

import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO } from "../../support/podman-harness.js";
import { startGitServer, type GitServer } from "../../support/git-http-server.js";

const exec = promisify(execFile);
const SCRIPT = join(REPO, "config/images/opencode/podwarden-clone-once.sh");
const TOKEN = "ghp_TESTTOKEN_0123456789abcdefXYZ";

/** Samples every process's argv for the token every 5 ms until stopped; stop() says whether it was seen. */
const watchTokenInArgv = (): { stop: () => boolean } => {
  let leak = false;
  const sample = setInterval(() => {
    for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(TOKEN)) leak = true;
      } catch {
        /* the process went away */
      }
    }
  }, 5);
  return {
    stop: () => {
      clearInterval(sample);
      return leak;
    },
  };
};

/** Runs the script; meanwhile samples every process's argv for the token. */
const runScript = (env: Record<string, string>) =>
  new Promise<{ code: number | null; out: string; argvLeak: boolean }>((resolve) => {
    const child = spawn("sh", [SCRIPT], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: env.HOME ?? tmpdir(), ...env } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const watch = watchTokenInArgv();
    child.on("close", (code) => resolve({ code, out, argvLeak: watch.stop() }));
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

// AUTO-01 (REPO_PULL=1) and the credential helper, against the same real server.
const git = (cwd: string, ...args: string[]): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    // The test's own git is root on a repository that may belong to uid 1000.
    const child = spawn("git", ["-c", "safe.directory=*", ...args], { cwd, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, GIT_TERMINAL_PROMPT: "0", ...gitEnv } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
let gitEnv: Record<string, string> = {};
const HELPER = join(REPO, "config/images/opencode/podwarden-git-credential.sh");

describe("podwarden-clone-once with REPO_PULL=1 (AUTO-01)", () => {
  let pullDir: string;
  const env = (): Record<string, string> => ({ REPO_URL: server.url, REPO_DIR: join(pullDir, "repo"), REPO_TOKEN_VAR: "GITHUB_PAT", GITHUB_PAT: TOKEN, HOME: pullDir });
  beforeAll(async () => {
    pullDir = await mkdtemp(join(tmpdir(), "pw-pull-"));
    expect((await runScript(env())).code).toBe(0);
  });

  it("a commit pushed since the clone is fast-forwarded with the option, not without it; the token is nowhere", async () => {
    const sha = server.commit("NEWS.md", "pulled\n");
    const without = await runScript(env());
    expect(without.out).toContain("nothing to do");
    expect(existsSync(join(pullDir, "repo/NEWS.md"))).toBe(false);
    // As on one host: the repository belongs to OpenCode's user (uid 1000), the step runs as root.
    await exec("chown", ["-R", "1000:1000", join(pullDir, "repo")]);
    const r = await runScript({ ...env(), REPO_PULL: "1" });
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain("dubious ownership");
    expect(r.out).toMatch(new RegExp(`fast-forwarded main from [0-9a-f]{12} to ${sha.slice(0, 12)}`));
    expect(await readFile(join(pullDir, "repo/NEWS.md"), "utf8")).toBe("pulled\n");
    expect(r.out).not.toContain(TOKEN);
    expect(r.argvLeak).toBe(false);
    expect(await readFile(join(pullDir, "repo/.git/config"), "utf8")).not.toContain(TOKEN);
    const again = await runScript({ ...env(), REPO_PULL: "1" });
    expect(again.out).toContain("main is up to date");
  });

  it("a diverged local branch is left alone: the reason logged, the working tree untouched, exit 0", async () => {
    const repo = join(pullDir, "repo");
    gitEnv = { GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" };
    await writeFile(join(repo, "LOCAL.md"), "mine\n");
    await git(repo, "add", "LOCAL.md");
    expect((await git(repo, "commit", "-q", "-m", "local")).code).toBe(0);
    await writeFile(join(repo, "WIP.txt"), "uncommitted\n");
    const localHead = (await git(repo, "rev-parse", "HEAD")).out.trim();
    server.commit("UPSTREAM.md", "theirs\n");
    const r = await runScript({ ...env(), REPO_PULL: "1" });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("have diverged");
    expect((await git(repo, "rev-parse", "HEAD")).out.trim()).toBe(localHead);
    expect(existsSync(join(repo, "UPSTREAM.md"))).toBe(false);
    expect(await readFile(join(repo, "WIP.txt"), "utf8")).toBe("uncommitted\n");
    expect((await git(repo, "status", "--porcelain")).out.trim()).toBe("?? WIP.txt");
  });

  it("a failed fetch (wrong token) is logged and leaves everything; OpenCode may start (exit 0)", async () => {
    const r = await runScript({ ...env(), GITHUB_PAT: "wrong-token-value", REPO_PULL: "1" });
    expect(r.code).toBe(0);
    expect(r.out).toContain("not pulled: fetching main");
    expect(r.out).not.toContain("wrong-token-value");
  });

  it("a manual `git pull` through the credential helper: the token read at run time, in no argv, URL, .git/config or output", async () => {
    const fresh = join(pullDir, "manual");
    expect((await runScript({ ...env(), REPO_DIR: fresh })).code).toBe(0);
    const sha = server.commit("MANUAL.md", "by hand\n");
    const tokenFile = join(pullDir, "token");
    await writeFile(tokenFile, TOKEN, { mode: 0o600 });
    // Without the helper a private repository refuses the pull.
    gitEnv = {};
    expect((await git(fresh, "pull", "--ff-only", "-q")).code).not.toBe(0);
    // As OpenCode's container has it: helper wired through git's environment.
    gitEnv = { GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "credential.helper", GIT_CONFIG_VALUE_0: `!sh ${HELPER}`, REPO_URL: server.url, REPO_TOKEN_FILE: tokenFile };
    const watch = watchTokenInArgv();
    const pulled = await git(fresh, "pull", "--ff-only");
    const argvLeak = watch.stop();
    expect(pulled.code, pulled.out).toBe(0);
    expect((await git(fresh, "rev-parse", "HEAD")).out.trim()).toBe(sha);
    expect(pulled.out).not.toContain(TOKEN);
    expect(argvLeak).toBe(false);
    expect(await readFile(join(fresh, ".git/config"), "utf8")).not.toContain(TOKEN);
    expect((await git(fresh, "remote", "get-url", "origin")).out.trim()).toBe(server.url);
    // The token is read when git asks: a rotated file is used at once; another host gets nothing.
    await writeFile(tokenFile, "rotated-wrong");
    expect((await git(fresh, "fetch", "-q")).code).not.toBe(0);
    const other = await new Promise<string>((resolve) => {
      const c = spawn("sh", [HELPER, "get"], { env: { PATH: process.env.PATH ?? "", REPO_URL: server.url, REPO_TOKEN_FILE: tokenFile } });
      let out = "";
      c.stdout.on("data", (d: Buffer) => (out += d.toString()));
      c.on("close", () => resolve(out));
      c.stdin.end("protocol=https\nhost=example.com\n\n");
    });
    expect(other).toBe("");
  });
});
