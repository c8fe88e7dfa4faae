// .ci/setup-host.sh is how a fresh machine gets Podman: with --no-install-recommends nothing
// arrives unless it is named, so the list must name every prerequisite (catatonit above all:
// only a Recommends of podman, and without it the first pod fails).

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SCRIPT = fileURLToPath(new URL("../../../.ci/setup-host.sh", import.meta.url));

/** The base package list: the words of the `packages=(...)` assignment. */
const basePackages = (script: string): string[] => {
  const m = /^packages=\(([^)]*)\)$/m.exec(script);
  if (!m) throw new Error("no packages=(...) line in .ci/setup-host.sh");
  return m[1]!.trim().split(/\s+/);
};

describe(".ci/setup-host.sh", () => {
  it("names everything Podman needs here, and the tools podwarden uses", async () => {
    const packages = basePackages(await readFile(SCRIPT, "utf8"));
    for (const p of ["podman", "runc", "conmon", "catatonit", "containernetworking-plugins", "iptables", "uidmap", "debootstrap", "curl", "ca-certificates"]) {
      expect(packages, p).toContain(p);
    }
    expect(new Set(packages).size).toBe(packages.length);
    // crun cannot run on cgroups v1/hybrid hosts: runc is the runtime.
    expect(packages).not.toContain("crun");
  });

  it("--test brings kubectl (the render tests run `kubectl kustomize`): Debian's kubernetes-client when no kubectl is there", async () => {
    const script = await readFile(SCRIPT, "utf8");
    expect(script).toMatch(/^\$with_tests && ! command -v kubectl >\/dev\/null 2>&1 && packages\+=\(kubernetes-client\)$/m);
  });

  it("installs exactly that list without Recommends, and only what is missing", async () => {
    const script = await readFile(SCRIPT, "utf8");
    const installs = script.split("\n").filter((l) => /apt-get install/.test(l) && !l.trim().startsWith("#"));
    expect(installs).toHaveLength(1);
    expect(installs[0]).toContain("--no-install-recommends");
    expect(installs[0]).toContain('"${missing[@]}"');
    expect(script).toMatch(/for pkg in "\$\{packages\[@\]\}"; do/);
  });
});

describe(".ci/setup-host.sh --test", () => {
  it("installs Debian's prometheus package: the scraper of the e2e tests and /usr/bin/promtool of the rule tests", async () => {
    const script = await readFile(SCRIPT, "utf8");
    const m = /^\$with_tests && packages\+=\(([^)]*)\)$/m.exec(script);
    expect(m?.[1]?.trim().split(/\s+/)).toContain("prometheus");
  });
});
