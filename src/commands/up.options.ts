// `podwarden up`: its declaration (see options.ts); up.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const UP = declareCommand({
  name: "up",
  summary: "bring the pod up in dependency order; exit 0 once every container is ready",
  options: {
    config: SHARED.config,
    socket: SHARED.socket,
    timeout: { ...SHARED.timeout, help: "give up after DUR (e.g. 90s, 15m; default 15m)" },
    json: SHARED.json,
  },
  exits: ["podman", "host", "locked", "config"],
});
