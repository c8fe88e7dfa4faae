// podwarden run: the foreground daemon (daemon/daemon.ts builds and runs it): brings the pod up
// and keeps reconciling until SIGTERM or SIGINT, then stops it in reverse order (or leaves it
// running for the next daemon after `podwarden restart-daemon`).

import { runDaemon } from "../daemon/run-daemon.js";
import type { ContextOf } from "./options.js";
import type { RUN } from "./declarations.js";
import { noArgs } from "./shared.js";

export const run = async (ctx: ContextOf<typeof RUN>): Promise<number> => {
  noArgs(ctx, "run");
  return runDaemon(ctx.global);
};
