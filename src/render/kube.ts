// PURE: the pod spec as Kubernetes YAML: one Deployment (1 replica, Recreate: the data
// volumes are ReadWriteOnce) and a PersistentVolumeClaim per persisted directory. Secrets
// are references to one Secret (`<pod>-env`), never values. `podman kube play` runs it
// as is; a cluster accepts it. Same spec in, same bytes out.

import path from "node:path/posix";
import { secretKeysFor, unmatchedGlobs } from "../domain/secret-env.js";
import type { ContainerSpec, MountSpec, PodSpec } from "../domain/spec.js";
import { containerHead, dnsLabel, envOf, probes, recreateDeployment, securityOf, toYaml, type K8sObject } from "./k8s.js";

export interface KubeOptions {
  /** PVC size for each persisted directory. */
  readonly storage?: string;
  /** Storage class of the PVCs; absent = the cluster's (or Podman's) default. */
  readonly storageClass?: string;
  /** The env file's key NAMES (never values): what the containers' secretEnv globs match. */
  readonly envKeys?: readonly string[];
}

export const secretNameOf = (spec: PodSpec): string => `${dnsLabel(spec.name)}-env`;
export const claimNameOf = (spec: PodSpec, m: MountSpec): string => dnsLabel(`${spec.name}-${path.basename(m.source)}`);

export function renderKube(spec: PodSpec, opts: KubeOptions = {}): string {
  const name = dnsLabel(spec.name);
  const labels = { "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "podwarden" };
  const secretName = secretNameOf(spec);
  const notes: string[] = [];

  // Each pod port on the container whose probe dials it, the rest on the first container
  // (a pod has one network namespace: containerPort is documentation). No hostPort: a
  // Service (or `podman kube play --publish`) exposes them.
  const ports = new Map<string, K8sObject[]>();
  const app = spec.containers.filter((c) => !c.init);
  for (const p of spec.ports) {
    const owner = app.find((c) => c.probe && "port" in c.probe && c.probe.port === p.container) ?? app[0];
    if (!owner) continue;
    const list = ports.get(owner.name) ?? [];
    list.push({ name: dnsLabel(`p${p.container}`).slice(0, 15), containerPort: p.container, protocol: p.protocol.toUpperCase() });
    ports.set(owner.name, list);
  }

  const claims: MountSpec[] = [];
  const volumes = new Map<string, K8sObject>();
  const mountsOf = (c: ContainerSpec): K8sObject[] => {
    const out: K8sObject[] = [];
    for (const m of c.mounts) {
      if (!m.create) {
        notes.push(
          m.optional
            ? `${c.name}: optional host mount ${m.source} -> ${m.target} left out (host content; ship it as a ConfigMap or in the image)`
            : `${c.name}: host mount ${m.source} -> ${m.target} left out (a host path does not belong in a portable manifest)`,
        );
        continue;
      }
      const claim = claimNameOf(spec, m);
      if (!volumes.has(claim)) {
        claims.push(m);
        volumes.set(claim, { name: claim, persistentVolumeClaim: { claimName: claim } });
      }
      out.push({ name: claim, mountPath: m.target, ...(m.readOnly ? { readOnly: true } : {}) });
    }
    return out;
  };

  const envKeys = opts.envKeys ?? [];
  const secretKeys = (c: ContainerSpec): readonly string[] | "all" => {
    if (c.secretEnv === "all") return "all";
    for (const glob of unmatchedGlobs(c.secretEnv, envKeys)) {
      notes.push(`${c.name}: secretEnv ${glob} matches no key of the env file, so nothing is referenced for it`);
    }
    return secretKeysFor(c, envKeys);
  };

  const container = (c: ContainerSpec): K8sObject => {
    const mounts = mountsOf(c);
    return {
      ...containerHead(c),
      ...(ports.get(c.name) ? { ports: ports.get(c.name) } : {}),
      ...envOf(c, secretName, secretKeys(c)),
      ...(mounts.length ? { volumeMounts: mounts } : {}),
      ...(c.init ? {} : probes(c.probe)),
      ...securityOf(c),
    };
  };

  const initContainers = spec.containers.filter((c) => c.init).map(container);
  const containers = app.map(container);
  const grace = Math.max(30, ...spec.containers.map((c) => c.stopTimeoutS));

  const deployment = recreateDeployment({
    name,
    labels,
    podSpec: {
      terminationGracePeriodSeconds: grace,
      ...(spec.dns?.length ? { dnsPolicy: "None", dnsConfig: { nameservers: [...spec.dns] } } : {}),
      ...(initContainers.length ? { initContainers } : {}),
      containers,
      ...(volumes.size ? { volumes: [...volumes.values()] } : {}),
    },
  });

  const pvcs = claims.map((m) => ({
    obj: {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: claimNameOf(spec, m), labels },
      spec: {
        accessModes: ["ReadWriteOnce"],
        ...(opts.storageClass ? { storageClassName: opts.storageClass } : {}),
        resources: { requests: { storage: opts.storage ?? "5Gi" } },
      },
    },
    comments: [`persisted ${m.source} (mounted at ${m.target})`],
  }));

  const header = [
    `Rendered by podwarden from ${path.basename(spec.source)} (pod ${spec.name}). Do not edit; re-render.`,
    `Secret values are not here: create Secret ${secretName} from the env file, e.g.`,
    `  kubectl create secret generic ${secretName} --from-env-file=ENV_FILE`,
    ...notes,
  ];
  const docs = [...pvcs, { obj: deployment, comments: [] as string[] }];
  return toYaml(docs.map((d, i) => (i === 0 ? { obj: d.obj, comments: [...header, "", ...d.comments] } : d)));
}
