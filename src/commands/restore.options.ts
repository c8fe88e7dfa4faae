// `podwarden restore`: its declaration (see options.ts); restore.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const RESTORE = declareCommand({
  name: "restore",
  summary: "restore ARCHIVE: verify it, stop the affected containers, swap their data, start in order, wait until ready",
  usage: "ARCHIVE",
  options: { config: SHARED.config, json: SHARED.json },
  exits: ["daemon", "busy", "config"],
});
