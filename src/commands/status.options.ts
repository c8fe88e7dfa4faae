// `podwarden status`: its declaration (see options.ts); status.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const STATUS = declareCommand({
  name: "status",
  summary: "show the running daemon's view of the pod (table, or --json); exit 0 when ready",
  options: {
    config: { ...SHARED.config, help: "read the daemon's address from this config's http section" },
    url: { type: "string", arg: "URL", help: "the daemon's address (default http://127.0.0.1:9090, or the config's http section with --config)" },
    json: SHARED.json,
  },
  exits: ["daemon", "config"],
});
