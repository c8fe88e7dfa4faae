// The per-container state machine. States are derived each pass from what Podman shows
// and what the supervisor remembers; this table says which changes are legal, so an
// impossible jump is logged as a bug instead of silently accepted.

export const STATES = [
  "pending",
  "creating",
  "starting",
  "ready",
  "unhealthy",
  "backing-off",
  "failed",
  "stopping",
  "stopped",
] as const;

export type ContainerState = (typeof STATES)[number];

const TRANSITIONS: Readonly<Record<ContainerState, readonly ContainerState[]>> = {
  pending: ["creating", "starting", "ready", "stopped", "stopping", "backing-off", "failed"],
  creating: ["starting", "ready", "pending", "failed", "stopped", "backing-off"],
  starting: ["ready", "failed", "backing-off", "stopping", "stopped", "pending", "unhealthy"],
  ready: ["unhealthy", "stopping", "stopped", "backing-off", "failed", "pending", "starting", "creating"],
  unhealthy: ["ready", "stopping", "backing-off", "failed", "stopped", "pending", "starting"],
  "backing-off": ["starting", "pending", "stopped", "stopping", "creating", "failed"],
  failed: ["backing-off", "starting", "pending", "stopping", "stopped", "creating"],
  stopping: ["stopped", "pending", "failed", "starting", "creating", "backing-off", "ready"],
  stopped: ["pending", "creating", "starting", "ready", "stopping"],
};

export const isLegalTransition = (from: ContainerState, to: ContainerState): boolean =>
  from === to || TRANSITIONS[from].includes(to);
