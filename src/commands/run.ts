// podwarden run: the foreground daemon. Holds the pod's lock (one daemon per pod), brings the
// pod up and keeps reconciling, serves HTTP, talks to systemd; SIGHUP reloads the config; on
// SIGTERM or SIGINT, at any moment (start-up included: no create or start is issued after it),
// it stops the containers in reverse order, removes the pod and exits 0, unless `podwarden
// restart-daemon` marked it for a handover (keep-pod.ts): then it leaves the pod running and exits 0.

import { HostGate } from "../doctor/gate.js";
import { buildDaemon, checkHost, type Daemon } from "../main.js";
import { EXIT } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { bridgeToSystemd, type SystemdBridge } from "../systemd/bridge.js";
import { createNotifier } from "../systemd/sd-notify.js";
import { chmod, mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { controlSocketPath, pidfilePath, removePidfile, writePidfile } from "./pidfile.js";
import type { CommandContext } from "./index.js";
import { noArgs } from "./shared.js";
import { handoverDecision, keepPodPath, readMarker, removeMarker } from "./keep-pod.js";
import { acquirePodLock } from "./pod-lock.js";

/** Enough for every container's stop timeout in sequence, plus slack. */
const shutdownBudgetMs = (stopTimeoutsS: readonly number[]): number => stopTimeoutsS.reduce((a, b) => a + b, 0) * 1000 + 30_000;

/**
 * Logs when the pod becomes ready (every container), when it serves without soft dependencies
 * that are down (a warning naming them), and when it stops being ready (restarts, failures).
 */
const logReadiness = (d: Daemon, log: Logger): void => {
  let was: "ready" | "serving" | "down" = "down";
  d.supervisor.onPass(() => {
    const s = d.supervisor;
    const now = s.settled ? "ready" : s.serving ? "serving" : "down";
    if (d.reconciler.mode !== "up" || now === was) return;
    was = now;
    const snap = s.snapshot();
    if (now === "ready") log.info({ containers: snap.pod.containersTotal }, "pod ready");
    else if (now === "serving") log.warn({ softDown: snap.softDown }, "pod serving without its soft dependencies");
    else log.warn({ ready: snap.pod.containersReady, total: snap.pod.containersTotal }, "pod not ready");
  });
};

/** SIGHUP: apply a changed config (the daemon logs the outcome); a bad one changes nothing. */
const reloadOnHup = (d: Daemon): void => {
  process.on("SIGHUP", () => void d.reload().catch(() => undefined));
};

const listen = async (d: Daemon, log: Logger): Promise<void> => {
  if (!d.server) return;
  try {
    await d.server.listen({ host: d.http.host, port: d.http.port });
    log.info({ url: `http://${d.http.host}:${d.http.port}/` }, "serving /status, /metrics, /healthz, /readyz and the status page");
  } catch (err) {
    // The pod matters more than its dashboard: keep supervising, say why there is no HTTP.
    log.error({ host: d.http.host, port: d.http.port, err }, "cannot listen: HTTP endpoints are off (is the port taken? set http.port)");
  }
};

/** The control socket: root-only by its mode; a stale file from a crashed daemon is replaced. */
const listenControl = async (d: Daemon, log: Logger, path: string): Promise<void> => {
  try {
    await rm(path, { force: true });
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await d.control.listen({ path });
    await chmod(path, 0o600);
    log.info({ socket: path }, "control socket ready (podwarden backup, restore, update, reload)");
  } catch (err) {
    log.error({ socket: path, err }, "cannot open the control socket: backup, restore and update from the CLI are off; reload falls back to SIGHUP");
  }
};

/** Reverse-order stop and pod removal; the exit code. */
const stopPod = async (d: Daemon, log: Logger): Promise<number> => {
  // start, not setMode: the loop may never have run (the host gate never opened), and a pod
  // left by an earlier daemon is still taken down.
  d.supervisor.start("down");
  try {
    await d.supervisor.waitUntilSettled(shutdownBudgetMs(d.spec.containers.map((c) => c.stopTimeoutS)));
    log.info("pod stopped and removed");
    return EXIT.ok;
  } catch (err) {
    log.error({ err }, "shutdown did not finish");
    return EXIT.failure;
  }
};

/**
 * Whether this stop is a handover (`podwarden restart-daemon` marked this very daemon): the
 * marker is removed whatever it holds, and one naming another pid, or malformed, is ignored.
 */
const takeKeepPodMarker = async (path: string, log: Logger): Promise<boolean> => {
  const marker = await readMarker(path);
  const decision = handoverDecision(marker, process.pid);
  if (marker.kind !== "absent") {
    await removeMarker(path).catch((err: unknown) => log.warn({ marker: path, err }, "cannot remove the keep-pod marker"));
  }
  if (decision.ignored) log.warn({ marker: path, reason: decision.ignored }, "ignoring the keep-pod marker: the pod is stopped as usual");
  return decision.handover;
};

/** Under `run` every line is the logger's: Node's warnings and a crash too (a crash still exits 1). */
const logProcessTrouble = (log: Logger): void => {
  process.removeAllListeners("warning");
  process.on("warning", (w) => log.warn({ warning: w.name }, w.message));
  const crash =
    (what: string) =>
    (err: unknown): void => {
      log.fatal({ err }, what);
      process.exit(EXIT.failure);
    };
  process.on("uncaughtException", crash("uncaught exception: exiting"));
  process.on("unhandledRejection", crash("unhandled promise rejection: exiting"));
};

/**
 * SIGTERM and SIGINT, caught from the daemon's first moment: the first one ends the start-up
 * wherever it is (what is listed in `onSignal` runs at once, in the handler) and starts the
 * shutdown; a later one goes to `onSecond` (by default: exit 1 at once).
 */
class StopSignals {
  requested: NodeJS.Signals | undefined;
  readonly first: Promise<NodeJS.Signals>;
  readonly #now: (() => void)[] = [];
  #again: () => void = () => process.exit(EXIT.failure);

  constructor() {
    let resolve!: (s: NodeJS.Signals) => void;
    this.first = new Promise((r) => (resolve = r));
    const on = (signal: NodeJS.Signals) => (): void => {
      if (this.requested) return this.#again();
      this.requested = signal;
      for (const f of this.#now) f();
      resolve(signal);
    };
    process.on("SIGTERM", on("SIGTERM"));
    process.on("SIGINT", on("SIGINT"));
  }

  /** Runs `f` in the first signal's handler (now, if it already came). */
  onSignal(f: () => void): void {
    this.#now.push(f);
    if (this.requested) f();
  }

  onSecond(f: () => void): void {
    this.#again = f;
  }
}

export const run = async (ctx: CommandContext): Promise<number> => {
  noArgs(ctx, "run");
  const stop = new StopSignals();
  // The systemd bridge needs the daemon, and the daemon reports build progress to the bridge.
  const late: { bridge?: SystemdBridge } = {};
  // Patient: if Podman is not there yet, the loop keeps trying; the daemon never exits for it.
  const d = await buildDaemon(ctx.global, true, (line) => late.bridge?.progress(line));
  const log = d.logger.child({ component: "daemon" });
  // One daemon per pod: a second one is refused here (exit 73, naming the holder), before it
  // touches the pod, the pid file or the control socket. Exiting, however, releases it.
  const lock = await acquirePodLock({ env: ctx.global.env, pod: d.spec.name, command: "run", config: d.spec.source });
  // From the stop signal on, the pass in flight issues no more creates or starts, nor does any
  // pass after it, until the shutdown (or a handover) decides what happens next.
  stop.onSignal(() => d.supervisor.quiesce());
  logProcessTrouble(log);
  // doctor's checks before the pod is touched: what retrying cannot fix holds the start (see doctor/gate.ts).
  const gate = new HostGate({ check: () => checkHost(d, ctx.global), supervisor: d.supervisor, clock: d.clock, logger: log, source: () => d.reconciler.spec.source });
  // From the stop signal on, the gate opens no more (the pod is not started).
  stop.onSignal(() => void gate.close());
  await gate.firstCheck();
  const notifier = createNotifier(ctx.global.env, d.logger.child({ component: "systemd" }));
  const bridge = bridgeToSystemd({ notifier, supervisor: d.supervisor, spec: () => d.reconciler.spec, mode: () => d.reconciler.mode, logger: log });
  late.bridge = bridge;
  log.info({ version: ctx.version, pod: d.spec.name, socket: d.socket, config: d.spec.source, systemd: notifier.transport }, "podwarden starting");
  logReadiness(d, log);
  // A reload (SIGHUP, the control socket) is also the moment to look at the host again.
  d.onReload(() => gate.recheck());
  reloadOnHup(d);
  const pidfile = pidfilePath(ctx.global.env, d.spec.name);
  await writePidfile(pidfile, d.spec.source).catch((err: unknown) => log.warn({ pidfile, err }, "cannot write the pid file; `podwarden reload` will not find this daemon"));
  // Image pins from earlier updates apply before the first pass, so adoption keeps those containers.
  await d.jobs.start().catch((err: unknown) => log.error({ err }, "jobs not started: no scheduled backups or updates"));
  // Stopped during the start-up: the pod is not started at all.
  if (!stop.requested) gate.begin();
  await listen(d, log);
  const socket = controlSocketPath(ctx.global.env, d.spec.name);
  await listenControl(d, log, socket);

  const signal = await stop.first;
  const handover = await takeKeepPodMarker(keepPodPath(ctx.global.env, d.spec.name), log);
  if (handover) log.info({ signal }, "handing over: leaving the pod running for the next daemon");
  else log.info({ signal }, "shutting down: stopping containers in reverse order");
  // A second signal while stopping leaves at once; the containers keep whatever state they reached.
  stop.onSecond(() => {
    log.warn("second signal: exiting without finishing the shutdown");
    process.exit(EXIT.failure);
  });
  await gate.close();
  // The reverse-order stop begins now, before the jobs and sockets are closed.
  if (!handover) d.supervisor.start("down");
  await bridge.stopping(handover ? "handing over: the pod keeps running" : undefined);
  await d.jobs.stop();
  await d.control.close();
  await rm(socket, { force: true });
  const code = handover ? EXIT.ok : await stopPod(d, log);
  await d.supervisor.stop();
  await d.server?.close();
  await bridge.close();
  await removePidfile(pidfile);
  await lock.release();
  return code;
};
