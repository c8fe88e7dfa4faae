// Runs each container's probe on its own schedule (its history's nextProbeAt), beside the
// reconcile loop, against the container as the last pass saw it. A result is folded into the
// history; only a changed verdict (ready or not, healthy or past its retries) asks the loop
// for a pass. A probe that changes nothing costs no Podman call and no pass.
//
// A ready container has one probe out at most. A starting one is probed on its start cadence
// even while earlier probes are out (native probes, up to MAX_START_PROBES_OUT): a connection
// a starting server accepts and never answers must not blind the supervisor for the probe's
// timeout. Results are folded in the order the probes went out; an older one coming back after
// a newer one's is dropped, and so is a probe sent while starting once the container is ready.

import type { SupervisorEvent } from "../domain/events.js";
import { absorbProbe, markStartProbeSent, MAX_START_PROBES_OUT, type ContainerHistory } from "../domain/history.js";
import type { ObservedContainer } from "../domain/observed.js";
import type { ContainerSpec, PodSpec, ProbeSpec } from "../domain/spec.js";
import { sleepUntil, type Clock } from "../lib/clock.js";
import type { Logger } from "../observability/logger.js";
import type { Prober } from "../probes/prober.js";
import type { HistoryBook } from "./history-book.js";
import { WAKE } from "../lib/abort.js";

export interface ProbeSchedulerDeps {
  readonly book: HistoryBook;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The spec and the prober now (a reload changes both). */
  readonly current: () => { readonly spec: PodSpec; readonly prober: Prober };
  /** Whether probes run for `name` now (the pod is brought up, no job holds it). */
  readonly active: (name: string) => boolean;
  /** The container as the last pass saw it. */
  readonly observed: (name: string) => ObservedContainer | undefined;
  readonly emit: (e: SupervisorEvent) => void;
  /** A verdict changed: the plan has something to act on. */
  readonly kick: () => void;
}

/** What the plan acts on: ready or not, and whether the failures reached the probe's retries. */
const verdict = (h: ContainerHistory, probe: ProbeSpec): string => `${h.ready}:${h.ready && h.consecutiveFailures >= probe.retries}`;

/** One container's probes: how many went out, the newest whose result was folded in, how many are out now. */
interface Probes {
  sent: number;
  absorbed: number;
  out: number;
}

/** Whether another probe may go out now that `out` are: one at a time once ready; while starting, native ones overlap. */
const mayOverlap = (h: ContainerHistory, probe: ProbeSpec, out: number): boolean =>
  out === 0 || (!h.ready && probe.kind !== "exec" && out < MAX_START_PROBES_OUT);

export class ProbeScheduler {
  readonly #deps: ProbeSchedulerDeps;
  #wake: AbortController | undefined;
  /** Probes sent and out, by container (instance changes do not reset it: the order only matters). */
  readonly #probes = new Map<string, Probes>();

  constructor(deps: ProbeSchedulerDeps) {
    this.#deps = deps;
  }

  /** Containers whose probe may run now, with their history: running, probed, not held, not init steps. */
  #probed(): [ContainerSpec & { probe: ProbeSpec }, ContainerHistory][] {
    const { spec } = this.#deps.current();
    return spec.containers.flatMap((c) => {
      const h = this.#deps.book.get(c.name);
      if (!c.probe || c.init || !h?.running || h.nextProbeAt === undefined || !this.#deps.active(c.name)) return [];
      if (this.#deps.observed(c.name)?.running !== true) return [];
      return [[c as ContainerSpec & { probe: ProbeSpec }, h] as [ContainerSpec & { probe: ProbeSpec }, ContainerHistory]];
    });
  }

  #counts(name: string): Probes {
    let p = this.#probes.get(name);
    if (!p) this.#probes.set(name, (p = { sent: 0, absorbed: 0, out: 0 }));
    return p;
  }

  /** Containers that may have another probe out now, with their history. */
  #sendable(): [ContainerSpec & { probe: ProbeSpec }, ContainerHistory][] {
    return this.#probed().filter(([c, h]) => mayOverlap(h, c.probe, this.#probes.get(c.name)?.out ?? 0));
  }

  /** When the next probe is due (undefined: none is); a container with as many probes out as it may have is not due. */
  nextDueAt(): number | undefined {
    const times = this.#sendable().map(([, h]) => h.nextProbeAt!);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /**
   * Starts every probe that is due now and not already running. Each probe is on its own: a
   * slow one (an exec probe, a hung port) never holds back another container's. A changed
   * verdict kicks the loop as soon as that probe is back.
   */
  #startDue(signal: AbortSignal | undefined): Promise<boolean>[] {
    const now = this.#deps.clock.now();
    return this.#sendable()
      .filter(([, h]) => h.nextProbeAt! <= now)
      .map(([c, h]) => {
        const counts = this.#counts(c.name);
        const seq = ++counts.sent;
        counts.out += 1;
        // Starting: the next probe is due on the start cadence, this one answered or not.
        const before = h.ready ? h : this.#deps.book.update(c.name, (x) => markStartProbeSent(x, c.probe, now));
        return this.#probe(c, before, seq, signal)
          .then((changed) => {
            if (changed) this.#deps.kick();
            return changed;
          })
          .catch((err: unknown) => {
            this.#deps.logger.error({ container: c.name, err }, "probe could not run");
            return false;
          })
          .finally(() => {
            counts.out -= 1;
            this.reschedule();
          });
      });
  }

  /** Runs every probe that is due now and waits for them; returns whether any verdict changed (and kicked the loop). */
  async runDue(signal?: AbortSignal): Promise<boolean> {
    return (await Promise.all(this.#startDue(signal))).includes(true);
  }

  async #probe(c: ContainerSpec & { probe: ProbeSpec }, before: ContainerHistory, seq: number, signal?: AbortSignal): Promise<boolean> {
    const { book, logger } = this.#deps;
    const result = await this.#deps.current().prober(c, this.#deps.observed(c.name)!, signal);
    // Stopped meanwhile, another instance by now (a pass saw a restart), or held: the result is about nothing current.
    const current = book.get(c.name);
    if (signal?.aborted || current === undefined || current.instance !== before.instance || !current.running || !this.#deps.active(c.name)) return false;
    // Older than a result already folded in, or sent while starting and the container is ready by now: it says nothing new.
    const counts = this.#counts(c.name);
    if (seq < counts.absorbed || (current.ready && !before.ready)) return false;
    counts.absorbed = seq;
    this.#deps.emit({ kind: "probe", at: result.at, container: c.name, ok: result.ok, ms: result.ms });
    const after = book.update(c.name, (h) => absorbProbe(h, c, result));
    if (after.ready && !current.ready) logger.info({ container: c.name, probe: c.probe.kind, ms: result.ms }, "probe passed: ready");
    else if (!result.ok && current.ready) logger.warn({ container: c.name, failures: after.consecutiveFailures, reason: result.message }, "probe failed");
    return verdict(current, c.probe) !== verdict(after, c.probe);
  }

  /** The schedule may have changed (a pass saw a new instance, a mode or a hold changed): look at it again. */
  reschedule(): void {
    this.#wake?.abort(WAKE);
  }

  /**
   * Sleeps until the next probe is due (or a reschedule), starts what is due, until `signal`
   * aborts. Nothing is awaited between waking and going to sleep again, so no reschedule is lost.
   */
  async run(signal: AbortSignal): Promise<void> {
    const { clock } = this.#deps;
    // One listener for the whole run (not one per sleep): a stop wakes whichever sleep is on.
    const onStop = (): void => this.#wake?.abort(WAKE);
    signal.addEventListener("abort", onStop, { once: true });
    try {
      while (!signal.aborted) {
        const wake = new AbortController();
        this.#wake = wake;
        await sleepUntil(clock, this.nextDueAt(), wake.signal);
        this.#wake = undefined;
        if (signal.aborted) break;
        void this.#startDue(signal);
      }
    } finally {
      signal.removeEventListener("abort", onStop);
    }
    // Probes still out were told by `signal`; their results are dropped when they come back.
  }
}
