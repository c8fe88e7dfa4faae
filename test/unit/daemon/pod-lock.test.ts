// The pod lock on the real kernel (flock through flock(1)): a second holder is refused with a
// message naming the first, a holder killed with SIGKILL leaves no stale lock, links are not
// followed. Holders in other processes are small node scripts that take the lock as `run` does.

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { lstat, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { acquirePodLock, lockedMessage, parseHolder, podLockPath, readLockHolder, type LockHolder } from "../../../src/daemon/pod-lock.js";
import { isDaemonArgv, liveDaemon } from "../../../src/daemon/pidfile.js";
import { parseStartTicks, startTicks } from "../../../src/lib/proc.js";
import { EXIT } from "../../../src/lib/errors.js";

const LOCK_MODULE = fileURLToPath(new URL("../../../src/daemon/pod-lock.ts", import.meta.url));

describe("pod lock", () => {
  let dir: string;
  let env: Record<string, string>;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-lock-"));
    env = { RUNTIME_DIRECTORY: join(dir, "run") };
  });
  afterEach(async () => {
    for (const c of children.splice(0)) c.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  const take = (command = "run") => acquirePodLock({ env, pod: "pod", command, config: "/etc/podwarden/pod.yaml" });

  /** Another process holding the pod's lock as `command`; resolves once it holds it. */
  const holder = async (command: string): Promise<ChildProcess> => {
    const script = `import { acquirePodLock } from ${JSON.stringify(LOCK_MODULE)};
await acquirePodLock({ env: { RUNTIME_DIRECTORY: ${JSON.stringify(env.RUNTIME_DIRECTORY)} }, pod: "pod", command: ${JSON.stringify(command)}, config: "/etc/other.yaml" });
console.log("held");
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    await new Promise((r) => child.stdout!.once("data", r));
    return child;
  };
  const exited = (c: ChildProcess) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once("exit", r)));

  it("the holder records itself; a second taker is refused with exit 73 naming it; after release the pod is free again", async () => {
    const lock = await take("run");
    const record = parseHolder(await readFile(podLockPath(env, "pod"), "utf8"))!;
    expect(record).toMatchObject({ pid: process.pid, command: "run", config: "/etc/podwarden/pod.yaml", startTicks: await startTicks(process.pid) });
    // Another open of the same file is another lock owner, even in this process.
    const refused = await take("up").catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "E_LOCKED", exitCode: EXIT.locked });
    expect((refused as Error).message).toBe(
      `pod pod is held by podwarden run (pid ${process.pid}, since ${record.since}, config /etc/podwarden/pod.yaml): a daemon supervises this pod; use podwarden status / reload`,
    );
    expect(await readLockHolder(env, "pod")).toEqual(record);
    await lock.release();
    expect(await readFile(podLockPath(env, "pod"), "utf8")).toBe("");
    expect(await readLockHolder(env, "pod")).toBeUndefined();
    const again = await take("down");
    await again.release();
  });

  it("a holder in another process blocks; once it is killed with SIGKILL the lock is free at once (no stale lock)", async () => {
    const child = await holder("run");
    await expect(take("run")).rejects.toMatchObject({
      exitCode: 73,
      message: expect.stringMatching(new RegExp(`^pod pod is held by podwarden run \\(pid ${child.pid}, .*config /etc/other\\.yaml\\): one daemon per pod: stop it first`)),
    });
    expect((await readLockHolder(env, "pod"))?.pid).toBe(child.pid);
    child.kill("SIGKILL");
    await exited(child);
    // Its record is still in the file, but the process is gone: not a holder.
    expect(parseHolder(await readFile(podLockPath(env, "pod"), "utf8"))?.pid).toBe(child.pid);
    expect(await readLockHolder(env, "pod")).toBeUndefined();
    const lock = await take("run");
    expect(parseHolder(await readFile(podLockPath(env, "pod"), "utf8"))?.pid).toBe(process.pid);
    await lock.release();
  });

  it("the refusal says what to do, by who holds the pod and who asks", () => {
    const run: LockHolder = { pid: 7, command: "run", since: "2026-01-01T00:00:00.000Z", config: "/c.yaml" };
    const up: LockHolder = { ...run, command: "up" };
    const who = "podwarden run (pid 7, since 2026-01-01T00:00:00.000Z, config /c.yaml)";
    expect(lockedMessage("p", "up", run)).toBe(`pod p is held by ${who}: a daemon supervises this pod; use podwarden status / reload`);
    expect(lockedMessage("p", "down", run)).toContain("a daemon supervises this pod and would bring it back: stop it first (systemctl stop opencode-memory-pod, or kill -TERM 7");
    expect(lockedMessage("p", "run", run)).toContain(": one daemon per pod: stop it first");
    expect(lockedMessage("p", "run", up)).toBe("pod p is held by podwarden up (pid 7, since 2026-01-01T00:00:00.000Z, config /c.yaml): wait for it to finish, then try again");
    expect(lockedMessage("p", "up", undefined)).toBe("pod p is held by another podwarden process (it has not said who it is yet): wait for it to finish, then try again");
    expect(parseHolder("")).toBeUndefined();
    expect(parseHolder('{"pid":"1","command":"run","since":"x","config":"y"}')).toBeUndefined();
  });

  it("a link at the lock's path is refused (exit 72), never followed", async () => {
    const target = join(dir, "target");
    await writeFile(target, "keep");
    await take().then((l) => l.release());
    await rm(podLockPath(env, "pod"));
    await symlink(target, podLockPath(env, "pod"));
    await expect(take()).rejects.toMatchObject({ code: "E_HOST", exitCode: EXIT.host, message: expect.stringContaining("a symbolic link: remove it") });
    expect(await readFile(target, "utf8")).toBe("keep");
    expect((await lstat(podLockPath(env, "pod"))).isSymbolicLink()).toBe(true);
  });
});

describe("pid file identity", () => {
  it("reads the start time after the command name, whatever it holds", () => {
    const rest = Array.from({ length: 50 }, (_, i) => String(i + 3));
    expect(parseStartTicks(`42 (a) (b c) ${rest.join(" ")}`)).toBe(22);
    expect(parseStartTicks("")).toBeUndefined();
  });

  it("believes only podwarden run", () => {
    expect(isDaemonArgv(["/usr/bin/node", "/opt/podwarden/dist/cli.js", "run", "--config", "/etc/p.yaml"])).toBe(true);
    expect(isDaemonArgv(["podwarden", "run"])).toBe(true);
    expect(isDaemonArgv(["/usr/bin/node", "/opt/podwarden/dist/cli.js", "up"])).toBe(false);
    expect(isDaemonArgv(["sleep", "run"])).toBe(false);
  });

  it("a pid file naming this test process (not podwarden run) names no daemon", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pw-pid-"));
    try {
      await writeFile(join(dir, "p.pid"), `${process.pid}\n/x\n${await startTicks(process.pid)}\n`);
      expect(await liveDaemon(join(dir, "p.pid"))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
