// `podwarden down`: its declaration (see options.ts); down.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const DOWN = declareCommand({
  name: "down",
  summary: "stop the containers in reverse order and remove the pod (data stays)",
  options: {
    config: SHARED.config,
    socket: SHARED.socket,
    timeout: { ...SHARED.timeout, help: "give up after DUR (e.g. 90s, 15m; default 5m)" },
    json: SHARED.json,
  },
  exits: ["podman", "host", "locked", "config"],
});
