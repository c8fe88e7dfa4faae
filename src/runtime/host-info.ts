// What the Podman host is: its API version (from /_ping's headers) and its runtime,
// network and storage facts (GET /libpod/info, mapped purely).

import { request } from "node:http";
import type { HostInfo } from "./port.js";

export interface InfoJson {
  host?: {
    ociRuntime?: { name?: string; version?: string };
    networkBackend?: string;
    cgroupVersion?: string;
    cgroupManager?: string;
    security?: { rootless?: boolean };
  };
  store?: { graphRoot?: string; graphDriverName?: string };
  version?: { Version?: string };
}

/** GET /libpod/info -> HostInfo (Podman 4 field names; anything absent reads "unknown"). */
export const mapInfo = (j: InfoJson): HostInfo => ({
  version: j.version?.Version ?? "unknown",
  ociRuntime: {
    name: j.host?.ociRuntime?.name ?? "unknown",
    // "runc version 1.1.5+ds1\ncommit: ..." -> "1.1.5+ds1"
    version: (j.host?.ociRuntime?.version ?? "").split("\n")[0]?.replace(/^.*\bversion\s+/, "").trim() || "unknown",
  },
  networkBackend: j.host?.networkBackend ?? "unknown",
  cgroupVersion: j.host?.cgroupVersion ?? "unknown",
  cgroupManager: j.host?.cgroupManager ?? "unknown",
  rootless: j.host?.security?.rootless === true,
  graphRoot: j.store?.graphRoot ?? "unknown",
  graphDriver: j.store?.graphDriverName ?? "unknown",
});

/**
 * The Podman version from GET /_ping's headers. Not /version: Podman gathers host details
 * for it (0.4-0.6 s per call here), which `up`, `down`, `images` and `logs` paid before
 * doing anything.
 */
export const pingVersion = (socketPath: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const req = request({ socketPath, path: "/_ping", method: "GET", timeout: 30_000 }, (res) => {
      res.resume();
      if (res.statusCode !== 200) return reject(Object.assign(new Error(`HTTP ${res.statusCode ?? "?"}`), { statusCode: res.statusCode }));
      const header = res.headers["libpod-api-version"] ?? res.headers.server;
      resolve(typeof header === "string" ? header.replace(/^Libpod\/(\S+).*$/, "$1") : "unknown");
    });
    req.on("timeout", () => req.destroy(new Error("no answer from /_ping within 30 s")));
    req.on("error", reject);
    req.end();
  });
