// podwarden restore ARCHIVE: the running daemon verifies the archive, stops the affected
// containers in reverse order, swaps their data, starts them in order and waits until ready.

import { isAbsolute, resolve } from "node:path";
import type { RestoreResult } from "../jobs/restore.js";
import { EXIT, UsageError } from "../lib/errors.js";
import { askDaemon } from "./control-client.js";
import type { ContextOf } from "./options.js";
import type { RESTORE } from "./declarations.js";
import { printJson } from "./shared.js";

export const restore = async (ctx: ContextOf<typeof RESTORE>): Promise<number> => {
  const [archive, ...extra] = ctx.args;
  if (archive === undefined || extra.length > 0) throw new UsageError("usage: podwarden restore ARCHIVE (a path, e.g. from podwarden backup list)");
  // The daemon resolves nothing against its own working directory: send an absolute path.
  const path = isAbsolute(archive) ? archive : resolve(archive);
  if (!ctx.options.json) ctx.err.write(`restoring ${path}: verifying, then stopping the affected containers (this waits until the pod is ready)\n`);
  const r = await askDaemon<RestoreResult>(ctx, "POST", "/restore", { archive: path });
  if (ctx.options.json) printJson(ctx, r);
  else ctx.out.write(`restored ${r.files} files (${r.bytes} bytes) of ${r.createdAt} into ${r.containers.join(", ")} (restarted in order: ${[...r.restarted].reverse().join(", ")}); down for ${(r.downtimeMs / 1000).toFixed(1)} s, pod ready\n`);
  return EXIT.ok;
};
