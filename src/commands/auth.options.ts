// `podwarden auth`: its declaration (see options.ts); auth.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const AUTH = declareCommand({
  name: "auth",
  summary: "auth import: copy a provider's login (Copilot) into the pod's persisted auth.json, or to Doppler",
  usage: "import",
  options: {
    config: SHARED.config,
    json: SHARED.json,
    from: { type: "string", arg: "FILE", help: "the auth.json to copy from (default ~/.local/share/opencode/auth.json)" },
    provider: { type: "string", arg: "NAME", help: "the provider entry (default github-copilot)" },
    "doppler-secret": { type: "string", arg: "NAME", help: "push the entry to this Doppler secret instead (value on stdin)" },
    "doppler-project": { type: "string", arg: "P", help: "with --doppler-secret: the Doppler project" },
    "doppler-config": { type: "string", arg: "C", help: "with --doppler-secret: the Doppler config" },
  },
  exits: ["config"],
});
