// `podwarden backup`: its declaration (see options.ts); backup.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const BACKUP = declareCommand({
  name: "backup",
  summary: "backup now | backup list: have the daemon write a consistent archive of every persisted directory, or list them",
  usage: "now | list",
  options: { config: SHARED.config, json: SHARED.json },
  exits: ["daemon", "busy", "config"],
});
