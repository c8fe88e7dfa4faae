// The per-container state machine. States are derived each pass from what Podman shows and
// what the supervisor remembers (domain/plan.ts, domain/history.ts); this table says which
// changes between two passes can happen, so an impossible one shows a bug.
//
// Between two passes nearly anything can happen to a container: it exits, someone removes
// or restarts it by hand, the pod is removed, the mode flips to down, a reload changes its
// spec, a restore suspends it, a job holds it, the daemon restarts and adopts it, and time
// can jump (a slow image pull in the same pass, a suspended host). So nearly every state can
// follow every other. What cannot: `unhealthy` is a ready instance failing its probes, and
// history.ts counts probe failures only once an instance was ready (a new instance starts
// unready, and a passing probe clears the count). The pass before was therefore `ready`, or
// `stopping` (asked to stop while ready, the request failed, and the reason went away).
//
// test/unit/domain/lifecycle.test.ts drives the pure core through thousands of random event
// sequences: every change it sees is legal here, and every change legal here is seen.

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

/** States entered only from the ones listed; any other state may follow any state. */
const ENTERED_ONLY_FROM: Readonly<Partial<Record<ContainerState, readonly ContainerState[]>>> = {
  unhealthy: ["ready", "stopping"],
};

export const isLegalTransition = (from: ContainerState, to: ContainerState): boolean =>
  from === to || (ENTERED_ONLY_FROM[to]?.includes(from) ?? true);

/** The states that may follow `from` (other than itself). */
export const transitionsFrom = (from: ContainerState): readonly ContainerState[] =>
  STATES.filter((to) => to !== from && isLegalTransition(from, to));
