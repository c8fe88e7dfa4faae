// The daemon's gate: the host checks run before the supervisor touches the pod. A problem that
// retrying cannot fix is said once (log at error level, /status, systemd's STATUS=) and the
// checks run again every RECHECK_MS and on request (SIGHUP) until they pass; then the
// supervisor starts. Once open the gate stays open and costs nothing (the throwaway pod only
// runs while it is shut). A pod path that cannot work under the unit ends the daemon with a
// config error (exit 78), so `systemctl start` fails at once.

import type { HostProblem } from "../domain/host-problems.js";
import type { Clock } from "../lib/clock.js";
import type { Logger } from "../observability/logger.js";
import type { Check } from "./report.js";
import { blockingErrors, configErrorOf, formatCheck } from "./report.js";

/**
 * Every 15 s while shut: each round counts as the daemon's progress, so systemd's watchdog
 * (WatchdogSec=30s, checked over 30 s) keeps seeing a live daemon while it waits.
 */
export const RECHECK_MS = 15_000;

export interface GateDeps {
  check(): Promise<readonly Check[]>;
  readonly supervisor: {
    start(mode: "up"): void;
    setHostProblem(p: HostProblem | undefined): void;
    noteProgress(): void;
  };
  readonly clock: Clock;
  readonly logger: Logger;
  /** The config file, for the config error a blocking pod.persistRoot makes. */
  readonly source: () => string;
  readonly recheckMs?: number;
}

export const problemOf = (c: Check): HostProblem => ({ check: c.name, cause: c.cause ?? c.detail, fix: c.fix ?? "see podwarden doctor" });

export class HostGate {
  readonly #deps: GateDeps;
  #open = false;
  #said = "";
  #wake = new AbortController();
  readonly #stop = new AbortController();
  #rounds: Promise<void> | undefined;
  #first: readonly Check[] = [];

  constructor(deps: GateDeps) {
    this.#deps = deps;
  }

  get open(): boolean {
    return this.#open;
  }

  /**
   * The first round, before anything else starts: throws a ConfigError when a config field
   * cannot work here (pod.persistRoot hidden by the unit's private /tmp), logs the warnings.
   */
  async firstCheck(): Promise<void> {
    let checks: readonly Check[];
    try {
      checks = await this.#deps.check();
    } catch (err) {
      // The checks are a help, not a precondition of their own: the daemon goes on without them.
      this.#deps.logger.error({ err }, "host checks failed to run; starting without them");
      return;
    }
    const configError = configErrorOf(blockingErrors(checks), this.#deps.source());
    if (configError) throw configError;
    for (const c of checks) if (c.status !== "ok" && c.blocking !== true) this.#deps.logger.warn({ check: c.name, fix: c.fix }, formatCheck(c));
    this.#first = checks;
  }

  /** Starts the supervisor now if the first round passed, or once a later round does. */
  begin(): void {
    if (!this.#apply(this.#first)) this.#rounds = this.#loop();
  }

  /** Check again now (SIGHUP: the operator may have fixed something). */
  recheck(): void {
    this.#wake.abort();
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#rounds;
  }

  async #loop(): Promise<void> {
    const { clock, recheckMs = RECHECK_MS } = this.#deps;
    while (!this.#open && !this.#stop.signal.aborted) {
      const wake = new AbortController();
      this.#wake = wake;
      const stop = (): void => wake.abort();
      this.#stop.signal.addEventListener("abort", stop, { once: true });
      await clock.sleep(recheckMs, wake.signal);
      this.#stop.signal.removeEventListener("abort", stop);
      if (this.#stop.signal.aborted) return;
      try {
        const checks = await this.#deps.check();
        // Closed while the checks ran (a stop signal): the pod is not started any more.
        if (this.#stop.signal.aborted) return;
        this.#apply(checks);
      } catch (err) {
        this.#deps.logger.error({ err }, "host checks failed to run; trying again");
      }
    }
  }

  /** Opens the gate when nothing blocks; otherwise says what does (once per problem). Returns whether it is open. */
  #apply(checks: readonly Check[]): boolean {
    const { supervisor, logger } = this.#deps;
    supervisor.noteProgress();
    const blocking = blockingErrors(checks);
    if (blocking.length === 0) {
      supervisor.setHostProblem(undefined);
      this.#open = true;
      logger.info(this.#said ? { was: this.#said } : {}, "host checks passed: starting the pod");
      supervisor.start("up");
      return true;
    }
    const said = blocking.map((c) => formatCheck(c)).join("\n");
    if (said !== this.#said) {
      for (const c of blocking) {
        logger.error({ check: c.name, fix: c.fix }, `host not ready: ${c.detail}; fix: ${c.fix ?? "see podwarden doctor"} (checking again every ${Math.round((this.#deps.recheckMs ?? RECHECK_MS) / 1000)} s and on SIGHUP)`);
      }
      this.#said = said;
    }
    supervisor.setHostProblem(problemOf(blocking[0]!));
    return false;
  }
}
