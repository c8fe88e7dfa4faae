// Restart backoff: the first failure is retried at once, later ones wait exponentially
// longer (with jitter) up to a cap; a container that stays ready long enough starts over.

import type { RestartPolicy } from "./spec.js";

export interface BackoffPolicy {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  /** Fraction of the delay added or removed at random, 0..1. */
  readonly jitter: number;
  /** Time ready after which the failure count resets. */
  readonly resetAfterMs: number;
}

/** The spec's restart policy with podwarden's fixed growth factor and jitter. */
export const backoffFrom = (r: RestartPolicy): BackoffPolicy => ({
  initialMs: r.initialDelayMs,
  maxMs: r.maxDelayMs,
  factor: 2,
  jitter: 0.1,
  resetAfterMs: r.resetAfterMs,
});

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 1_000,
  maxMs: 120_000,
  factor: 2,
  jitter: 0.1,
  resetAfterMs: 600_000,
};

/**
 * Delay before the next start attempt after `failures` consecutive failures (1 = first).
 * `random` is injected so tests are deterministic (0.5 = no jitter).
 */
export const nextDelay = (failures: number, policy: BackoffPolicy, random: () => number): number => {
  if (failures <= 1) return 0;
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (failures - 2));
  const spread = base * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(Math.min(policy.maxMs, base + spread)));
};
