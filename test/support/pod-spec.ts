// Hand-built pod specs for unit and integration tests (no files involved).

import type { ContainerSpec, PodSpec, ProbeSpec } from "../../src/domain/spec.js";

export const probe = (port: number, over: Partial<ProbeSpec> = {}): ProbeSpec =>
  ({
    kind: "tcp",
    port,
    intervalMs: 10_000,
    startIntervalMs: 200,
    timeoutMs: 1_000,
    retries: 3,
    startPeriodMs: 60_000,
    ...over,
  }) as ProbeSpec;

export const container = (name: string, deps: string[] = [], over: Partial<ContainerSpec> = {}): ContainerSpec => ({
  name,
  image: `localhost/${name}:test`,
  env: {},
  secretEnv: [],
  mounts: [],
  dependsOn: deps.map((d) => ({ name: d, restart: false, soft: false })),
  probe: probe(1000),
  stopTimeoutS: 10,
  ...over,
});

/** The seed's chain: valkey -> falkordb -> datadog -> opencode. */
export const chainSpec = (over: Partial<PodSpec> = {}): PodSpec => ({
  name: "testpod",
  ports: [],
  envFile: "/dev/null",
  persistRoot: "/nonexistent/persist",
  images: {},
  source: "test",
  restart: { initialDelayMs: 1_000, maxDelayMs: 120_000, resetAfterMs: 600_000 },
  containers: [
    container("valkey"),
    container("falkordb", ["valkey"]),
    container("datadog", ["falkordb"]),
    container("opencode", ["datadog"]),
  ],
  ...over,
});
