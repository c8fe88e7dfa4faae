import { describe, expect, it } from "vitest";
import { desiredChanges, renderDesired } from "../../../src/domain/desired.js";
import { specHash } from "../../../src/domain/spec-hash.js";
import { LABELS, type PodSpec } from "../../../src/domain/spec.js";
import { chainSpec, container } from "../../support/pod-spec.js";

const KEY = new Uint8Array(32).fill(3);
const noSecrets = new Map<string, string>();
const withEnv = (spec: PodSpec, name: string, env: Record<string, string>): PodSpec => ({
  ...spec,
  containers: spec.containers.map((c) => (c.name === name ? { ...c, env } : c)),
});

describe("renderDesired", () => {
  it("labels every request with the hash of the request without that label, and the pod too", () => {
    const d = renderDesired(chainSpec(), noSecrets, new Map(), KEY);
    expect([...d.containers.keys()]).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    for (const [name, c] of d.containers) {
      const { [LABELS.specHash]: hash, ...rest } = c.request.labels;
      expect(hash).toBe(specHash({ ...c.request, labels: rest }));
      expect(d.hashes.get(name)).toBe(hash);
    }
    const { [LABELS.specHash]: podHash, ...podRest } = d.pod.labels;
    expect(podHash).toBe(specHash({ ...d.pod, labels: podRest }));
    expect(d.podHash).toBe(podHash);
  });

  it("is deterministic, and a changed container changes its own hash only", () => {
    const a = renderDesired(chainSpec(), noSecrets, new Map(), KEY);
    expect(renderDesired(chainSpec(), noSecrets, new Map(), KEY).hashes).toEqual(a.hashes);
    const b = renderDesired(withEnv(chainSpec(), "datadog", { DD_SITE: "datadoghq.eu" }), noSecrets, new Map(), KEY);
    expect(desiredChanges(a, b)).toEqual({ changed: ["datadog"], podChanged: false });
  });

  it("names added and removed containers as changed, and a changed port as a changed pod", () => {
    const a = renderDesired(chainSpec(), noSecrets, new Map(), KEY);
    const fewer = chainSpec({ containers: [container("valkey"), container("extra", ["valkey"])], ports: [{ host: 16379, container: 6379, protocol: "tcp" }] });
    expect(desiredChanges(a, renderDesired(fewer, noSecrets, new Map(), KEY))).toEqual({ changed: ["falkordb", "datadog", "opencode", "extra"], podChanged: true });
  });

  it("runs a pinned image while the spec still names the pinned reference, and drops the pin once it does not", () => {
    const spec = chainSpec();
    const pins = new Map([["valkey", { ref: "localhost/valkey:test", image: "sha256:abc" }]]);
    const pinned = renderDesired(spec, noSecrets, pins, KEY);
    expect(pinned.containers.get("valkey")!.request.image).toBe("sha256:abc");
    expect(pinned.hashes.get("valkey")).not.toBe(renderDesired(spec, noSecrets, new Map(), KEY).hashes.get("valkey"));
    const moved = { ...spec, containers: spec.containers.map((c) => (c.name === "valkey" ? { ...c, image: "localhost/valkey:next" } : c)) };
    expect(renderDesired(moved, noSecrets, pins, KEY).containers.get("valkey")!.request.image).toBe("localhost/valkey:next");
  });

  it("gives a container its secret file only for the keys it receives, named by a keyed hash of the content", () => {
    const spec = chainSpec({ containers: [container("a", [], { secretEnv: ["TOKEN"] }), container("b")] });
    const secrets = new Map([["TOKEN", "s3cret"], ["OTHER", "x"]]);
    const d = renderDesired(spec, secrets, new Map(), KEY);
    const [name, content] = d.containers.get("a")!.secret!;
    expect(content).toBe("export TOKEN='s3cret'\n");
    expect(name.startsWith("testpod--")).toBe(true);
    expect(name).not.toContain("s3cret");
    expect(d.containers.get("a")!.request.secretFile).toEqual({ secret: name, keys: ["TOKEN"] });
    expect(d.containers.get("b")!.secret).toBeUndefined();
    expect(d.secretNames).toEqual(new Set([name]));
    // A new value: a new name, so a new hash (the container is recreated with it).
    const next = renderDesired(spec, new Map([["TOKEN", "other"]]), new Map(), KEY);
    expect(next.containers.get("a")!.secret![0]).not.toBe(name);
    expect(desiredChanges(d, next).changed).toEqual(["a"]);
    // Another naming key: other names, while the same key keeps them.
    expect(renderDesired(spec, secrets, new Map(), new Uint8Array(32).fill(4)).containers.get("a")!.secret![0]).not.toBe(name);
    expect(renderDesired(spec, secrets, new Map(), KEY).containers.get("a")!.secret![0]).toBe(name);
  });
});
