// render kube / render flux on the shipped config: golden files (UPDATE_GOLDEN=1 rewrites
// them), every document parses and validates with kubernetes-models where a model exists,
// byte-identical output, no secret value, `$VAR` (never `${VAR}`) in embedded shell, and
// one test per requirement ID of the seed (../shared/seeds/004_*.txt) that a rendering can
// show, named by the ID and asserting what the seed's text for it says. What only a live
// cluster can show is listed in docs/kubernetes.md.

import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { ConfigMap, Namespace, PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1";
import { ExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1beta1";
import { Kustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { ReferenceGrant } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1beta1";
import { loadConfig } from "../../../src/config/load.js";
import { CLONE_ONCE } from "../../../src/domain/opencode.js";
import type { PodSpec } from "../../../src/domain/spec.js";
import { FLUX_DEFAULTS, imageProblem, renderFlux, type FluxOptions } from "../../../src/render/flux.js";
import { renderKube } from "../../../src/render/kube.js";
import { readFluxScripts } from "../../../src/commands/render.js";
import { REPO } from "../../support/podman-harness.js";

const REPO_CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));

const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));
const SECRET_VALUES = ["pw-Zq8-distinctive", "dd-Kx3-distinctive", "ghp_Rt5distinctive"];
const ENV = `OPENCODE_SERVER_PASSWORD=${SECRET_VALUES[0]}\nDD_API_KEY=${SECRET_VALUES[1]}\nGITHUB_PAT=${SECRET_VALUES[2]}\n`;

/** The shipped config with an env file of distinctive values; the key names of that file. */
async function shipped(): Promise<{ spec: PodSpec; envKeys: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), "podwarden-render-"));
  try {
    await writeFile(path.join(dir, "secrets.env"), ENV);
    await chmod(path.join(dir, "secrets.env"), 0o600);
    // A fixed file name: the rendered header names the config file.
    const override = path.join(dir, "opencode-memory-pod.yaml");
    await writeFile(override, stringify({ extends: path.join(REPO_CONFIG_DIR, "opencode-memory-pod.yaml"), pod: { envFile: "secrets.env" } }));
    const { spec, secrets } = await loadConfig(override);
    return { spec, envKeys: [...secrets.keys()].sort() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const shippedSpec = async (): Promise<PodSpec> => (await shipped()).spec;

const SCRIPTS = await readFluxScripts();

const fluxOptions = (envKeys: readonly string[], over: Partial<FluxOptions> = {}): FluxOptions => ({
  ...FLUX_DEFAULTS,
  domain: "angryninja.cloud",
  workspaces: [
    { name: "flux", repo: "https://github.com/angryninja/k8s-cluster.git" },
    { name: "ha", repo: "https://github.com/angryninja/home-assistant-config.git" },
  ],
  image: "ghcr.io/angryninja/opencode-server:1.18.33",
  scripts: SCRIPTS,
  envKeys,
  ...over,
});

async function golden(name: string, actual: string): Promise<void> {
  const file = path.join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, actual);
  }
  expect(actual).toBe(await readFile(file, "utf8"));
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const docs = (text: string): Obj[] =>
  parseAllDocuments(text).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Obj;
  });

const MODELS: Record<string, (o: Obj) => { validate(): void }> = {
  "v1/Namespace": (o) => new Namespace(o as never),
  "v1/ConfigMap": (o) => new ConfigMap(o as never),
  "v1/PersistentVolumeClaim": (o) => new PersistentVolumeClaim(o as never),
  "v1/Service": (o) => new Service(o as never),
  "apps/v1/Deployment": (o) => new Deployment(o as never),
  "cert-manager.io/v1/Certificate": (o) => new Certificate(o as never),
  // @kubernetes-models/external-secrets for Node 20 (0.5.x) has v1beta1 only; v1 has the same schema for these fields.
  "external-secrets.io/v1/ExternalSecret": (o) => new ExternalSecret({ ...o, apiVersion: "external-secrets.io/v1beta1" } as never),
  "kustomize.toolkit.fluxcd.io/v1/Kustomization": (o) => new Kustomization(o as never),
  "gateway.networking.k8s.io/v1/HTTPRoute": (o) => new HTTPRoute(o as never),
  "gateway.networking.k8s.io/v1beta1/ReferenceGrant": (o) => new ReferenceGrant(o as never),
};

/** Kinds without a model package: apiVersion, kind and the fields they need. */
const REQUIRED: Record<string, (o: Obj) => void> = {
  "kustomize.config.k8s.io/v1beta1/Kustomization": (o) => {
    expect(Array.isArray(o.resources) && o.resources.length > 0).toBe(true);
  },
  "gateway.envoyproxy.io/v1alpha1/BackendTrafficPolicy": (o) => {
    expect(o.metadata?.name).toBeTruthy();
    expect(o.spec?.targetRefs?.[0]).toMatchObject({ group: "gateway.networking.k8s.io", kind: "HTTPRoute" });
  },
  "volsync.backube/v1alpha1/ReplicationSource": (o) => {
    expect(o.metadata?.name).toBeTruthy();
    expect(o.spec?.sourcePVC).toBeTruthy();
    expect(o.spec?.trigger?.schedule).toBeTruthy();
    expect(o.spec?.restic?.repository).toBeTruthy();
  },
};

function validate(o: Obj): void {
  const key = `${o.apiVersion}/${o.kind}`;
  const model = MODELS[key];
  const required = REQUIRED[key];
  expect(model ?? required, `no check for ${key}`).toBeDefined();
  if (model) expect(() => model(o).validate()).not.toThrow();
  required?.(o);
}

/** The manifests (scripts/ holds a shell script and a README). */
const allFlux = (files: ReadonlyMap<string, string>): Obj[] => [...files].filter(([f]) => f.endsWith(".yaml")).flatMap(([, text]) => docs(text));
const find = (objs: Obj[], kind: string, name?: string): Obj[] => objs.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));

describe("render kube", () => {
  it("matches the golden file, validates, and is byte-identical on a second render", async () => {
    const { spec, envKeys } = await shipped();
    const text = renderKube(spec, { envKeys });
    expect(renderKube(await shippedSpec(), { envKeys })).toBe(text);
    await golden("kube.yaml", text);
    const objs = docs(text);
    objs.forEach(validate);
    const [dep] = find(objs, "Deployment");
    expect(dep?.spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
    expect(dep?.spec.template.spec.containers.map((c: Obj) => c.name)).toEqual(["valkey", "falkordb", "datadog", "opencode"]);
    expect(find(objs, "PersistentVolumeClaim").map((p) => p.metadata.name)).toEqual(["opencode-memory-pod-valkey", "opencode-memory-pod-falkordb", "opencode-memory-pod-opencode"]);
    expect(find(objs, "Secret")).toEqual([]);
  });

  it("translates probes: redis/tcp to tcpSocket, http with basic auth to an exec probe reading the password from env", async () => {
    const { spec, envKeys } = await shipped();
    const [dep] = find(docs(renderKube(spec, { envKeys })), "Deployment");
    const byName = new Map<string, Obj>(dep?.spec.template.spec.containers.map((c: Obj) => [c.name, c]));
    expect(byName.get("valkey")?.readinessProbe.tcpSocket).toEqual({ port: 6380 });
    expect(byName.get("datadog")?.livenessProbe.tcpSocket).toEqual({ port: 8126 });
    const cmd = byName.get("opencode")?.readinessProbe.exec.command as string[];
    expect(cmd.join(" ")).toContain("$OPENCODE_SERVER_PASSWORD");
    expect(cmd.join(" ")).toContain("http://127.0.0.1:4096/global/health");
  });

  it("references exactly the keys each container's secretEnv patterns match, and notes a glob that matches none", async () => {
    const { spec, envKeys } = await shipped();
    const [dep] = find(docs(renderKube(spec, { envKeys })), "Deployment");
    const refs = (c: Obj): string[] => (c.env ?? []).filter((e: Obj) => e.valueFrom).map((e: Obj) => `${e.valueFrom.secretKeyRef.name}/${e.name}`);
    const byName = new Map<string, Obj>(dep?.spec.template.spec.containers.map((c: Obj) => [c.name, c]));
    expect(Object.fromEntries([...byName].map(([n, c]) => [n, refs(c)]))).toEqual({
      valkey: [],
      falkordb: [],
      datadog: ["opencode-memory-pod-env/DD_API_KEY"],
      opencode: ["opencode-memory-pod-env/OPENCODE_SERVER_PASSWORD"],
    });
    for (const c of byName.values()) expect(c.envFrom).toBeUndefined();
    // Without the env file's key names, the globs match nothing: the header says so.
    const blind = renderKube(spec);
    expect(blind).toContain("# datadog: secretEnv DD_* matches no key of the env file, so nothing is referenced for it");
    expect(blind).not.toContain("secretKeyRef");
  });

  it('"all" is still the whole Secret (envFrom)', async () => {
    const { spec, envKeys } = await shipped();
    const all = { ...spec, containers: spec.containers.map((c) => (c.name === "opencode" ? { ...c, secretEnv: "all" as const } : c)) };
    const [dep] = find(docs(renderKube(all, { envKeys })), "Deployment");
    const oc = dep?.spec.template.spec.containers.find((c: Obj) => c.name === "opencode");
    expect(oc.envFrom).toEqual([{ secretRef: { name: "opencode-memory-pod-env" } }]);
  });

  it("with a workspace: the clone-once init container (token by reference), a volume per persisted directory, OpenCode in the repository", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "podwarden-render-ws-"));
    try {
      await writeFile(path.join(dir, "secrets.env"), ENV, { mode: 0o600 });
      const config = path.join(dir, "ws.yaml");
      await writeFile(config, stringify({ extends: path.join(REPO_CONFIG_DIR, "local.yaml"), pod: { envFile: "secrets.env" }, workspace: { repo: "https://example.com/o/k8s-cluster.git", tokenKey: "GITHUB_PAT" } }));
      const loaded = await loadConfig(config);
      const text = renderKube(loaded.spec, { envKeys: [...loaded.secrets.keys()] });
      for (const v of SECRET_VALUES) expect(text).not.toContain(v);
      const objs = docs(text);
      objs.forEach(validate);
      const pod = find(objs, "Deployment")[0]?.spec.template.spec;
      expect(pod.initContainers).toEqual([
        {
          name: "workspace",
          image: "localhost/opencode-server:local",
          imagePullPolicy: "IfNotPresent",
          command: [CLONE_ONCE],
          env: [
            { name: "REPO_DIR", value: "/workspaces/k8s-cluster" },
            { name: "REPO_TOKEN_VAR", value: "GITHUB_PAT" },
            { name: "REPO_URL", value: "https://example.com/o/k8s-cluster.git" },
            { name: "GITHUB_PAT", valueFrom: { secretKeyRef: { name: "opencode-memory-pod-env", key: "GITHUB_PAT" } } },
          ],
          volumeMounts: [{ name: "opencode-memory-pod-workspaces", mountPath: "/workspaces" }],
        },
      ]);
      const oc = pod.containers.find((c: Obj) => c.name === "opencode");
      expect(oc.workingDir).toBe("/workspaces/k8s-cluster");
      expect(oc.volumeMounts).toContainEqual({ name: "opencode-memory-pod-workspaces", mountPath: "/workspaces" });
      expect(find(objs, "PersistentVolumeClaim").map((p) => p.metadata.name)).toContain("opencode-memory-pod-workspaces");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("render flux", () => {
  it("matches the golden files (default, --backup --with-memory), validates every document, byte-identical twice", async () => {
    const { spec, envKeys } = await shipped();
    for (const [label, over] of [["default", {}], ["backup-memory", { backup: true, withMemory: true }]] as const) {
      const files = renderFlux(spec, fluxOptions(envKeys, over));
      expect([...renderFlux(await shippedSpec(), fluxOptions(envKeys, over))]).toEqual([...files]);
      for (const [file, content] of files) await golden(path.join(`flux-${label}`, file), content);
      allFlux(files).forEach(validate);
    }
  });

  it("writes no secret value and keeps embedded shell to $VAR (Flux substitutes ${...})", async () => {
    const { spec, envKeys } = await shipped();
    const outputs = [renderKube(spec, { envKeys }), ...[...renderFlux(spec, fluxOptions(envKeys, { backup: true, withMemory: true }))].filter(([f]) => f.endsWith(".yaml")).map(([, t]) => t)];
    for (const text of outputs) for (const v of SECRET_VALUES) expect(text).not.toContain(v);
    // Shell inside manifests uses $VAR; the scripts ConfigMap (real shell files with ${...})
    // opts out of Flux's substitution by its annotation.
    for (const text of outputs) {
      for (const o of parseAllDocuments(text).map((d) => d.toJS() as Obj | null)) {
        if (!o || typeof o !== "object") continue;
        if (o.kind === "ConfigMap") expect(o.metadata.annotations).toEqual({ "kustomize.toolkit.fluxcd.io/substitute": "disabled" });
        else expect(JSON.stringify(o)).not.toMatch(/\$\{/);
      }
    }
  });

  it("--with-memory: the memory containers' secret env (DD_API_KEY) comes from an ExternalSecret of its own, never OpenCode's password or PAT", async () => {
    const { spec, envKeys } = await shipped();
    const objs = allFlux(renderFlux(spec, fluxOptions(envKeys, { withMemory: true })));
    for (const ws of ["flux", "ha"]) {
      const WS = ws.toUpperCase();
      const [es] = find(objs, "ExternalSecret", `opencode-${ws}-memory`);
      expect(es?.spec).toEqual({
        refreshInterval: "1h",
        secretStoreRef: { kind: "ClusterSecretStore", name: "doppler" },
        target: { name: `opencode-${ws}-memory-env`, creationPolicy: "Owner" },
        data: [{ secretKey: "DD_API_KEY", remoteRef: { key: `OPENCODE_${WS}_DD_API_KEY` } }],
      });
      const pod = find(objs, "Deployment", `opencode-${ws}`)[0]?.spec.template.spec;
      const datadog = pod.containers.find((c: Obj) => c.name === "datadog");
      expect(datadog.envFrom).toBeUndefined();
      expect(datadog.env.filter((e: Obj) => e.valueFrom)).toEqual([{ name: "DD_API_KEY", valueFrom: { secretKeyRef: { name: `opencode-${ws}-memory-env`, key: "DD_API_KEY" } } }]);
      // Every secret reference of every container names a key its Secret is rendered with.
      const held = new Map<string, string[]>([
        [`opencode-${ws}-secret`, find(objs, "ExternalSecret", `opencode-${ws}`)[0]?.spec.data.map((d: Obj) => d.secretKey)],
        [`opencode-${ws}-memory-env`, es?.spec.data.map((d: Obj) => d.secretKey)],
      ]);
      for (const c of [...pod.initContainers, ...pod.containers]) {
        for (const e of c.env ?? []) if (e.valueFrom) expect(held.get(e.valueFrom.secretKeyRef.name), `${c.name} ${e.name}`).toContain(e.valueFrom.secretKeyRef.key);
        expect(c.envFrom, c.name).toBeUndefined();
      }
    }
  });

  it("a ReferenceGrant lets the cluster's Gateway (another namespace) use the certificate's Secret; none when the Gateway is in the same namespace", async () => {
    const { spec, envKeys } = await shipped();
    const files = renderFlux(spec, fluxOptions(envKeys));
    const [grant] = find(allFlux(files), "ReferenceGrant");
    expect(grant).toMatchObject({
      metadata: { namespace: "opencode" },
      spec: { from: [{ group: "gateway.networking.k8s.io", kind: "Gateway", namespace: "network" }], to: [{ group: "", kind: "Secret", name: "opencode-wildcard-tls" }] },
    });
    expect(find(allFlux(files), "Certificate")[0]?.spec.secretName).toBe("opencode-wildcard-tls");
    expect(docs(files.get("kubernetes/apps/opencode/kustomization.yaml") ?? "")[0]?.resources).toContain("./referencegrant.yaml");
    const same = renderFlux(spec, fluxOptions(envKeys, { gateway: { namespace: "opencode", name: "gw", sectionName: "https" } }));
    expect(find(allFlux(same), "ReferenceGrant")).toEqual([]);
    expect(docs(same.get("kubernetes/apps/opencode/kustomization.yaml") ?? "")[0]?.resources).not.toContain("./referencegrant.yaml");
  });

  it("imageProblem: a version tag or a digest is pinned; localhost/, no tag and :latest are not", () => {
    expect(imageProblem("ghcr.io/o/opencode-server:1.18.33")).toBeUndefined();
    expect(imageProblem(`ghcr.io/o/opencode-server@sha256:${"a".repeat(64)}`)).toBeUndefined();
    expect(imageProblem("registry.example.com:5000/opencode:1.2")).toBeUndefined();
    expect(imageProblem("localhost/opencode-server:local")?.kind).toBe("local");
    expect(imageProblem("ghcr.io/o/opencode-server")?.kind).toBe("moving");
    expect(imageProblem("registry.example.com:5000/opencode")?.kind).toBe("moving");
    expect(imageProblem("docker.io/falkordb/falkordb:latest")?.kind).toBe("moving");
    expect(imageProblem("ghcr.io/o/x@sha256:abc")?.kind).toBe("malformed");
  });

  describe("requirements of the seed", async () => {
    const { spec, envKeys } = await shipped();
    const files = renderFlux(spec, fluxOptions(envKeys, { backup: true }));
    const objs = allFlux(files);
    const root = "kubernetes/apps/opencode";
    const dep = (ws: string): Obj => find(objs, "Deployment", `opencode-${ws}`)[0] ?? {};
    const podSpec = (ws: string): Obj => dep(ws).spec.template.spec;
    const container = (ws: string, name: string): Obj => [...podSpec(ws).initContainers, ...podSpec(ws).containers].find((c: Obj) => c.name === name);
    const envOf = (c: Obj): Record<string, any> => Object.fromEntries((c.env ?? []).map((e: Obj) => [e.name, e.value ?? e.valueFrom])); // eslint-disable-line @typescript-eslint/no-explicit-any
    const externalSecret = (ws: string): Obj => find(objs, "ExternalSecret", `opencode-${ws}`)[0] ?? {};
    const volume = (ws: string, name: string): Obj => podSpec(ws).volumes.find((v: Obj) => v.name === name);
    const host = (ws: string): string => `${ws}.opencode.angryninja.cloud`;
    /** The Doppler variable behind a Secret key of the workspace's ExternalSecret. */
    const doppler = (ws: string, secretKey: string): string | undefined => externalSecret(ws).spec.data.find((d: Obj) => d.secretKey === secretKey)?.remoteRef.key;
    const ref = (ws: string, key: string): Obj => ({ secretKeyRef: { name: `opencode-${ws}-secret`, key } });

    it("INFRA-01: the opencode namespace exists in the tree with the Flux prune guard", () => {
      expect(find(objs, "Namespace")).toEqual([
        { apiVersion: "v1", kind: "Namespace", metadata: { name: "opencode", annotations: { "kustomize.toolkit.fluxcd.io/prune": "disabled" } } },
      ]);
      expect(docs(files.get(`${root}/kustomization.yaml`) ?? "")[0]?.resources).toContain("./namespace.yaml");
      for (const ks of find(objs, "Kustomization").filter((k) => k.apiVersion.startsWith("kustomize.toolkit"))) expect(ks.spec.targetNamespace).toBe("opencode");
    });

    it("INFRA-02: a Certificate for *.opencode.angryninja.cloud from the ClusterIssuer letsencrypt-production, covering both workspace hosts", () => {
      const [cert] = find(objs, "Certificate");
      expect(cert?.spec).toMatchObject({
        dnsNames: ["*.opencode.angryninja.cloud"],
        issuerRef: { group: "cert-manager.io", kind: "ClusterIssuer", name: "letsencrypt-production" },
      });
      // A wildcard covers exactly one label.
      for (const ws of ["flux", "ha"]) expect(host(ws).replace(/^[^.]+/, "*")).toBe(cert?.spec.dnsNames[0]);
    });

    it("INFRA-03: kubernetes/apps/opencode/kustomization.yaml references both workspace ks.yaml files", () => {
      const agg = docs(files.get(`${root}/kustomization.yaml`) ?? "")[0];
      expect(agg?.resources).toEqual(expect.arrayContaining(["./flux/ks.yaml", "./ha/ks.yaml"]));
      for (const ws of ["flux", "ha"]) {
        const [ks] = docs(files.get(`${root}/${ws}/ks.yaml`) ?? "");
        expect(ks).toMatchObject({ apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: `opencode-${ws}` } });
      }
    });

    it("INFRA-04 (the names; that they are populated first is Doppler's state): the ExternalSecrets read exactly the six variables the seed lists", () => {
      const remote = find(objs, "ExternalSecret").flatMap((es) => es.spec.data.map((d: Obj) => d.remoteRef.key));
      expect(remote.sort()).toEqual(
        ["OPENCODE_FLUX_GITHUB_PAT", "OPENCODE_FLUX_PASSWORD", "OPENCODE_FLUX_COPILOT_AUTH_JSON", "OPENCODE_HA_GITHUB_PAT", "OPENCODE_HA_PASSWORD", "OPENCODE_HA_COPILOT_AUTH_JSON"].sort(),
      );
    });

    it("SECR-01: each workspace's GitHub PAT is in a Kubernetes Secret made by a Doppler ExternalSecret, and reaches the clone only from it", () => {
      for (const ws of ["flux", "ha"]) {
        expect(externalSecret(ws).spec).toMatchObject({ secretStoreRef: { kind: "ClusterSecretStore", name: "doppler" }, target: { name: `opencode-${ws}-secret` } });
        expect(doppler(ws, "GITHUB_PAT")).toBe(`OPENCODE_${ws.toUpperCase()}_GITHUB_PAT`);
        expect(envOf(container(ws, "clone-once")).GITHUB_PAT).toEqual(ref(ws, "GITHUB_PAT"));
      }
      expect(find(objs, "Secret")).toEqual([]);
      for (const text of files.values()) expect(text).not.toContain(SECRET_VALUES[2]);
    });

    it("SECR-02: each workspace's server password is in a Kubernetes Secret made by a Doppler ExternalSecret, and reaches OpenCode only from it", () => {
      for (const ws of ["flux", "ha"]) {
        expect(doppler(ws, "OPENCODE_SERVER_PASSWORD")).toBe(`OPENCODE_${ws.toUpperCase()}_PASSWORD`);
        expect(envOf(container(ws, "opencode")).OPENCODE_SERVER_PASSWORD).toEqual(ref(ws, "OPENCODE_SERVER_PASSWORD"));
      }
      for (const text of files.values()) expect(text).not.toContain(SECRET_VALUES[0]);
    });

    it("SECR-03: each workspace's Copilot auth.json is in a Kubernetes Secret made by a Doppler ExternalSecret, and is merged from it (env reference, 0600)", () => {
      for (const ws of ["flux", "ha"]) {
        expect(doppler(ws, "auth.json")).toBe(`OPENCODE_${ws.toUpperCase()}_COPILOT_AUTH_JSON`);
        const init = container(ws, "copilot-auth");
        expect(envOf(init).COPILOT_AUTH_JSON).toEqual(ref(ws, "auth.json"));
        // The merge script (0600, other providers kept: FLUX-08) from the ConfigMap, in the pinned Node image.
        expect(init.command).toEqual(["node", "/podwarden/merge-auth.mjs", "env:COPILOT_AUTH_JSON", "/var/lib/opencode/opencode/auth.json"]);
        expect(init.image).toBe(FLUX_DEFAULTS.nodeImage);
        expect(podSpec(ws).volumes.filter((v: Obj) => v.secret)).toEqual([]);
      }
    });

    for (const [ws, ID, repo] of [
      ["flux", "FLUX", "k8s-cluster"],
      ["ha", "HA", "home-assistant-config"],
    ] as const) {
      it(`${ID}-01: https://${ws}.opencode.<domain> is routed to the OpenCode web server (HTTPRoute -> Service -> port 4096), under the wildcard certificate`, () => {
        const [route] = find(objs, "HTTPRoute", `opencode-${ws}`);
        expect(route?.spec.hostnames).toEqual([host(ws)]);
        expect(route?.spec.parentRefs).toEqual([{ name: "envoy-external", namespace: "network", sectionName: "https" }]);
        expect(route?.spec.rules).toEqual([{ matches: [{ path: { type: "PathPrefix", value: "/" } }], backendRefs: [{ name: `opencode-${ws}`, port: 4096 }] }]);
        const [svc] = find(objs, "Service", `opencode-${ws}`);
        expect(svc?.spec.ports).toEqual([{ name: "http", port: 4096, targetPort: "http", protocol: "TCP" }]);
        expect(dep(ws).spec.template.metadata.labels).toMatchObject(svc?.spec.selector);
        expect(container(ws, "opencode").ports).toEqual([{ name: "http", containerPort: 4096, protocol: "TCP" }]);
      });

      it(`${ID}-02: the ${ws} workspace is password-protected: OpenCode gets OPENCODE_SERVER_PASSWORD (basic auth on every path, the UI included); its probes are the kubelet's tcpSocket (no password in the manifest, no curl needed)`, () => {
        const oc = container(ws, "opencode");
        expect(envOf(oc).OPENCODE_SERVER_PASSWORD).toEqual(ref(ws, "OPENCODE_SERVER_PASSWORD"));
        // Probes the kubelet runs itself (the stock image has no curl; an httpGet probe would
        // need the password as a literal header, so it checks the port).
        for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
          expect(oc[probe].httpGet).toBeUndefined();
          expect(oc[probe].exec).toBeUndefined();
          expect(oc[probe].tcpSocket).toEqual({ port: 4096 });
        }
      });

      it(`${ID}-04: the working directory is the cloned ${repo} repository`, () => {
        const clone = envOf(container(ws, "clone-once"));
        expect(clone.REPO_URL).toBe(`https://github.com/angryninja/${repo}.git`);
        expect(clone.REPO_DIR).toBe(`/workspaces/${repo}`);
        expect(container(ws, "opencode").workingDir).toBe(`/workspaces/${repo}`);
        const mount = { name: "data", mountPath: "/workspaces", subPath: "workspaces" };
        expect(container(ws, "clone-once").volumeMounts).toEqual([mount, { name: "scripts", mountPath: "/podwarden", readOnly: true }]);
        expect(container(ws, "opencode").volumeMounts).toContainEqual(mount);
      });

      it(`${ID}-05: on first boot an init container clones ${repo} into the workspace PVC (the host's clone-once script from a ConfigMap in a pinned git image, the PAT from the Secret)`, () => {
        const clone = container(ws, "clone-once");
        expect(podSpec(ws).initContainers[0]).toBe(clone);
        // The host image's script, from the ConfigMap, in the pinned small git image.
        expect(clone.command).toEqual(["sh", "/podwarden/clone-once.sh"]);
        expect(clone.image).toBe(FLUX_DEFAULTS.gitImage);
        expect(volume(ws, "scripts").configMap.name).toBe(`opencode-${ws}-scripts`);
        expect(find(objs, "ConfigMap", `opencode-${ws}-scripts`)[0]?.data["clone-once.sh"]).toBe(SCRIPTS.cloneOnce);
        expect(envOf(clone)).toMatchObject({ REPO_TOKEN_VAR: "GITHUB_PAT", GITHUB_PAT: ref(ws, "GITHUB_PAT") });
        expect(volume(ws, "data")).toEqual({ name: "data", persistentVolumeClaim: { claimName: `opencode-${ws}` } });
      });

      it(`${ID}-06: on later boots the same init container finds the repository on the persisted PVC and exits without cloning`, () => {
        // What the script does with the repository there (exit 0 at once, no request) is
        // test/unit/images/clone-once.test.ts; the time on Podman is test/e2e/render.test.ts.
        expect(podSpec(ws).initContainers.map((c: Obj) => c.name)).toEqual(["clone-once", "copilot-auth"]);
        expect(volume(ws, "data").persistentVolumeClaim.claimName).toBe(`opencode-${ws}`);
        expect(find(objs, "PersistentVolumeClaim", `opencode-${ws}`)).toHaveLength(1);
        expect(dep(ws).spec).toMatchObject({ replicas: 1, strategy: { type: "Recreate" } });
        expect(envOf(container(ws, "clone-once")).REPO_DIR).toMatch(/^\/workspaces\//);
      });

      it(`${ID}-07 (the part a rendering shows): OpenCode's data directory, where sessions live, is on the workspace PVC`, () => {
        const oc = container(ws, "opencode");
        expect(oc.volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/opencode/opencode", subPath: "opencode" });
        expect(envOf(oc).XDG_DATA_HOME).toBe("/var/lib/opencode");
        // Only HOME (config, cache) is an emptyDir; sessions are not in it.
        expect(podSpec(ws).volumes.filter((v: Obj) => v.emptyDir).map((v: Obj) => v.name)).toEqual(["home"]);
        expect(envOf(oc).HOME).toBe("/home/opencode");
      });

      it(`${ID}-08 (the part a rendering shows): auth.json is on the workspace PVC and Doppler's copy is merged into it on every start`, () => {
        expect(container(ws, "copilot-auth").volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/opencode/opencode", subPath: "opencode" });
        expect(container(ws, "copilot-auth").command.at(-1)).toBe("/var/lib/opencode/opencode/auth.json");
      });

      it(`${ID}-09: a BackendTrafficPolicy on the ${ws} route turns Envoy's request timeout off, so streaming responses are not cut off`, () => {
        const [btp] = find(objs, "BackendTrafficPolicy", `opencode-${ws}`);
        expect(btp?.spec).toEqual({
          targetRefs: [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: `opencode-${ws}` }],
          timeout: { http: { requestTimeout: "0s" } },
        });
      });
    }

    it("SEC-01: no secret (PAT, password, auth.json) is in any manifest: no Secret objects, every secret env is a reference", async () => {
      const all = [files, renderFlux(spec, fluxOptions(envKeys, { backup: true, withMemory: true }))];
      for (const tree of all) {
        for (const text of tree.values()) for (const v of SECRET_VALUES) expect(text).not.toContain(v);
        const treeObjs = allFlux(tree);
        expect(find(treeObjs, "Secret")).toEqual([]);
        for (const d of find(treeObjs, "Deployment")) {
          for (const c of [...d.spec.template.spec.initContainers, ...d.spec.template.spec.containers]) {
            for (const e of c.env ?? []) if (/PAT|PASSWORD|KEY|TOKEN|AUTH/.test(e.name) && !["REPO_TOKEN_VAR", "GIT_CONFIG_KEY_0"].includes(e.name)) expect(e.valueFrom, `${c.name} ${e.name}`).toBeDefined();
          }
        }
      }
    });

    it("SEC-02: every manifest is under kubernetes/apps/opencode/, each workspace is ks.yaml + app/, and app/kustomization.yaml lists app/ exactly", () => {
      // scripts/ (SECR-04, OPS-04) sits at the top of the GitOps repository, beside kubernetes/.
      expect([...files.keys()].filter((f) => !f.startsWith(`${root}/`))).toEqual(["scripts/README.md", "scripts/seed-copilot-auth.sh"]);
      const rel = [...files.keys()].filter((f) => !f.startsWith("scripts/")).map((f) => {
        expect(f.startsWith(`${root}/`)).toBe(true);
        return f.slice(root.length + 1);
      });
      expect(rel.filter((f) => !f.includes("/"))).toEqual(["certificate.yaml", "kustomization.yaml", "namespace.yaml", "referencegrant.yaml"]);
      for (const ws of ["flux", "ha"]) {
        const own = rel.filter((f) => f.startsWith(`${ws}/`)).map((f) => f.slice(ws.length + 1));
        expect(own.filter((f) => !f.startsWith("app/"))).toEqual(["ks.yaml"]);
        const [ks] = docs(files.get(`${root}/${ws}/ks.yaml`) ?? "");
        expect(ks?.spec).toMatchObject({ path: `./${root}/${ws}/app`, sourceRef: { kind: "GitRepository", name: "flux-system" }, prune: true });
        const listed = (docs(files.get(`${root}/${ws}/app/kustomization.yaml`) ?? "")[0]?.resources as string[]).map((r) => r.replace(/^\.\//, "app/"));
        expect([...listed, "app/kustomization.yaml"].sort()).toEqual(own.filter((f) => f.startsWith("app/")).sort());
      }
    });

    it("SEC-03: the PAT cannot reach the pod's logs: no set -x in the init container or its script, no credentials in the clone URL, the token only by variable name", async () => {
      const script = await readFile(path.join(REPO, "config/images/opencode/podwarden-clone-once.sh"), "utf8");
      const code = script.split("\n").filter((l) => !/^\s*#/.test(l));
      expect(code.filter((l) => /\bset\s+(-\w*x|-o\s+xtrace)/.test(l))).toEqual([]);
      for (const text of files.values()) expect(text).not.toMatch(/set -x|set -o xtrace/);
      for (const ws of ["flux", "ha"]) {
        const clone = container(ws, "clone-once");
        expect(new URL(envOf(clone).REPO_URL).username).toBe("");
        expect(envOf(clone).REPO_TOKEN_VAR).toBe("GITHUB_PAT");
        expect([...clone.command, ...(clone.args ?? [])].join(" ")).not.toMatch(/GITHUB_PAT|TOKEN/);
      }
    });

    it("SEC-04: both workspace PVCs are ReadWriteOnce, storage class ceph-block, 5Gi", () => {
      for (const ws of ["flux", "ha"]) {
        expect(find(objs, "PersistentVolumeClaim", `opencode-${ws}`)[0]?.spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "ceph-block", resources: { requests: { storage: "5Gi" } } });
      }
    });

    it("SEC-05: each pod requests cpu 100m / memory 256Mi and is limited to cpu 500m / memory 512Mi (init containers included); with --with-memory every container has them", async () => {
      const memory = allFlux(renderFlux(spec, fluxOptions(envKeys, { withMemory: true })));
      for (const d of find(memory, "Deployment")) {
        const p = d.spec.template.spec;
        expect(p.containers.map((c: Obj) => c.name)).toEqual(["opencode", "valkey", "falkordb", "datadog"]);
        for (const c of [...p.initContainers, ...p.containers]) expect(c.resources, c.name).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } });
      }
      const milli = (q: string): number => (q.endsWith("m") ? Number(q.slice(0, -1)) : Number(q) * 1000);
      const mebi = (q: string): number => Number(q.replace(/Mi$/, ""));
      for (const ws of ["flux", "ha"]) {
        const { initContainers, containers } = podSpec(ws);
        for (const c of [...initContainers, ...containers]) expect(c.resources, c.name).toBeDefined();
        // Kubernetes' effective pod value: the larger of the app containers' sum and the largest init container's.
        const effective = (kind: "requests" | "limits", res: "cpu" | "memory", unit: (q: string) => number): number =>
          Math.max(
            containers.reduce((n: number, c: Obj) => n + unit(c.resources[kind][res]), 0),
            ...initContainers.map((c: Obj) => unit(c.resources[kind][res])),
          );
        expect([effective("requests", "cpu", milli), effective("requests", "memory", mebi)]).toEqual([100, 256]);
        expect([effective("limits", "cpu", milli), effective("limits", "memory", mebi)]).toEqual([500, 512]);
      }
    });

    it("OPS-01: a Stakater Reloader annotation on each Deployment, whose pod uses the Secret that holds auth.json", () => {
      for (const ws of ["flux", "ha"]) {
        expect(dep(ws).metadata.annotations).toEqual({ "reloader.stakater.com/auto": "true" });
        expect(ref(ws, "auth.json").secretKeyRef.name).toBe(externalSecret(ws).spec.target.name);
        expect(envOf(container(ws, "copilot-auth")).COPILOT_AUTH_JSON).toEqual(ref(ws, "auth.json"));
      }
    });

    it("OPS-02: a VolSync ReplicationSource (restic) for both workspace PVCs (--backup)", () => {
      for (const ws of ["flux", "ha"]) {
        const [rs] = find(objs, "ReplicationSource", `opencode-${ws}`);
        expect(rs?.spec).toMatchObject({ sourcePVC: `opencode-${ws}`, restic: { repository: `opencode-${ws}-volsync`, copyMethod: "Snapshot" } });
      }
      expect(find(allFlux(renderFlux(spec, fluxOptions(envKeys))), "ReplicationSource")).toEqual([]);
    });

    it("OPS-03: an ExternalDNS annotation on each HTTPRoute names its subdomain", () => {
      for (const ws of ["flux", "ha"]) {
        const [route] = find(objs, "HTTPRoute", `opencode-${ws}`);
        expect(route?.metadata.annotations).toEqual({ "external-dns.alpha.kubernetes.io/hostname": host(ws) });
        expect(route?.spec.hostnames).toEqual([host(ws)]);
      }
    });
  });
});
