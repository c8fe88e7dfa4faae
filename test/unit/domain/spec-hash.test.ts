// The spec hash decides which containers are recreated: equal requests must hash equally however
// their keys are ordered, any change Podman would apply differently must change it, and what is
// podwarden's alone (probe timings, dependencies, restart backoff) must not recreate anything.

import { describe, expect, it } from "vitest";
import { containerCreateRequest, podCreateRequest, type ContainerCreateRequest } from "../../../src/domain/create-request.js";
import { canonicalJson, specHash } from "../../../src/domain/spec-hash.js";
import type { ContainerSpec } from "../../../src/domain/spec.js";
import { mulberry32 } from "../../support/prng.js";
import { chainSpec, container, probe } from "../../support/pod-spec.js";

const base: ContainerCreateRequest = {
  name: "testpod-db",
  pod: "testpod",
  image: "localhost/db:1",
  command: ["db", "--port", "5432"],
  env: { A: "1", B: "2" },
  secretFile: { secret: "testpod--db--0123456789abcdef", keys: ["DB_PASSWORD"] },
  mounts: [{ source: "/persist/db", target: "/data", readOnly: false, optional: false, create: true }],
  labels: { "io.podwarden.managed": "true", "io.podwarden.container": "db" },
  stopTimeoutS: 10,
  workdir: "/srv",
  user: "999",
  healthcheck: { command: ["pg_isready"], timeoutMs: 1_000 },
};

/** `value` rebuilt with every object's keys in a random order (arrays keep theirs). */
const shuffled = (value: unknown, random: () => number): unknown => {
  if (Array.isArray(value)) return value.map((v) => shuffled(v, random));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value).map(([k, v]) => [k, shuffled(v, random)] as const);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  return Object.fromEntries(entries);
};

describe("canonicalJson", () => {
  it("sorts object keys at every depth and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null } })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
  });
});

describe("specHash", () => {
  it("is 16 hex digits, and the same for the same request whatever the order of its keys", () => {
    const h = specHash(base);
    expect(h).toMatch(/^[0-9a-f]{16}$/);
    const random = mulberry32(16);
    for (let i = 0; i < 50; i++) expect(specHash(shuffled(base, random) as ContainerCreateRequest)).toBe(h);
  });

  it("changes with any field Podman would create differently", () => {
    const changes: Record<string, Partial<ContainerCreateRequest>> = {
      image: { image: "localhost/db:2" },
      command: { command: ["db", "--port", "5433"] },
      "command order": { command: ["--port", "5432", "db"] },
      entrypoint: { entrypoint: ["/init"] },
      "env value": { env: { A: "1", B: "3" } },
      "env key": { env: { A: "1", B: "2", C: "" } },
      "secret name (new values)": { secretFile: { secret: "testpod--db--fedcba9876543210", keys: ["DB_PASSWORD"] } },
      "secret keys": { secretFile: { secret: "testpod--db--0123456789abcdef", keys: ["DB_PASSWORD", "DB_USER"] } },
      "no secret": { secretFile: undefined },
      "mount target": { mounts: [{ ...base.mounts[0]!, target: "/var/data" }] },
      "mount read-only": { mounts: [{ ...base.mounts[0]!, readOnly: true }] },
      "mount added": { mounts: [...base.mounts, { source: "/persist/x", target: "/x", readOnly: true, optional: true, create: false }] },
      label: { labels: { ...base.labels, extra: "1" } },
      "stop timeout": { stopTimeoutS: 30 },
      workdir: { workdir: "/" },
      user: { user: "1000" },
      "health check": { healthcheck: { command: ["pg_isready", "-q"], timeoutMs: 1_000 } },
      "health check timeout": { healthcheck: { command: ["pg_isready"], timeoutMs: 2_000 } },
      "pod name": { pod: "otherpod", name: "otherpod-db" },
    };
    const hashes = Object.entries(changes).map(([what, change]) => [what, specHash({ ...base, ...change })] as const);
    for (const [what, h] of hashes) expect(h, what).not.toBe(specHash(base));
    expect(new Set(hashes.map(([, h]) => h)).size).toBe(hashes.length);
  });

  it("an optional field left out or set to undefined hashes the same", () => {
    const withoutUser: ContainerCreateRequest = Object.fromEntries(Object.entries(base).filter(([k]) => k !== "user")) as never;
    expect(withoutUser).not.toHaveProperty("user");
    expect(specHash(withoutUser)).toBe(specHash({ ...withoutUser, user: undefined }));
  });

  it("ignores what only podwarden uses: probe timings and kind, dependencies, restart backoff", () => {
    const c = container("db", [], { probe: probe(5432) });
    const spec = chainSpec({ containers: [container("cache"), c] });
    const hashOf = (x: ContainerSpec, s = spec) => specHash(containerCreateRequest(s, x));
    const same: ContainerSpec[] = [
      { ...c, probe: probe(5432, { intervalMs: 1, retries: 9, startPeriodMs: 1, startIntervalMs: 1, timeoutMs: 1 }) },
      { ...c, probe: { ...probe(5432), kind: "redis", port: 5432 } },
      { ...c, probe: undefined },
      { ...c, dependsOn: [{ name: "cache", restart: true, soft: true }] },
      { ...c, update: { policy: "registry", windowMs: 60_000 } },
    ];
    for (const x of same) expect(hashOf(x)).toBe(hashOf(c));
    expect(hashOf(c, { ...spec, restart: { initialDelayMs: 5, maxDelayMs: 10, resetAfterMs: 1 } })).toBe(hashOf(c));
  });

  it("the pod's hash changes with its ports and DNS, not with its containers", () => {
    const spec = chainSpec({ ports: [{ host: 8080, container: 80, protocol: "tcp" }] });
    const h = specHash(podCreateRequest(spec));
    expect(specHash(podCreateRequest({ ...spec, ports: [{ host: 8081, container: 80, protocol: "tcp" }] }))).not.toBe(h);
    expect(specHash(podCreateRequest({ ...spec, dns: ["10.0.0.53"] }))).not.toBe(h);
    expect(specHash(podCreateRequest({ ...spec, containers: spec.containers.slice(1) }))).toBe(h);
  });
});
