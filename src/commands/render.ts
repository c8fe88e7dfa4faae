// podwarden render kube | flux: the pod spec as Kubernetes YAML (stdout) or as a Flux
// GitOps tree (files under --out, or a listing with contents on stdout). The renderers
// are pure (src/render/); this file reads the config and writes files.

import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { loadConfig } from "../config/load.js";
import { EXIT, UsageError } from "../lib/errors.js";
import { FLUX_DEFAULTS, renderFlux, type FluxWorkspace } from "../render/flux.js";
import { renderKube } from "../render/kube.js";
import type { CommandContext } from "./index.js";

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

export const render = async (ctx: CommandContext): Promise<number> => {
  const [target, ...extra] = ctx.args;
  if ((target !== "kube" && target !== "flux") || extra.length > 0) throw new UsageError("usage: podwarden render kube | podwarden render flux --domain D --workspace NAME=REPO_URL ...");
  const { spec } = await loadConfig(ctx.global.config);
  const o = ctx.render;
  if (target === "kube") {
    ctx.out.write(renderKube(spec, { ...(o.storageClass ? { storageClass: o.storageClass } : {}) }));
    return EXIT.ok;
  }
  if (!o.domain || !/^[a-z0-9.-]+\.[a-z]{2,}$/.test(o.domain)) throw new UsageError("render flux needs --domain (e.g. example.com)");
  if (o.workspaces.length === 0) throw new UsageError("render flux needs at least one --workspace NAME=REPO_URL");
  const workspaces = o.workspaces.map(parseWorkspace);
  const names = new Set(workspaces.map((w) => w.name));
  if (names.size !== workspaces.length) throw new UsageError("--workspace names must be unique");
  let gateway: { namespace: string; name: string; sectionName: string } = FLUX_DEFAULTS.gateway;
  if (o.gateway) {
    const m = /^([a-z0-9-]+)\/([a-z0-9-]+)(?::([a-z0-9-]+))?$/.exec(o.gateway);
    if (!m?.[1] || !m[2]) throw new UsageError("--gateway wants NAMESPACE/NAME[:SECTION]");
    gateway = { namespace: m[1], name: m[2], sectionName: m[3] ?? FLUX_DEFAULTS.gateway.sectionName };
  }
  const files = renderFlux(spec, {
    ...FLUX_DEFAULTS,
    domain: o.domain,
    workspaces,
    gateway,
    ...(o.image ? { image: o.image } : {}),
    ...(o.store ? { clusterSecretStore: o.store } : {}),
    ...(o.storageClass ? { storageClass: o.storageClass } : {}),
    ...(o.issuer ? { clusterIssuer: o.issuer } : {}),
    backup: o.backup,
    withMemory: o.withMemory,
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
