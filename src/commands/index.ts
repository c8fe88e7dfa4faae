// The command table the CLI dispatches on: each command's declaration (light, for --help and
// the option check) and its implementation, imported only when the command runs, so `--help`
// and quick commands do not pay for dockerode and fastify (and a bundle keeps one chunk each).
// Commands import context.ts, never this file.

import type { CommandContext, CommandFn } from "./context.js";
import { readOptions, type CommandDecl, type OptionTable, type OptionsOf } from "./options.js";
import { AUTH, BACKUP, DOCTOR, DOWN, IMAGES, INSTALL, LOGS, RELOAD, RENDER, RESTART_DAEMON, RESTORE, RUN, STATUS, UNINSTALL, UP, UPDATE, VALIDATE } from "./declarations.js";

/** A context without the command's options: the CLI builds this much, `run` adds the rest. */
export type BaseContext = Omit<CommandContext, "options">;

export interface Command extends CommandDecl {
  /** Loads the implementation and runs it with its declared options read from the parse. */
  run(ctx: BaseContext, values: Readonly<Record<string, unknown>>): Promise<number>;
}

/** Ties a declaration to its implementation; the types make them agree on the options. */
const command = <O extends OptionTable>(decl: CommandDecl<O>, load: () => Promise<CommandFn<OptionsOf<O>>>): Command => ({
  ...decl,
  run: async (ctx, values) => (await load())({ ...ctx, options: readOptions(decl.options, values) }),
});

const TABLE: readonly Command[] = [
  command(RUN, async () => (await import("./run.js")).run),
  command(UP, async () => (await import("./up.js")).up),
  command(DOWN, async () => (await import("./down.js")).down),
  command(DOCTOR, async () => (await import("./doctor.js")).doctor),
  command(VALIDATE, async () => (await import("./validate.js")).validate),
  command(STATUS, async () => (await import("./status.js")).status),
  command(LOGS, async () => (await import("./logs.js")).logs),
  command(RELOAD, async () => (await import("./reload.js")).reload),
  command(AUTH, async () => (await import("./auth.js")).auth),
  command(RENDER, async () => (await import("./render.js")).render),
  command(BACKUP, async () => (await import("./backup.js")).backup),
  command(RESTORE, async () => (await import("./restore.js")).restore),
  command(UPDATE, async () => (await import("./update.js")).update),
  command(RESTART_DAEMON, async () => (await import("./restart-daemon.js")).restartDaemon),
  command(INSTALL, async () => (await import("./install.js")).install),
  command(UNINSTALL, async () => (await import("./install.js")).uninstall),
  command(IMAGES, async () => (await import("./images.js")).images),
];

export const COMMANDS: Readonly<Record<string, Command>> = Object.fromEntries(TABLE.map((c) => [c.name, c]));
export const DECLARATIONS: readonly CommandDecl[] = TABLE;
