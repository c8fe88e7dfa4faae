// What a job may do to the supervised pod, and no more: read the last snapshot, hold a
// container (hands off while it is paused), keep containers stopped, pin an image, and wait for
// a condition that the reconcile loop brings about. Jobs never call plan() or act themselves,
// and never see the supervisor: the daemon gives them an implementation (daemon/pod-control.ts).

import type { ImagePin } from "../domain/jobs.js";
import type { Snapshot } from "../domain/snapshot.js";
import type { PodSpec, Secrets } from "../domain/spec.js";

export interface PodControl {
  spec(): PodSpec;
  secrets(): Secrets;
  snapshot(): Snapshot;
  /** Hands off `name` (no restart while a job has it paused) until release(). */
  hold(name: string): void;
  release(name: string): void;
  /** Keeps `names` stopped (stopping them if running) until resume(). */
  suspend(names: readonly string[]): void;
  resume(names: readonly string[]): void;
  /** Runs `name` on the pinned image id (undefined: on its declared reference again). */
  pinImage(name: string, pin: ImagePin | undefined): void;
  pins(): ReadonlyMap<string, ImagePin>;
  /**
   * Resolves with the snapshot once `check` returns true after a pass; rejects when it returns an
   * Error, when `signal` aborts, or after `timeoutMs` (E_TIMEOUT naming `what`).
   */
  waitFor(what: string, check: (s: Snapshot) => boolean | Error, timeoutMs: number, signal?: AbortSignal): Promise<Snapshot>;
}
