import { describe, expect, it } from "vitest";
import { mapInfo } from "../../../src/runtime/host-info.js";

describe("mapInfo", () => {
  it("reads GET /libpod/info as Podman 4.3 answers it here", () => {
    // Trimmed from this host's answer (rootful Podman 4.3.1, Debian 12).
    const info = mapInfo({
      host: {
        ociRuntime: { name: "runc", version: "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4" },
        networkBackend: "cni",
        cgroupVersion: "v1",
        cgroupManager: "cgroupfs",
        security: { rootless: false },
      },
      store: { graphRoot: "/var/lib/containers/storage", graphDriverName: "overlay" },
      version: { Version: "4.3.1" },
    });
    expect(info).toEqual({
      version: "4.3.1",
      ociRuntime: { name: "runc", version: "1.1.5+ds1" },
      networkBackend: "cni",
      cgroupVersion: "v1",
      cgroupManager: "cgroupfs",
      rootless: false,
      graphRoot: "/var/lib/containers/storage",
      graphDriver: "overlay",
    });
  });

  it("says unknown for what is missing", () => {
    expect(mapInfo({})).toMatchObject({ version: "unknown", ociRuntime: { name: "unknown", version: "unknown" }, networkBackend: "unknown" });
  });
});
