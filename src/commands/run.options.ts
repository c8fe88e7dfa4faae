// `podwarden run`: its declaration (see options.ts); run.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const RUN = declareCommand({
  name: "run",
  summary: "run the supervisor in the foreground (what the systemd unit starts)",
  options: { config: SHARED.config, socket: SHARED.socket },
  exits: ["podman", "host", "locked", "config"],
});
