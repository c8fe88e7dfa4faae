// podwarden up: bring the pod up in dependency order and exit once the pod serves: every
// container ready, except soft dependencies that are down, each named in a warning (the pod
// keeps running). Exits 1 naming what is not ready on timeout.

import { describePortHolders, type CheckInput } from "../doctor/checks.js";
import { nodeHostFacts } from "../doctor/host-facts.js";
import { blockingError, blockingErrors, formatCheck } from "../doctor/report.js";
import { buildPod, checkHost, releaseOnceStarted, type Pod } from "../daemon/daemon.js";
import { Removals } from "../doctor/removals.js";
import { EXIT, HostNotReadyError, PodwardenError } from "../lib/errors.js";
import { softDown, softDownNote, type Snapshot } from "../domain/snapshot.js";
import type { CommandContext } from "./context.js";
import type { ContextOf } from "./options.js";
import type { UP } from "./declarations.js";
import { noArgs, printJson, timeoutMs, withInterrupt } from "./shared.js";
import { acquirePodLock } from "../daemon/pod-lock.js";

const describeNotReady = (s: Snapshot): string =>
  Object.entries(s.containers)
    .filter(([, c]) => !c.ready)
    .map(([name, c]) => `${name} is ${c.state}${c.lastProbe && !c.lastProbe.ok ? ` (last probe: ${c.lastProbe.message})` : ""}${c.lastReason ? ` (${c.lastReason})` : ""}`)
    .join("; ");

/** `up` leaves once the pod serves: what is still down stays down unless the daemon supervises the pod. */
const AFTER_UP = "nothing restarts it after `up` exits; the daemon (`podwarden run`, the systemd unit) keeps retrying";

export const summarize = (s: Snapshot, elapsedMs: number) => ({
  ok: s.serving,
  pod: s.pod.name,
  elapsedMs,
  /** One line per soft dependency that is down (the pod serves without it). */
  warnings: softDown(s).map(([name, c]) => `${softDownNote(name, c)}; ${AFTER_UP}`),
  containers: Object.fromEntries(
    Object.entries(s.containers).map(([name, c]) => [
      name,
      {
        id: c.id,
        state: c.state,
        startedAt: c.startedAt,
        readyAt: c.readyAt,
        startToReadyMs: c.startedAt && c.readyAt ? Date.parse(c.readyAt) - Date.parse(c.startedAt) : null,
        restarts: c.restarts,
        lastExitCode: c.lastExitCode,
        softDependencyOf: c.softDependencyOf,
      },
    ]),
  ),
});

/** What `up` reads from Podman beside taking the pod's lock, for the checks. */
type Early = Required<Pick<CheckInput, "pinged" | "podNow">>;

/** doctor's checks first: what retrying cannot fix ends `up` before any container is touched. */
const checkFirst = async (d: Pod, ctx: CommandContext, removals: Removals, early: Early): Promise<void> => {
  const started = performance.now();
  const checks = await checkHost(d, ctx.global, removals.add, early);
  const blocking = blockingErrors(checks);
  // The blocking ones are the error `up` exits with; the others are said here.
  for (const c of checks) {
    if (c.status !== "ok" && !blocking.includes(c)) d.logger[c.status === "error" ? "error" : "warn"]({ check: c.name }, formatCheck(c));
  }
  if (blocking.length > 0) throw blockingError(blocking, d.spec.source);
  d.logger.debug({ ms: Math.round(performance.now() - started) }, "host checks passed");
};

/**
 * A host port taken after the checks passed (Podman's error names it when the pod's infra container
 * cannot start) is not waited out: rejects at once, naming the process that holds the port.
 */
const portTaken = (d: Pod, ctx: CommandContext, signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => {
    const off = d.supervisor.onPass(() => {
      const p = d.supervisor.snapshot().blocked;
      if (p?.port === undefined) return;
      const port = p.port;
      off();
      void describePortHolders(nodeHostFacts(ctx.global.env), port).then((who) =>
        reject(
          new HostNotReadyError(
            `${p.cause}, held by ${who}: ${p.check} cannot start; stop that process, or publish another host port (pod.ports: "HOST:CONTAINER")`,
          ),
        ),
      );
    });
    signal.addEventListener("abort", off, { once: true });
  });

export const up = async (ctx: ContextOf<typeof UP>): Promise<number> => {
  noArgs(ctx, "up");
  const limit = timeoutMs(ctx, 15 * 60_000);
  const d = await buildPod(ctx.global);
  // Podman is asked while the lock is taken (flock(1) is a process of its own): reads only. The
  // checks that bind the pod's ports, and everything that changes something, wait for the lock.
  const early: Early = { pinged: d.runtime.ping(), podNow: d.runtime.observe(d.spec.name).then((o) => o.pod) };
  early.pinged.catch(() => undefined);
  early.podNow.catch(() => undefined);
  // Refused (exit 73) while a `run` daemon supervises the pod, or another `up` or `down` works on it.
  const lock = await acquirePodLock({ env: ctx.global.env, pod: d.spec.name, command: "up", config: d.spec.source });
  try {
    return await bringUp(ctx, d, limit, early);
  } finally {
    await lock.release();
  }
};

const bringUp = async (ctx: ContextOf<typeof UP>, d: Pod, limit: number, early: Early): Promise<number> => {
  const removals = new Removals(d.logger);
  const stopReleasing = releaseOnceStarted(d.supervisor, removals, d.clock);
  try {
    return await bringUpChecked(ctx, d, limit, removals, early);
  } finally {
    stopReleasing();
    await removals.settled();
  }
};

const bringUpChecked = async (ctx: ContextOf<typeof UP>, d: Pod, limit: number, removals: Removals, early: Early): Promise<number> => {
  // Podman not answering ends `up` here (exit 69); the checks take the same answer.
  const podman = await early.pinged;
  await checkFirst(d, ctx, removals, early);
  d.logger.info({ socket: d.socket, podman: podman.version, pod: d.spec.name }, "bringing the pod up");
  const started = performance.now();
  d.supervisor.start("up");
  const done = new AbortController();
  try {
    await withInterrupt((signal) =>
      Promise.race([d.supervisor.waitUntilSettled(limit, AbortSignal.any([signal, done.signal]), "serving"), portTaken(d, ctx, done.signal)]),
    );
  } catch (err) {
    await d.supervisor.stop();
    if (err instanceof HostNotReadyError) throw err;
    const s = d.supervisor.snapshot();
    if (ctx.options.json) printJson(ctx, { ...summarize(s, Math.round(performance.now() - started)), error: (err as Error).message });
    throw new PodwardenError((err as PodwardenError).code ?? "E_TIMEOUT", `${(err as Error).message}: ${describeNotReady(s) || s.error || "unknown"}`);
  } finally {
    done.abort();
  }
  await d.supervisor.stop();
  const elapsed = Math.round(performance.now() - started);
  const s = d.supervisor.snapshot();
  const summary = summarize(s, elapsed);
  for (const w of summary.warnings) ctx.err.write(`WARNING: ${w}\n`);
  if (ctx.options.json) printJson(ctx, summary);
  else {
    ctx.out.write(`pod ${s.pod.name}: ${s.pod.containersReady}/${s.pod.containersTotal} ready in ${(elapsed / 1000).toFixed(1)} s\n`);
    for (const [name, c] of Object.entries(summary.containers)) {
      ctx.out.write(`  ${name.padEnd(12)} ${c.state.padEnd(8)} start->ready ${c.startToReadyMs ?? "-"} ms\n`);
    }
  }
  return EXIT.ok;
};
