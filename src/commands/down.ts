// podwarden down: stop the containers in reverse dependency order, then remove the pod.
// Persisted data directories are never touched.

import { buildPod } from "../daemon/daemon.js";
import { EXIT } from "../lib/errors.js";
import type { ContextOf } from "./options.js";
import type { DOWN } from "./declarations.js";
import { noArgs, printJson, timeoutMs, withInterrupt } from "./shared.js";
import { acquirePodLock } from "../daemon/pod-lock.js";

export const down = async (ctx: ContextOf<typeof DOWN>): Promise<number> => {
  noArgs(ctx, "down");
  const limit = timeoutMs(ctx, 5 * 60_000);
  const d = await buildPod(ctx.global, { naming: "throwaway" });
  // Refused (exit 73) while a `run` daemon supervises the pod (it would bring it back), or another `up` or `down` works on it.
  const lock = await acquirePodLock({ env: ctx.global.env, pod: d.spec.name, command: "down", config: d.spec.source });
  const started = performance.now();
  try {
    await d.runtime.ping();
    d.supervisor.start("down");
    try {
      await withInterrupt((signal) => d.supervisor.waitUntilSettled(limit, signal));
    } finally {
      await d.supervisor.stop();
    }
  } finally {
    await lock.release();
  }
  const elapsed = Math.round(performance.now() - started);
  if (ctx.options.json) printJson(ctx, { ok: true, pod: d.spec.name, elapsedMs: elapsed });
  else ctx.out.write(`pod ${d.spec.name}: down in ${(elapsed / 1000).toFixed(1)} s (data directories kept)\n`);
  return EXIT.ok;
};
