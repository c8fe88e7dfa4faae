// podwarden logs <container> [-f] [--since DUR] [--tail N]: a container's output through
// the Podman API, by its logical name.

import { parseDuration } from "../config/durations.js";
import { loadConfig } from "../config/load.js";
import { podmanName } from "../domain/spec.js";
import { createRuntime } from "../daemon/load.js";
import { EXIT, UsageError } from "../lib/errors.js";
import type { ContextOf } from "./options.js";
import type { LOGS } from "./declarations.js";
import { withInterrupt } from "./shared.js";

export const logs = async (ctx: ContextOf<typeof LOGS>): Promise<number> => {
  const [name, ...extra] = ctx.args;
  if (name === undefined) throw new UsageError("logs needs a container name (e.g. podwarden logs opencode -f)");
  if (extra.length > 0) throw new UsageError(`logs takes one container name (got ${ctx.args.join(" ")})`);
  const { follow, since, tail } = ctx.options;
  if (tail !== undefined && !/^\d+$/.test(tail)) throw new UsageError(`--tail takes a number of lines, not '${tail}'`);
  let sinceS: number | undefined;
  try {
    sinceS = since === undefined ? undefined : Math.floor((Date.now() - parseDuration(since)) / 1000);
  } catch (err) {
    throw new UsageError(`--since: ${(err as Error).message}`);
  }
  const opts = { follow, ...(sinceS !== undefined ? { sinceS } : {}), ...(tail !== undefined ? { tail: Number(tail) } : {}) };
  const { spec } = await loadConfig(ctx.global.config);
  if (!spec.containers.some((c) => c.name === name)) {
    throw new UsageError(`no container '${name}' in pod ${spec.name} (known: ${spec.containers.map((c) => c.name).join(", ")})`);
  }
  const { runtime } = createRuntime(ctx.global);
  await runtime.ping();
  await withInterrupt((signal) => runtime.logs(podmanName(spec.name, name), opts, ctx.out, ctx.err, signal));
  return EXIT.ok;
};
