// podwarden run: the foreground daemon. Brings the pod up and keeps reconciling; on
// SIGTERM or SIGINT stops the containers in reverse order, removes the pod, exits 0.

import { buildDaemon } from "../main.js";
import { EXIT } from "../lib/errors.js";
import type { CommandContext } from "./index.js";
import { noArgs } from "./shared.js";

/** Enough for every container's stop timeout in sequence, plus slack. */
const shutdownBudgetMs = (stopTimeoutsS: readonly number[]): number => stopTimeoutsS.reduce((a, b) => a + b, 0) * 1000 + 30_000;

export const run = async (ctx: CommandContext): Promise<number> => {
  noArgs(ctx, "run");
  const d = await buildDaemon(ctx.global);
  const log = d.logger.child({ component: "daemon" });
  log.info({ version: ctx.version, pod: d.spec.name, socket: d.socket, config: d.spec.source }, "podwarden starting");
  // Say when the pod becomes ready and when it stops being ready (restarts, failures).
  let ready = false;
  d.supervisor.onPass(() => {
    const s = d.supervisor;
    if (d.reconciler.mode !== "up" || s.settled === ready) return;
    ready = s.settled;
    const snap = s.snapshot();
    if (ready) log.info({ containers: snap.pod.containersTotal }, "pod ready");
    else log.warn({ ready: snap.pod.containersReady, total: snap.pod.containersTotal }, "pod not ready");
  });
  d.supervisor.start("up");
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info({ signal }, "shutting down: stopping containers in reverse order");
  // A second signal while stopping leaves at once; the containers keep whatever state they reached.
  const again = (): void => {
    log.warn("second signal: exiting without finishing the shutdown");
    process.exit(EXIT.failure);
  };
  process.once("SIGTERM", again);
  process.once("SIGINT", again);
  d.supervisor.setMode("down");
  try {
    await d.supervisor.waitUntilSettled(shutdownBudgetMs(d.spec.containers.map((c) => c.stopTimeoutS)));
  } catch (err) {
    log.error({ err: (err as Error).message }, "shutdown did not finish");
    await d.supervisor.stop();
    return EXIT.failure;
  }
  await d.supervisor.stop();
  log.info("pod stopped and removed");
  return EXIT.ok;
};
