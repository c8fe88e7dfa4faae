// podwarden update [--check] [CONTAINER]: look for new images (registry: pull the tag;
// local: rebuild from the Containerfile) and move to them, rolling back any that does not
// stay ready. --check only says what an update would find.

import type { UpdateCheck, UpdateOutcome } from "../jobs/update.js";
import { EXIT, UsageError } from "../lib/errors.js";
import { askDaemon } from "./control-client.js";
import type { ContextOf } from "./options.js";
import type { UPDATE } from "./declarations.js";
import { printJson } from "./shared.js";

const short = (id: string | null): string => (id ?? "-").replace(/^sha256:/, "").slice(0, 12);

export const update = async (ctx: ContextOf<typeof UPDATE>): Promise<number> => {
  const [container, ...extra] = ctx.args;
  if (extra.length > 0) throw new UsageError("usage: podwarden update [--check] [CONTAINER]");
  const query = container === undefined ? "" : `?container=${encodeURIComponent(container)}`;
  if (ctx.options.check) {
    const checks = await askDaemon<UpdateCheck[]>(ctx, "GET", `/updates${query}`);
    if (ctx.options.json) printJson(ctx, checks);
    else if (checks.length === 0) ctx.out.write("no container has an update policy (containers.<name>.update)\n");
    else for (const c of checks) ctx.out.write(`${c.container.padEnd(12)} ${c.policy.padEnd(9)} running ${short(c.current)}  ${c.available ? `update available${c.rebuildDue ? " (rebuild due)" : ` -> ${short(c.candidate)}`}` : "up to date"}\n`);
    return EXIT.ok;
  }
  if (!ctx.options.json) ctx.err.write("updating: each new image must become ready and stay ready for its window\n");
  const outcomes = await askDaemon<UpdateOutcome[]>(ctx, "POST", `/updates${query}`);
  if (ctx.options.json) printJson(ctx, outcomes);
  else for (const o of outcomes) ctx.out.write(`${o.container.padEnd(12)} ${o.result.padEnd(12)} ${o.message}\n`);
  return outcomes.some((o) => o.result === "failed" || o.result === "rolled-back") ? EXIT.failure : EXIT.ok;
};
