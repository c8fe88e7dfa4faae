// podwarden reload: check the config, then have the running daemon of that pod re-read it,
// through its control socket (POST /reload): the answer says what changed, or why the daemon
// refused the file. The daemon recreates exactly the containers whose spec changed. A daemon
// without the route (an older podwarden) or without its socket gets SIGHUP instead, but only
// when its pid file names a live `podwarden run` started at the recorded time (pidfile.ts),
// never whatever process has the pid now. With `--log-format json` (the unit's ExecReload=)
// everything it says is a JSON log line.

import { EXIT, PodwardenError, UsageError } from "../lib/errors.js";
import { load } from "../daemon/load.js";
import type { ReloadResult } from "../daemon/reload.js";
import type { Say } from "../lib/say.js";
import type { ContextOf } from "./options.js";
import type { RELOAD } from "./declarations.js";
import { realpath } from "node:fs/promises";
import { answerOf, callDaemon } from "./control-client.js";
import { controlSocketPath, liveDaemon, pidfilePath } from "../daemon/pidfile.js";
import { noArgs, printJson, sayer } from "./shared.js";

/** Errors of the socket that mean "no daemon listens there": try the pid file. */
const NO_LISTENER = new Set(["ENOENT", "ECONNREFUSED"]);

/** SIGHUP to the daemon named by the pid file, once it is verified to be that daemon; the exit code. */
const signalDaemon = async (ctx: ContextOf<typeof RELOAD>, say: Say, pod: string, source: string): Promise<number> => {
  const path = pidfilePath(ctx.global.env, pod);
  const daemon = await liveDaemon(path);
  if (daemon === undefined) {
    say.error({ pod, pidfile: path }, `podwarden reload: no running daemon for pod ${pod} (no control socket, and no live podwarden run in ${path})`);
    return EXIT.podmanUnavailable;
  }
  // The daemon re-reads the file it was started with: reloading another would change nothing.
  const same = async (a: string, b: string) => (await realpath(a).catch(() => a)) === (await realpath(b).catch(() => b));
  if (daemon.config !== undefined && !(await same(daemon.config, source))) {
    throw new UsageError(`the daemon of pod ${pod} runs with ${daemon.config} and reloads that file: edit it (it may extend ${source}), or restart the daemon with --config ${source}`);
  }
  process.kill(daemon.pid, "SIGHUP");
  if (ctx.options.json) printJson(ctx, { ok: true, pod, pid: daemon.pid, via: "signal" });
  else say.info({ pod, pid: daemon.pid, config: source }, `asked the daemon of pod ${pod} (pid ${daemon.pid}) to reload ${source} (SIGHUP); its log says what changed`);
  return EXIT.ok;
};

export const reload = async (ctx: ContextOf<typeof RELOAD>): Promise<number> => {
  noArgs(ctx, "reload");
  // An invalid file is reported here and never reaches the daemon (exit 78 from ConfigError).
  const { spec, logger } = await load(ctx.global);
  const say = sayer(ctx, logger.child({ component: "reload" }));
  const socket = controlSocketPath(ctx.global.env, spec.name);
  let answer: { status: number; json: unknown };
  try {
    answer = await callDaemon(socket, "POST", "/reload", { config: spec.source });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined && NO_LISTENER.has(code)) return signalDaemon(ctx, say, spec.name, spec.source);
    if (code === "EACCES") throw new PodwardenError("E_USAGE", `${socket}: permission denied (the control socket is root's: use sudo)`);
    throw err;
  }
  if (answer.status === 404) return signalDaemon(ctx, say, spec.name, spec.source);
  // A refused file (it changed since it was checked here, or names another config) is the daemon's error and exit code.
  const r = answerOf<ReloadResult>(answer);
  if (ctx.options.json) printJson(ctx, { ok: true, pod: spec.name, via: "control socket", ...r });
  else {
    const what = r.changed.length > 0 || r.podChanged ? `recreating ${[...(r.podChanged ? ["the pod"] : []), ...r.changed].join(", ")}` : "nothing changed";
    say.info({ pod: spec.name, config: spec.source, changed: r.changed, podChanged: r.podChanged }, `the daemon of pod ${spec.name} reloaded ${spec.source}: ${what}`);
  }
  return EXIT.ok;
};
