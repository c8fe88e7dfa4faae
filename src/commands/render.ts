// podwarden render kube | flux: the pod spec as Kubernetes YAML (stdout) or as a Flux
// GitOps tree (files under --out, or a listing with contents on stdout). The renderers
// are pure (src/render/); this file reads the config and writes files.

import { access, mkdir, readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { loadConfig } from "../config/load.js";
import { EXIT, UsageError } from "../lib/errors.js";
import { findOpenCode } from "../domain/opencode.js";
import type { PodSpec } from "../domain/spec.js";
import { FLUX_DEFAULTS, STOCK_IMAGE, imageProblem, openCodeImageProblem, renderFlux, type FluxScripts, type FluxWorkspace } from "../render/flux.js";
import { renderKube } from "../render/kube.js";
import type { CommandContext } from "./context.js";
import type { ContextOf } from "./options.js";
import type { RENDER } from "./declarations.js";

const LABEL = /^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/;

export const parseWorkspace = (arg: string): FluxWorkspace => {
  const eq = arg.indexOf("=");
  if (eq <= 0) throw new UsageError(`--workspace wants NAME=REPO_URL[#BRANCH], not '${arg}'`);
  const name = arg.slice(0, eq);
  const [repo = "", branch] = arg.slice(eq + 1).split("#", 2);
  if (!LABEL.test(name)) throw new UsageError(`--workspace ${name}: the name must be a lowercase DNS label`);
  if (!/^https?:\/\/[^@\s]+$/.test(repo)) throw new UsageError(`--workspace ${name}: the repository must be an http(s) URL without credentials`);
  return { name, repo, ...(branch ? { branch } : {}) };
};

const PUSH_HINT = `use the stock image (the default, ${STOCK_IMAGE}) or build Dockerfile.opencode, push it to a registry the cluster can pull from, and pass --image REGISTRY/NAME:VERSION (or NAME@sha256:DIGEST); see docs/kubernetes.md`;

/**
 * The OpenCode image for the cluster: --image; else the config's when a cluster can pull it;
 * else the stock image pinned to the checked version. An --image that cannot work (local,
 * moving, malformed, the stock image outside 1.x) is a usage error naming the reason.
 */
export const fluxImage = (spec: PodSpec, flag: string | undefined): { image: string; note?: string } => {
  if (flag !== undefined) {
    const problem = openCodeImageProblem(flag);
    if (problem) throw new UsageError(`render flux: the OpenCode image ${flag} (--image) ${problem}; ${PUSH_HINT}`);
    return { image: flag };
  }
  const configured = findOpenCode(spec.containers)?.container.image;
  if (configured !== undefined && openCodeImageProblem(configured) === undefined) return { image: configured };
  return {
    image: STOCK_IMAGE,
    note: `note: render flux: no --image${configured ? ` and the config's ${configured} is not one a cluster can pull` : ""}: using the stock image ${STOCK_IMAGE}\n`,
  };
};

/** The scripts the pod's ConfigMap carries: the same files the host image has. */
const SCRIPT_DIR = new URL("../../config/images/opencode/", import.meta.url);
export const readFluxScripts = async (): Promise<FluxScripts> => {
  const read = (name: string): Promise<string> => readFile(fileURLToPath(new URL(name, SCRIPT_DIR)), "utf8");
  return { cloneOnce: await read("podwarden-clone-once.sh"), gitCredential: await read("podwarden-git-credential.sh"), mergeAuth: await read("podwarden-merge-auth.mjs") };
};

/**
 * With --with-memory the pod spec's other containers go along as they are: a local image is
 * a usage error (no cluster has it), a moving tag a warning (the seed itself uses :latest).
 */
export const memoryImageWarnings = (spec: PodSpec): string[] => {
  const oc = findOpenCode(spec.containers)?.container;
  const warnings: string[] = [];
  for (const c of spec.containers.filter((x) => x !== oc && !x.init)) {
    const problem = imageProblem(c.image);
    if (problem && problem.kind !== "moving") {
      throw new UsageError(`render flux --with-memory: ${c.name}'s image ${c.image} ${problem.message}; render from a config whose images come from a registry (e.g. config/opencode-memory-pod.yaml)`);
    }
    if (problem) warnings.push(`warning: render flux --with-memory: ${c.name}'s image ${c.image} ${problem.message}: pin a version in the config for repeatable rollouts\n`);
  }
  return warnings;
};

/** The seed's pod as shipped, for rendering on a machine without an installed config. */
export const SHIPPED_CONFIG = fileURLToPath(new URL("../../config/opencode-memory-pod.yaml", import.meta.url));

/** podwarden's Prometheus rules as shipped (monitoring/), for --with-alerts. */
export const SHIPPED_RULES = fileURLToPath(new URL("../../monitoring/podwarden.rules.yml", import.meta.url));

/** --config (or $PODWARDEN_CONFIG); else the installed config; else the shipped one, with a note. */
const renderConfig = async (ctx: CommandContext): Promise<string> => {
  if (ctx.global.configGiven) return ctx.global.config;
  const installed = await access(ctx.global.config).then(
    () => true,
    () => false,
  );
  if (installed) return ctx.global.config;
  ctx.err.write(`note: no --config and no ${ctx.global.config}: rendering the shipped ${SHIPPED_CONFIG}\n`);
  return SHIPPED_CONFIG;
};

export const render = async (ctx: ContextOf<typeof RENDER>): Promise<number> => {
  const [target, ...extra] = ctx.args;
  if ((target !== "kube" && target !== "flux") || extra.length > 0) throw new UsageError("usage: podwarden render kube | podwarden render flux --domain D --workspace NAME=REPO_URL ...");
  const { spec, secrets, warnings } = await loadConfig(await renderConfig(ctx), { envFile: "optional" });
  for (const w of warnings) ctx.err.write(`warning: ${w}\n`);
  const o = ctx.options;
  if (target === "kube") {
    // Names only: what the secretEnv globs match. The values stay in the env file.
    ctx.out.write(renderKube(spec, { envKeys: [...secrets.keys()].sort(), ...(o.storageClass ? { storageClass: o.storageClass } : {}) }));
    return EXIT.ok;
  }
  if (!o.domain || !/^[a-z0-9.-]+\.[a-z]{2,}$/.test(o.domain)) throw new UsageError("render flux needs --domain (e.g. example.com)");
  if (o.workspace.length === 0) throw new UsageError("render flux needs at least one --workspace NAME=REPO_URL");
  const workspaces = o.workspace.map(parseWorkspace).map((w) => (o.pull ? { ...w, pull: true } : w));
  const names = new Set(workspaces.map((w) => w.name));
  if (names.size !== workspaces.length) throw new UsageError("--workspace names must be unique");
  let gateway: { namespace: string; name: string; sectionName: string } = FLUX_DEFAULTS.gateway;
  if (o.gateway) {
    const m = /^([a-z0-9-]+)\/([a-z0-9-]+)(?::([a-z0-9-]+))?$/.exec(o.gateway);
    if (!m?.[1] || !m[2]) throw new UsageError("--gateway wants NAMESPACE/NAME[:SECTION]");
    gateway = { namespace: m[1], name: m[2], sectionName: m[3] ?? FLUX_DEFAULTS.gateway.sectionName };
  }
  const { image, note } = fluxImage(spec, o.image);
  if (note) ctx.err.write(note);
  if (o.withMemory) for (const w of memoryImageWarnings(spec)) ctx.err.write(w);
  const files = renderFlux(spec, {
    ...FLUX_DEFAULTS,
    domain: o.domain,
    workspaces,
    gateway,
    image,
    scripts: await readFluxScripts(),
    ...(o.dependsOn !== undefined ? { dependsOn: o.dependsOn.split(",").map((d) => d.trim()).filter(Boolean) } : {}),
    // Names only: what `secretEnv` patterns stand for. The values stay in the env file.
    envKeys: [...secrets.keys()].sort(),
    ...(o.store ? { clusterSecretStore: o.store } : {}),
    ...(o.storageClass ? { storageClass: o.storageClass } : {}),
    ...(o.issuer ? { clusterIssuer: o.issuer } : {}),
    backup: o.backup,
    withMemory: o.withMemory,
    ...(o.withAlerts ? { alertRules: { text: await readFile(SHIPPED_RULES, "utf8"), source: "monitoring/podwarden.rules.yml" } } : {}),
  });
  if (o.out === undefined) {
    for (const [file, content] of files) ctx.out.write(`### ${file}\n${content}`);
    return EXIT.ok;
  }
  for (const [file, content] of files) {
    const dest = path.join(o.out, file);
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, content);
    ctx.err.write(`wrote ${dest}\n`);
  }
  return EXIT.ok;
};
