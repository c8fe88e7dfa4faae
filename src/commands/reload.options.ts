// `podwarden reload`: its declaration (see options.ts); reload.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const RELOAD = declareCommand({
  name: "reload",
  summary: "check the config, then have the running daemon apply it (SIGHUP)",
  options: { config: SHARED.config, json: SHARED.json },
  exits: ["daemon", "busy", "config"],
});
