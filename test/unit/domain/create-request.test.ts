// What podwarden asks Podman to create for the shipped four-container pod (config/opencode-memory-pod.yaml):
// the pod's ports, and each container's image, command, env, mounts, secrets (by reference only),
// labels, user and stop timeout; and, through the libpod translation, the restart policy.

import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../../src/config/load.js";
import {
  containerCreateRequest,
  podCreateRequest,
  renderSecretFile,
  SECRET_ENV_PATH,
  type ContainerCreateRequest,
} from "../../../src/domain/create-request.js";
import { secretKeysFor } from "../../../src/domain/secret-env.js";
import { secretName } from "../../../src/domain/spec-hash.js";
import type { PodSpec, Secrets } from "../../../src/domain/spec.js";
import { toSpecGenerator } from "../../../src/runtime/podman-runtime.js";
import { fixture, REPO_CONFIG_DIR } from "../config/fixture.js";
import { chainSpec, container, probe } from "../../support/pod-spec.js";

const ENV = "OPENCODE_SERVER_PASSWORD=pw-9f3e\nANTHROPIC_API_KEY=sk-ant-77\nDD_API_KEY=dd-5150\nDD_SITE=datadoghq.eu\n";
const SECRET_VALUES = ["pw-9f3e", "sk-ant-77", "dd-5150", "datadoghq.eu"];
const KEY = new Uint8Array(32).fill(7);

/** The shipped config, its env file pointed at a temp file. */
async function shipped(): Promise<{ spec: PodSpec; secrets: Secrets }> {
  const fx = await fixture(ENV);
  const override = await fx.write("override.yaml", { extends: path.join(REPO_CONFIG_DIR, "opencode-memory-pod.yaml"), pod: { envFile: "secrets.env" } });
  const { spec, secrets } = await loadConfig(override);
  return { spec, secrets };
}

/** Each container's request as the reconciler renders it (keys its secretEnv selects, the keyed secret name). */
const requests = (spec: PodSpec, secrets: Secrets): Map<string, ContainerCreateRequest> =>
  new Map(
    spec.containers.map((c) => {
      const keys = secretKeysFor(c, secrets.keys());
      const secret = keys.length > 0 ? { secret: secretName(KEY, spec.name, c.name, renderSecretFile(keys, secrets)), keys } : undefined;
      return [c.name, containerCreateRequest(spec, c, secret)];
    }),
  );

const datadogLabelsOf = (container: string) => ({
  "com.datadoghq.ad.logs": JSON.stringify([{ source: container, service: container }]),
  "com.datadoghq.tags.service": container,
  "com.datadoghq.tags.env": "opencode-memory-pod",
});

describe("create requests of the shipped pod", () => {
  it("the pod publishes the five ports on the host and carries the ownership labels", async () => {
    const { spec } = await shipped();
    const pod = podCreateRequest(spec);
    expect(pod.name).toBe("opencode-memory-pod");
    expect(pod.labels).toEqual({ "io.podwarden.managed": "true", "io.podwarden.pod": "opencode-memory-pod" });
    expect(pod.ports.map((p) => `${p.host}:${p.container}/${p.protocol}`)).toEqual(["4096:4096/tcp", "6379:6379/tcp", "6380:6380/tcp", "3000:3000/tcp", "8126:8126/tcp"]);
    expect(pod).not.toHaveProperty("dns");
  });

  it("each container: name in the pod, image, labels podwarden and the Datadog Agent read, stop timeout", async () => {
    const { spec, secrets } = await shipped();
    const reqs = requests(spec, secrets);
    expect([...reqs.keys()]).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    for (const [name, r] of reqs) {
      expect(r.name).toBe(`opencode-memory-pod-${name}`);
      expect(r.pod).toBe("opencode-memory-pod");
      expect(r.labels).toEqual({
        "io.podwarden.managed": "true",
        "io.podwarden.pod": "opencode-memory-pod",
        "io.podwarden.container": name,
        ...datadogLabelsOf(name),
      });
      // No user in the shipped config: the image's own; no exec probe: no Podman health check.
      expect(r).not.toHaveProperty("user");
      expect(r).not.toHaveProperty("healthcheck");
    }
    expect(Object.fromEntries([...reqs].map(([n, r]) => [n, [r.image, r.stopTimeoutS]]))).toEqual({
      valkey: ["docker.io/valkey/valkey:7.2", 30],
      falkordb: ["docker.io/falkordb/falkordb:latest", 30],
      datadog: ["docker.io/datadog/agent:latest", 10],
      opencode: ["localhost/opencode-server:latest", 10],
    });
  });

  it("commands and plain env as configured", async () => {
    const { spec, secrets } = await shipped();
    const reqs = requests(spec, secrets);
    expect(reqs.get("valkey")?.command).toEqual(["valkey-server", "--port", "6380", "--maxmemory", "2gb", "--maxmemory-policy", "allkeys-lru", "--save", "60", "1000"]);
    expect(reqs.get("valkey")?.env).toEqual({});
    expect(reqs.get("falkordb")?.env).toEqual({ REDIS_ARGS: "--save 60 100" });
    expect(reqs.get("datadog")?.env).toMatchObject({ DD_LOGS_ENABLED: "true", DD_APM_ENABLED: "true", DOCKER_HOST: "unix:///var/run/docker.sock" });
    expect(reqs.get("opencode")?.env).toEqual({});
  });

  it("mounts: data under persistRoot, read-write; the Podman socket and plugins read-only", async () => {
    const { spec, secrets } = await shipped();
    const reqs = requests(spec, secrets);
    const mounts = (n: string) => reqs.get(n)?.mounts.map((m) => `${m.source} -> ${m.target} ${m.readOnly ? "ro" : "rw"}${m.optional ? " optional" : ""}`);
    expect(mounts("valkey")).toEqual(["/persist/containers/valkey -> /data rw"]);
    expect(mounts("falkordb")).toEqual(["/persist/containers/falkordb -> /var/lib/falkordb/data rw"]);
    expect(mounts("datadog")).toEqual(["/var/run/podman/podman.sock -> /var/run/docker.sock ro"]);
    expect(mounts("opencode")).toEqual([
      "/persist/containers/opencode -> /home/opencode/.local/share/opencode rw",
      "/persist/opencode-plugins/plugin -> /home/opencode/.opencode/plugin ro optional",
      "/persist/opencode-plugins/graphiti -> /home/opencode/.opencode/graphiti ro optional",
    ]);
  });

  it("secrets go by reference: each container gets the keys its patterns select, and no value is anywhere in a request", async () => {
    const { spec, secrets } = await shipped();
    const reqs = requests(spec, secrets);
    expect(Object.fromEntries([...reqs].map(([n, r]) => [n, r.secretFile?.keys ?? null]))).toEqual({
      valkey: null,
      falkordb: null,
      datadog: ["DD_API_KEY", "DD_SITE"],
      // OPENCODE_* and *_API_KEY, but not the Agent's DD_API_KEY.
      opencode: ["ANTHROPIC_API_KEY", "OPENCODE_SERVER_PASSWORD"],
    });
    expect(reqs.get("opencode")?.secretFile?.secret).toMatch(/^opencode-memory-pod--opencode--[0-9a-f]{16}$/);
    const text = JSON.stringify([...reqs.values(), podCreateRequest(spec)]);
    for (const value of SECRET_VALUES) expect(text).not.toContain(value);
  });
});

describe("user, workdir and an exec probe reach the request", () => {
  const spec = chainSpec({
    containers: [container("db", [], { user: "999:999", workdir: "/srv", probe: { ...probe(0), kind: "exec", command: ["pg_isready"], timeoutMs: 1_500 } })],
  });

  it("as fields of their own", () => {
    const r = containerCreateRequest(spec, spec.containers[0]!);
    expect(r).toMatchObject({ user: "999:999", workdir: "/srv", healthcheck: { command: ["pg_isready"], timeoutMs: 1_500 } });
  });
});

describe("the libpod translation (runtime/podman-runtime.ts toSpecGenerator)", () => {
  const spec = chainSpec({ containers: [container("db", [], { user: "999:999", command: ["postgres"] })] });
  const secret = { secret: "testpod--db--0123456789abcdef", keys: ["DB_PASSWORD"] };
  const req = containerCreateRequest(spec, spec.containers[0]!, secret);
  const gen = toSpecGenerator(req, req.mounts, { entrypoint: ["docker-entrypoint.sh"], cmd: ["postgres"] });

  it("asks for no restart policy: podwarden is the only restart authority", () => {
    expect(gen.restart_policy).toBe("no");
  });

  it("mounts the secret file read-only for the container's user and runs the command after sourcing it", () => {
    expect(gen.secrets).toEqual([{ Source: secret.secret, Target: "podwarden.env", Mode: 0o400, UID: 999, GID: 999 }]);
    expect(gen.entrypoint).toEqual(["/bin/sh", "-c", `. ${SECRET_ENV_PATH} && exec "$@"`, "podwarden-env"]);
    expect(gen.command).toEqual(["docker-entrypoint.sh", "postgres"]);
    expect(gen.user).toBe("999:999");
  });
});
