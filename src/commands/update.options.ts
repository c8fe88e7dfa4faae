// `podwarden update`: its declaration (see options.ts); update.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const UPDATE = declareCommand({
  name: "update",
  summary: "update [--check] [CONTAINER]: move to new images (pull or rebuild), rolling back any that does not stay ready",
  usage: "[CONTAINER]",
  options: {
    config: SHARED.config,
    check: { type: "boolean", help: "only say which containers have a new image" },
    json: SHARED.json,
  },
  exits: ["daemon", "busy", "config"],
});
