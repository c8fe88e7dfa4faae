// Tells systemd how the daemon is doing: STATUS= on every phase change, READY=1 once the
// pod first serves (every container ready, except soft dependencies that are down: a missing
// DD_API_KEY must not hold `systemctl start` for its whole timeout), EXTEND_TIMEOUT_USEC while long work (image builds) makes
// progress before that, WATCHDOG=1 only while the reconcile loop is alive (no pass stuck past its deadline), and
// STOPPING=1 on shutdown.

import type { Mode } from "../domain/plan.js";
import type { PodSpec } from "../domain/spec.js";
import { systemClock, type Clock } from "../lib/clock.js";
import type { Logger } from "../observability/logger.js";
import { phaseText } from "../supervisor/phase.js";
import type { Supervisor } from "../supervisor/supervisor.js";
import type { Notifier } from "./sd-notify.js";

export interface BridgeDeps {
  readonly notifier: Notifier;
  readonly supervisor: Pick<Supervisor, "onPass" | "snapshot" | "serving" | "loopAlive">;
  readonly spec: () => PodSpec;
  readonly mode: () => Mode;
  readonly logger: Logger;
  /** How much longer to ask for at each extension while building before READY. */
  readonly extendByMs?: number;
  /** The watchdog's timer and the extensions' spacing (default: the system clock). */
  readonly clock?: Clock;
}

export interface SystemdBridge {
  /** A line of progress from long work (image builds): extends the start timeout before READY. */
  progress(line: string): void;
  /** STOPPING=1 with the STATUS= text (default: the reverse-order stop). */
  stopping(status?: string): Promise<void>;
  close(): Promise<void>;
}

export const bridgeToSystemd = (deps: BridgeDeps): SystemdBridge => {
  const { notifier, supervisor, logger } = deps;
  const clock = deps.clock ?? systemClock;
  const closed = new AbortController();
  const extendByMs = deps.extendByMs ?? 180_000;
  let readySent = false;
  let phase = "";
  let lastExtension = 0;

  const unsubscribe = supervisor.onPass(() => {
    const text = phaseText(deps.spec(), supervisor.snapshot());
    if (text !== phase) {
      phase = text;
      logger.info({ phase: text }, "phase");
      void notifier.status(text);
    }
    if (!readySent && deps.mode() === "up" && supervisor.serving) {
      readySent = true;
      void notifier.ready(text);
    }
  });

  // Ping at half the watchdog period while the loop is alive: idle between events, or in a
  // pass within its deadline (build progress moves it). A pass stuck past its deadline stops
  // the pings and systemd restarts the daemon. An idle loop passes rarely (a relist a minute):
  // the pings never wait for a pass.
  const interval = notifier.watchdogIntervalMs;
  let stalled = false;
  const pings = async (ms: number): Promise<void> => {
    for (;;) {
      await clock.sleep(ms, closed.signal);
      if (closed.signal.aborted) return;
      if (supervisor.loopAlive()) {
        stalled = false;
        void notifier.watchdog();
      } else if (!stalled) {
        stalled = true;
        logger.error("a reconcile pass is stuck past its deadline: withholding the watchdog ping");
      }
    }
  };
  const pinging = interval === undefined ? undefined : pings(interval);

  return {
    progress: () => {
      if (readySent) return;
      const now = clock.now();
      if (now - lastExtension < extendByMs / 3) return;
      lastExtension = now;
      void notifier.extendTimeout(extendByMs * 1000, "building images");
    },
    stopping: (status = "stopping containers in reverse order") => notifier.stopping(status),
    close: async () => {
      unsubscribe();
      closed.abort();
      await pinging;
      await notifier.close();
    },
  };
};
