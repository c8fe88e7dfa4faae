// `podwarden install`, `restart-daemon`, `uninstall` and the journal's priorities under a real
// systemd (systemd 252 as PID 1 in a container on this host's Podman, as in systemd-pid1.test.ts,
// whose plumbing this file shares). Unlike there, nothing is bind-mounted at /opt/podwarden:
// `install` copies podwarden there from the checkout.
//
// Written against the contract of issue 12 (install, restart-daemon, journal priorities): it
// needs those commands on the branch it runs on.
//
// What a user provides before installing is written first (provideRunFiles): the config at
// /etc/podwarden/opencode-memory-pod.yaml, the env file, and a drop-in with ReadWritePaths= for
// the run's persist root. `install` must keep all three.

import { access, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { CLI, podExists, resp, waitFor } from "../support/podman-harness.js";
import { CHAIN, INSTALL_PREFIX, SystemdSuite, UNIT, UNIT_CONFIG, UNIT_ENV_FILE, waitForUnit } from "../support/systemd-container.js";

const STATE = ["ActiveState", "SubState", "StatusText", "MainPID", "NRestarts", "LoadState", "UnitFileState"];
const UNIT_FILE = `/etc/systemd/system/${UNIT}`;

const figures: string[] = [];
const since = (t0: number): number => Math.round(performance.now() - t0);

const suite = new SystemdSuite();

const isReady = (p: Record<string, string>): boolean => p.ActiveState === "active" && p.SubState === "running" && p.StatusText === "ready 4/4";

/** podwarden inside the container: from the checkout (CLI, at the same path as here) or the prefix. */
const podwarden = (cli: string, ...args: string[]) => suite.sd.exec(["node", cli, ...args], { timeoutMs: 300_000 });

const exists = (path: string): Promise<boolean> =>
  suite.sd
    .exec(["test", "-e", path])
    .then((r) => r.code === 0);

const modeOf = async (path: string): Promise<string> => (await suite.sd.must(["stat", "-c", "%a", path])).trim();

beforeAll(() => suite.setUp({ optPodwarden: false }), 900_000);

afterAll(async () => {
  await suite.tearDown();
  if (figures.length) console.log(`systemd-pid1-install e2e figures:\n  ${figures.join("\n  ")}`);
}, 120_000);

describe("podwarden install, restart-daemon, uninstall and the journal under systemd 252 as PID 1", () => {
  let config = "";
  let envFile = "";

  suite.check("`install --local` copies podwarden to /opt/podwarden, writes the unit, keeps the user's config and env file, and starts the pod", async () => {
    config = await suite.sd.readFile(UNIT_CONFIG);
    envFile = await suite.sd.readFile(UNIT_ENV_FILE);
    expect(await exists(INSTALL_PREFIX)).toBe(false);
    const t0 = performance.now();
    const r = await podwarden(CLI, "install", "--local");
    figures.push(`install --local (copy, unit, daemon-reload, enable --now -> READY): ${since(t0)} ms`);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(await exists(join(INSTALL_PREFIX, "dist/cli.js"))).toBe(true);
    expect(await exists(UNIT_FILE)).toBe(true);
    expect(await suite.sd.readFile(UNIT_CONFIG)).toBe(config);
    expect(await suite.sd.readFile(UNIT_ENV_FILE)).toBe(envFile);
    expect(await modeOf(UNIT_ENV_FILE)).toBe("600");
    const p = await suite.sd.show(STATE);
    expect(p).toMatchObject({ LoadState: "loaded", UnitFileState: "enabled", ActiveState: "active", SubState: "running", StatusText: "ready 4/4" });
    await suite.expectPodReady();
  });

  suite.check("errors reach the journal at priority err, and every line the unit's processes write is JSON", async () => {
    const cursor = await suite.sd.journalCursor();
    const daemonPid = await suite.sd.prop("MainPID");
    /** `journalctl -p err -u <unit>`, keeping what the unit's processes wrote (not systemd's own lines). */
    const errorsOfUnit = async () =>
      (await suite.sd.journalSince(cursor, ["-p", "err", "-o", "json"]))
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { _SYSTEMD_UNIT?: string; _PID?: string; PRIORITY?: string; MESSAGE?: string })
        .filter((e) => e._SYSTEMD_UNIT === UNIT);
    // Provoke errors: an invalid config refused by ExecReload, then by the daemon itself (SIGHUP).
    await suite.sd.writeFile(UNIT_CONFIG, `${config}\ncontainers:\n  valkey:\n    restartPolicy: always\n`);
    try {
      expect((await suite.sd.systemctl("reload", UNIT)).code).not.toBe(0);
      expect((await suite.sd.systemctl("kill", "--signal=SIGHUP", "--kill-who=main", UNIT)).code).toBe(0);
      // The daemon itself logs the rejected SIGHUP reload: at priority err too.
      await waitFor("the daemon's error line in `journalctl -p err`", async () => (await errorsOfUnit()).some((e) => e._PID === daemonPid) || undefined, 15_000, 250);
    } finally {
      await suite.sd.writeFile(UNIT_CONFIG, config);
    }
    const ours = await errorsOfUnit();
    expect(ours.length, "error lines from the unit's processes in `journalctl -p err`").toBeGreaterThan(0);
    expect(ours.map((e) => e.MESSAGE).join("\n")).toContain("restartPolicy");
    for (const e of ours) expect(Number(e.PRIORITY)).toBeLessThanOrEqual(3);
    // Info lines stay out of -p err: the mapping is per level, not "everything is an error".
    const allErr = await suite.sd.must(["journalctl", "--no-pager", "-p", "err", "-u", UNIT, "-o", "cat"]);
    expect(allErr).not.toContain('"msg":"pod ready"');
    // Every line the unit's processes wrote (the daemon, ExecReload) is JSON.
    const lines = (await suite.sd.must(["journalctl", "--no-pager", `_SYSTEMD_UNIT=${UNIT}`, "-o", "cat"])).split("\n").filter((l) => l.trim());
    expect(lines.length).toBeGreaterThan(10);
    const notJson = lines.filter((l) => {
      try {
        return typeof (JSON.parse(l) as { msg?: unknown }).msg !== "string";
      } catch {
        return true;
      }
    });
    expect(notJson).toEqual([]);
  });

  suite.check("`restart-daemon` replaces the daemon (new MainPID) without restarting a container; `systemctl restart` restarts every container", async () => {
    const before = await suite.sd.show(STATE);
    const ids = await suite.ids();
    let t0 = performance.now();
    const r = await podwarden(join(INSTALL_PREFIX, "dist/cli.js"), "restart-daemon");
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const after = await waitForUnit(suite.sd, "a new daemon READY after restart-daemon", STATE, (p) => p.MainPID !== before.MainPID && p.MainPID !== "0" && isReady(p));
    figures.push(`restart-daemon -> new daemon READY: ${since(t0)} ms`);
    expect(after.MainPID).not.toBe(before.MainPID);
    expect(await suite.ids()).toEqual(ids);
    await suite.expectPodReady();

    t0 = performance.now();
    const restart = await suite.sd.systemctl("restart", UNIT);
    expect(restart.code, restart.stderr).toBe(0);
    figures.push(`systemctl restart (full pod restart): ${since(t0)} ms`);
    expect(isReady(await suite.sd.show(STATE))).toBe(true);
    const fresh = await suite.ids();
    for (const c of CHAIN) expect(fresh[c]!.id, `${c} recreated by systemctl restart`).not.toBe(ids[c]!.id);
    await suite.expectPodReady();
  });

  suite.check("`install` again changes nothing the user edited and hands the pod over (no container restarted)", async () => {
    // The user edits both files (a comment changes no spec).
    config = `${config}# edited by the user\n`;
    envFile = `${envFile}# edited by the user\n`;
    await suite.sd.writeFile(UNIT_CONFIG, config);
    await suite.sd.writeFile(UNIT_ENV_FILE, envFile, 0o600);
    const before = await suite.sd.show(STATE);
    const ids = await suite.ids();
    const t0 = performance.now();
    const r = await podwarden(CLI, "install", "--local");
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const after = await waitForUnit(suite.sd, "the new daemon READY after the second install", STATE, (p) => p.MainPID !== before.MainPID && p.MainPID !== "0" && isReady(p));
    figures.push(`install again (handover) -> new daemon READY: ${since(t0)} ms`);
    expect(after).toMatchObject({ UnitFileState: "enabled" });
    expect(await suite.sd.readFile(UNIT_CONFIG)).toBe(config);
    expect(await suite.sd.readFile(UNIT_ENV_FILE)).toBe(envFile);
    expect(await modeOf(UNIT_ENV_FILE)).toBe("600");
    expect(await suite.ids()).toEqual(ids);
    await suite.expectPodReady();
  });

  suite.check("`uninstall` disables and removes the unit and /opt/podwarden, and keeps /etc/podwarden, the env file and the data", async () => {
    // Data on disk now: a key saved by Valkey into the persist root (short: RDB keeps it uncompressed).
    expect(await resp(suite.r.hostPort[6380]!, "SET", "pw:kept", "kept")).toBe("+OK");
    expect(await resp(suite.r.hostPort[6380]!, "SAVE")).toBe("+OK");
    const dump = join(suite.r.persistRoot, "valkey", "dump.rdb");
    const saved = await stat(dump);
    const r = await podwarden(CLI, "uninstall");
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const p = await suite.sd.show(STATE);
    expect(p.LoadState).toBe("not-found");
    expect(p.ActiveState).toBe("inactive");
    expect(await exists(UNIT_FILE)).toBe(false);
    expect(await exists(INSTALL_PREFIX)).toBe(false);
    expect(await suite.sd.readFile(UNIT_CONFIG)).toBe(config);
    expect(await suite.sd.readFile(UNIT_ENV_FILE)).toBe(envFile);
    expect(await modeOf(UNIT_ENV_FILE)).toBe("600");
    await access(dump);
    expect((await stat(dump)).size).toBeGreaterThanOrEqual(saved.size);
    expect((await readFile(dump)).toString("latin1")).toContain("pw:kept");
    // The service is gone, so is the pod it supervised (stopped in reverse order, data kept).
    expect(await podExists(suite.r.pod)).toBe(false);
  });
});
