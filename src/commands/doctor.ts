// podwarden doctor: checks the host before anything runs, one line per check with the fix.
// Exit 0 when nothing is an error (warnings allowed), 78 for a config error, 69 when Podman
// does not answer, 72 when the host is not ready. Never contacts a registry; the only thing
// it creates is a throwaway pod (label io.podwarden.doctor=true), removed at once.

import { loadConfig } from "../config/load.js";
import { probePodName, runChecks, type CheckInput } from "../doctor/checks.js";
import { nodeHostFacts } from "../doctor/host-facts.js";
import { exitCodeFor, formatChecks } from "../doctor/report.js";
import { createRuntime } from "../daemon/load.js";
import type { ContainerRuntime } from "../runtime/port.js";
import type { ContextOf } from "./options.js";
import type { DOCTOR } from "./declarations.js";
import { noArgs, printJson } from "./shared.js";

const loadView = async (file: string): Promise<CheckInput["config"]> => {
  try {
    const { spec, secrets, warnings } = await loadConfig(file);
    return { spec, secretCount: secrets.size, warnings };
  } catch (error) {
    return { error };
  }
};

export const doctor = async (ctx: ContextOf<typeof DOCTOR>): Promise<number> => {
  noArgs(ctx, "doctor");
  const started = performance.now();
  let runtime: ContainerRuntime | undefined;
  let socket = ctx.global.socket ?? "(no socket found)";
  let socketError: unknown;
  try {
    ({ runtime, socket } = createRuntime(ctx.global));
  } catch (err) {
    socketError = err;
  }
  const checks = await runChecks({
    socket,
    runtime,
    socketError,
    config: await loadView(ctx.global.config),
    facts: nodeHostFacts(ctx.global.env),
    probe: "always",
    info: true,
    probeName: probePodName(),
  });
  const code = exitCodeFor(checks);
  const ms = Math.round(performance.now() - started);
  if (ctx.options.json) {
    printJson(ctx, { ok: code === 0, exitCode: code, ms, checks });
    return code;
  }
  ctx.out.write(`${formatChecks(checks)}\n`);
  const count = (s: string): number => checks.filter((c) => c.status === s).length;
  const warnings = count("warn") > 0 ? ` (${count("warn")} ${count("warn") === 1 ? "warning" : "warnings"})` : "";
  ctx.out.write(code === 0 ? `host ready${warnings}, ${ms} ms\n` : `host not ready: ${count("error")} ${count("error") === 1 ? "error" : "errors"}${warnings}, exit ${code}, ${ms} ms\n`);
  return code;
};
