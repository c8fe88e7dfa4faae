// What the supervisor remembers about each container between passes (Podman cannot tell
// us): probe results, readiness, failures and backoff. Updated by pure functions only.

import { nextDelay, type BackoffPolicy } from "./backoff.js";
import type { ContainerState } from "./lifecycle.js";
import type { ObservedContainer } from "./observed.js";
import type { ContainerSpec, ProbeSpec } from "./spec.js";

export interface ProbeResult {
  readonly ok: boolean;
  /** Time the probe took. */
  readonly ms: number;
  /** When it finished (epoch ms). */
  readonly at: number;
  readonly message: string;
}

export interface ContainerHistory {
  readonly state: ContainerState;
  /** `${id}@${startedAt}` of the running instance the probe counters belong to. */
  readonly instance: string | undefined;
  readonly running: boolean;
  readonly startedAt: number | undefined;
  /**
   * When this supervisor first saw the current instance running: its start if it started it,
   * later for one it adopted (running before the daemon began, or started by someone else).
   */
  readonly seenAt: number | undefined;
  /** First passing probe of the current instance. */
  readonly readyAt: number | undefined;
  readonly ready: boolean;
  readonly consecutiveFailures: number;
  readonly lastProbe: ProbeResult | undefined;
  readonly nextProbeAt: number | undefined;
  /** Consecutive failed runs: the backoff exponent. */
  readonly failures: number;
  readonly nextAttemptAt: number | undefined;
  readonly restarts: number;
  /**
   * Its last failure came before it was ever ready (an exit during start-up, a start period run
   * out, a refused start): it is failing to come up, not recovering from a one-off crash. Cleared
   * once an instance is ready. A soft dependency in this state is not waited for again.
   */
  readonly failedUnready: boolean;
  readonly lastReason: string | undefined;
  readonly lastExitCode: number | null;
  /** Why podwarden itself stopped the container, so the exit is not taken for a crash. */
  readonly stopReason: StopReason | undefined;
  /** A stop was requested: by then Podman has killed it (stop timeout) or it is asked again. */
  readonly stopDeadline: number | undefined;
  /** Instances of its dependencies when this instance started (or was adopted): `restart: true` edges compare. */
  readonly startedWith: Readonly<Record<string, string>> | undefined;
}

export type StopReason = "shutdown" | "spec-changed" | "start-timeout" | "unhealthy" | "orphan" | "dependency-restarted" | "pod-changed" | "suspended";

/** Stops that are part of normal operation, not failures of the container. */
const EXPECTED_STOPS: ReadonlySet<StopReason> = new Set(["shutdown", "spec-changed", "orphan", "dependency-restarted", "pod-changed", "suspended"]);

export const emptyHistory = (): ContainerHistory => ({
  state: "pending",
  instance: undefined,
  running: false,
  startedAt: undefined,
  seenAt: undefined,
  readyAt: undefined,
  ready: false,
  consecutiveFailures: 0,
  lastProbe: undefined,
  nextProbeAt: undefined,
  failures: 0,
  nextAttemptAt: undefined,
  restarts: 0,
  failedUnready: false,
  lastReason: undefined,
  lastExitCode: null,
  stopReason: undefined,
  stopDeadline: undefined,
  startedWith: undefined,
});

const instanceOf = (o: ObservedContainer): string => `${o.id}@${o.startedAt ?? 0}`;

export interface AbsorbContext {
  readonly now: number;
  readonly backoff: BackoffPolicy;
  readonly random: () => number;
}

/** `unready`: the failed instance was never ready (or never started). */
const recordFailure = (h: ContainerHistory, reason: string, unready: boolean, ctx: AbsorbContext): ContainerHistory => {
  const failures = h.failures + 1;
  return { ...h, failures, failedUnready: unready, lastReason: reason, nextAttemptAt: ctx.now + nextDelay(failures, ctx.backoff, ctx.random) };
};

/** A container that stayed ready (until `readyUntil`) for the reset period has its failure count forgiven. */
const forgiven = (h: ContainerHistory, readyUntil: number, ctx: AbsorbContext): ContainerHistory =>
  h.ready && h.readyAt !== undefined && h.failures > 0 && readyUntil - h.readyAt >= ctx.backoff.resetAfterMs ? { ...h, failures: 0, nextAttemptAt: undefined } : h;

/** Folds one observation of a container (or its absence) into its history. */
export const absorbObservation = (
  h: ContainerHistory,
  o: ObservedContainer | undefined,
  ctx: AbsorbContext,
  init = false,
): ContainerHistory => {
  const running = o?.running === true;
  // A container that stayed ready long enough has its failure count forgiven: judged before an
  // exit is counted (it was ready until it exited), so the judgement needs no pass in between.
  const readyUntil = running || o?.finishedAt == null ? ctx.now : Math.min(ctx.now, o.finishedAt);
  let next: ContainerHistory = forgiven(h, readyUntil, ctx);
  if (o && running && instanceOf(o) !== h.instance) {
    // A new instance: probe counters start over, the first probe is due at once.
    next = {
      ...next,
      instance: instanceOf(o),
      startedAt: o.startedAt ?? ctx.now,
      seenAt: ctx.now,
      readyAt: undefined,
      ready: false,
      consecutiveFailures: 0,
      nextProbeAt: ctx.now,
      stopReason: undefined,
      stopDeadline: undefined,
    };
  }
  if (h.running && !running) {
    next = { ...next, startedWith: undefined };
    const exitCode = o?.exitCode ?? null;
    const why = h.stopReason;
    next = { ...next, ready: false, lastExitCode: exitCode, stopReason: undefined, stopDeadline: undefined, nextProbeAt: undefined };
    const completed = init && o !== undefined && exitCode === 0;
    if (!completed && (why === undefined || !EXPECTED_STOPS.has(why))) {
      const reason = why ?? (o === undefined ? "removed" : o.oomKilled ? "oom-killed" : `exited (code ${exitCode ?? "?"})`);
      next = recordFailure(next, reason, !h.ready, ctx);
    }
  }
  return { ...next, running };
};


/**
 * A ready container's next probe falls due on this grid (the first grid time once its interval
 * has passed): probes of different containers due within a few ms of each other then run on one
 * wake-up of the daemon instead of one each (the connections' wake-ups coalesce too). A probe is
 * at most this much later than its interval; a starting container keeps its own cadence.
 */
export const PROBE_GRID_MS = 250;

/** The first time on the probe grid at or after `at`. */
export const onProbeGrid = (at: number): number => Math.ceil(at / PROBE_GRID_MS) * PROBE_GRID_MS;

/** Folds one probe result into the history of a running container. */
export const absorbProbe = (h: ContainerHistory, spec: ContainerSpec, r: ProbeResult): ContainerHistory => {
  const probe = spec.probe;
  if (!probe) return h;
  if (r.ok) {
    return {
      ...h,
      lastProbe: r,
      ready: true,
      failedUnready: false,
      readyAt: h.readyAt ?? r.at,
      consecutiveFailures: 0,
      nextProbeAt: onProbeGrid(r.at + probe.intervalMs),
    };
  }
  // Failures while starting do not count: the start deadline covers them.
  const consecutiveFailures = h.ready ? h.consecutiveFailures + 1 : 0;
  return {
    ...h,
    lastProbe: r,
    consecutiveFailures,
    nextProbeAt: h.ready ? onProbeGrid(r.at + probe.intervalMs) : r.at + startProbeDelay(h, probe.startIntervalMs, r.at),
  };
};

/**
 * Where a running instance's start counts from for this supervisor: when it first saw it
 * running (its start, for one it started itself; later, for one it adopted). A pod that has run
 * for hours is probed before it is judged, not restarted for a start period long past.
 */
export const seenSince = (h: ContainerHistory | undefined, now: number): number => h?.seenAt ?? now;

/** The shortest gap between two probes of a starting container. */
export const FIRST_START_PROBE_MS = 10;

/** A starting container's probes thin out once it has run this many times FIRST_START_PROBE_MS (1.5 s). */
export const START_PROBE_SLOWDOWN = 150;

/**
 * How long after a probe a starting container is probed again: every FIRST_START_PROBE_MS
 * for its first 1.5 s, then a 150th of the time since it was first seen running, up to its
 * startInterval. Valkey is ready about 15 ms after its start and OpenCode about 1.1 s after:
 * each is seen ready within 10 ms of it, as a prober that never rests would see it, while a
 * container whose start drags on is probed less often (at most every startInterval).
 */
export const startProbeDelay = (h: ContainerHistory, startIntervalMs: number, at: number): number => {
  const since = at - seenSince(h, at);
  return Math.min(startIntervalMs, Math.max(FIRST_START_PROBE_MS, Math.round(since / START_PROBE_SLOWDOWN)));
};

/**
 * How many native probes of a starting container may be out at once. A server can accept
 * connections it never answers: OpenCode does for about the first 0.2 s of its listening, and a
 * probe sent then is held for its whole timeout (2 s) while the server answers new ones. So a
 * starting container is probed on its start cadence whether or not the last probe is back, up
 * to this many; the first to pass makes it ready. A ready container has one probe out at most.
 * Enough that the cap is not what stops the probes during such a window (every 25 ms for 0.2 s
 * is 8, and the window varies: with 8 the probes did stop, for 2 s); it bounds the sockets a
 * large timeout could hold, not the rate, which is startInterval's.
 */
export const MAX_START_PROBES_OUT = 64;

/** A probe of a not yet ready container went out at `at`: the next one is due on the start cadence, answered or not. */
export const markStartProbeSent = (h: ContainerHistory, probe: ProbeSpec, at: number): ContainerHistory =>
  h.ready ? h : { ...h, nextProbeAt: at + startProbeDelay(h, probe.startIntervalMs, at) };

/** A running container without a probe is ready as soon as it runs, with nothing to probe again (until a new instance). */
export const absorbNoProbe = (h: ContainerHistory, now: number): ContainerHistory =>
  h.running ? { ...h, ready: true, failedUnready: false, readyAt: h.readyAt ?? now, nextProbeAt: undefined } : h;

export const markStopping = (h: ContainerHistory, reason: StopReason, deadline: number): ContainerHistory => ({
  ...h,
  stopReason: reason,
  stopDeadline: deadline,
});

/** Slack past a stop timeout before a stop is requested again. */
export const STOP_SLACK_MS = 5_000;

/**
 * After a start request: expect it running, so an exit before the next look still counts as
 * a failure; remember which instances of its dependencies it starts against.
 */
export const markStartAttempt = (h: ContainerHistory, deps: Readonly<Record<string, string>>): ContainerHistory => ({
  ...h,
  running: true,
  startedWith: deps,
  restarts: h.failures > 0 ? h.restarts + 1 : h.restarts,
  nextAttemptAt: undefined,
});

/** A changed spec is a fresh start: no waiting out the backoff earned by the old one. */
export const resetBackoff = (h: ContainerHistory): ContainerHistory => ({ ...h, failures: 0, nextAttemptAt: undefined });

export const markStartFailed = (h: ContainerHistory, message: string, ctx: AbsorbContext): ContainerHistory =>
  recordFailure(h, `start failed: ${message}`, true, ctx);
