// What the supervisor reports as it works: the status timeline and the metrics are fed
// from these, never from log lines.

import type { ContainerState } from "./lifecycle.js";

export type SupervisorEvent =
  | { readonly kind: "transition"; readonly at: number; readonly container: string; readonly from: ContainerState; readonly to: ContainerState; readonly reason?: string }
  | { readonly kind: "failure"; readonly at: number; readonly container: string; readonly reason: string; readonly exitCode: number | null; readonly retryInMs: number }
  | { readonly kind: "restart"; readonly at: number; readonly container: string; readonly reason: string }
  | { readonly kind: "start-failed"; readonly at: number; readonly container: string; readonly message: string }
  | { readonly kind: "probe"; readonly at: number; readonly container: string; readonly ok: boolean; readonly ms: number };

/** Bounded reason labels for metrics: free-form reasons (exit codes, messages) map onto these. */
export const RESTART_REASONS = ["exited", "oom-killed", "removed", "unhealthy", "start-timeout", "start-failed", "other"] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

export const reasonKind = (reason: string | undefined): RestartReason => {
  if (reason === undefined) return "other";
  if (reason.startsWith("exited")) return "exited";
  if (reason.startsWith("start failed")) return "start-failed";
  return (RESTART_REASONS as readonly string[]).includes(reason) ? (reason as RestartReason) : "other";
};
