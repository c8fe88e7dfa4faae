// `render flux --with-alerts`: monitoring/podwarden.rules.yml as a Prometheus Operator
// PrometheusRule, validated twice: with kubernetes-models' model of the CRD
// (@kubernetes-models/prometheus-operator), and against the CRD's own openAPIV3Schema
// (test/fixtures/crd/), which is what the API server applies, with unknown fields refused
// rather than pruned (a misspelt key would otherwise vanish).

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import { Ajv, type ErrorObject } from "ajv";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { readFluxScripts, render } from "../../../src/commands/render.js";
import { readOptions, type ContextOf } from "../../../src/commands/options.js";
import { RENDER } from "../../../src/commands/declarations.js";
import { loadConfig } from "../../../src/config/load.js";
import { FLUX_DEFAULTS, renderFlux, type FluxOptions } from "../../../src/render/flux.js";
import { PROMETHEUS_RULE_FILE, ruleGroups } from "../../../src/render/prometheus-rule.js";
import { Writable } from "node:stream";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const RULES = `${REPO}monitoring/podwarden.rules.yml`;
type Obj = Record<string, unknown>;

/** The CRD schema made strict: objects with declared properties take no others; Go's (?i) dropped (JavaScript has no inline flags). */
const strictSchema = async (): Promise<Obj> => {
  const walk = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(walk);
    if (typeof x !== "object" || x === null) return x;
    const o = Object.fromEntries(Object.entries(x).map(([k, v]) => [k, k === "pattern" && typeof v === "string" ? v.replace("(?i)", "") : walk(v)])) as Obj;
    if (o.properties && o.additionalProperties === undefined) o.additionalProperties = false;
    return o;
  };
  return walk(JSON.parse(await readFile(`${REPO}test/fixtures/crd/prometheusrule-v1.schema.json`, "utf8"))) as Obj;
};

const check = async (): Promise<(o: unknown) => string[]> => {
  const validate = new Ajv({ strict: false, allErrors: true }).compile(await strictSchema());
  return (o) => (validate(o) ? [] : (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath} ${e.message ?? ""}`));
};

const SCRIPTS = await readFluxScripts();

const options = (over: Partial<FluxOptions> = {}): FluxOptions => ({
  ...FLUX_DEFAULTS,
  domain: "example.com",
  workspaces: [{ name: "flux", repo: "https://github.com/o/k8s-cluster.git" }],
  image: "ghcr.io/o/opencode-server:1.18.33",
  scripts: SCRIPTS,
  ...over,
});

const spec = async () => (await loadConfig(`${REPO}config/opencode-memory-pod.yaml`, { envFile: "optional" })).spec;

describe("render flux with the alert rules", () => {
  it("adds prometheusrule.yaml to the tree and its kustomization; the object passes the CRD's schema and holds the rule file's groups unchanged", async () => {
    const text = await readFile(RULES, "utf8");
    const files = renderFlux(await spec(), options({ alertRules: { text, source: "monitoring/podwarden.rules.yml" } }));
    const root = FLUX_DEFAULTS.root;
    const yaml = files.get(`${root}/${PROMETHEUS_RULE_FILE}`);
    expect(yaml).toBeDefined();
    const kustomization = parse(files.get(`${root}/kustomization.yaml`) ?? "") as { resources: string[] };
    expect(kustomization.resources).toContain(`./${PROMETHEUS_RULE_FILE}`);
    const docs = parseAllDocuments(yaml ?? "").map((d) => d.toJS() as Obj);
    expect(docs).toHaveLength(1);
    const obj = docs[0]!;
    expect(obj).toMatchObject({ apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "podwarden", namespace: FLUX_DEFAULTS.namespace } });
    expect((await check())(obj)).toEqual([]);
    expect(() => new PrometheusRule(obj as never).validate()).not.toThrow();
    expect((obj.spec as { groups: unknown }).groups).toEqual((parse(text) as { groups: unknown }).groups);
    // Flux substitutes ${VAR} in manifests: the rules' templates must hold none.
    expect(yaml).not.toContain("${");
  });

  it("the schema check refuses a broken rule (a bad `for`, a misspelt key, a rule without expr)", async () => {
    const v = await check();
    const base = { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "x" } };
    expect(v({ ...base, spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up == 0", for: "5 minutes" }] }] } }).join()).toMatch(/for must match pattern/);
    expect(v({ ...base, spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up == 0", annotation: { summary: "s" } }] }] } }).join()).toMatch(/additional properties/);
    expect(v({ ...base, spec: { groups: [{ name: "g", rules: [{ alert: "A" }] }] } }).join()).toMatch(/must have required property 'expr'/);
    // kubernetes-models' model of the CRD refuses the same rule without expr.
    expect(() => new PrometheusRule({ ...base, spec: { groups: [{ name: "g", rules: [{ alert: "A" }] }] } } as never).validate()).toThrow(/expr/);
    expect(v({ ...base, spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up == 0", for: "5m" }] }] } })).toEqual([]);
  });

  it("without the option the tree has no PrometheusRule", async () => {
    const files = renderFlux(await spec(), options());
    expect([...files.keys()].some((f) => f.endsWith(PROMETHEUS_RULE_FILE))).toBe(false);
    expect(files.get(`${FLUX_DEFAULTS.root}/kustomization.yaml`)).not.toContain(PROMETHEUS_RULE_FILE);
  });

  it("a file that is not a rule file is an error naming it", () => {
    expect(() => ruleGroups("groups: 3\n", "x.yml")).toThrow(/^x\.yml: not a Prometheus rule file/);
    expect(() => ruleGroups("- a\n", "x.yml")).toThrow(/x\.yml/);
  });

  it("`podwarden render flux --with-alerts` prints the shipped rules as prometheusrule.yaml", async () => {
    const out: string[] = [];
    const ctx = {
      global: { config: `${REPO}config/opencode-memory-pod.yaml`, configGiven: true, env: {}, logLevel: "silent", logFormat: "json", version: "0" },
      args: ["flux"],
      options: readOptions(RENDER.options, { domain: "example.com", workspace: ["flux=https://github.com/o/k8s-cluster.git"], image: "ghcr.io/o/opencode-server:1.18.33", "with-alerts": true }),
      out: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }),
      err: new Writable({ write: (_c, _e, cb) => cb() }),
    } as unknown as ContextOf<typeof RENDER>;
    expect(await render(ctx)).toBe(0);
    const text = out.join("");
    expect(text).toContain(`### ${FLUX_DEFAULTS.root}/${PROMETHEUS_RULE_FILE}\n`);
    expect(text).toContain("alert: PodwardenContainerCrashLooping");
  });
});
