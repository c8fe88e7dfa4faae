// The command table the CLI dispatches on.

import type { Writable } from "node:stream";
import type { GlobalOptions } from "../main.js";
import { down } from "./down.js";
import { images } from "./images.js";
import { run } from "./run.js";
import { up } from "./up.js";
import { validate } from "./validate.js";

export interface CommandContext {
  readonly global: GlobalOptions;
  readonly args: readonly string[];
  readonly json: boolean;
  readonly timeout: string | undefined;
  readonly version: string;
  readonly out: Writable;
  readonly err: Writable;
}

export interface Command {
  readonly summary: string;
  run(ctx: CommandContext): Promise<number>;
}

export const COMMANDS: Readonly<Record<string, Command>> = {
  run: { summary: "run the supervisor in the foreground (what the systemd unit starts)", run },
  up: { summary: "bring the pod up in dependency order; exit 0 once every container is ready", run: up },
  down: { summary: "stop the containers in reverse order and remove the pod (data stays)", run: down },
  validate: { summary: "check the config and env file; exit 0, or 78 naming every problem", run: validate },
  images: { summary: "pull or build every image the pod needs that is missing, with progress", run: images },
};
