// `podwarden logs`: its declaration (see options.ts); logs.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const LOGS = declareCommand({
  name: "logs",
  summary: "a container's logs: podwarden logs <container> [-f] [--since 10m] [--tail 100]",
  usage: "<container>",
  options: {
    config: SHARED.config,
    socket: SHARED.socket,
    follow: { type: "boolean", short: "f", help: "keep streaming" },
    since: { type: "string", arg: "DUR", help: "only the last DUR (e.g. 10m)" },
    tail: { type: "string", arg: "N", help: "only the last N lines" },
  },
  exits: ["podman", "config"],
});
