// podwarden install | uninstall: podwarden as the opencode-memory-pod service, the way the
// unit expects it (see src/install/plan.ts for what goes where). Both print every step;
// --dry-run only prints them. Installing over a running service is the upgrade path: the
// new daemon replaces the old one and adopts the running containers.

import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../config/load.js";
import { ConfigError, EXIT } from "../lib/errors.js";
import { logDestination } from "../observability/destination.js";
import { createLogger } from "../observability/logger.js";
import { systemctl, unitConfig } from "../systemd/systemctl.js";
import { applySteps } from "../install/apply.js";
import { DEFAULT_PREFIX, PATHS, UNIT } from "../domain/host-paths.js";
import { InstallError, checkedPath, planInstall, planUninstall, stepJson, type Step } from "../install/plan.js";
import { survey } from "../install/survey.js";
import { handOver } from "./handover.js";
import type { CommandContext } from "./context.js";
import type { ContextOf } from "./options.js";
import type { INSTALL, UNINSTALL } from "./declarations.js";
import { noArgs, printJson, sayer } from "./shared.js";

/** The package this podwarden runs from (dist/commands/ -> the package root). */
const packageRoot = (): string => fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

interface Setup {
  readonly root: string;
  readonly prefix: string;
  readonly say: ReturnType<typeof sayer>;
}

/** The options install and uninstall both take. */
type ServiceContext = CommandContext<{ readonly prefix: string | undefined; readonly root: string | undefined; readonly dryRun: boolean; readonly json: boolean }>;

const setup = (ctx: ServiceContext, name: string): Setup => {
  noArgs(ctx, name);
  const s = ctx.options;
  const root = checkedPath("--root", s.root ?? "/", 0);
  const prefix = checkedPath("--prefix", s.prefix ?? DEFAULT_PREFIX, 2);
  if (root === "/" && !s.dryRun && (process.getuid?.() ?? 0) !== 0) {
    throw new InstallError(`${name} writes ${PATHS.unitFile}, ${prefix} and /etc/podwarden: run it as root (or see what it would do with --dry-run)`);
  }
  const logger = createLogger({ level: ctx.global.logLevel, destination: logDestination(ctx.global) }).child({ component: name });
  return { root, prefix, say: sayer(ctx, logger) };
};

/** Node for ExecStart=: this one, when its path can go into a unit file as it is. */
const nodePath = (say: Setup["say"]): string => {
  try {
    return checkedPath("node", process.execPath, 1);
  } catch {
    say.warn({ node: process.execPath }, `Node's path ${process.execPath} cannot go into a unit file as it is: the unit uses /usr/bin/node`);
    return "/usr/bin/node";
  }
};

const done = (ctx: ServiceContext, st: Setup, steps: readonly Step[]): number => {
  if (ctx.options.json) printJson(ctx, { ok: true, dryRun: ctx.options.dryRun, root: st.root, prefix: st.prefix, steps: steps.map(stepJson) });
  return EXIT.ok;
};

export const install = async (ctx: ContextOf<typeof INSTALL>): Promise<number> => {
  const st = setup(ctx, "install");
  const { say, root, prefix } = st;
  const found = await survey({ root, prefix, source: packageRoot(), node: nodePath(say), systemctl });
  const variant = ctx.options.local ? "local" : "seed";
  const steps = planInstall({ prefix, variant, noStart: ctx.options.noStart, rooted: root !== "/" }, found, randomBytes(18).toString("base64url"));
  if (found.configExists && ctx.options.local) say.warn({ config: PATHS.config }, `--local changes nothing: ${PATHS.config} exists and is kept`);
  await applySteps(steps, {
    root,
    dryRun: ctx.options.dryRun,
    say,
    systemctl,
    // A drop-in may point the unit at another config (the example does): check and hand over that one.
    validate: async (planned) => {
      const config = (await unitConfig(systemctl, UNIT)) ?? planned;
      if (config !== planned) say.info({ config }, `${UNIT} runs with ${config} (set in a drop-in): checking that file`);
      try {
        const { warnings } = await loadConfig(config);
        for (const w of warnings) say.warn({ config }, w);
      } catch (err) {
        if (err instanceof ConfigError) say.error({ config }, `${config} does not validate, so the service is not started; fix it, then: systemctl daemon-reload && systemctl enable --now ${UNIT}`);
        throw err;
      }
    },
    handover: async (unit) => {
      const { spec } = await loadConfig((await unitConfig(systemctl, unit)) ?? PATHS.config);
      await handOver({ env: ctx.global.env, pod: spec.name, config: spec.source, unit, systemctl, say, timeoutMs: 180_000 });
    },
  });
  if (!ctx.options.dryRun && steps.some((s) => s.op === "write" && s.path === PATHS.envFile)) {
    say.warn({ envFile: PATHS.envFile }, `${PATHS.envFile} is on /run, which is emptied at boot: have a service write it before ${UNIT} starts, or move it (pod.envFile)`);
  }
  return done(ctx, st, steps);
};

export const uninstall = async (ctx: ContextOf<typeof UNINSTALL>): Promise<number> => {
  const st = setup(ctx, "uninstall");
  const { say, root, prefix } = st;
  const found = await survey({ root, prefix, source: packageRoot(), node: "/usr/bin/node", systemctl }, true);
  const steps = planUninstall({ prefix }, found);
  await applySteps(steps, { root, dryRun: ctx.options.dryRun, say, systemctl, validate: async () => undefined, handover: async () => undefined });
  return done(ctx, st, steps);
};
