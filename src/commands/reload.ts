// podwarden reload: check the config, then ask the running daemon of that pod to re-read
// it (SIGHUP). The daemon recreates exactly the containers whose spec changed.

import { loadConfig } from "../config/load.js";
import { EXIT } from "../lib/errors.js";
import type { CommandContext } from "./index.js";
import { livePid, pidfilePath } from "./pidfile.js";
import { noArgs, printJson } from "./shared.js";

export const reload = async (ctx: CommandContext): Promise<number> => {
  noArgs(ctx, "reload");
  // An invalid file is reported here and never reaches the daemon (exit 78 from ConfigError).
  const { spec } = await loadConfig(ctx.global.config);
  const path = pidfilePath(ctx.global.env, spec.name);
  const pid = await livePid(path);
  if (pid === undefined) {
    ctx.err.write(`podwarden reload: no running daemon for pod ${spec.name} (no live pid in ${path})\n`);
    return EXIT.podmanUnavailable;
  }
  process.kill(pid, "SIGHUP");
  if (ctx.json) printJson(ctx, { ok: true, pod: spec.name, pid });
  else ctx.out.write(`asked the daemon of pod ${spec.name} (pid ${pid}) to reload ${spec.source}; its log says what changed\n`);
  return EXIT.ok;
};
