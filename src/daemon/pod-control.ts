// Jobs' view of the pod (jobs/pod-control.ts), on the reconciler and the supervisor: every
// change of what the loop should do is followed by a kick, and every wait is a wait for passes.

import type { Snapshot } from "../domain/snapshot.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError } from "../lib/errors.js";
import { waitFor } from "../lib/wait-for.js";
import type { PodControl } from "../jobs/pod-control.js";
import type { Reconciler } from "../supervisor/reconciler.js";
import type { Supervisor } from "../supervisor/supervisor.js";

type ReconcilerPart = Pick<Reconciler, "spec" | "secrets" | "hold" | "release" | "suspend" | "resume" | "pinImage" | "pins">;
type SupervisorPart = Pick<Supervisor, "snapshot" | "kick" | "onPass">;

export const podControl = (reconciler: ReconcilerPart, supervisor: SupervisorPart, clock: Clock): PodControl => ({
  spec: () => reconciler.spec,
  secrets: () => reconciler.secrets,
  snapshot: () => supervisor.snapshot(),
  hold: (name) => reconciler.hold(name),
  release: (name) => {
    reconciler.release(name);
    supervisor.kick();
  },
  suspend: (names) => {
    reconciler.suspend(names);
    supervisor.kick();
  },
  resume: (names) => {
    reconciler.resume(names);
    supervisor.kick();
  },
  pinImage: (name, pin) => {
    reconciler.pinImage(name, pin);
    supervisor.kick();
  },
  pins: () => reconciler.pins,
  waitFor: async (what, check, timeoutMs, signal) => {
    let seen: Snapshot | undefined;
    const waiting = waitFor(() => check((seen = supervisor.snapshot())), timeoutMs, signal, {
      clock,
      changes: (l) => supervisor.onPass(l),
      timedOut: () => new PodwardenError("E_TIMEOUT", `${what}: not after ${Math.round(timeoutMs / 1000)} s`),
      interrupted: () => new PodwardenError("E_ABORTED", `interrupted while waiting until ${what}`),
    });
    supervisor.kick();
    await waiting;
    return seen!;
  },
});
