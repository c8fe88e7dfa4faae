// Replacing the running daemon without touching the pod (the upgrade path): mark the daemon
// (keep-pod.ts), then have it stopped: `systemctl restart <unit>` when it is that unit's main
// process (systemd starts the next daemon, which adopts the running containers), otherwise
// SIGTERM, after which whoever started it must start it again. Used by `restart-daemon` and
// by `install` when the unit is already running.

import { readFile } from "node:fs/promises";
import { describeFsError } from "../config/fs-error.js";
import { PodwardenError, UsageError } from "../lib/errors.js";
import { mainPid, serviceOfCgroup, type Systemctl } from "../systemd/systemctl.js";
import { keepPodPath, readMarker, withdrawMarker, writeMarker } from "../daemon/keep-pod.js";
import { liveDaemon, pidfilePath } from "../daemon/pidfile.js";
import type { Say } from "../lib/say.js";
import { systemClock, type Clock } from "../lib/clock.js";

export type RestartRoute = { readonly how: "systemd" } | { readonly how: "signal" } | { readonly how: "refuse"; readonly reason: string };

export interface RouteFacts {
  readonly pid: number;
  readonly unit: string;
  /** The unit's MainPID (undefined: not running, no such unit, no systemd). */
  readonly unitMainPid: number | undefined;
  /** Another service whose cgroup holds the daemon, and that service's MainPID. */
  readonly otherService?: { readonly name: string; readonly mainPid: number | undefined } | undefined;
}

/** How to replace the daemon: through its unit, by a signal, or not at all (it is another unit's main process). */
export const restartRoute = (f: RouteFacts): RestartRoute => {
  if (f.unitMainPid === f.pid) return { how: "systemd" };
  if (f.otherService && f.otherService.mainPid === f.pid) {
    return { how: "refuse", reason: `the daemon (pid ${f.pid}) is the main process of ${f.otherService.name}, not of ${f.unit}: pass --unit ${f.otherService.name}` };
  }
  return { how: "signal" };
};

export interface HandoverDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly pod: string;
  /** The config the daemon should be started with again (for the message after a SIGTERM). */
  readonly config: string;
  readonly unit: string;
  readonly systemctl: Systemctl;
  readonly say: Say;
  /** How long to wait for a signalled daemon to exit. */
  readonly timeoutMs: number;
  readonly readCgroup?: (pid: number) => Promise<string>;
  readonly kill?: (pid: number, signal: NodeJS.Signals | 0) => void;
  /** What the wait for the old daemon's exit runs on (default: the system's clock). */
  readonly clock?: Clock;
}

export interface HandoverResult {
  readonly how: "systemd" | "signal";
  readonly unit?: string;
  readonly oldPid: number;
  /** The unit's new main pid (systemd route). */
  readonly newPid?: number;
  /** The old daemon took the marker, so it left the pod running (false: it stopped the pod). */
  readonly podKept: boolean;
}

const procCgroup = (pid: number): Promise<string> => readFile(`/proc/${pid}/cgroup`, "utf8");

const alive = (kill: NonNullable<HandoverDeps["kill"]>, pid: number): boolean => {
  try {
    kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const exited = async (kill: NonNullable<HandoverDeps["kill"]>, pid: number, timeoutMs: number, clock: Clock): Promise<boolean> => {
  const deadline = clock.now() + timeoutMs;
  while (alive(kill, pid)) {
    if (clock.now() > deadline) return false;
    await clock.sleep(100);
  }
  return true;
};

export const handOver = async (deps: HandoverDeps): Promise<HandoverResult> => {
  const { say, unit, pod } = deps;
  const kill = deps.kill ?? ((pid, signal) => process.kill(pid, signal));
  const pidfile = pidfilePath(deps.env, pod);
  const daemon = await liveDaemon(pidfile);
  if (daemon === undefined) throw new PodwardenError("E_NO_DAEMON", `no running daemon for pod ${pod} (no live pid in ${pidfile})`, { exitCode: 69 });
  const pid = daemon.pid;
  const unitMainPid = await mainPid(deps.systemctl, unit);
  let otherService: RouteFacts["otherService"];
  if (unitMainPid !== pid) {
    const name = serviceOfCgroup(await (deps.readCgroup ?? procCgroup)(pid).catch(() => ""));
    if (name !== undefined && name !== unit) otherService = { name, mainPid: await mainPid(deps.systemctl, name) };
  }
  const route = restartRoute({ pid, unit, unitMainPid, otherService });
  if (route.how === "refuse") throw new UsageError(route.reason);

  const marker = keepPodPath(deps.env, pod);
  await writeMarker(marker, pid).catch((err: unknown) => {
    throw new PodwardenError("E_HANDOVER", `cannot write the keep-pod marker ${marker}: ${describeFsError(err)} (the daemon runs as root: so must this)`, { cause: err });
  });
  /** After the old daemon is gone: did it take the marker (and so leave the pod running)? */
  const tookMarker = async (): Promise<boolean> => {
    const left = await readMarker(marker);
    await withdrawMarker(marker, pid);
    const kept = !(left.kind === "pid" && left.pid === pid);
    if (!kept) say.warn({ pod, pid }, `the old daemon (pid ${pid}) did not take the keep-pod marker (a podwarden without the handover?): it stopped the pod, which starts again`);
    return kept;
  };

  if (route.how === "systemd") {
    say.info({ pod, pid, unit }, `handing pod ${pod} over: restarting ${unit} (daemon pid ${pid}); the containers keep running`);
    const r = await deps.systemctl(["restart", unit]);
    if (r.code !== 0) {
      await withdrawMarker(marker, pid);
      throw new PodwardenError("E_HANDOVER", `systemctl restart ${unit} failed (exit ${r.code}): ${r.stderr || "no message"}; see journalctl -u ${unit}`);
    }
    const podKept = await tookMarker();
    const newPid = await mainPid(deps.systemctl, unit);
    say.info({ pod, unit, oldPid: pid, newPid, podKept }, `daemon replaced: pid ${pid} -> ${newPid ?? "?"} (${unit})${podKept ? "; the new daemon adopts the running containers" : ""}`);
    return { how: "systemd", unit, oldPid: pid, ...(newPid !== undefined ? { newPid } : {}), podKept };
  }

  say.info({ pod, pid, unit }, `handing pod ${pod} over: daemon pid ${pid} is not the main process of ${unit}; sending it SIGTERM`);
  kill(pid, "SIGTERM");
  if (!(await exited(kill, pid, deps.timeoutMs, deps.clock ?? systemClock))) {
    await withdrawMarker(marker, pid);
    throw new PodwardenError("E_HANDOVER", `the daemon (pid ${pid}) did not exit within ${Math.round(deps.timeoutMs / 1000)} s of SIGTERM; the keep-pod marker is withdrawn`);
  }
  const podKept = await tookMarker();
  say.info(
    { pod, oldPid: pid, podKept },
    `the daemon (pid ${pid}) has exited${podKept ? ", leaving the pod running" : ""}. Start it again: podwarden run --config ${deps.config} (or through whatever started it)`,
  );
  return { how: "signal", oldPid: pid, podKept };
};
