// podwarden run: the foreground daemon. Brings the pod up and keeps reconciling, serves
// HTTP, talks to systemd; SIGHUP reloads the config; on SIGTERM or SIGINT it stops the
// containers in reverse order, removes the pod and exits 0.

import { buildDaemon, type Daemon } from "../main.js";
import { ConfigError, EXIT, errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";
import { bridgeToSystemd, type SystemdBridge } from "../systemd/bridge.js";
import { createNotifier } from "../systemd/sd-notify.js";
import { chmod, mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { controlSocketPath, pidfilePath, removePidfile, writePidfile } from "./pidfile.js";
import type { CommandContext } from "./index.js";
import { noArgs } from "./shared.js";

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

/** SIGHUP (or `podwarden reload`): apply a changed config; a bad one changes nothing. */
const reloadOnHup = (d: Daemon, log: Logger, config: string): void => {
  process.on("SIGHUP", () => {
    log.info({ config }, "reloading the config");
    d.reload().then(
      (r) => log.info({ changed: r.changed, podChanged: r.podChanged }, r.changed.length || r.podChanged ? "config reloaded" : "config reloaded: nothing changed"),
      (err: unknown) => {
        const issues = err instanceof ConfigError ? err.issues.map((i) => `${i.file}: ${i.path}: ${i.message}`) : [errorMessage(err)];
        log.error({ issues }, "config reload rejected; the pod is left as it is");
      },
    );
  });
};

const listen = async (d: Daemon, log: Logger): Promise<void> => {
  if (!d.server) return;
  try {
    await d.server.listen({ host: d.http.host, port: d.http.port });
    log.info({ url: `http://${d.http.host}:${d.http.port}/` }, "serving /status, /metrics, /healthz, /readyz and the status page");
  } catch (err) {
    // The pod matters more than its dashboard: keep supervising, say why there is no HTTP.
    log.error({ host: d.http.host, port: d.http.port, err: errorMessage(err) }, "cannot listen: HTTP endpoints are off (is the port taken? set http.port)");
  }
};

/** The control socket: root-only by its mode; a stale file from a crashed daemon is replaced. */
const listenControl = async (d: Daemon, log: Logger, path: string): Promise<void> => {
  try {
    await rm(path, { force: true });
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    await d.control.listen({ path });
    await chmod(path, 0o600);
    log.info({ socket: path }, "control socket ready (podwarden backup, restore, update)");
  } catch (err) {
    log.error({ socket: path, err: errorMessage(err) }, "cannot open the control socket: backup, restore and update from the CLI are off");
  }
};

const nextStopSignal = (): Promise<NodeJS.Signals> =>
  new Promise((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });

export const run = async (ctx: CommandContext): Promise<number> => {
  noArgs(ctx, "run");
  // The systemd bridge needs the daemon, and the daemon reports build progress to the bridge.
  const late: { bridge?: SystemdBridge } = {};
  // Patient: if Podman is not there yet, the loop keeps trying; the daemon never exits for it.
  const d = await buildDaemon(ctx.global, true, (line) => late.bridge?.progress(line));
  const log = d.logger.child({ component: "daemon" });
  const notifier = createNotifier(ctx.global.env, d.logger.child({ component: "systemd" }));
  const bridge = bridgeToSystemd({ notifier, supervisor: d.supervisor, spec: () => d.reconciler.spec, mode: () => d.reconciler.mode, logger: log });
  late.bridge = bridge;
  log.info({ version: ctx.version, pod: d.spec.name, socket: d.socket, config: d.spec.source, systemd: notifier.transport }, "podwarden starting");
  logReadiness(d, log);
  reloadOnHup(d, log, ctx.global.config);
  const pidfile = pidfilePath(ctx.global.env, d.spec.name);
  await writePidfile(pidfile, d.spec.source).catch((err: unknown) => log.warn({ pidfile, err: errorMessage(err) }, "cannot write the pid file; `podwarden reload` will not find this daemon"));
  // Image pins from earlier updates apply before the first pass, so adoption keeps those containers.
  await d.jobs.start().catch((err: unknown) => log.error({ err: errorMessage(err) }, "jobs not started: no scheduled backups or updates"));
  d.supervisor.start("up");
  await listen(d, log);
  const socket = controlSocketPath(ctx.global.env, d.spec.name);
  await listenControl(d, log, socket);

  const signal = await nextStopSignal();
  log.info({ signal }, "shutting down: stopping containers in reverse order");
  await bridge.stopping();
  // A second signal while stopping leaves at once; the containers keep whatever state they reached.
  const again = (): void => {
    log.warn("second signal: exiting without finishing the shutdown");
    process.exit(EXIT.failure);
  };
  process.once("SIGTERM", again);
  process.once("SIGINT", again);
  await d.jobs.stop();
  await d.control.close();
  await rm(socket, { force: true });
  d.supervisor.setMode("down");
  let code: number = EXIT.ok;
  try {
    await d.supervisor.waitUntilSettled(shutdownBudgetMs(d.spec.containers.map((c) => c.stopTimeoutS)));
    log.info("pod stopped and removed");
  } catch (err) {
    log.error({ err: errorMessage(err) }, "shutdown did not finish");
    code = EXIT.failure;
  }
  await d.supervisor.stop();
  await d.server?.close();
  await bridge.close();
  await removePidfile(pidfile);
  return code;
};
