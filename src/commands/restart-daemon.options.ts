// `podwarden restart-daemon`: its declaration (see options.ts); restart-daemon.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const RESTART_DAEMON = declareCommand({
  name: "restart-daemon",
  summary: "replace the running daemon without restarting any container (the upgrade path; systemctl restart restarts the pod)",
  options: {
    config: SHARED.config,
    unit: { type: "string", arg: "NAME", help: "the daemon's systemd unit (default opencode-memory-pod.service)" },
    timeout: { ...SHARED.timeout, help: "how long a signalled daemon may take to exit (default 3m)" },
    json: SHARED.json,
  },
  exits: ["daemon", "config"],
});
