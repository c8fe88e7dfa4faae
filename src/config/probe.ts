// Probes and timings: config sections (duration strings) -> ProbeSpec (milliseconds), with the checks
// that involve more than one field.

import type { ProbeSpec, RestartPolicy } from "../domain/spec.js";
import { formatDuration, parseDuration } from "./durations.js";
import type { FieldPath } from "./field-path.js";
import { show } from "./schema-errors.js";
import { compact } from "./freeze.js";
import type { Issues } from "./issues.js";
import {
  BUILTIN_DEFAULTS,
  DEFAULT_HTTP_USERNAME,
  PROBE_KINDS,
  type DefaultsSection,
  type ProbeSection,
  type ProbeTimingSection,
} from "./schema.js";

export interface Timing {
  readonly intervalMs: number;
  readonly startIntervalMs: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly startPeriodMs: number;
}

export interface Defaults {
  readonly timing: Timing;
  readonly stopTimeoutMs: number;
  readonly restart: RestartPolicy;
}

const STOP_TIMEOUT_MS = { min: 1_000, max: 600_000 };

/** The effective defaults: `defaults` over the built-in ones, checked once, at `defaults.*`. */
export function resolveDefaults(section: DefaultsSection | undefined, issues: Issues): Defaults {
  const builtin = timingOf(BUILTIN_DEFAULTS.probe);
  const timing = section?.probe === undefined ? builtin : overlay(builtin, section.probe, ["defaults", "probe"], issues);
  const stopTimeoutMs =
    section?.stopTimeout === undefined
      ? parseDuration(BUILTIN_DEFAULTS.stopTimeout)
      : stopTimeout(section.stopTimeout, ["defaults", "stopTimeout"], issues);
  return { timing, stopTimeoutMs, restart: restartPolicy(section?.restart, issues) };
}

function restartPolicy(section: DefaultsSection["restart"], issues: Issues): RestartPolicy {
  const ms = (key: keyof typeof BUILTIN_DEFAULTS.restart): number => parseDuration(section?.[key] ?? BUILTIN_DEFAULTS.restart[key]);
  const policy = { initialDelayMs: ms("initialDelay"), maxDelayMs: ms("maxDelay"), resetAfterMs: ms("resetAfter") };
  if (policy.initialDelayMs === 0) issues.error(["defaults", "restart", "initialDelay"], "must be more than 0 (a crash loop must not spin)");
  if (policy.maxDelayMs < policy.initialDelayMs) {
    issues.error(["defaults", "restart", "maxDelay"], `must be at least initialDelay (${formatDuration(policy.initialDelayMs)})`);
  }
  return policy;
}

/** Milliseconds of a stop timeout, reported at `path` when outside 1s..10m. */
export function stopTimeout(text: string, path: FieldPath, issues: Issues): number {
  const ms = parseDuration(text);
  if (ms < STOP_TIMEOUT_MS.min || ms > STOP_TIMEOUT_MS.max) {
    const [min, max] = [formatDuration(STOP_TIMEOUT_MS.min), formatDuration(STOP_TIMEOUT_MS.max)];
    issues.error(path, `must be between ${min} and ${max} (got ${text})`);
  }
  return ms;
}

export interface ProbeContext {
  readonly issues: Issues;
  readonly defaults: Timing;
  /** Container ports the pod publishes over TCP; undefined when pod.ports is itself invalid. */
  readonly publishedPorts: ReadonlySet<number> | undefined;
}

/** The ProbeSpec of a container's `probe` section at `path`, or undefined when it names no single kind. */
export function buildProbe(section: ProbeSection, path: FieldPath, ctx: ProbeContext): ProbeSpec | undefined {
  const kinds = PROBE_KINDS.filter((kind) => section[kind] !== undefined);
  if (kinds.length !== 1) {
    const found = kinds.length === 0 ? "none" : kinds.join(" and ");
    ctx.issues.error(path, `must have exactly one of ${PROBE_KINDS.join(", ")} (found ${found})`);
    return undefined;
  }
  const timing = overlay(ctx.defaults, section, path, ctx.issues);
  const { redis, http, tcp, exec } = section;
  if (redis !== undefined) {
    checkPublished(redis.port, [...path, "redis", "port"], ctx);
    return compact({ ...timing, kind: "redis" as const, port: redis.port, passwordKey: redis.passwordKey });
  }
  if (http !== undefined) return { ...timing, ...httpProbe(http, [...path, "http"], ctx) };
  if (tcp !== undefined) {
    checkPublished(tcp.port, [...path, "tcp", "port"], ctx);
    return { ...timing, kind: "tcp", port: tcp.port };
  }
  return { ...timing, kind: "exec", command: [...(exec ?? [])] };
}

type HttpSection = NonNullable<ProbeSection["http"]>;

const PROBE_PATH_MAX = 2048;

/** A request target the probe can send as is: "/" then printable ASCII, no fragment. */
function probePathProblem(p: string): string | undefined {
  if (!p.startsWith("/")) return "must start with /";
  if (p.length > PROBE_PATH_MAX) return `must be at most ${PROBE_PATH_MAX} characters`;
  if (!/^[!-~]*$/.test(p)) return "must be printable ASCII without spaces (percent-encode the rest)";
  if (p.includes("#")) return "must not have a #fragment (it is never sent)";
  return undefined;
}

function httpProbe(http: HttpSection, path: FieldPath, ctx: ProbeContext) {
  checkPublished(http.port, [...path, "port"], ctx);
  const probePath = http.path ?? "/";
  const pathBad = probePathProblem(probePath);
  if (pathBad !== undefined) ctx.issues.error([...path, "path"], `${pathBad} (got ${show(probePath)})`);
  const auth =
    http.auth &&
    compact({
      usernameKey: http.auth.usernameKey,
      defaultUsername: http.auth.username ?? DEFAULT_HTTP_USERNAME,
      passwordKey: http.auth.passwordKey,
    });
  return compact({ kind: "http" as const, port: http.port, path: probePath, auth });
}

/** Probes run on the host and dial the host port that publishes the container port. */
function checkPublished(port: number, path: FieldPath, ctx: ProbeContext): void {
  if (ctx.publishedPorts === undefined || ctx.publishedPorts.has(port)) return;
  const published = [...ctx.publishedPorts].join(", ") || "none";
  ctx.issues.error(
    path,
    `container port ${port} is not published by the pod (pod.ports publishes container ports: ${published}); ` +
      "probes run on the host and dial the published host port",
  );
}

const TIMING_KEYS = ["interval", "startInterval", "timeout", "retries", "startPeriod"] as const;

function timingOf(section: Required<ProbeTimingSection>): Timing {
  return {
    intervalMs: parseDuration(section.interval),
    startIntervalMs: parseDuration(section.startInterval),
    timeoutMs: parseDuration(section.timeout),
    retries: section.retries,
    startPeriodMs: parseDuration(section.startPeriod),
  };
}

/**
 * `section`'s timing keys over `base`, checked. Problems are reported at the keys `section` sets, so an
 * inherited mistake is reported once, where it was made.
 */
function overlay(base: Timing, section: ProbeTimingSection, path: FieldPath, issues: Issues): Timing {
  const ms = (text: string | undefined, fallback: number) => (text === undefined ? fallback : parseDuration(text));
  const timing: Timing = {
    intervalMs: ms(section.interval, base.intervalMs),
    startIntervalMs: ms(section.startInterval, base.startIntervalMs),
    timeoutMs: ms(section.timeout, base.timeoutMs),
    retries: section.retries ?? base.retries,
    startPeriodMs: ms(section.startPeriod, base.startPeriodMs),
  };
  const set = new Set(TIMING_KEYS.filter((key) => section[key] !== undefined));
  const mustBePositive = [
    ["interval", timing.intervalMs],
    ["startInterval", timing.startIntervalMs],
    ["timeout", timing.timeoutMs],
  ] as const;
  for (const [key, value] of mustBePositive) {
    if (set.has(key) && value === 0) issues.error([...path, key], "must be longer than 0s");
  }
  if (timing.timeoutMs >= timing.intervalMs && (set.has("timeout") || set.has("interval"))) {
    issues.error(
      [...path, set.has("timeout") ? "timeout" : "interval"],
      `timeout (${formatDuration(timing.timeoutMs)}) must be shorter than interval (${formatDuration(timing.intervalMs)})`,
    );
  }
  return timing;
}
