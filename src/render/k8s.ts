// PURE: the pieces both renderers share: a ContainerSpec as a Kubernetes container
// (probes, env, ports) and YAML output that is byte-identical for the same input.

import { stringify } from "yaml";
import type { ContainerSpec, ProbeSpec } from "../domain/spec.js";

export type K8sObject = Record<string, unknown>;

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * An http probe with basic auth cannot be an httpGet probe: httpGet headers are literal
 * values, so the password would land in the manifest. It becomes an exec probe instead:
 * the shell builtin printf feeds the credentials to curl as a config on stdin, so they
 * are neither in the manifest nor in any process's argv. `$VAR`, never `${VAR}`: Flux
 * substitutes `${...}` in manifests, scripts included.
 */
const basicAuthProbeScript = (port: number, path: string, userKey: string | undefined, defaultUser: string, passwordKey: string): string =>
  [
    userKey ? `u=$${userKey}; [ -n "$u" ] || u=${defaultUser}` : `u=${defaultUser}`,
    `printf 'user = "%s:%s"\\n' "$u" "$${passwordKey}" | curl -fsS -o /dev/null --max-time 5 -K - http://127.0.0.1:${port}${path}`,
  ].join("; ");

const probeHandler = (probe: ProbeSpec): K8sObject => {
  switch (probe.kind) {
    case "redis":
    case "tcp":
      // A RESP PING with the password would need redis-cli in the image; an open port is what kubelet can check everywhere.
      return { tcpSocket: { port: probe.port } };
    case "http":
      if (probe.auth) {
        return { exec: { command: ["sh", "-c", basicAuthProbeScript(probe.port, probe.path, probe.auth.usernameKey, probe.auth.defaultUsername, probe.auth.passwordKey)] } };
      }
      return { httpGet: { path: probe.path, port: probe.port } };
    case "exec":
      return { exec: { command: [...probe.command] } };
  }
};

/** startupProbe covers the start period at the fast cadence; liveness and readiness use the steady one. */
export const probes = (probe: ProbeSpec | undefined): K8sObject => {
  if (!probe) return {};
  const handler = probeHandler(probe);
  const timeoutSeconds = seconds(probe.timeoutMs);
  const startPeriod = seconds(probe.startIntervalMs);
  return {
    startupProbe: { ...handler, periodSeconds: startPeriod, timeoutSeconds, failureThreshold: Math.max(1, Math.ceil(probe.startPeriodMs / 1000 / startPeriod)) },
    livenessProbe: { ...handler, periodSeconds: seconds(probe.intervalMs), timeoutSeconds, failureThreshold: probe.retries },
    readinessProbe: { ...handler, periodSeconds: seconds(probe.intervalMs), timeoutSeconds, failureThreshold: probe.retries },
  };
};

/**
 * Plain env as values (sorted by name); secret env only as references to `secretName`, never
 * values: the whole Secret for "all" (`secretEnv: all`), else one reference per key.
 */
export const envOf = (c: ContainerSpec, secretName: string, keys: readonly string[] | "all"): K8sObject => {
  const env: K8sObject[] = Object.keys(c.env)
    .sort()
    .map((name) => ({ name, value: c.env[name] }));
  if (keys === "all") {
    return { ...(env.length ? { env } : {}), envFrom: [{ secretRef: { name: secretName } }] };
  }
  for (const key of [...keys].sort()) env.push({ name: key, valueFrom: { secretKeyRef: { name: secretName, key } } });
  return env.length ? { env } : {};
};

/**
 * The image's entrypoint is Kubernetes' `command`; our `command` is its `args`. A `command`
 * without `args` already drops the image's CMD, so an empty list is left out.
 */
export const commandOf = (c: ContainerSpec): K8sObject => ({
  ...(c.entrypoint ? { command: [...c.entrypoint] } : {}),
  ...(c.command && c.command.length > 0 ? { args: [...c.command] } : {}),
});

const NUMERIC_USER = /^(\d+)(?::(\d+))?$/;
export const securityOf = (c: ContainerSpec): K8sObject => {
  const m = c.user ? NUMERIC_USER.exec(c.user) : null;
  if (!m) return {};
  return { securityContext: { runAsUser: Number(m[1]), ...(m[2] ? { runAsGroup: Number(m[2]) } : {}) } };
};

/** A DNS-1123 label from a path or name. */
export const dnsLabel = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63) || "x";

/**
 * A one-replica Deployment with the Recreate strategy: the pod's volumes are ReadWriteOnce,
 * so the old pod must let go of them before the new one starts.
 */
export const recreateDeployment = (o: {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly podSpec: K8sObject;
}): K8sObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: o.name, labels: o.labels, ...(o.annotations ? { annotations: o.annotations } : {}) },
  spec: {
    replicas: 1,
    strategy: { type: "Recreate" },
    selector: { matchLabels: { "app.kubernetes.io/name": o.name } },
    template: { metadata: { labels: o.labels }, spec: o.podSpec },
  },
});

/** The fields every rendered container starts with: name, image (never pulled when present), command, working directory. */
export const containerHead = (c: ContainerSpec): K8sObject => ({
  name: dnsLabel(c.name),
  image: c.image,
  // Local images (localhost/...) must not be pulled.
  imagePullPolicy: "IfNotPresent",
  ...commandOf(c),
  ...(c.workdir ? { workingDir: c.workdir } : {}),
});

/** One YAML document per object, `---` between, optional `# ...` comment lines before each. */
export const toYaml = (docs: readonly { readonly obj: K8sObject; readonly comments?: readonly string[] }[]): string =>
  docs
    .map(({ obj, comments }) => `${(comments ?? []).map((l) => (l ? `# ${l}\n` : "#\n")).join("")}${stringify(obj, { lineWidth: 0, indent: 2, aliasDuplicateObjects: false })}`)
    .join("---\n");
