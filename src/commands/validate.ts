// podwarden validate: load and check the config and env file; print a summary.

import { startOrder } from "../domain/graph.js";
import { loadConfig } from "../config/load.js";
import { EXIT } from "../lib/errors.js";
import type { ContextOf } from "./options.js";
import type { VALIDATE } from "./declarations.js";
import { noArgs, printJson } from "./shared.js";

export const validate = async (ctx: ContextOf<typeof VALIDATE>): Promise<number> => {
  noArgs(ctx, "validate");
  const { spec, warnings } = await loadConfig(ctx.global.config);
  const order = startOrder(spec.containers);
  if (ctx.options.json) {
    printJson(ctx, {
      ok: true,
      config: spec.source,
      pod: spec.name,
      ports: spec.ports,
      startOrder: order,
      warnings,
    });
    return EXIT.ok;
  }
  ctx.out.write(`${spec.source}: valid\n`);
  ctx.out.write(`  pod ${spec.name}, ports ${spec.ports.map((p) => (p.host === p.container ? `${p.host}` : `${p.host}:${p.container}`)).join(", ")}\n`);
  ctx.out.write(`  start order: ${order.join(" -> ")}\n`);
  for (const w of warnings) ctx.err.write(`  warning: ${w}\n`);
  return EXIT.ok;
};
