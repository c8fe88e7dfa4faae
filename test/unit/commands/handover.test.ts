// The upgrade path's decisions, with stand-in daemons: child processes with a pid file, one that
// takes the keep-pod marker on SIGTERM (as `podwarden run` does) and one that ignores it (an
// older podwarden). systemctl is a recording fake; the real one is exercised in the systemd e2e.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { handOver, restartRoute, type HandoverDeps } from "../../../src/commands/handover.js";
import { keepPodPath, readMarker } from "../../../src/daemon/keep-pod.js";
import { startTicks } from "../../../src/lib/proc.js";
import { unitOption } from "../../../src/commands/restart-daemon.js";
import { serviceName, serviceOfCgroup, unitConfig, type SystemctlResult } from "../../../src/systemd/systemctl.js";

const UNIT = "opencode-memory-pod.service";

describe("how the daemon is replaced", () => {
  it("through systemd when it is the unit's main process, else by SIGTERM; never when it is another unit's", () => {
    expect(restartRoute({ pid: 10, unit: UNIT, unitMainPid: 10 })).toEqual({ how: "systemd" });
    expect(restartRoute({ pid: 10, unit: UNIT, unitMainPid: undefined })).toEqual({ how: "signal" });
    expect(restartRoute({ pid: 10, unit: UNIT, unitMainPid: 11 })).toEqual({ how: "signal" });
    expect(restartRoute({ pid: 10, unit: UNIT, unitMainPid: undefined, otherService: { name: "cron.service", mainPid: 3 } })).toEqual({ how: "signal" });
    expect(restartRoute({ pid: 10, unit: UNIT, unitMainPid: undefined, otherService: { name: "pod2.service", mainPid: 10 } })).toEqual({
      how: "refuse",
      reason: `the daemon (pid 10) is the main process of pod2.service, not of ${UNIT}: pass --unit pod2.service`,
    });
  });

  it("finds the service in /proc/<pid>/cgroup (v2, hybrid), and nothing in a session", () => {
    expect(serviceOfCgroup("0::/system.slice/opencode-memory-pod.service\n")).toBe(UNIT);
    expect(serviceOfCgroup("12:memory:/\n1:name=systemd:/system.slice/x.service\n0::/system.slice/x.service\n")).toBe("x.service");
    expect(serviceOfCgroup("0::/user.slice/user-0.slice/session-3.scope\n")).toBeUndefined();
    expect(serviceOfCgroup("")).toBeUndefined();
  });

  it("reads the unit's config from its environment as systemd has it (a drop-in's value wins)", async () => {
    const show = (stdout: string, code = 0) => async () => ({ code, stdout, stderr: "" });
    expect(await unitConfig(show("PODWARDEN_CONFIG=/etc/podwarden/opencode-memory-pod.yaml PODWARDEN_LOG_LEVEL=info NODE_ENV=production\n"), UNIT)).toBe("/etc/podwarden/opencode-memory-pod.yaml");
    expect(await unitConfig(show("PODWARDEN_CONFIG=/etc/podwarden/opencode-memory-pod.yaml NODE_ENV=production PODWARDEN_CONFIG=/etc/podwarden/local.yaml\n"), UNIT)).toBe("/etc/podwarden/local.yaml");
    expect(await unitConfig(show("\n"), UNIT)).toBeUndefined(); // a unit systemd does not know
    expect(await unitConfig(show("PODWARDEN_CONFIG=relative.yaml\n"), UNIT)).toBeUndefined();
    expect(await unitConfig(show("", 1), UNIT)).toBeUndefined();
  });

  it("takes unit names as systemd spells them", () => {
    expect(serviceName("opencode-memory-pod")).toBe(UNIT);
    expect(serviceName("pod@a.service")).toBe("pod@a.service");
    for (const bad of ["", "a b", "../x", "x/y", "-x", "x;rm", "x\n"]) expect(serviceName(bad), bad).toBeUndefined();
    expect(unitOption(undefined)).toBe(UNIT);
    expect(() => unitOption("a b")).toThrow(/--unit: 'a b' is not a service name/);
  });
});

describe("handOver with stand-in daemons", () => {
  let dir: string;
  let env: Record<string, string>;
  let children: ChildProcess[];
  let said: string[];
  const say = { info: (_: unknown, t: string) => void said.push(`info ${t}`), warn: (_: unknown, t: string) => void said.push(`warn ${t}`), error: (_: unknown, t: string) => void said.push(`error ${t}`) };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "pw-handover-"));
    env = { RUNTIME_DIRECTORY: dir };
    children = [];
    said = [];
  });
  afterEach(async () => {
    for (const c of children) c.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  /** A process with a pid file; `takesMarker`: on SIGTERM it removes the marker and exits 0, like `podwarden run`. */
  const daemon = async (takesMarker: boolean): Promise<ChildProcess> => {
    const marker = keepPodPath(env, "pod");
    const script = takesMarker
      ? `process.on("SIGTERM", () => { require("fs").rmSync(${JSON.stringify(marker)}, { force: true }); process.exit(0); }); console.log("up"); setInterval(() => {}, 1000);`
      : `console.log("up"); setInterval(() => {}, 1000);`;
    // Its argv looks like the daemon's (…/cli.js run): a pid file is believed only for `podwarden run`.
    const entry = join(dir, "cli.js");
    await writeFile(entry, script);
    const child = spawn(process.execPath, [entry, "run"], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    await new Promise((r) => child.stdout!.once("data", r));
    await writeFile(join(dir, "pod.pid"), `${child.pid}\n/etc/podwarden/pod.yaml\n${await startTicks(child.pid!)}\n`);
    return child;
  };
  const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

  /** A systemctl whose unit runs `main`; `restart` SIGTERMs it and "starts" pid 999999. */
  const fakeSystemctl = (main: () => ChildProcess | undefined, restartCode = 0) => {
    const calls: string[] = [];
    let restarted = false;
    const run = async (args: readonly string[]): Promise<SystemctlResult> => {
      calls.push(args.join(" "));
      if (args[0] === "show") return { code: 0, stdout: `${args[4] === UNIT ? (restarted ? 999999 : (main()?.pid ?? 0)) : 0}\n`, stderr: "" };
      if (args[0] === "restart" && restartCode === 0) {
        const m = main()!;
        m.kill("SIGTERM");
        await exited(m);
        restarted = true;
        return { code: 0, stdout: "", stderr: "" };
      }
      return { code: restartCode, stdout: "", stderr: "Job for x failed" };
    };
    return { calls, run };
  };

  const deps = (systemctl: HandoverDeps["systemctl"], over: Partial<HandoverDeps> = {}): HandoverDeps => ({
    env,
    pod: "pod",
    config: "/etc/podwarden/pod.yaml",
    unit: UNIT,
    systemctl,
    say,
    timeoutMs: 10_000,
    readCgroup: async () => "0::/user.slice/session-1.scope\n",
    ...over,
  });

  it("systemd route: marks the daemon, restarts the unit, reports the new pid; the daemon took the marker", async () => {
    const d = await daemon(true);
    const sc = fakeSystemctl(() => d);
    const r = await handOver(deps(sc.run));
    expect(r).toEqual({ how: "systemd", unit: UNIT, oldPid: d.pid, newPid: 999999, podKept: true });
    expect(sc.calls).toEqual([`show -p MainPID --value ${UNIT}`, `restart ${UNIT}`, `show -p MainPID --value ${UNIT}`]);
    expect(await exited(d)).toBe(0);
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
    expect(said.at(-1)).toBe(`info daemon replaced: pid ${d.pid} -> 999999 (${UNIT}); the new daemon adopts the running containers`);
  });

  it("signal route: SIGTERM, waits for the exit, says to start it again", async () => {
    const d = await daemon(true);
    const sc = fakeSystemctl(() => undefined);
    const r = await handOver(deps(sc.run));
    expect(r).toEqual({ how: "signal", oldPid: d.pid, podKept: true });
    expect(await exited(d)).toBe(0);
    expect(sc.calls).toEqual([`show -p MainPID --value ${UNIT}`]);
    expect(said.at(-1)).toContain("Start it again: podwarden run --config /etc/podwarden/pod.yaml");
  });

  it("a daemon that ignores the marker (an older podwarden) stopped the pod: said, and the marker withdrawn", async () => {
    const d = await daemon(false);
    const r = await handOver(deps(fakeSystemctl(() => undefined).run));
    expect(r.podKept).toBe(false);
    expect(said.some((l) => l.startsWith(`warn the old daemon (pid ${d.pid}) did not take the keep-pod marker`))).toBe(true);
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
  });

  it("a failed systemctl restart withdraws the marker, so a later stop still stops the pod", async () => {
    const d = await daemon(true);
    await expect(handOver(deps(fakeSystemctl(() => d, 1).run))).rejects.toMatchObject({ code: "E_HANDOVER", message: expect.stringContaining("systemctl restart") });
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
    expect(d.exitCode).toBeNull();
  });

  it("a daemon that does not exit in time: the marker is withdrawn and the error says so", async () => {
    const d = await daemon(true);
    const r = handOver(deps(fakeSystemctl(() => undefined).run, { timeoutMs: 300, kill: (pid, sig) => (sig === 0 ? process.kill(pid, 0) : undefined) }));
    await expect(r).rejects.toMatchObject({ code: "E_HANDOVER", message: expect.stringContaining("did not exit within") });
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
    expect(d.exitCode).toBeNull();
  });

  it("refuses when the daemon is another unit's main process, before writing anything", async () => {
    const d = await daemon(true);
    const sc = fakeSystemctl(() => undefined);
    const run = async (args: readonly string[]) => (args[4] === "other.service" ? { code: 0, stdout: `${d.pid}\n`, stderr: "" } : sc.run(args));
    await expect(handOver(deps(run, { readCgroup: async () => "0::/system.slice/other.service\n" }))).rejects.toMatchObject({ code: "E_USAGE" });
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
    expect(d.exitCode).toBeNull();
  });

  it("no live daemon (no pid file, or a dead pid in it): exit 69 and no marker written", async () => {
    await expect(handOver(deps(fakeSystemctl(() => undefined).run))).rejects.toMatchObject({ code: "E_NO_DAEMON", exitCode: 69 });
    const dead = spawn(process.execPath, ["-e", ""]);
    await exited(dead);
    await writeFile(join(dir, "pod.pid"), `${dead.pid}\n/x\n`);
    await expect(handOver(deps(fakeSystemctl(() => undefined).run))).rejects.toMatchObject({ exitCode: 69 });
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
  });

  it("a pid file naming a live process that is not podwarden run, or was started at another time, names no daemon: nothing is signalled", async () => {
    const other = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"]);
    children.push(other);
    const kill: HandoverDeps["kill"] = () => {
      throw new Error("signalled");
    };
    await writeFile(join(dir, "pod.pid"), `${other.pid}\n/x\n`);
    await expect(handOver(deps(fakeSystemctl(() => undefined).run, { kill }))).rejects.toMatchObject({ code: "E_NO_DAEMON", exitCode: 69 });
    const d = await daemon(true);
    await writeFile(join(dir, "pod.pid"), `${d.pid}\n/x\n${(await startTicks(d.pid!))! + 1}\n`);
    await expect(handOver(deps(fakeSystemctl(() => undefined).run, { kill }))).rejects.toMatchObject({ code: "E_NO_DAEMON" });
    expect(await readMarker(keepPodPath(env, "pod"))).toEqual({ kind: "absent" });
    expect(d.exitCode).toBeNull();
  });
});
