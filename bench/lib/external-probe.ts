// The external observer: podwarden's own native probes (same ports, same credentials), run
// from the benchmark every 10 ms against each container until it first passes. It times
// every way of starting the pod the same way, whoever started it.

import type { ObservedContainer } from "../../src/domain/observed.js";
import type { ContainerSpec, PodSpec, Secrets } from "../../src/domain/spec.js";
import { systemClock } from "../../src/lib/clock.js";
import { createProber, type Prober } from "../../src/probes/prober.js";

export const PROBE_EVERY_MS = 10;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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

export interface ReadyWatch {
  /** Epoch ms of each container's first passing probe. */
  readonly firstPass: ReadonlyMap<string, number>;
  /** Resolves with the epoch ms at which the last container first passed. */
  readonly allReady: Promise<number>;
  stop(): void;
}

/** Probes each container every `everyMs` until it passes once; `allReady` when all have. */
export const watchReady = (spec: PodSpec, secrets: Secrets, everyMs = PROBE_EVERY_MS): ReadyWatch => {
  const prober = nativeProber(spec, secrets);
  const firstPass = new Map<string, number>();
  let stopped = false;
  const one = async (c: ContainerSpec): Promise<void> => {
    while (!stopped) {
      const r = await prober(c, NO_OBSERVATION);
      if (r.ok) {
        firstPass.set(c.name, r.at);
        return;
      }
      await sleep(everyMs);
    }
  };
  const allReady = Promise.all(spec.containers.map(one)).then(() => Math.max(...firstPass.values()));
  return {
    firstPass,
    allReady,
    stop: () => {
      stopped = true;
    },
  };
};

/** Epoch ms of the first passing probe of `c` from now on (every `everyMs`), or undefined after `timeoutMs`. */
export const firstPassFrom = async (prober: Prober, c: ContainerSpec, timeoutMs: number, everyMs = PROBE_EVERY_MS): Promise<number | undefined> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const r = await prober(c, NO_OBSERVATION);
    if (r.ok) return r.at;
    await sleep(everyMs);
  }
  return undefined;
};
