// podwarden images: make sure every image the pod needs exists (pull, build, bootstrap),
// printing progress. `up` does the same on demand; this lets a person do it ahead of time.

import { createRuntime, load } from "../daemon/load.js";
import { EXIT } from "../lib/errors.js";
import { ensureImage } from "../runtime/ensure-image.js";
import type { ContextOf } from "./options.js";
import type { IMAGES } from "./declarations.js";
import { noArgs, printJson, withInterrupt } from "./shared.js";

export const images = async (ctx: ContextOf<typeof IMAGES>): Promise<number> => {
  noArgs(ctx, "images");
  const { spec, logger } = await load(ctx.global);
  const { runtime } = createRuntime(ctx.global);
  await runtime.ping();
  const refs = [...new Set(spec.containers.map((c) => c.image))];
  const results: Record<string, string> = {};
  await withInterrupt(async (signal) => {
    for (const ref of refs) {
      const started = performance.now();
      const how = await ensureImage(ref, spec.images, runtime, (line) => logger.info({ image: ref }, line), signal);
      results[ref] = how;
      logger.info({ image: ref, ms: Math.round(performance.now() - started) }, how === "present" ? "already present" : `image ${how}`);
    }
  });
  if (ctx.options.json) printJson(ctx, { ok: true, images: results });
  else for (const [ref, how] of Object.entries(results)) ctx.out.write(`${ref}: ${how}\n`);
  return EXIT.ok;
};
