// render kube / render flux on the shipped config: golden files (UPDATE_GOLDEN=1 rewrites
// them), every document parses and validates with kubernetes-models where a model exists,
// byte-identical output, no secret value, `$VAR` (never `${VAR}`) in embedded shell, and
// one test per requirement ID of the seed that a rendering can show.

import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { Namespace, PersistentVolumeClaim, Service } from "kubernetes-models/v1";
import { Deployment } from "kubernetes-models/apps/v1";
import { Certificate } from "@kubernetes-models/cert-manager/cert-manager.io/v1";
import { ExternalSecret } from "@kubernetes-models/external-secrets/external-secrets.io/v1beta1";
import { Kustomization } from "@kubernetes-models/flux-cd/kustomize.toolkit.fluxcd.io/v1";
import { HTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1";
import { loadConfig } from "../../../src/config/load.js";
import type { PodSpec } from "../../../src/domain/spec.js";
import { FLUX_DEFAULTS, renderFlux, type FluxOptions } from "../../../src/render/flux.js";
import { renderKube } from "../../../src/render/kube.js";
import { stringify } from "yaml";

const REPO_CONFIG_DIR = fileURLToPath(new URL("../../../config/", import.meta.url));

const GOLDEN = fileURLToPath(new URL("./golden/", import.meta.url));
const SECRET_VALUES = ["pw-Zq8-distinctive", "dd-Kx3-distinctive", "ghp_Rt5distinctive"];
const ENV = `OPENCODE_SERVER_PASSWORD=${SECRET_VALUES[0]}\nDD_API_KEY=${SECRET_VALUES[1]}\nGITHUB_PAT=${SECRET_VALUES[2]}\n`;

async function shippedSpec(): Promise<PodSpec> {
  const dir = await mkdtemp(path.join(tmpdir(), "podwarden-render-"));
  try {
    await writeFile(path.join(dir, "secrets.env"), ENV);
    await chmod(path.join(dir, "secrets.env"), 0o600);
    // A fixed file name: the rendered header names the config file.
    const override = path.join(dir, "opencode-memory-pod.yaml");
    await writeFile(override, stringify({ extends: path.join(REPO_CONFIG_DIR, "opencode-memory-pod.yaml"), pod: { envFile: "secrets.env" } }));
    return (await loadConfig(override)).spec;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const fluxOptions = (over: Partial<FluxOptions> = {}): FluxOptions => ({
  ...FLUX_DEFAULTS,
  domain: "angryninja.cloud",
  workspaces: [
    { name: "flux", repo: "https://github.com/angryninja/k8s-cluster.git" },
    { name: "ha", repo: "https://github.com/angryninja/home-assistant-config.git" },
  ],
  image: "ghcr.io/angryninja/opencode-server:1.18.33",
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
  "v1/PersistentVolumeClaim": (o) => new PersistentVolumeClaim(o as never),
  "v1/Service": (o) => new Service(o as never),
  "apps/v1/Deployment": (o) => new Deployment(o as never),
  "cert-manager.io/v1/Certificate": (o) => new Certificate(o as never),
  // @kubernetes-models/external-secrets for Node 20 (0.5.x) has v1beta1 only; v1 has the same schema for these fields.
  "external-secrets.io/v1/ExternalSecret": (o) => new ExternalSecret({ ...o, apiVersion: "external-secrets.io/v1beta1" } as never),
  "kustomize.toolkit.fluxcd.io/v1/Kustomization": (o) => new Kustomization(o as never),
  "gateway.networking.k8s.io/v1/HTTPRoute": (o) => new HTTPRoute(o as never),
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

const allFlux = (files: ReadonlyMap<string, string>): Obj[] => [...files.values()].flatMap(docs);
const find = (objs: Obj[], kind: string, name?: string): Obj[] => objs.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));

describe("render kube", () => {
  it("matches the golden file, validates, and is byte-identical on a second render", async () => {
    const spec = await shippedSpec();
    const text = renderKube(spec);
    expect(renderKube(await shippedSpec())).toBe(text);
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
    const [dep] = find(docs(renderKube(await shippedSpec())), "Deployment");
    const byName = new Map<string, Obj>(dep?.spec.template.spec.containers.map((c: Obj) => [c.name, c]));
    expect(byName.get("valkey")?.readinessProbe.tcpSocket).toEqual({ port: 6380 });
    expect(byName.get("datadog")?.livenessProbe.tcpSocket).toEqual({ port: 8126 });
    const cmd = byName.get("opencode")?.readinessProbe.exec.command as string[];
    expect(cmd.join(" ")).toContain("$OPENCODE_SERVER_PASSWORD");
    expect(cmd.join(" ")).toContain("http://127.0.0.1:4096/global/health");
    expect(byName.get("opencode")?.envFrom).toEqual([{ secretRef: { name: "opencode-memory-pod-env" } }]);
  });
});

describe("render flux", () => {
  it("matches the golden files (default, --backup --with-memory), validates every document, byte-identical twice", async () => {
    const spec = await shippedSpec();
    for (const [label, over] of [["default", {}], ["backup-memory", { backup: true, withMemory: true }]] as const) {
      const files = renderFlux(spec, fluxOptions(over));
      expect([...renderFlux(await shippedSpec(), fluxOptions(over))]).toEqual([...files]);
      for (const [file, content] of files) await golden(path.join(`flux-${label}`, file), content);
      allFlux(files).forEach(validate);
    }
  });

  it("writes no secret value and keeps embedded shell to $VAR (Flux substitutes ${...})", async () => {
    const spec = await shippedSpec();
    const outputs = [renderKube(spec), ...renderFlux(spec, fluxOptions({ backup: true, withMemory: true })).values()];
    for (const text of outputs) for (const v of SECRET_VALUES) expect(text).not.toContain(v);
    for (const text of outputs) expect(text).not.toMatch(/\$\{/);
  });

  describe("requirements of the seed", async () => {
    const spec = await shippedSpec();
    const files = renderFlux(spec, fluxOptions({ backup: true }));
    const objs = allFlux(files);
    const root = "kubernetes/apps/opencode";
    const dep = (ws: string): Obj => find(objs, "Deployment", `opencode-${ws}`)[0] ?? {};
    const podSpec = (ws: string): Obj => dep(ws).spec.template.spec;

    it("INFRA-01: the opencode namespace carries the Flux prune guard", () => {
      expect(find(objs, "Namespace", "opencode")[0]?.metadata.annotations).toEqual({ "kustomize.toolkit.fluxcd.io/prune": "disabled" });
    });
    it("INFRA-02: the wildcard Certificate for *.opencode.<domain> from ClusterIssuer letsencrypt-production", () => {
      const [cert] = find(objs, "Certificate");
      expect(cert?.spec.dnsNames).toEqual(["*.opencode.angryninja.cloud"]);
      expect(cert?.spec.issuerRef).toEqual({ group: "cert-manager.io", kind: "ClusterIssuer", name: "letsencrypt-production" });
    });
    it("INFRA-03: the aggregator kustomization references both workspace ks.yaml files", () => {
      const agg = docs(files.get(`${root}/kustomization.yaml`) ?? "")[0];
      expect(agg?.resources).toEqual(expect.arrayContaining(["./flux/ks.yaml", "./ha/ks.yaml"]));
      expect(files.has(`${root}/flux/ks.yaml`) && files.has(`${root}/ha/ks.yaml`)).toBe(true);
    });
    for (const ws of ["flux", "ha"]) {
      const WS = ws.toUpperCase();
      const es = (): Obj => find(objs, "ExternalSecret", `opencode-${ws}`)[0] ?? {};
      it(`SECR-01/02/03 (${ws}): PAT, password and auth.json come from Doppler OPENCODE_${WS}_* through an ExternalSecret`, () => {
        expect(es().spec.secretStoreRef).toEqual({ kind: "ClusterSecretStore", name: "doppler" });
        expect(es().spec.data.map((d: Obj) => d.remoteRef.key)).toEqual([`OPENCODE_${WS}_GITHUB_PAT`, `OPENCODE_${WS}_PASSWORD`, `OPENCODE_${WS}_COPILOT_AUTH_JSON`]);
      });
      it(`${WS === "FLUX" ? "FLUX" : "HA"}-01 (${ws}): an HTTPRoute for ${ws}.opencode.<domain> to the OpenCode Service`, () => {
        const [route] = find(objs, "HTTPRoute", `opencode-${ws}`);
        expect(route?.spec.hostnames).toEqual([`${ws}.opencode.angryninja.cloud`]);
        expect(route?.spec.rules[0].backendRefs).toEqual([{ name: `opencode-${ws}`, port: 4096 }]);
        expect(find(objs, "Service", `opencode-${ws}`)[0]?.spec.ports[0].port).toBe(4096);
      });
      it(`${WS === "FLUX" ? "FLUX" : "HA"}-02 (${ws}): the server password reaches OpenCode from the Secret, and the probes authenticate`, () => {
        const oc = podSpec(ws).containers[0];
        expect(oc.env).toContainEqual({ name: "OPENCODE_SERVER_PASSWORD", valueFrom: { secretKeyRef: { name: `opencode-${ws}-secret`, key: "OPENCODE_SERVER_PASSWORD" } } });
        expect(oc.readinessProbe.exec.command.join(" ")).toContain("$OPENCODE_SERVER_PASSWORD");
      });
      it(`${WS === "FLUX" ? "FLUX" : "HA"}-04/05/06 (${ws}): the clone-once init container clones into the PVC, which is the working directory`, () => {
        const [clone] = podSpec(ws).initContainers;
        expect(clone.command).toEqual(["/usr/local/bin/podwarden-clone-once"]);
        const env = Object.fromEntries(clone.env.map((e: Obj) => [e.name, e.value ?? e.valueFrom]));
        expect(env.REPO_TOKEN_VAR).toBe("GITHUB_PAT");
        expect(env.GITHUB_PAT).toEqual({ secretKeyRef: { name: `opencode-${ws}-secret`, key: "GITHUB_PAT" } });
        expect(env.REPO_URL).not.toMatch(/@/);
        expect(podSpec(ws).containers[0].workingDir).toBe(env.REPO_DIR);
        expect(clone.volumeMounts[0]).toMatchObject({ name: "data", mountPath: "/workspaces" });
      });
      it(`${WS === "FLUX" ? "FLUX" : "HA"}-09 (${ws}): a BackendTrafficPolicy sets the route's request timeout to 0s`, () => {
        const [btp] = find(objs, "BackendTrafficPolicy", `opencode-${ws}`);
        expect(btp?.spec.targetRefs).toEqual([{ group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: `opencode-${ws}` }]);
        expect(btp?.spec.timeout.http.requestTimeout).toBe("0s");
      });
      it(`SEC-04 (${ws}): the PVC is ReadWriteOnce, ceph-block, 5Gi`, () => {
        expect(find(objs, "PersistentVolumeClaim", `opencode-${ws}`)[0]?.spec).toEqual({ accessModes: ["ReadWriteOnce"], storageClassName: "ceph-block", resources: { requests: { storage: "5Gi" } } });
      });
      it(`SEC-05 (${ws}): requests cpu 100m/memory 256Mi, limits cpu 500m/memory 512Mi`, () => {
        expect(podSpec(ws).containers[0].resources).toEqual({ requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "500m", memory: "512Mi" } });
      });
      it(`OPS-01/02/03 (${ws}): Reloader annotation, VolSync ReplicationSource, ExternalDNS annotation`, () => {
        expect(dep(ws).metadata.annotations).toEqual({ "reloader.stakater.com/auto": "true" });
        expect(find(objs, "ReplicationSource", `opencode-${ws}`)[0]?.spec.sourcePVC).toBe(`opencode-${ws}`);
        expect(find(objs, "HTTPRoute", `opencode-${ws}`)[0]?.metadata.annotations).toEqual({ "external-dns.alpha.kubernetes.io/hostname": `${ws}.opencode.angryninja.cloud` });
      });
    }
    it("SEC-01: no secret values; Secrets only as references", () => {
      expect(find(objs, "Secret")).toEqual([]);
      for (const text of files.values()) for (const v of SECRET_VALUES) expect(text).not.toContain(v);
    });
    it("SEC-02: ks.yaml + app/ under kubernetes/apps/opencode/", () => {
      for (const ws of ["flux", "ha"]) {
        const [ks] = docs(files.get(`${root}/${ws}/ks.yaml`) ?? "");
        expect(ks?.spec.path).toBe(`./${root}/${ws}/app`);
        for (const res of docs(files.get(`${root}/${ws}/app/kustomization.yaml`) ?? "")[0]?.resources ?? []) expect(files.has(path.posix.join(root, ws, "app", res))).toBe(true);
      }
    });
    it("SEC-03: the PAT is neither in the clone URL nor in any argv; no set -x", () => {
      for (const text of files.values()) expect(text).not.toMatch(/set -x|x-access-token:|https:\/\/[^/\s]*@/);
    });
  });
});
