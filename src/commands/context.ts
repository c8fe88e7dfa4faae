// What a command receives: the options every command shares (config, socket, logging), its
// arguments, its own options (typed by its declaration, see options.ts), and where to write.
// Commands import this module, never index.ts (which loads the commands).

import type { Writable } from "node:stream";
import type { GlobalOptions } from "../daemon/options.js";

export interface CommandContext<O extends object = object> {
  readonly global: GlobalOptions;
  /** The words after the command's name (`render flux` -> ["flux"]). */
  readonly args: readonly string[];
  /** This command's options, and no other command's: see `OptionsOf` in options.ts. */
  readonly options: O;
  readonly version: string;
  readonly out: Writable;
  readonly err: Writable;
}

/** A command's implementation: the exit code, or a thrown PodwardenError carrying one. */
export type CommandFn<O extends object> = (ctx: CommandContext<O>) => Promise<number>;
