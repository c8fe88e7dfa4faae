// The external observer: podwarden's own native probes (same ports, same credentials), sent
// from the benchmark every 10 ms against each container until one first passes. It times
// every way of starting the pod the same way, whoever started it.
//
// A probe goes out every 10 ms whether or not the earlier ones are back: OpenCode accepts
// connections it never answers for about the first 0.2 s of its listening, and an observer
// that waited for each probe would be blind for that probe's whole timeout (2 s).

import { setMaxListeners } from "node:events";
import type { ObservedContainer } from "../../src/domain/observed.js";
import type { ContainerSpec, PodSpec, Secrets } from "../../src/domain/spec.js";
import { systemClock } from "../../src/lib/clock.js";
import { createProber, type Prober } from "../../src/probes/prober.js";

export const PROBE_EVERY_MS = 10;

/** Native probes only: an exec probe would need the container's id (and Podman). */
export const nativeProber = (spec: PodSpec, secrets: Secrets): Prober =>
  createProber({
    spec,
    secrets,
    runtime: { healthcheck: () => Promise.reject(new Error("the external observer runs native probes only")) },
    clock: systemClock,
  });

/** Native probes ignore the observed container: an empty one will do. */
const NO_OBSERVATION = {} as ObservedContainer;

/** At most this many probes of one container out at once (2 s timeout / 10 ms: a held port costs 200 sockets otherwise). */
const MAX_OUT = 50;

/**
 * Sends a probe of `c` every `everyMs` (not waiting for the earlier ones) until one passes;
 * resolves with the epoch ms of the first pass, or undefined once `stopped()` holds or the
 * deadline passes. Probes still out then are closed.
 */
export const firstPass = (
  prober: Prober,
  c: ContainerSpec,
  opts: { everyMs?: number; deadline?: number; stopped?: () => boolean } = {},
): Promise<number | undefined> => {
  const everyMs = opts.everyMs ?? PROBE_EVERY_MS;
  const done = new AbortController();
  setMaxListeners(MAX_OUT + 1, done.signal); // one per probe out
  let out = 0;
  let passedAt: number | undefined;
  return new Promise<number | undefined>((resolve) => {
    const finish = (at: number | undefined): void => {
      if (done.signal.aborted) return;
      clearInterval(timer);
      done.abort();
      resolve(at);
    };
    const send = (): void => {
      if (opts.stopped?.() === true || (opts.deadline !== undefined && Date.now() >= opts.deadline)) return finish(passedAt);
      if (out >= MAX_OUT) return;
      out += 1;
      void prober(c, NO_OBSERVATION, done.signal).then((r) => {
        out -= 1;
        if (r.ok && (passedAt === undefined || r.at < passedAt)) passedAt = r.at;
        if (r.ok) finish(passedAt);
      });
    };
    const timer = setInterval(send, everyMs);
    send();
  });
};

export interface ReadyWatch {
  /** Epoch ms of each container's first passing probe. */
  readonly firstPass: ReadonlyMap<string, number>;
  /** Resolves with the epoch ms at which the last container first passed. */
  readonly allReady: Promise<number>;
  stop(): void;
}

/** Probes each container every `everyMs` until one probe of it passes; `allReady` when all have. */
export const watchReady = (spec: PodSpec, secrets: Secrets, everyMs = PROBE_EVERY_MS): ReadyWatch => {
  const prober = nativeProber(spec, secrets);
  const passes = new Map<string, number>();
  let stopped = false;
  const one = async (c: ContainerSpec): Promise<void> => {
    const at = await firstPass(prober, c, { everyMs, stopped: () => stopped });
    if (at !== undefined) passes.set(c.name, at);
  };
  const allReady = Promise.all(spec.containers.map(one)).then(() => Math.max(...passes.values()));
  return {
    firstPass: passes,
    allReady,
    stop: () => {
      stopped = true;
    },
  };
};

/** Epoch ms of the first passing probe of `c` from now on (every `everyMs`), or undefined after `timeoutMs`. */
export const firstPassFrom = (prober: Prober, c: ContainerSpec, timeoutMs: number, everyMs = PROBE_EVERY_MS): Promise<number | undefined> =>
  firstPass(prober, c, { everyMs, deadline: Date.now() + timeoutMs });
