// PURE: the Flux GitOps tree for OpenCode workspaces on a cluster (kubernetes/apps/opencode/):
// namespace (prune guard), certificate, the aggregator kustomization and per workspace
// `<ws>/ks.yaml` + `<ws>/app/`, plus `scripts/` at the top of the GitOps repository (the
// Copilot auth seeding script and its runbook). Returns path -> content; writing is the
// command's job. No secret values: everything secret comes from Doppler through External Secrets.
//
// Table-driven like `render kube`: one small builder per object kind (TREE_FILES for the
// tree's top, APP_FILES per workspace), composed by renderFlux. A builder returns undefined
// when its object is off (the ReferenceGrant, the ReplicationSources): one more optional
// object is one more row.
//
// The pod runs with the stock image (ghcr.io/anomalyco/opencode: Alpine, the opencode binary,
// git and ripgrep; no curl, no USER, ENTRYPOINT opencode) or any image with `opencode` and
// git on PATH (Dockerfile.opencode): what the stock image lacks comes from elsewhere. The
// clone-once step runs in a pinned small git image with the script from a ConfigMap; the
// auth.json merge in a pinned Node image; the probes are tcpSocket probes the kubelet runs
// itself; OpenCode runs as a non-root user under a restricted-compatible securityContext.

import path from "node:path/posix";
import type { ContainerSpec, PodSpec } from "../domain/spec.js";
import { WORKSPACES_TARGET, findOpenCode } from "../domain/opencode.js";
import { secretKeysFor } from "../domain/secret-env.js";
import { PROMETHEUS_RULE_FILE, prometheusRule } from "./prometheus-rule.js";
import { containerHead, dnsLabel, envOf, probes, recreateDeployment, securityOf, toYaml, type K8sObject } from "./k8s.js";
import { SCRIPTS_README, SEED_COPILOT_AUTH } from "./flux-scripts.js";

export interface FluxWorkspace {
  /** DNS label: the subdomain and the suffix of every object's name. */
  readonly name: string;
  /** https URL of the repository, no credentials in it. */
  readonly repo: string;
  readonly branch?: string;
  /** AUTO-01: fast-forward the branch at every later start, before OpenCode starts. */
  readonly pull?: boolean;
}

/** The scripts the pod takes from its ConfigMap (their text: the same files the host image carries). */
export interface FluxScripts {
  /** config/images/opencode/podwarden-clone-once.sh */
  readonly cloneOnce: string;
  /** config/images/opencode/podwarden-git-credential.sh */
  readonly gitCredential: string;
  /** config/images/opencode/podwarden-merge-auth.mjs */
  readonly mergeAuth: string;
}

export interface FluxOptions {
  readonly domain: string;
  readonly workspaces: readonly FluxWorkspace[];
  /**
   * The OpenCode image: one a cluster can pull, pinned by tag or digest (see imageProblem):
   * the stock ghcr.io/anomalyco/opencode:1.x, or one built from Dockerfile.opencode.
   */
  readonly image: string;
  /** The pinned small git image the clone-once step runs in (sh, git, base64, mktemp). */
  readonly gitImage: string;
  /** The pinned Node image the auth.json merge runs in. */
  readonly nodeImage: string;
  readonly scripts: FluxScripts;
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
  /** INFRA-04: the Flux Kustomizations (in flux-system) that must be ready first: the secret store, cert-manager. */
  readonly dependsOn: readonly string[];
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
  gitImage: "docker.io/alpine/git:v2.49.1",
  nodeImage: "docker.io/library/node:22.12.0-alpine3.21",
  dependsOn: ["external-secrets-stores", "cert-manager"],
} as const satisfies Omit<FluxOptions, "domain" | "workspaces" | "image" | "scripts">;

/** The stock image, pinned to the OpenCode version podwarden is checked against. */
export const STOCK_IMAGE = "ghcr.io/anomalyco/opencode:1.18.33";
/** The stock image's repositories (it moved from sst/ to anomalyco/). */
const STOCK_REPOS = ["ghcr.io/anomalyco/opencode", "ghcr.io/sst/opencode"];

const OPENCODE_PORT = 4096;
/** OpenCode's data: XDG_DATA_HOME/opencode, outside HOME so that HOME can be an emptyDir. */
const XDG_DATA = "/var/lib/opencode";
const OPENCODE_DATA = `${XDG_DATA}/opencode`;
const HOME = "/home/opencode";
const WORKSPACES = WORKSPACES_TARGET;
const SCRIPTS_MOUNT = "/podwarden";
/** The non-root user and group OpenCode and its init steps run as (the stock image has no USER). */
const UID = 1000;
const CERT_SECRET = "opencode-wildcard-tls";
/** SEC-05: every container's requests and limits. */
const RESOURCES = { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } };
/** What a restricted Pod Security admission wants of every container. */
const RESTRICTED = { allowPrivilegeEscalation: false, runAsNonRoot: true, runAsUser: UID, runAsGroup: UID, capabilities: { drop: ["ALL"] } };

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

/**
 * Why this rendering cannot run `ref`, beyond imageProblem: the stock image in a version
 * other than 1.x (the rendering is checked against 1.x, and the next major migrates the
 * database in place with no way back).
 */
export const openCodeImageProblem = (ref: string): string | undefined => {
  const problem = imageProblem(ref);
  if (problem) return problem.message;
  const [name = ""] = ref.split("@", 1);
  const colon = name.lastIndexOf(":");
  const repo = colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
  if (!STOCK_REPOS.includes(repo) || ref.includes("@")) return undefined;
  const tag = name.slice(colon + 1);
  return /^v?1\.\d+\.\d+$/.test(tag) ? undefined : `is the stock image in version ${tag}, not a 1.x release (X.Y.Z): podwarden is checked against OpenCode 1.x, and the next major migrates the database in place with no way back`;
};

type Docs = Parameters<typeof toYaml>[0];
type Built = Docs | undefined;

/** What every builder sees. */
interface Tree {
  readonly spec: PodSpec;
  readonly opts: FluxOptions;
  readonly header: string;
  readonly crossNamespace: boolean;
}

/** One workspace: names, and the pod's parts the builders share. */
interface Ws extends Tree {
  readonly ws: FluxWorkspace;
  readonly app: string;
  readonly secret: string;
  readonly memorySecret: string;
  readonly scriptsMap: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly repoDir: string;
  readonly keys: ReturnType<typeof dopplerKeys>;
  readonly pod: Pod;
}

interface Pod {
  readonly opencode: ContainerSpec | undefined;
  readonly others: readonly ContainerSpec[];
  readonly memoryKeys: ReadonlyMap<ContainerSpec, readonly string[]>;
  readonly allMemoryKeys: readonly string[];
  readonly passwordKey: string;
}

const podOf = (spec: PodSpec, opts: FluxOptions): Pod => {
  const oc = findOpenCode(spec.containers)?.container;
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
  return { opencode: oc, others, memoryKeys, allMemoryKeys: [...new Set([...memoryKeys.values()].flat())].sort(), passwordKey: password?.passwordKey ?? "OPENCODE_SERVER_PASSWORD" };
};

// ---- the tree's top ----

const namespace = (t: Tree): Built => [
  {
    obj: { apiVersion: "v1", kind: "Namespace", metadata: { name: t.opts.namespace, annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } } },
    comments: [t.header, "The prune guard keeps Flux from deleting the namespace (and the PVCs in it) when this tree goes away."],
  },
];

const certificate = ({ opts, header }: Tree): Built => {
  const ns = opts.namespace;
  const wildcard = `*.opencode.${opts.domain}`;
  return [
    {
      obj: {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { name: "opencode-wildcard", namespace: ns },
        spec: { secretName: CERT_SECRET, issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: opts.clusterIssuer }, commonName: wildcard, dnsNames: [wildcard] },
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
  ];
};

/** The Gateway may read the certificate's Secret across namespaces only with this grant, which lives beside the Secret. */
const referenceGrant = ({ opts, header, crossNamespace }: Tree): Built =>
  crossNamespace
    ? [
        {
          obj: {
            apiVersion: "gateway.networking.k8s.io/v1beta1",
            kind: "ReferenceGrant",
            metadata: { name: `${opts.gateway.name}-to-${CERT_SECRET}`, namespace: opts.namespace },
            spec: { from: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: opts.gateway.namespace }], to: [{ group: "", kind: "Secret", name: CERT_SECRET }] },
          },
          comments: [header, `Lets Gateways in namespace ${opts.gateway.namespace} use Secret ${CERT_SECRET} (the wildcard certificate) from ${opts.namespace}.`],
        },
      ]
    : undefined;

const kustomization = (resources: readonly string[], header: string): Docs => [
  { obj: { apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [...resources] }, comments: [header] },
];

// ---- one workspace's app/ ----

const externalSecrets = ({ app, secret, memorySecret, keys, opts, header, pod }: Ws): Built => {
  const store = { kind: "ClusterSecretStore", name: opts.clusterSecretStore };
  return [
    {
      obj: {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: app },
        spec: {
          refreshInterval: "1h",
          secretStoreRef: store,
          target: { name: secret, creationPolicy: "Owner" },
          data: [
            { secretKey: "GITHUB_PAT", remoteRef: { key: keys.pat } },
            { secretKey: "OPENCODE_SERVER_PASSWORD", remoteRef: { key: keys.password } },
            { secretKey: "auth.json", remoteRef: { key: keys.auth } },
          ],
        },
      },
      comments: [
        header,
        `Doppler (ClusterSecretStore ${opts.clusterSecretStore}) holds ${keys.pat}, ${keys.password} and ${keys.auth}.`,
        `INFRA-04: set all three before this reconciles (scripts/seed-copilot-auth.sh sets ${keys.auth}); until then it is not Ready and ks.yaml waits.`,
      ],
    },
    ...(pod.allMemoryKeys.length
      ? [
          {
            obj: {
              apiVersion: "external-secrets.io/v1",
              kind: "ExternalSecret",
              metadata: { name: `${app}-memory` },
              spec: {
                refreshInterval: "1h",
                secretStoreRef: store,
                target: { name: memorySecret, creationPolicy: "Owner" },
                data: pod.allMemoryKeys.map((k) => ({ secretKey: k, remoteRef: { key: keys.of(k) } })),
              },
            },
            comments: [
              `The memory containers' secret env (${pod.others.filter((c) => pod.memoryKeys.get(c)?.length).map((c) => c.name).join(", ")}): Doppler holds ${pod.allMemoryKeys.map(keys.of).join(", ")}.`,
            ],
          },
        ]
      : []),
  ];
};

/** The claims: OpenCode's (data and workspaces), then one per persisted directory of a memory container. */
const claimsOf = (w: Ws): { name: string; comment: string; container?: ContainerSpec; volume?: string }[] => [
  { name: w.app, comment: `OpenCode data (${OPENCODE_DATA}: sessions, auth.json) and ${WORKSPACES}` },
  ...w.pod.others
    .filter((c) => c.mounts.some((m) => m.create))
    .map((c) => ({ name: dnsLabel(`${w.app}-${c.name}`), comment: `${c.name} data (${c.mounts.filter((m) => m.create).map((m) => m.target).join(", ")})`, container: c, volume: dnsLabel(c.name) })),
];

const pvcs = (w: Ws): Built =>
  claimsOf(w).map((p) => ({
    obj: {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: p.name, labels: w.labels },
      spec: { accessModes: ["ReadWriteOnce"], storageClassName: w.opts.storageClass, resources: { requests: { storage: w.opts.storage } } },
    },
    comments: [p.comment],
  }));

const scriptsConfigMap = (w: Ws): Built => [
  {
    obj: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: w.scriptsMap, labels: w.labels, annotations: { "kustomize.toolkit.fluxcd.io/substitute": "disabled" } },
      data: { "clone-once.sh": w.opts.scripts.cloneOnce, "git-credential.sh": w.opts.scripts.gitCredential, "merge-auth.mjs": w.opts.scripts.mergeAuth },
    },
    comments: [
      w.header,
      "The scripts the pod runs, so that the stock OpenCode image needs none of its own: the clone-once step,",
      "the git credential helper for a manual `git pull` in OpenCode's terminal, and the auth.json merge.",
      "Flux's variable substitution is off for this object: the scripts' ${...} are shell.",
    ],
  },
];

const mount = (name: string, mountPath: string, extra: K8sObject = {}): K8sObject => ({ name, mountPath, ...extra });
const scriptsMount = mount("scripts", SCRIPTS_MOUNT, { readOnly: true });

const cloneInit = (w: Ws): K8sObject => ({
  name: "clone-once",
  image: w.opts.gitImage,
  imagePullPolicy: "IfNotPresent",
  // The same script as on the host: it exits at once when the repository is there (or pulls, with pull).
  command: ["sh", `${SCRIPTS_MOUNT}/clone-once.sh`],
  env: [
    { name: "HOME", value: "/tmp" },
    { name: "REPO_URL", value: w.ws.repo },
    { name: "REPO_DIR", value: w.repoDir },
    ...(w.ws.branch ? [{ name: "REPO_BRANCH", value: w.ws.branch }] : []),
    ...(w.ws.pull ? [{ name: "REPO_PULL", value: "1" }] : []),
    { name: "REPO_TOKEN_VAR", value: "GITHUB_PAT" },
    { name: "GITHUB_PAT", valueFrom: { secretKeyRef: { name: w.secret, key: "GITHUB_PAT" } } },
  ],
  volumeMounts: [mount("data", WORKSPACES, { subPath: "workspaces" }), scriptsMount],
  resources: RESOURCES,
  securityContext: RESTRICTED,
});

const authInit = (w: Ws): K8sObject => ({
  name: "copilot-auth",
  image: w.opts.nodeImage,
  imagePullPolicy: "IfNotPresent",
  // FLUX-08: the Doppler entry merged into the persisted auth.json (other providers kept, mode 0600).
  command: ["node", `${SCRIPTS_MOUNT}/merge-auth.mjs`, "env:COPILOT_AUTH_JSON", `${OPENCODE_DATA}/auth.json`],
  env: [{ name: "COPILOT_AUTH_JSON", valueFrom: { secretKeyRef: { name: w.secret, key: "auth.json" } } }],
  volumeMounts: [mount("data", OPENCODE_DATA, { subPath: "opencode" }), scriptsMount],
  resources: RESOURCES,
  securityContext: RESTRICTED,
});

const openCodeContainer = (w: Ws): K8sObject => {
  const oc = w.pod.opencode;
  return {
    name: "opencode",
    image: w.opts.image,
    imagePullPolicy: "IfNotPresent",
    // Named in full: the stock image's ENTRYPOINT is `opencode` alone (the terminal UI).
    command: ["opencode"],
    args: oc?.command?.length ? [...oc.command] : ["serve", "--hostname", "0.0.0.0", "--port", String(OPENCODE_PORT)],
    workingDir: w.repoDir,
    ports: [{ name: "http", containerPort: OPENCODE_PORT, protocol: "TCP" }],
    env: [
      ...(oc ? Object.keys(oc.env).sort().map((n) => ({ name: n, value: oc.env[n] })) : []),
      { name: "HOME", value: HOME },
      { name: "XDG_DATA_HOME", value: XDG_DATA },
      // A manual `git pull` in OpenCode's terminal: git asks the helper, which reads the token
      // from the environment when git asks (Reloader restarts the pod when the Secret changes).
      // Set in git's environment, so nothing is written to .git/config.
      { name: "GIT_CONFIG_COUNT", value: "1" },
      { name: "GIT_CONFIG_KEY_0", value: "credential.helper" },
      { name: "GIT_CONFIG_VALUE_0", value: `!sh ${SCRIPTS_MOUNT}/git-credential.sh` },
      { name: "REPO_URL", value: w.ws.repo },
      { name: "REPO_TOKEN_VAR", value: "GITHUB_PAT" },
      { name: "GITHUB_PAT", valueFrom: { secretKeyRef: { name: w.secret, key: "GITHUB_PAT" } } },
      { name: w.pod.passwordKey, valueFrom: { secretKeyRef: { name: w.secret, key: "OPENCODE_SERVER_PASSWORD" } } },
    ],
    volumeMounts: [
      mount("home", HOME),
      mount("data", OPENCODE_DATA, { subPath: "opencode" }),
      mount("data", WORKSPACES, { subPath: "workspaces" }),
      scriptsMount,
    ],
    resources: RESOURCES,
    securityContext: RESTRICTED,
    // The server wants basic auth on every path: an httpGet probe could carry the password only
    // as a literal header, and the stock image has no curl. The kubelet checks the port itself.
    ...probes({ kind: "tcp", port: OPENCODE_PORT, intervalMs: 10000, startIntervalMs: 1000, timeoutMs: 2000, retries: 3, startPeriodMs: 120000, ...pickTiming(oc) }),
  };
};

const pickTiming = (oc: ContainerSpec | undefined): Partial<{ intervalMs: number; startIntervalMs: number; timeoutMs: number; retries: number; startPeriodMs: number }> => {
  const p = oc?.probe;
  return p ? { intervalMs: p.intervalMs, startIntervalMs: p.startIntervalMs, timeoutMs: p.timeoutMs, retries: p.retries, startPeriodMs: p.startPeriodMs } : {};
};

const memoryContainer = (w: Ws, c: ContainerSpec): K8sObject => {
  const claim = claimsOf(w).find((p) => p.container === c);
  const mounts = claim?.volume ? c.mounts.filter((m) => m.create).map((m) => mount(claim.volume!, m.target, { subPath: dnsLabel(path.basename(m.source)) })) : [];
  return {
    ...containerHead(c),
    ...envOf(c, w.memorySecret, w.pod.memoryKeys.get(c) ?? []),
    ...(mounts.length ? { volumeMounts: mounts } : {}),
    resources: RESOURCES,
    ...probes(c.probe),
    ...securityOf(c),
  };
};

const deployment = (w: Ws): Built => {
  const { pod } = w;
  const volumes: K8sObject[] = [
    { name: "data", persistentVolumeClaim: { claimName: w.app } },
    { name: "home", emptyDir: {} },
    { name: "scripts", configMap: { name: w.scriptsMap, defaultMode: 0o444 } },
    ...claimsOf(w).filter((p) => p.volume).map((p) => ({ name: p.volume, persistentVolumeClaim: { claimName: p.name } })),
  ];
  return [
    {
      obj: recreateDeployment({
        name: w.app,
        labels: w.labels,
        annotations: { "reloader.stakater.com/auto": "true" },
        podSpec: {
          terminationGracePeriodSeconds: Math.max(30, ...[pod.opencode, ...pod.others].map((c) => c?.stopTimeoutS ?? 0)),
          // fsGroup: the volumes belong to the group OpenCode runs in. Secrets reach the pod as env
          // references only (no Secret volume): Podman's kube play (4.3) reads one Secret either
          // as env or as a volume, never both, and the local play test runs this manifest.
          securityContext: { fsGroup: UID, fsGroupChangePolicy: "OnRootMismatch", seccompProfile: { type: "RuntimeDefault" } },
          initContainers: [cloneInit(w), authInit(w)],
          containers: [openCodeContainer(w), ...pod.others.map((c) => memoryContainer(w, c))],
          volumes,
        },
      }),
      comments: [
        w.header,
        `OpenCode runs as uid ${UID} under a restricted-compatible securityContext, with HOME an emptyDir and its data`,
        `(XDG_DATA_HOME) on the claim; fsGroup ${UID} makes the claim writable. Probes are tcpSocket probes: the server wants`,
        "basic auth on every path, and the stock image has no curl.",
        ...(pod.others.length
          ? [
              `The memory containers (${pod.others.map((c) => c.name).join(", ")}) come from the pod spec; their secret env is Secret ${w.memorySecret}`,
              "(ExternalSecret in externalsecret.yaml). Every container has the seed's requests and limits (SEC-05); size the memory",
              "containers' limits for their data (Valkey's --maxmemory must fit), and check the users their images run as.",
            ]
          : []),
      ],
    },
  ];
};

const service = (w: Ws): Built => [
  {
    obj: {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: w.app, labels: w.labels },
      spec: { selector: { "app.kubernetes.io/name": w.app }, ports: [{ name: "http", port: OPENCODE_PORT, targetPort: "http", protocol: "TCP" }] },
    },
  },
];

const httpRoute = (w: Ws): Built => {
  const host = `${w.ws.name}.opencode.${w.opts.domain}`;
  const gw = w.opts.gateway;
  return [
    {
      obj: {
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: w.app, annotations: { "external-dns.alpha.kubernetes.io/hostname": host } },
        spec: {
          parentRefs: [{ name: gw.name, namespace: gw.namespace, sectionName: gw.sectionName }],
          hostnames: [host],
          rules: [{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: w.app, port: OPENCODE_PORT }] }],
        },
      },
    },
    {
      obj: {
        apiVersion: "gateway.envoyproxy.io/v1alpha1",
        kind: "BackendTrafficPolicy",
        metadata: { name: w.app },
        spec: { targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: w.app }], timeout: { http: { requestTimeout: "0s" } } },
      },
      comments: ["Envoy cuts a request after 15 s by default, streaming responses included: 0s turns the limit off."],
    },
  ];
};

const replicationSources = (w: Ws): Built =>
  w.opts.backup
    ? claimsOf(w).map((p) => ({
        obj: {
          apiVersion: "volsync.backube/v1alpha1",
          kind: "ReplicationSource",
          metadata: { name: p.name },
          spec: {
            sourcePVC: p.name,
            trigger: { schedule: "0 * * * *" },
            restic: { repository: `${p.name}-volsync`, copyMethod: "Snapshot", pruneIntervalDays: 7, retain: { hourly: 24, daily: 7 }, storageClassName: w.opts.storageClass },
          },
        },
        comments: [`The restic repository Secret ${p.name}-volsync (Minio URL and keys) comes from the cluster's VolSync setup.`],
      }))
    : undefined;

const fluxKustomization = (w: Ws): Docs => [
  {
    obj: {
      apiVersion: "kustomize.toolkit.fluxcd.io/v1",
      kind: "Kustomization",
      metadata: { name: w.app, namespace: "flux-system" },
      spec: {
        targetNamespace: w.opts.namespace,
        commonMetadata: { labels: { "app.kubernetes.io/name": w.app } },
        ...(w.opts.dependsOn.length ? { dependsOn: w.opts.dependsOn.map((name) => ({ name, namespace: "flux-system" })) } : {}),
        path: `./${w.opts.root}/${w.ws.name}/app`,
        prune: true,
        sourceRef: { kind: "GitRepository", name: w.opts.sourceRef },
        wait: true,
        interval: "30m",
        retryInterval: "1m",
        timeout: "5m",
      },
    },
    comments: [
      w.header,
      ...(w.opts.dependsOn.length ? [`INFRA-04: reconciled only once ${w.opts.dependsOn.join(" and ")} (flux-system) are ready: the secret store and the certificate issuer exist first.`] : []),
    ],
  },
];

/** podwarden's alert rules for the Prometheus Operator (--with-alerts). */
const alertRules = ({ opts, header }: Tree): Built =>
  opts.alertRules ? [prometheusRule(opts.alertRules.text, { namespace: opts.namespace, header, source: opts.alertRules.source })] : undefined;

/** The tree's top, in order: file name and builder. */
const TREE_FILES: readonly (readonly [string, (t: Tree) => Built])[] = [
  ["namespace.yaml", namespace],
  ["certificate.yaml", certificate],
  ["referencegrant.yaml", referenceGrant],
  [PROMETHEUS_RULE_FILE, alertRules],
];

/** One workspace's app/, in order: file name and builder (undefined = not rendered). */
const APP_FILES: readonly (readonly [string, (w: Ws) => Built])[] = [
  ["externalsecret.yaml", externalSecrets],
  ["pvc.yaml", pvcs],
  ["configmap.yaml", scriptsConfigMap],
  ["deployment.yaml", deployment],
  ["service.yaml", service],
  ["httproute.yaml", httpRoute],
  ["replicationsource.yaml", replicationSources],
];

const workspaceOf = (t: Tree, pod: Pod, ws: FluxWorkspace): Ws => {
  const app = `opencode-${ws.name}`;
  return {
    ...t,
    ws,
    app,
    secret: `${app}-secret`,
    memorySecret: `${app}-memory-env`,
    scriptsMap: `${app}-scripts`,
    labels: { "app.kubernetes.io/name": app, "app.kubernetes.io/instance": ws.name, "app.kubernetes.io/managed-by": "podwarden" },
    repoDir: `${WORKSPACES}/${repoDirName(ws.repo)}`,
    keys: dopplerKeys(ws.name),
    pod,
  };
};

/** Renders the files of `table` that are on; returns their names for a kustomization. */
const renderTable = <C>(table: readonly (readonly [string, (c: C) => Built])[], c: C, put: (name: string, docs: Docs) => void): string[] =>
  table.flatMap(([name, build]) => {
    const docs = build(c);
    if (!docs) return [];
    put(name, docs);
    return [`./${name}`];
  });

export function renderFlux(spec: PodSpec, opts: FluxOptions): ReadonlyMap<string, string> {
  const files = new Map<string, string>();
  const at = (dir: string) => (name: string, docs: Docs): void => void files.set(path.join(opts.root, dir, name), toYaml(docs));
  const tree: Tree = { spec, opts, header: `Rendered by podwarden from ${path.basename(spec.source)}. Do not edit; re-render.`, crossNamespace: opts.gateway.namespace !== opts.namespace };
  const top = renderTable(TREE_FILES, tree, at("."));
  at(".")("kustomization.yaml", kustomization([...top, ...opts.workspaces.map((w) => `./${w.name}/ks.yaml`)], tree.header));

  const pod = podOf(spec, opts);
  for (const ws of opts.workspaces) {
    const w = workspaceOf(tree, pod, ws);
    const appFiles = renderTable(APP_FILES, w, at(`${ws.name}/app`));
    at(`${ws.name}/app`)("kustomization.yaml", kustomization(appFiles, tree.header));
    at(ws.name)("ks.yaml", fluxKustomization(w));
  }
  // SECR-04 and OPS-04: at the top of the GitOps repository, beside kubernetes/.
  files.set("scripts/seed-copilot-auth.sh", SEED_COPILOT_AUTH(opts.workspaces.map((w) => ({ name: w.name, secret: dopplerKeys(w.name).auth }))));
  files.set("scripts/README.md", SCRIPTS_README(opts.workspaces.map((w) => ({ name: w.name, secret: dopplerKeys(w.name).auth, app: `opencode-${w.name}`, url: `https://${w.name}.opencode.${opts.domain}` })), opts.namespace));
  return new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
