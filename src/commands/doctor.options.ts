// `podwarden doctor`: its declaration (see options.ts); doctor.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const DOCTOR = declareCommand({
  name: "doctor",
  summary: "check the host (Podman, runtime, env file, persistRoot, ports, images): one line per check with the fix",
  options: { config: SHARED.config, socket: SHARED.socket, json: SHARED.json },
  exits: ["podman", "host", "config"],
});
