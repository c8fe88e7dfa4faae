// What a job may do to the supervised pod: read the last snapshot, hold a container (hands
// off while it is paused), keep containers stopped, pin an image, and wait for a condition
// that the reconcile loop brings about. Jobs never call plan() or act themselves.

import type { PodSpec, Secrets } from "../domain/spec.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError } from "../lib/errors.js";
import type { ImagePin, Reconciler } from "../supervisor/reconciler.js";
import type { Snapshot } from "../supervisor/snapshot.js";
import type { Supervisor } from "../supervisor/supervisor.js";

export interface PodHandle {
  spec(): PodSpec;
  secrets(): Secrets;
  snapshot(): Snapshot;
  hold(name: string): void;
  release(name: string): void;
  suspend(names: readonly string[]): void;
  resume(names: readonly string[]): void;
  pinImage(name: string, pin: ImagePin | undefined): void;
  pins(): ReadonlyMap<string, ImagePin>;
  kick(): void;
  /**
   * Resolves with the snapshot once `check` returns true after a pass; rejects when it returns an
   * Error, when `signal` aborts, or after `timeoutMs` (E_TIMEOUT naming `what`).
   */
  waitFor(what: string, check: (s: Snapshot) => boolean | Error, timeoutMs: number, signal?: AbortSignal): Promise<Snapshot>;
}

export const podHandle = (reconciler: Reconciler, supervisor: Supervisor, clock: Clock): PodHandle => ({
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
  kick: () => supervisor.kick(),
  waitFor: (what, check, timeoutMs, signal) =>
    new Promise<Snapshot>((resolve, reject) => {
      const stop = new AbortController();
      const finish = (err: Error | undefined, s?: Snapshot): void => {
        if (stop.signal.aborted) return;
        stop.abort();
        unsubscribe();
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(s!);
      };
      const look = (): void => {
        const s = supervisor.snapshot();
        const verdict = check(s);
        if (verdict instanceof Error) finish(verdict);
        else if (verdict) finish(undefined, s);
      };
      const onAbort = (): void => finish(new PodwardenError("E_ABORTED", `interrupted while waiting until ${what}`));
      const unsubscribe = supervisor.onPass(look);
      signal?.addEventListener("abort", onAbort, { once: true });
      void clock.sleep(timeoutMs, stop.signal).then(() => finish(new PodwardenError("E_TIMEOUT", `${what}: not after ${Math.round(timeoutMs / 1000)} s`)));
      supervisor.kick();
    }),
});
