// `run`: the daemon's life from start to exit, on the objects daemon.ts builds: the host gate,
// jobs, HTTP and the control socket, the systemd bridge, signals, and the shutdown (or the
// handover to the next daemon). Apart from daemon.ts so that `up` and `down` never load the
// HTTP server, the jobs or the systemd code (a shorter start for them).

import { HostGate } from "../doctor/gate.js";
import { Removals } from "../doctor/removals.js";
import { buildControlServer } from "../http/control.js";
import { buildServer } from "../http/server.js";
import { longestGapS } from "../jobs/cron.js";
import { Jobs } from "../jobs/jobs.js";
import { EXIT } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { bridgeToSystemd } from "../systemd/bridge.js";
import { createNotifier } from "../systemd/sd-notify.js";
import { handoverDecision, keepPodPath, readMarker, removeMarker } from "./keep-pod.js";
import type { GlobalOptions } from "./options.js";
import { controlSocketPath, pidfilePath, removePidfile, writePidfile } from "./pidfile.js";
import { podControl } from "./pod-control.js";
import { acquirePodLock } from "./pod-lock.js";
import { listen, listenControl } from "./serve.js";
import { StopSignals, logProcessTrouble } from "./signals.js";
import { rm } from "node:fs/promises";
import { buildPod, checkHost, releaseOnceStarted, type Pod } from "./daemon.js";

/** Enough for every container's stop timeout in sequence, plus slack. */
const shutdownBudgetMs = (stopTimeoutsS: readonly number[]): number => stopTimeoutsS.reduce((a, b) => a + b, 0) * 1000 + 30_000;

/**
 * Logs when the pod becomes ready (every container), when it serves without soft dependencies
 * that are down (a warning naming them), and when it stops being ready (restarts, failures).
 */
const logReadiness = (d: Pod, log: Logger): void => {
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

/** Reverse-order stop and pod removal; the exit code. */
const stopPod = async (d: Pod, log: Logger): Promise<number> => {
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

/**
 * `podwarden run`: holds the pod's lock (one daemon per pod), brings the pod up and keeps
 * reconciling, serves HTTP and the control socket, talks to systemd, runs the jobs; SIGHUP
 * reloads the config. On SIGTERM or SIGINT, at any moment (start-up included: no create or
 * start is issued after it), it stops the containers in reverse order, removes the pod and
 * resolves with 0, unless `podwarden restart-daemon` marked it for a handover: then it leaves
 * the pod running. Resolves with the exit code.
 */
export const runDaemon = async (opts: GlobalOptions): Promise<number> => {
  const stop = new StopSignals();
  // Patient: if Podman is not there yet, the loop keeps trying; the daemon never exits for it.
  const d = await buildPod(opts, { patient: true });
  const backupSchedule = d.jobSettings.backup?.schedule;
  d.metrics.setBackupInterval(backupSchedule ? longestGapS(backupSchedule, d.clock.now()) : 0);
  const log = d.logger.child({ component: "daemon" });
  // One daemon per pod: a second one is refused here (exit 73, naming the holder), before it
  // touches the pod, the pid file or the control socket. Exiting, however, releases it.
  const lock = await acquirePodLock({ env: opts.env, pod: d.spec.name, command: "run", config: d.spec.source });
  // From the stop signal on, the pass in flight issues no more creates or starts, nor does any
  // pass after it, until the shutdown (or a handover) decides what happens next.
  stop.onSignal(() => d.supervisor.quiesce());
  logProcessTrouble(log);
  // doctor's checks before the pod is touched: what retrying cannot fix holds the start (see doctor/gate.ts).
  const removals = new Removals(log);
  const stopReleasing = releaseOnceStarted(d.supervisor, removals, d.clock);
  const gate = new HostGate({ check: () => checkHost(d, opts, removals.add), supervisor: d.supervisor, clock: d.clock, logger: log, source: () => d.reconciler.spec.source });
  // From the stop signal on, the gate opens no more (the pod is not started).
  stop.onSignal(() => void gate.close());
  const jobs = new Jobs({
    pod: podControl(d.reconciler, d.supervisor, d.clock),
    runtime: d.runtime,
    settings: d.jobSettings,
    clock: d.clock,
    logger: d.logger,
    hooks: { onOutcome: d.metrics.onJob, onBackup: d.metrics.onBackup, onUpdate: d.metrics.onUpdate },
    progress: d.progress,
  });
  const server = d.http.enabled
    ? buildServer({
        jobs: () => jobs.status(),
        version: opts.version,
        snapshot: () => d.supervisor.snapshot(),
        timeline: () => d.timeline.entries(),
        warnings: () => d.currentWarnings(),
        metrics: d.metrics,
        // Stuck: a pass in flight past its deadline (an idle loop passes rarely and is alive).
        alive: () => d.supervisor.loopAlive(),
        ...(d.http.token ? { control: { token: d.http.token, reload: d.reload } } : {}),
        logger: d.logger,
      })
    : undefined;
  // HTTP comes up first, then the host is checked: /status answers from the start (a held
  // start included). Listening alone takes ~10 ms; beside the checks' work it took ~25.
  await listen(server, d.http, log);
  try {
    await gate.firstCheck();
  } catch (err) {
    // A config the host cannot take (exit 78): the open port must not keep the process alive.
    await server?.close();
    stopReleasing();
    await removals.settled();
    throw err;
  }
  const notifier = createNotifier(opts.env, d.logger.child({ component: "systemd" }));
  const bridge = bridgeToSystemd({ notifier, supervisor: d.supervisor, spec: () => d.reconciler.spec, mode: () => d.reconciler.mode, logger: log, clock: d.clock });
  // Long work (image builds and pulls) extends systemd's start timeout.
  d.onProgress((line) => bridge.progress(line));
  log.info({ version: opts.version, pod: d.spec.name, socket: d.socket, config: d.spec.source, systemd: notifier.transport }, "podwarden starting");
  logReadiness(d, log);
  // A reload (SIGHUP, the control socket) is also the moment to look at the host again.
  d.onReload(() => gate.recheck());
  // SIGHUP: apply a changed config (the reload logs the outcome); a bad one changes nothing.
  process.on("SIGHUP", () => void d.reload().catch(() => undefined));
  const pidfile = pidfilePath(opts.env, d.spec.name);
  await writePidfile(pidfile, d.spec.source).catch((err: unknown) => log.warn({ pidfile, err }, "cannot write the pid file; `podwarden reload` will not find this daemon"));
  // Image pins from earlier updates apply before the first pass, so adoption keeps those containers.
  await jobs.start().catch((err: unknown) => log.error({ err }, "jobs not started: no scheduled backups or updates"));
  // Stopped during the start-up: the pod is not started at all.
  if (!stop.requested) gate.begin();
  const buildControl = (): ReturnType<typeof buildControlServer> =>
    buildControlServer({
      backupNow: () => jobs.backupNow(),
      listBackups: () => jobs.listBackups(),
      restore: (archive) => jobs.restore(archive),
      checkUpdates: (container) => jobs.checkUpdates(container),
      update: (container) => jobs.update(container),
      reload: (config) => d.reloadFile(config),
      logger: d.logger,
    });
  const socket = controlSocketPath(opts.env, d.spec.name);
  const control = await listenControl(buildControl, log, socket);

  const signal = await stop.first;
  const handover = await takeKeepPodMarker(keepPodPath(opts.env, d.spec.name), log);
  if (handover) log.info({ signal }, "handing over: leaving the pod running for the next daemon");
  else log.info({ signal }, "shutting down: stopping containers in reverse order");
  // A second signal while stopping leaves at once; the containers keep whatever state they reached.
  stop.onSecond(() => {
    log.warn("second signal: exiting without finishing the shutdown");
    process.exit(EXIT.failure);
  });
  // The shutdown order: no more gate, the reverse-order stop begins, systemd hears STOPPING=1,
  // jobs and the control socket close, the pod goes (or stays, on a handover), then the loop,
  // HTTP, the notifier, the pid file and the lock.
  await gate.close();
  stopReleasing();
  await removals.settled();
  if (!handover) d.supervisor.start("down");
  await bridge.stopping(handover ? "handing over: the pod keeps running" : undefined);
  await jobs.stop();
  await control.close();
  await rm(socket, { force: true });
  const code = handover ? EXIT.ok : await stopPod(d, log);
  await d.supervisor.stop();
  await server?.close();
  await bridge.close();
  await removePidfile(pidfile);
  await lock.release();
  return code;
};
