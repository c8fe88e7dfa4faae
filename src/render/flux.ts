// PURE: the Flux GitOps tree for OpenCode workspaces on a cluster (kubernetes/apps/opencode/):
// namespace (prune guard), certificate, the aggregator kustomization and per workspace
// `<ws>/ks.yaml` + `<ws>/app/`. Returns path -> content; writing is the command's job.
// No secret values: everything secret comes from Doppler through External Secrets.

import path from "node:path/posix";
import type { ContainerSpec, PodSpec } from "../domain/spec.js";
import { CLONE_ONCE, WORKSPACES_TARGET, findOpenCode } from "../domain/opencode.js";
import { secretKeysFor } from "../domain/secret-env.js";
import { PROMETHEUS_RULE_FILE, prometheusRule } from "./prometheus-rule.js";
import { commandOf, containerHead, dnsLabel, envOf, probes, recreateDeployment, securityOf, toYaml, type K8sObject } from "./k8s.js";

export interface FluxWorkspace {
  /** DNS label: the subdomain and the suffix of every object's name. */
  readonly name: string;
  /** https URL of the repository, no credentials in it. */
  readonly repo: string;
  readonly branch?: string;
}

export interface FluxOptions {
  readonly domain: string;
  readonly workspaces: readonly FluxWorkspace[];
  /**
   * The OpenCode image: one a cluster can pull, pinned by tag or digest (see imageProblem),
   * built from Dockerfile.opencode so that it holds the clone-once script.
   */
  readonly image: string;
  /** The env file's key NAMES (never values): what the memory containers' secretEnv patterns match. */
  readonly envKeys: readonly string[];
  readonly namespace: string;
  readonly gateway: { readonly namespace: string; readonly name: string; readonly sectionName: string };
  readonly clusterSecretStore: string;
  readonly storageClass: string;
  readonly clusterIssuer: string;
  readonly storage: string;
  /** VolSync ReplicationSource per PVC. */
  readonly backup: boolean;
  /** Also run the pod spec's other containers (Valkey, FalkorDB, the Agent) in each workspace's pod. */
  readonly withMemory: boolean;
  /** Where the tree lives in the GitOps repository (Flux's `path`). */
  readonly root: string;
  /** The Flux GitRepository the Kustomizations read. */
  readonly sourceRef: string;
  /** The text of monitoring/podwarden.rules.yml: adds it as a PrometheusRule (--with-alerts). */
  readonly alertRules?: { readonly text: string; readonly source: string };
}

export const FLUX_DEFAULTS = {
  namespace: "opencode",
  gateway: { namespace: "network", name: "envoy-external", sectionName: "https" },
  clusterSecretStore: "doppler",
  storageClass: "ceph-block",
  clusterIssuer: "letsencrypt-production",
  storage: "5Gi",
  backup: false,
  withMemory: false,
  root: "kubernetes/apps/opencode",
  sourceRef: "flux-system",
  envKeys: [],
} as const satisfies Omit<FluxOptions, "domain" | "workspaces" | "image">;

const OPENCODE_PORT = 4096;
const OPENCODE_DATA = "/root/.local/share/opencode";
const WORKSPACES = WORKSPACES_TARGET;
const AUTH_MOUNT = "/run/podwarden/copilot";

export interface ImageProblem {
  /** local: no registry serves it; moving: no tag or :latest; malformed: a bad digest. */
  readonly kind: "local" | "moving" | "malformed";
  readonly message: string;
}

/**
 * Why a cluster could not pull `ref` as a pinned image, or undefined when it can:
 * `localhost/` is Podman's local store (no registry serves it), and a missing tag or
 * `:latest` moves under the Deployment. A version tag or a digest is pinned.
 */
export const imageProblem = (ref: string): ImageProblem | undefined => {
  const [name = "", digest] = ref.split("@", 2);
  if (name.split("/")[0] === "localhost") return { kind: "local", message: "is in this host's local image store (localhost/), which no cluster can pull from" };
  if (digest !== undefined) {
    return /^sha256:[a-f0-9]{64}$/.test(digest) ? undefined : { kind: "malformed", message: "has a malformed digest (want @sha256:<64 hex digits>)" };
  }
  const last = name.slice(name.lastIndexOf("/") + 1);
  const colon = last.indexOf(":");
  if (colon < 0) return { kind: "moving", message: "has no tag, so a cluster pulls :latest, which moves" };
  if (last.slice(colon + 1) === "latest") return { kind: "moving", message: "is tagged :latest, which moves" };
  return undefined;
};

/**
 * Doppler names as the seed has them: OPENCODE_<WS>_GITHUB_PAT, _PASSWORD, _COPILOT_AUTH_JSON;
 * an env-file key of the memory containers (DD_API_KEY) becomes OPENCODE_<WS>_<KEY>.
 */
export const dopplerKeys = (ws: string): { pat: string; password: string; auth: string; of: (key: string) => string } => {
  const p = `OPENCODE_${ws.toUpperCase().replace(/[^A-Z0-9]+/g, "_")}`;
  return { pat: `${p}_GITHUB_PAT`, password: `${p}_PASSWORD`, auth: `${p}_COPILOT_AUTH_JSON`, of: (key) => `${p}_${key}` };
};

export const repoDirName = (url: string): string => dnsLabel(url.replace(/\/+$/, "").split("/").pop()?.replace(/\.git$/, "") ?? "repo");

const CERT_SECRET = "opencode-wildcard-tls";

export function renderFlux(spec: PodSpec, opts: FluxOptions): ReadonlyMap<string, string> {
  const files = new Map<string, string>();
  const put = (rel: string, docs: Parameters<typeof toYaml>[0]): void => {
    files.set(path.join(opts.root, rel), toYaml(docs));
  };
  const header = `Rendered by podwarden from ${path.basename(spec.source)}. Do not edit; re-render.`;
  const ns = opts.namespace;
  const wildcard = `*.opencode.${opts.domain}`;

  put("namespace.yaml", [
    {
      obj: {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns, annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } },
      },
      comments: [header, "The prune guard keeps Flux from deleting the namespace (and the PVCs in it) when this tree goes away."],
    },
  ]);
  put("certificate.yaml", [
    {
      obj: {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { name: "opencode-wildcard", namespace: ns },
        spec: {
          secretName: CERT_SECRET,
          issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: opts.clusterIssuer },
          commonName: wildcard,
          dnsNames: [wildcard],
        },
      },
      comments: [
        header,
        `One label only: ${wildcard} covers <workspace>.opencode.${opts.domain}.`,
        `The Gateway ${opts.gateway.namespace}/${opts.gateway.name} belongs to the cluster, not to this tree: to serve this`,
        `certificate, add Secret ${ns}/${CERT_SECRET} to the certificateRefs of its listener ${opts.gateway.sectionName}`,
        "(Envoy picks a certificate by SNI), or give it a listener of its own and render with",
        `--gateway ${opts.gateway.namespace}/${opts.gateway.name}:<listener>, e.g.`,
        "  - name: opencode",
        "    protocol: HTTPS",
        "    port: 443",
        `    hostname: "${wildcard}"`,
        `    tls: { certificateRefs: [{ kind: Secret, name: ${CERT_SECRET}, namespace: ${ns} }] }`,
        "    allowedRoutes: { namespaces: { from: All } }",
        ...(opts.gateway.namespace !== ns ? ["referencegrant.yaml lets that Gateway read the Secret across namespaces."] : []),
      ],
    },
  ]);
  // The Gateway may read the certificate's Secret across namespaces only with this grant,
  // which lives beside the Secret (in this tree's namespace).
  const crossNamespace = opts.gateway.namespace !== ns;
  if (crossNamespace) {
    put("referencegrant.yaml", [
      {
        obj: {
          apiVersion: "gateway.networking.k8s.io/v1beta1",
          kind: "ReferenceGrant",
          metadata: { name: `${opts.gateway.name}-to-${CERT_SECRET}`, namespace: ns },
          spec: {
            from: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: opts.gateway.namespace }],
            to: [{ group: "", kind: "Secret", name: CERT_SECRET }],
          },
        },
        comments: [header, `Lets Gateways in namespace ${opts.gateway.namespace} use Secret ${CERT_SECRET} (the wildcard certificate) from ${ns}.`],
      },
    ]);
  }
  if (opts.alertRules) put(PROMETHEUS_RULE_FILE, [prometheusRule(opts.alertRules.text, { namespace: ns, header, source: opts.alertRules.source })]);
  put("kustomization.yaml", [
    {
      obj: {
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: [
          "./namespace.yaml",
          "./certificate.yaml",
          ...(crossNamespace ? ["./referencegrant.yaml"] : []),
          ...(opts.alertRules ? [`./${PROMETHEUS_RULE_FILE}`] : []),
          ...opts.workspaces.map((w) => `./${w.name}/ks.yaml`),
        ],
      },
      comments: [header],
    },
  ]);

  const oc = findOpenCode(spec.containers)?.container;
  const image = opts.image;
  const others = opts.withMemory ? spec.containers.filter((c) => c !== oc && !c.init) : [];
  const password = oc?.probe?.kind === "http" && oc.probe.auth ? oc.probe.auth : undefined;
  // Keys that belong to OpenCode and its workspace (the workspace Secret has them under the
  // seed's names): the memory containers never get them, even with `secretEnv: all`.
  const openCodeKeys = new Set<string>([
    "GITHUB_PAT",
    "OPENCODE_SERVER_PASSWORD",
    ...(password ? [password.passwordKey, ...(password.usernameKey ? [password.usernameKey] : [])] : []),
    ...spec.containers.filter((c) => c.init).flatMap((c) => secretKeysFor(c, opts.envKeys)),
  ]);
  const memoryKeys = new Map(others.map((c) => [c, secretKeysFor(c, opts.envKeys).filter((k) => !openCodeKeys.has(k)).sort()]));
  const allMemoryKeys = [...new Set([...memoryKeys.values()].flat())].sort();
  // Every container of the pod, init ones included, carries the seed's requests and limits,
  // so that the pod as a whole has exactly them (an init container without limits would
  // leave the pod unlimited).
  const resources = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } };

  for (const ws of opts.workspaces) {
    const app = `opencode-${ws.name}`;
    const secret = `${app}-secret`;
    const memorySecret = `${app}-memory-env`;
    const host = `${ws.name}.opencode.${opts.domain}`;
    const labels = { "app.kubernetes.io/name": app, "app.kubernetes.io/instance": ws.name, "app.kubernetes.io/managed-by": "podwarden" };
    const repoDir = `${WORKSPACES}/${repoDirName(ws.repo)}`;
    const keys = dopplerKeys(ws.name);
    const pvcs: { name: string; comment: string }[] = [{ name: app, comment: `OpenCode data (${OPENCODE_DATA}: sessions, auth.json) and ${WORKSPACES}` }];
    const dataMounts = [
      { name: "data", mountPath: OPENCODE_DATA, subPath: "opencode" },
      { name: "data", mountPath: WORKSPACES, subPath: "workspaces" },
    ];

    const cloneInit: K8sObject = {
      name: "clone-once",
      image,
      imagePullPolicy: "IfNotPresent",
      // The same script as on the host: it exits at once when the repository is there.
      command: [CLONE_ONCE],
      env: [
        { name: "REPO_URL", value: ws.repo },
        { name: "REPO_DIR", value: repoDir },
        ...(ws.branch ? [{ name: "REPO_BRANCH", value: ws.branch }] : []),
        { name: "REPO_TOKEN_VAR", value: "GITHUB_PAT" },
        { name: "GITHUB_PAT", valueFrom: { secretKeyRef: { name: secret, key: "GITHUB_PAT" } } },
      ],
      volumeMounts: [{ name: "data", mountPath: WORKSPACES, subPath: "workspaces" }],
      resources,
    };
    const authInit: K8sObject = {
      name: "copilot-auth",
      image,
      imagePullPolicy: "IfNotPresent",
      // Doppler is the source of truth for auth.json: copied over the persisted one on every start.
      command: ["install", "-m", "0600", `${AUTH_MOUNT}/auth.json`, `${OPENCODE_DATA}/auth.json`],
      volumeMounts: [{ name: "data", mountPath: OPENCODE_DATA, subPath: "opencode" }, { name: "copilot-auth", mountPath: AUTH_MOUNT, readOnly: true }],
      resources,
    };
    const opencode: K8sObject = {
      name: "opencode",
      image,
      imagePullPolicy: "IfNotPresent",
      ...(oc ? commandOf(oc) : {}),
      workingDir: repoDir,
      ports: [{ name: "http", containerPort: OPENCODE_PORT, protocol: "TCP" }],
      env: [
        ...(oc ? Object.keys(oc.env).sort().map((n) => ({ name: n, value: oc.env[n] })) : []),
        { name: password?.passwordKey ?? "OPENCODE_SERVER_PASSWORD", valueFrom: { secretKeyRef: { name: secret, key: "OPENCODE_SERVER_PASSWORD" } } },
      ],
      volumeMounts: dataMounts,
      resources,
      ...probes(
        oc?.probe ?? {
          kind: "http",
          port: OPENCODE_PORT,
          path: "/global/health",
          auth: { defaultUsername: "opencode", passwordKey: "OPENCODE_SERVER_PASSWORD" },
          intervalMs: 10000,
          startIntervalMs: 1000,
          timeoutMs: 2000,
          retries: 3,
          startPeriodMs: 120000,
        },
      ),
    };

    const volumes: K8sObject[] = [
      { name: "data", persistentVolumeClaim: { claimName: app } },
      { name: "copilot-auth", secret: { secretName: secret, items: [{ key: "auth.json", path: "auth.json" }], defaultMode: 0o400 } },
    ];
    const memory = others.map((c: ContainerSpec): K8sObject => {
      const mounts: K8sObject[] = [];
      for (const m of c.mounts.filter((x) => x.create)) {
        const claim = dnsLabel(`${app}-${c.name}`);
        if (!pvcs.some((p) => p.name === claim)) {
          pvcs.push({ name: claim, comment: `${c.name} data (${m.target})` });
          volumes.push({ name: dnsLabel(c.name), persistentVolumeClaim: { claimName: claim } });
        }
        mounts.push({ name: dnsLabel(c.name), mountPath: m.target, subPath: dnsLabel(path.basename(m.source)) });
      }
      return {
        ...containerHead(c),
        ...envOf(c, memorySecret, memoryKeys.get(c) ?? []),
        ...(mounts.length ? { volumeMounts: mounts } : {}),
        ...probes(c.probe),
        ...securityOf(c),
      };
    });

    const appFiles: string[] = [];
    const file = (name: string, docs: Parameters<typeof toYaml>[0]): void => {
      appFiles.push(`./${name}`);
      put(`${ws.name}/app/${name}`, docs);
    };

    file("externalsecret.yaml", [
      {
        obj: {
          apiVersion: "external-secrets.io/v1",
          kind: "ExternalSecret",
          metadata: { name: app },
          spec: {
            refreshInterval: "1h",
            secretStoreRef: { kind: "ClusterSecretStore", name: opts.clusterSecretStore },
            target: { name: secret, creationPolicy: "Owner" },
            data: [
              { secretKey: "GITHUB_PAT", remoteRef: { key: keys.pat } },
              { secretKey: "OPENCODE_SERVER_PASSWORD", remoteRef: { key: keys.password } },
              { secretKey: "auth.json", remoteRef: { key: keys.auth } },
            ],
          },
        },
        comments: [header, `Doppler (ClusterSecretStore ${opts.clusterSecretStore}) holds ${keys.pat}, ${keys.password} and ${keys.auth}.`],
      },
      ...(allMemoryKeys.length
        ? [
            {
              obj: {
                apiVersion: "external-secrets.io/v1",
                kind: "ExternalSecret",
                metadata: { name: `${app}-memory` },
                spec: {
                  refreshInterval: "1h",
                  secretStoreRef: { kind: "ClusterSecretStore", name: opts.clusterSecretStore },
                  target: { name: memorySecret, creationPolicy: "Owner" },
                  data: allMemoryKeys.map((k) => ({ secretKey: k, remoteRef: { key: keys.of(k) } })),
                },
              },
              comments: [
                `The memory containers' secret env (${others.filter((c) => memoryKeys.get(c)?.length).map((c) => c.name).join(", ")}): Doppler holds ${allMemoryKeys.map(keys.of).join(", ")}.`,
              ],
            },
          ]
        : []),
    ]);
    file("pvc.yaml", pvcs.map((p) => ({
      obj: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: p.name, labels },
        spec: { accessModes: ["ReadWriteOnce"], storageClassName: opts.storageClass, resources: { requests: { storage: opts.storage } } },
      },
      comments: [p.comment],
    })));
    const memoryNote = others.length
      ? [
          `The memory containers (${others.map((c) => c.name).join(", ")}) come from the pod spec; their secret env is Secret ${memorySecret}`,
          "(ExternalSecret in externalsecret.yaml). The seed's requests and limits are OpenCode's; the memory containers have none: size them for their data.",
        ]
      : [];
    file("deployment.yaml", [
      {
        obj: recreateDeployment({
          name: app,
          labels,
          annotations: { "reloader.stakater.com/auto": "true" },
          podSpec: {
            terminationGracePeriodSeconds: Math.max(30, ...[oc, ...others].map((c) => c?.stopTimeoutS ?? 0)),
            initContainers: [cloneInit, authInit],
            containers: [opencode, ...memory],
            volumes,
          },
        }),
        comments: [
          header,
          "Probes are exec probes with curl: the server wants basic auth, and an httpGet probe could only carry the password as a literal header.",
          ...memoryNote,
        ],
      },
    ]);
    file("service.yaml", [
      {
        obj: {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: app, labels },
          spec: { selector: { "app.kubernetes.io/name": app }, ports: [{ name: "http", port: OPENCODE_PORT, targetPort: "http", protocol: "TCP" }] },
        },
      },
    ]);
    file("httproute.yaml", [
      {
        obj: {
          apiVersion: "gateway.networking.k8s.io/v1",
          kind: "HTTPRoute",
          metadata: { name: app, annotations: { "external-dns.alpha.kubernetes.io/hostname": host } },
          spec: {
            parentRefs: [{ name: opts.gateway.name, namespace: opts.gateway.namespace, sectionName: opts.gateway.sectionName }],
            hostnames: [host],
            rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: app, port: OPENCODE_PORT }] }],
          },
        },
      },
      {
        obj: {
          apiVersion: "gateway.envoyproxy.io/v1alpha1",
          kind: "BackendTrafficPolicy",
          metadata: { name: app },
          spec: {
            targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: app }],
            timeout: { http: { requestTimeout: "0s" } },
          },
        },
        comments: ["Envoy cuts a request after 15 s by default, streaming responses included: 0s turns the limit off."],
      },
    ]);
    if (opts.backup) {
      file("replicationsource.yaml", pvcs.map((p) => ({
        obj: {
          apiVersion: "volsync.backube/v1alpha1",
          kind: "ReplicationSource",
          metadata: { name: p.name },
          spec: {
            sourcePVC: p.name,
            trigger: { schedule: "0 * * * *" },
            restic: {
              repository: `${p.name}-volsync`,
              copyMethod: "Snapshot",
              pruneIntervalDays: 7,
              retain: { hourly: 24, daily: 7 },
              storageClassName: opts.storageClass,
            },
          },
        },
        comments: [`The restic repository Secret ${p.name}-volsync (Minio URL and keys) comes from the cluster's VolSync setup.`],
      })));
    }
    put(`${ws.name}/app/kustomization.yaml`, [
      { obj: { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: appFiles }, comments: [header] },
    ]);
    put(`${ws.name}/ks.yaml`, [
      {
        obj: {
          apiVersion: "kustomize.toolkit.fluxcd.io/v1",
          kind: "Kustomization",
          metadata: { name: app, namespace: "flux-system" },
          spec: {
            targetNamespace: ns,
            commonMetadata: { labels: { "app.kubernetes.io/name": app } },
            path: `./${opts.root}/${ws.name}/app`,
            prune: true,
            sourceRef: { kind: "GitRepository", name: opts.sourceRef },
            wait: true,
            interval: "30m",
            retryInterval: "1m",
            timeout: "5m",
          },
        },
        comments: [header],
      },
    ]);
  }
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
