// `podwarden install` and `uninstall`: their declarations (see options.ts); install.ts is loaded only to run them.

import { declareCommand, SHARED } from "./options.js";

const prefix = { type: "string", arg: "DIR", help: "where podwarden goes (default /opt/podwarden)" } as const;
const dryRun = { type: "boolean", help: "print every step, change nothing" } as const;
const root = { type: "string", arg: "DIR", help: "write under DIR instead of / (tests, packaging); no systemctl" } as const;

export const INSTALL = declareCommand({
  name: "install",
  summary: "install podwarden as the opencode-memory-pod service (as root; again to upgrade); --dry-run shows every step",
  options: {
    local: { type: "boolean", help: "the config extends config/local.yaml (images built here, no registry)" },
    prefix,
    "no-start": { type: "boolean", help: "enable the service but do not start it" },
    "dry-run": dryRun,
    json: SHARED.json,
    root,
  },
  exits: ["config"],
});

export const UNINSTALL = declareCommand({
  name: "uninstall",
  summary: "stop and remove the service and /opt/podwarden; keeps the config, the env file and all data",
  options: { prefix, "dry-run": dryRun, json: SHARED.json, root },
  exits: [],
});
