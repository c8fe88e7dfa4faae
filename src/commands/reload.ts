// podwarden reload: check the config, then ask the running daemon of that pod to re-read
// it (SIGHUP). The daemon recreates exactly the containers whose spec changed. With
// `--log-format json` (the unit's ExecReload=) everything it says is a JSON log line.

import { EXIT, UsageError } from "../lib/errors.js";
import { load } from "../main.js";
import type { CommandContext } from "./index.js";
import { realpath } from "node:fs/promises";
import { liveDaemon, pidfilePath } from "./pidfile.js";
import { noArgs, printJson, sayer } from "./shared.js";

export const reload = async (ctx: CommandContext): Promise<number> => {
  noArgs(ctx, "reload");
  // An invalid file is reported here and never reaches the daemon (exit 78 from ConfigError).
  const { spec, logger } = await load(ctx.global);
  const say = sayer(ctx, logger.child({ component: "reload" }));
  const path = pidfilePath(ctx.global.env, spec.name);
  const daemon = await liveDaemon(path);
  if (daemon === undefined) {
    say.error({ pod: spec.name, pidfile: path }, `podwarden reload: no running daemon for pod ${spec.name} (no live pid in ${path})`);
    return EXIT.podmanUnavailable;
  }
  const { pid } = daemon;
  // The daemon re-reads the file it was started with: reloading another would change nothing.
  const same = async (a: string, b: string) => (await realpath(a).catch(() => a)) === (await realpath(b).catch(() => b));
  if (daemon.config !== undefined && !(await same(daemon.config, spec.source))) {
    throw new UsageError(`the daemon of pod ${spec.name} runs with ${daemon.config} and reloads that file: edit it (it may extend ${spec.source}), or restart the daemon with --config ${spec.source}`);
  }
  process.kill(pid, "SIGHUP");
  if (ctx.json) printJson(ctx, { ok: true, pod: spec.name, pid });
  else say.info({ pod: spec.name, pid, config: spec.source }, `asked the daemon of pod ${spec.name} (pid ${pid}) to reload ${spec.source}; its log says what changed`);
  return EXIT.ok;
};
