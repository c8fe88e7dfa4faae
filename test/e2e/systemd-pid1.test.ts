// The shipped unit under a real systemd: systemd 252 as PID 1 in a container on this host's
// Podman (test/support/systemd-container.ts has the recipe), podwarden installed the way the
// README's "systemd" section says, and the daemon inside driving the host's Podman. Every
// check asserts what systemctl, journalctl, the host's Podman or the daemon's /status show.
//
// The checks run in order on one unit and one pod:
// - under the shipped unit as installed (its only drop-in adds ReadWritePaths= for the run's
//   persist root, as the README asks for another persist root): start, STATUS=, the hardening,
//   reload (valid, invalid), stop;
// - then with a drop-in of shorter timers, so the suite stays fast: WatchdogSec=15s (the
//   shipped 30 s would double the watchdog check) and RestartSec=1s (the shipped 10 s would
//   slow every restart): kill -9, a frozen daemon, exit 78 at start. WatchdogSec cannot go
//   much lower: the daemon pings only if its loop passed within WatchdogSec, and an idle loop
//   passes every 10 s, so below that an idle, healthy daemon is killed (6 s was, every 10 s).
//
// Timings are printed at the end (figures, not assertions).

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { podEvents } from "../support/podman-events.js";
import { podExists, podman, SOCKET } from "../support/podman-harness.js";
import { CHAIN, DROPIN_DIR, SystemdSuite, UNIT, UNIT_CONFIG, installUnitAsReadme, podStatus, waitForUnit, withJournal } from "../support/systemd-container.js";

const STATE = ["ActiveState", "SubState", "StatusText", "MainPID", "NRestarts", "Result"];
const WATCHDOG_S = 15;
const RESTART_S = 1;
// Lines of the config's `containers:` section: a valid change (datadog's env) and an invalid key.
const RELOADED = ["  datadog:", "    env:", '      DD_ENV: "e2e-reloaded"'];
const INVALID = ["  valkey:", "    restartPolicy: always"];

const figures: string[] = [];
const figure = (line: string): void => void figures.push(line);
const since = (t0: number): number => Math.round(performance.now() - t0);

const suite = new SystemdSuite();
const fileT0 = performance.now();

const isRunning = (p: Record<string, string>): boolean => p.ActiveState === "active" && p.SubState === "running";

/** The unit's config file: createRun's, with these lines as its `containers:` section. */
const writeConfig = async (containers: readonly string[]): Promise<void> => {
  const base = await readFile(suite.r.config, "utf8");
  await suite.sd.writeFile(UNIT_CONFIG, [base, ...(containers.length > 0 ? ["containers:", ...containers] : []), ""].join("\n"));
};

beforeAll(async () => {
  await suite.setUp({ optPodwarden: true });
  const { image, sd } = suite;
  figure(image?.built ? `systemd image built from the Debian base: ${image.ms} ms` : "systemd image: present with the same recipe, not rebuilt");
  figure(`systemd boot (podman run -> is-system-running --wait = ${sd.bootState}): ${sd.bootMs} ms`);
  if (sd.failedUnits) figure(`failed units at boot: ${sd.failedUnits.trim()}`);
  await installUnitAsReadme(sd);
}, 900_000);

afterAll(async () => {
  await suite.tearDown();
  figure(`whole file: ${since(fileT0)} ms`);
  console.log(`systemd-pid1 e2e figures:\n  ${figures.join("\n  ")}`);
}, 120_000);

describe("the shipped unit under systemd 252 as PID 1", () => {
  const statuses: string[] = [];

  suite.check("`systemctl start` returns only after READY=1: then active/running, every container ready on the host's Podman", async () => {
    expect(await suite.sd.prop("ActiveState")).toBe("inactive");
    // Watch the unit while `start` blocks: Type=notify keeps it activating until READY=1.
    const seen = new Set<string>();
    let starting = true;
    const watcher = (async () => {
      while (starting) {
        const p = await suite.sd.show(["ActiveState", "SubState", "StatusText"]);
        seen.add(`${p.ActiveState}/${p.SubState}`);
        if (p.StatusText && statuses.at(-1) !== p.StatusText) statuses.push(p.StatusText);
        await sleep(150);
      }
    })();
    const t0 = performance.now();
    const r = await suite.sd.sh(`s=$(date +%s%N); systemctl start ${UNIT}; rc=$?; echo "$rc $(( ($(date +%s%N) - s) / 1000000 ))"`);
    const wallMs = since(t0);
    starting = false;
    await watcher;
    const [rc, insideMs] = r.stdout.trim().split(" ").map(Number);
    expect(rc, r.stderr).toBe(0);

    const p = await suite.sd.show([...STATE, "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic"]);
    if (p.StatusText && statuses.at(-1) !== p.StatusText) statuses.push(p.StatusText);
    expect(p).toMatchObject({ ActiveState: "active", SubState: "running", NRestarts: "0" });
    expect([...seen], "the unit was seen activating while `systemctl start` waited").toContain("activating/start");
    await suite.expectPodReady();
    const journal = await suite.sd.journalSince("");
    expect(journal).toContain('"msg":"pod ready"');
    expect(journal).toContain("Started opencode-memory-pod.service");
    const toReadyMs = (Number(p.ActiveEnterTimestampMonotonic) - Number(p.ExecMainStartTimestampMonotonic)) / 1000;
    figure(`systemctl start: ${insideMs} ms inside the container (${wallMs} ms with podman exec); ExecStart -> READY=1 (systemd's timestamps): ${Math.round(toReadyMs)} ms`);
  });

  suite.check("STATUS= is the daemon's phase: `systemctl status` shows \"ready 4/4\"", async () => {
    expect(await suite.sd.prop("StatusText")).toBe("ready 4/4");
    const status = await suite.sd.systemctl("status", UNIT);
    expect(status.stdout).toContain('Status: "ready 4/4"');
    // While `start` waited, systemd showed the daemon's phases, each a STATUS= (src/supervisor/phase.ts).
    figure(`StatusText seen during the start: ${statuses.map((s) => JSON.stringify(s)).join(" -> ")}`);
    expect(statuses.at(-1)).toBe("ready 4/4");
    expect(statuses.some((s) => s.startsWith("starting "))).toBe(true);
    for (const s of statuses) expect(s).toMatch(/^(ready 4\/4|starting \w+ \(\d\/4\)|waiting for \w+'s dependencies \(\d\/4\))$/);
  });

  suite.check("the hardening is applied: in the daemon's mount namespace / is read-only but the ReadWritePaths, /tmp is private; the daemon still works", async () => {
    const pid = await suite.sd.prop("MainPID");
    const persist = suite.r.persistRoot;
    // Paths the unit must keep read-only, and paths it must leave (or make) writable.
    const readOnly = ["/", "/etc", "/etc/podwarden", "/usr", "/var/lib", "/root", "/run", "/run/secrets"];
    const writable = [persist, "/run/podwarden", "/run/podman", "/var/lib/podwarden", "/tmp", "/var/tmp"];
    const modes = async (prefix: string, paths: readonly string[]): Promise<Record<string, string>> => {
      const r = await suite.sd.exec(["sh", "-c", `for d in "$@"; do if ${prefix} sh -c 'touch "$1/.pw-hardening" && rm -f "$1/.pw-hardening"' sh "$d" 2>/dev/null; then echo "$d rw"; else echo "$d ro"; fi; done`, "sh", ...paths]);
      return Object.fromEntries(r.stdout.trim().split("\n").map((l) => l.split(" ") as [string, string]));
    };
    const inUnit = await modes(`nsenter -t ${pid} -m`, [...readOnly, ...writable]);
    expect(inUnit).toEqual(Object.fromEntries([...readOnly.map((d) => [d, "ro"]), ...writable.map((d) => [d, "rw"])]));
    // Outside the unit the same paths are writable: the read-only view is the unit's doing.
    const outside = await modes("", readOnly);
    expect(outside).toEqual(Object.fromEntries(readOnly.map((d) => [d, "rw"])));

    // /tmp is the unit's own (systemd-private-*), invisible from outside and the other way round.
    await suite.sd.must(["nsenter", "-t", pid, "-m", "sh", "-c", "echo unit > /tmp/pw-private-unit"]);
    await suite.sd.must(["sh", "-c", "echo host > /tmp/pw-private-host"]);
    const unitTmp = await suite.sd.must(["nsenter", "-t", pid, "-m", "ls", "-A", "/tmp"]);
    const hostTmp = await suite.sd.must(["ls", "-A", "/tmp"]);
    expect(unitTmp).toContain("pw-private-unit");
    expect(unitTmp).not.toContain("pw-private-host");
    expect(hostTmp).not.toContain("pw-private-unit");
    const mountinfo = await suite.sd.readFile(`/proc/${pid}/mountinfo`);
    const tmpMount = mountinfo.split("\n").filter((l) => l.split(" ")[4] === "/tmp").at(-1) ?? "";
    expect(tmpMount).toMatch(/systemd-private-\w+-opencode-memory-pod\.service-\w+\/tmp/);
    const rootMount = mountinfo.split("\n").filter((l) => l.split(" ")[4] === "/").at(-1) ?? "";
    expect(rootMount.split(" ")[5]).toMatch(/^ro,/);

    // NoNewPrivileges= and the system call filter, beside a process outside the unit.
    const statusOf = async (p: string) => Object.fromEntries((await suite.sd.readFile(`/proc/${p}/status`)).split("\n").map((l) => l.split(":\t") as [string, string]));
    const unitStatus = await statusOf(pid);
    const shellStatus = await statusOf("self");
    expect(unitStatus.NoNewPrivs).toBe("1");
    expect(shellStatus.NoNewPrivs).toBe("0");
    expect(Number(unitStatus.Seccomp_filters)).toBeGreaterThan(Number(shellStatus.Seccomp_filters ?? 0));

    // The daemon still works under all this: it made the containers' data directories in the
    // persist root (its ReadWritePaths=), the pod is ready, the daemon did not restart.
    expect(await readdir(persist)).toEqual(expect.arrayContaining(["valkey", "falkordb", "opencode"]));
    await suite.expectPodReady();
    expect(await suite.sd.prop("MainPID")).toBe(pid);
  });

  suite.check("`systemctl reload` with a valid changed config recreates that container only", async () => {
    const before = await suite.ids();
    const pid = await suite.sd.prop("MainPID");
    await writeConfig(RELOADED);
    const t0 = performance.now();
    const r = await suite.sd.systemctl("reload", UNIT);
    expect(r.code, r.stderr).toBe(0);
    const after = await (async () => {
      for (;;) {
        const now = await suite.ids().catch(() => undefined);
        const status = await podStatus(suite.r.httpPort).catch(() => undefined);
        if (now && now.datadog!.id !== before.datadog!.id && status?.status === "pass") return now;
        if (since(t0) > 60_000) throw new Error("datadog was not recreated within 60 s of the reload");
        await sleep(100);
      }
    })();
    figure(`systemctl reload (valid, datadog's env changed) -> datadog recreated and the pod ready: ${since(t0)} ms`);
    for (const c of ["valkey", "falkordb", "opencode"] as const) expect(after[c], `${c} untouched`).toEqual(before[c]);
    expect(after.datadog!.running).toBe(true);
    const env = JSON.parse(await podman("inspect", "--format", "{{json .Config.Env}}", `${suite.r.pod}-datadog`)) as string[];
    expect(env).toContain("DD_ENV=e2e-reloaded");
    const p = await suite.sd.show(STATE);
    expect(p).toMatchObject({ ActiveState: "active", SubState: "running", MainPID: pid, StatusText: "ready 4/4" });
    await suite.expectPodReady();
  });

  suite.check("`systemctl reload` with an invalid config fails with ExecReload's exit 78; the pod and the daemon are untouched", async () => {
    const before = await suite.ids();
    const pid = await suite.sd.prop("MainPID");
    const cursor = await suite.sd.journalCursor();
    await writeConfig([...RELOADED, ...INVALID]);
    try {
      const r = await suite.sd.systemctl("reload", UNIT);
      expect(r.code).not.toBe(0);
      const p = await suite.sd.show([...STATE, "ExecReload"]);
      expect(p.ExecReload).toMatch(/code=exited ; status=78 \}/);
      expect(p).toMatchObject({ ActiveState: "active", SubState: "running", MainPID: pid });
      const journal = await suite.sd.journalSince(cursor);
      expect(journal).toContain("containers.valkey.restartPolicy");
      expect(journal).toMatch(/status=78\/CONFIG/);
      // Give a wrongly delivered SIGHUP time to act before looking at the pod.
      await sleep(2_000);
      expect(await suite.ids()).toEqual(before);
      await suite.expectPodReady();
    } finally {
      await writeConfig(RELOADED);
    }
  });

  suite.check("`systemctl stop` stops the containers in reverse order and removes the pod", async () => {
    const events = podEvents(SOCKET, suite.r.pod);
    await events.ready;
    const cursor = await suite.sd.journalCursor();
    const t0 = performance.now();
    const r = await suite.sd.systemctl("stop", UNIT);
    const stopMs = since(t0);
    events.close();
    expect(r.code, r.stderr).toBe(0);
    const p = await suite.sd.show([...STATE, "ExecMainStatus"]);
    expect(p).toMatchObject({ ActiveState: "inactive", SubState: "dead", Result: "success", ExecMainStatus: "0" });
    expect(await podExists(suite.r.pod)).toBe(false);
    // Podman's own events: each container died after the one that depends on it.
    const died = events.events("died").sort((a, b) => a.timeNano - b.timeNano).map((e) => e.name);
    expect(died).toEqual(CHAIN.map((c) => `${suite.r.pod}-${c}`).reverse());
    // The daemon's journal says the same.
    const stopped = (await suite.sd.journalSince(cursor))
      .split("\n")
      .filter((l) => l.includes('"msg":"-> stopped"'))
      .map((l) => (JSON.parse(l) as { container: string }).container);
    expect(stopped).toEqual([...CHAIN].reverse());
    figure(`systemctl stop (reverse order, pod removed): ${stopMs} ms`);
  });
});

describe(`the same unit with short timers (drop-in: WatchdogSec=${WATCHDOG_S}s, RestartSec=${RESTART_S}s)`, () => {
  beforeAll(
    () =>
      withJournal(suite.host, async () => {
        await suite.sd.writeFile(
          join(DROPIN_DIR, "20-e2e-short-timers.conf"),
          `# The e2e's shorter timers (see test/e2e/systemd-pid1.test.ts).\n[Service]\nWatchdogSec=${WATCHDOG_S}s\nRestartSec=${RESTART_S}s\n`,
        );
        await suite.sd.must(["systemctl", "daemon-reload"]);
        const t0 = performance.now();
        const r = await suite.sd.systemctl("start", UNIT);
        expect(r.code, r.stderr).toBe(0);
        figure(`systemctl start again (new pod, images present): ${since(t0)} ms`);
        await suite.expectPodReady();
      }),
    120_000,
  );

  suite.check("`kill -9` of the daemon: systemd restarts it, the new daemon adopts the pod (no container restarted) and is READY again", async () => {
    const before = await suite.sd.show(STATE);
    const ids = await suite.ids();
    const cursor = await suite.sd.journalCursor();
    const t0 = performance.now();
    await suite.sd.must(["sh", "-c", `kill -9 ${before.MainPID}`]);
    const after = await waitForUnit(suite.sd, "a new daemon to be READY", STATE, (p) => p.MainPID !== before.MainPID && p.MainPID !== "0" && isRunning(p));
    figure(`kill -9 -> new daemon READY (RestartSec=${RESTART_S}s): ${since(t0)} ms`);
    expect(Number(after.NRestarts)).toBe(Number(before.NRestarts) + 1);
    expect(after.StatusText).toBe("ready 4/4");
    const journal = await suite.sd.journalSince(cursor);
    expect(journal).toContain("Main process exited, code=killed, status=9/KILL");
    expect(journal).toMatch(/Scheduled restart job, restart counter is at \d+/);
    expect(await suite.ids()).toEqual(ids);
    await suite.expectPodReady();
  });

  suite.check(
    "a frozen daemon (SIGSTOP): the watchdog kills it (SIGABRT), systemd restarts it, the pod is adopted",
    async () => {
      const before = await suite.sd.show(STATE);
      const ids = await suite.ids();
      const cursor = await suite.sd.journalCursor();
      const t0 = performance.now();
      await suite.sd.must(["sh", "-c", `kill -STOP ${before.MainPID}`]);
      await waitForUnit(suite.sd, "the frozen daemon to be killed", ["MainPID"], (p) => p.MainPID !== before.MainPID, (WATCHDOG_S + 15) * 1000);
      const killedMs = since(t0);
      const after = await waitForUnit(suite.sd, "a new daemon to be READY", STATE, (p) => p.MainPID !== "0" && isRunning(p));
      figure(`SIGSTOP -> watchdog kill: ${killedMs} ms (WatchdogSec=${WATCHDOG_S}s); -> new daemon READY: ${since(t0)} ms`);
      const journal = await suite.sd.journalSince(cursor);
      expect(journal).toContain(`Watchdog timeout (limit ${WATCHDOG_S}s)!`);
      expect(journal).toContain(`Killing process ${before.MainPID} (node) with signal SIGABRT`);
      expect(journal).toContain("Failed with result 'watchdog'");
      expect(Number(after.NRestarts)).toBe(Number(before.NRestarts) + 1);
      expect(await suite.ids()).toEqual(ids);
      await suite.expectPodReady();
    },
    (WATCHDOG_S + 60) * 1000,
  );

  suite.check("exit 78 at start (an invalid config): the unit fails, no restart loop, the journal names the error", async () => {
    expect((await suite.sd.systemctl("stop", UNIT)).code).toBe(0);
    expect(await podExists(suite.r.pod)).toBe(false);
    await writeConfig([...RELOADED, ...INVALID]);
    const cursor = await suite.sd.journalCursor();
    try {
      const r = await suite.sd.systemctl("start", UNIT);
      expect(r.code).not.toBe(0);
      const failed = await suite.sd.show([...STATE, "ExecMainStatus"]);
      expect(failed).toMatchObject({ ActiveState: "failed", Result: "exit-code", ExecMainStatus: "78" });
      // Wait well past RestartSec: still failed, never restarted.
      await sleep(RESTART_S * 4_000);
      const later = await suite.sd.show([...STATE, "ExecMainStatus"]);
      expect(later).toMatchObject({ ActiveState: "failed", SubState: "failed", NRestarts: failed.NRestarts, MainPID: "0" });
      const journal = await suite.sd.journalSince(cursor);
      expect(journal).toContain("status=78/CONFIG");
      expect(journal).toContain("containers.valkey.restartPolicy");
      expect(journal).not.toMatch(/Scheduled restart job/);
      expect(await podExists(suite.r.pod)).toBe(false);
    } finally {
      await writeConfig(RELOADED);
    }
  });
});
