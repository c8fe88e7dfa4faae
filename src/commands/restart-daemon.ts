// podwarden restart-daemon [--config F] [--unit NAME]: replace the running daemon of the pod
// without restarting any container (the upgrade path, handover.ts). The config is checked
// first: a daemon is never replaced by one that would not start (exit 78, nothing touched).
// Without --config (or with the default one), the unit's own PODWARDEN_CONFIG is used.

import { EXIT, UsageError } from "../lib/errors.js";
import { load } from "../daemon/load.js";
import { PATHS } from "../domain/host-paths.js";
import { serviceName, systemctl, unitConfig } from "../systemd/systemctl.js";
import { handOver } from "./handover.js";
import type { ContextOf } from "./options.js";
import type { RESTART_DAEMON } from "./declarations.js";
import { noArgs, printJson, sayer, timeoutMs } from "./shared.js";

export const DEFAULT_UNIT = "opencode-memory-pod.service";

export const unitOption = (value: string | undefined): string => {
  const unit = serviceName(value ?? DEFAULT_UNIT);
  if (unit === undefined) throw new UsageError(`--unit: '${value}' is not a service name (e.g. ${DEFAULT_UNIT})`);
  return unit;
};

export const restartDaemon = async (ctx: ContextOf<typeof RESTART_DAEMON>): Promise<number> => {
  noArgs(ctx, "restart-daemon");
  const unit = unitOption(ctx.options.unit);
  const wait = timeoutMs(ctx, 180_000);
  // The unit's daemon runs with the unit's config, which a drop-in may have moved: by default, that one.
  const config = ctx.global.config === PATHS.config ? ((await unitConfig(systemctl, unit)) ?? PATHS.config) : ctx.global.config;
  const { spec, logger } = await load({ ...ctx.global, config });
  const r = await handOver({
    env: ctx.global.env,
    pod: spec.name,
    config: spec.source,
    unit,
    systemctl,
    say: sayer(ctx, logger.child({ component: "restart-daemon" })),
    timeoutMs: wait,
  });
  if (ctx.options.json) printJson(ctx, { ok: true, pod: spec.name, ...r });
  return EXIT.ok;
};
