// Drives a Reconciler against the fake runtime with a fake clock, step by step: a step runs
// the probes that are due (as the probe scheduler would), then one pass; the clock then jumps
// to the next probe or the requested requeue time, whichever comes first, so minutes of
// supervision run in milliseconds and always the same way.

import { DEFAULT_BACKOFF, type BackoffPolicy } from "../../src/domain/backoff.js";
import type { SupervisorEvent } from "../../src/domain/events.js";
import type { ProbeResult } from "../../src/domain/history.js";
import type { ContainerSpec, PodSpec, Secrets } from "../../src/domain/spec.js";
import { createLogger } from "../../src/observability/logger.js";
import type { DiskSampler } from "../../src/probes/disk.js";
import type { Prober } from "../../src/probes/prober.js";
import { Reconciler, type PassResult } from "../../src/supervisor/reconciler.js";
import { Supervisor, type SupervisorDeps } from "../../src/supervisor/supervisor.js";
import { FakeClock } from "./fake-clock.js";
import { FakeRuntime } from "./fake-runtime.js";

export interface HarnessOptions {
  readonly spec: PodSpec;
  /** Logical name -> ms after start when its probe begins to pass (Infinity: never). */
  readonly readyAfterMs?: Readonly<Record<string, number>>;
  readonly secrets?: Secrets;
  /** The secret-naming key (default: a fixed test key). */
  readonly namingKey?: Uint8Array;
  readonly backoff?: BackoffPolicy;
  readonly onEvent?: (e: SupervisorEvent) => void;
  /** Samples the persisted filesystems (default: none are sampled). */
  readonly disk?: DiskSampler;
}

export const silentLogger = () => createLogger({ level: "silent" });

/** The secret-naming key of test reconcilers (a daemon keeps one in its state directory). */
export const TEST_NAMING_KEY: Uint8Array = new Uint8Array(32).fill(7);

export class Harness {
  readonly clock = new FakeClock();
  readonly runtime: FakeRuntime;
  readonly reconciler: Reconciler;
  readonly readyAfterMs: Record<string, number>;
  /** Containers whose probe fails while they are in this set (hung, unhealthy). */
  readonly failing = new Set<string>();
  /** Containers whose probe fails with this message while they are in the map. */
  readonly failWith = new Map<string, string>();
  /** Every probe result, in order, with the container's name. */
  readonly probes: (ProbeResult & { name: string })[] = [];
  /** How often the reconciler asked for a pass (a probe verdict changed, a background stop finished). */
  kicks = 0;
  /** The supervisor made by supervise(): the reconciler's kicks go to its loop. */
  #supervisor: Supervisor | undefined;

  constructor(readonly opts: HarnessOptions) {
    this.runtime = new FakeRuntime(this.clock, opts.spec.containers.map((c) => c.image));
    this.readyAfterMs = { ...(opts.readyAfterMs ?? {}) };
    const prober: Prober = async (c, o) => {
      const after = this.readyAfterMs[c.name] ?? 0;
      const now = this.clock.now();
      const ok = o.running && o.startedAt !== null && now - o.startedAt >= after && !this.failing.has(c.name) && !this.failWith.has(c.name);
      const r = { ok, ms: 1, at: now, message: ok ? "ok" : (this.failWith.get(c.name) ?? "not yet") };
      this.probes.push({ ...r, name: c.name });
      return r;
    };
    this.reconciler = new Reconciler({
      spec: opts.spec,
      secrets: opts.secrets ?? new Map(),
      namingKey: opts.namingKey ?? TEST_NAMING_KEY,
      runtime: this.runtime,
      prober,
      clock: this.clock,
      logger: silentLogger(),
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      random: () => 0.5,
      kick: () => {
        this.kicks += 1;
        this.#supervisor?.kick();
      },
      ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
      ...(opts.disk ? { disk: opts.disk } : {}),
    });
  }

  /**
   * A second supervisor over the same runtime and clock, as after a daemon restart,
   * optionally with another spec, other secrets or another naming key. Its probes pass while a container runs (and `passes` holds for it).
   */
  another(over: { spec?: PodSpec; secrets?: Secrets; namingKey?: Uint8Array } = {}, passes: (c: ContainerSpec) => boolean = () => true): Reconciler {
    return new Reconciler({
      spec: over.spec ?? this.opts.spec,
      secrets: over.secrets ?? this.opts.secrets ?? new Map(),
      namingKey: over.namingKey ?? this.opts.namingKey ?? TEST_NAMING_KEY,
      runtime: this.runtime,
      prober: async (c, o) => ({ ok: o.running && passes(c), ms: 1, at: this.clock.now(), message: "" }),
      clock: this.clock,
      logger: silentLogger(),
      backoff: this.opts.backoff ?? DEFAULT_BACKOFF,
      random: () => 0.5,
      kick: () => undefined,
    });
  }

  /** A supervisor over this harness's reconciler, clock and runtime; the reconciler's kicks reach its loop. */
  supervise(over: Partial<SupervisorDeps> = {}): Supervisor {
    this.#supervisor = new Supervisor({ reconciler: this.reconciler, clock: this.clock, logger: silentLogger(), ...over });
    return this.#supervisor;
  }

  /** The probes that are due now (as the probe scheduler runs them), then one pass of `r`. */
  async pass(r: Reconciler = this.reconciler): Promise<PassResult> {
    await r.probes.runDue();
    return r.reconcileOnce();
  }

  /** How long until the next probe or the requeue time, whichever is first (at least `minMs`). */
  #nextIn(r: PassResult, minMs: number): number {
    const probeAt = this.reconciler.probes.nextDueAt();
    const probeIn = probeAt === undefined ? Number.POSITIVE_INFINITY : probeAt - this.clock.now();
    return Math.max(minMs, Math.min(r.requeueAfterMs ?? 30_000, probeIn));
  }

  /** One step, then the clock moves to the next probe or the requeue time (at least `minStepMs`). */
  async step(minStepMs = 1): Promise<PassResult> {
    const r = await this.pass();
    this.clock.advance(this.#nextIn(r, minStepMs));
    return r;
  }

  /** Steps until `done` holds or `maxPasses` run out; returns the passes used. */
  async runUntil(done: (r: PassResult) => boolean, maxPasses = 500): Promise<number> {
    for (let i = 1; i <= maxPasses; i++) {
      const r = await this.pass();
      if (done(r)) return i;
      this.clock.advance(this.#nextIn(r, 1));
    }
    throw new Error(`not done after ${maxPasses} passes; states: ${JSON.stringify([...this.reconciler.history].map(([n, h]) => [n, h.state]))}`);
  }

  firstPassAt(name: string): number | undefined {
    return this.probes.find((p) => p.name === name && p.ok)?.at;
  }
}
