// Pure mapping from Podman's container inspect JSON (libpod or compat, Podman 4 or 5)
// to ObservedContainer. Field quirks are absorbed here and nowhere else.

import type { ObservedContainer, RunState } from "../domain/observed.js";
import { LABELS } from "../domain/spec.js";

interface InspectHealth {
  Status?: string;
}

export interface InspectJson {
  Id?: string;
  ID?: string;
  Name?: string;
  Image?: string;
  ImageName?: string;
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  State?: {
    Status?: string;
    Running?: boolean;
    Paused?: boolean;
    ExitCode?: number;
    OOMKilled?: boolean;
    StartedAt?: string;
    FinishedAt?: string;
    /** Podman 5 and the compat API. */
    Health?: InspectHealth;
    /** Podman 4 libpod inspect. */
    Healthcheck?: InspectHealth;
  };
}

const RUN_STATES: ReadonlySet<string> = new Set(["created", "running", "paused", "exited", "stopping", "removing"]);

/** Podman's zero time (0001-01-01...) and unparsable values mean "never". */
const toEpochMs = (value: string | undefined): number | null => {
  if (!value || value.startsWith("0001-01-01")) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
};

/** Podman's container status (inspect's State.Status, the list's State) as a RunState. */
export const runState = (status: string | undefined): RunState => {
  const s = (status ?? "").toLowerCase();
  if (s === "stopped" || s === "dead" || s === "configured") return s === "configured" ? "created" : "exited";
  return RUN_STATES.has(s) ? (s as RunState) : "unknown";
};

const health = (state: InspectJson["State"]): ObservedContainer["health"] => {
  const status = (state?.Health?.Status ?? state?.Healthcheck?.Status ?? "").toLowerCase();
  return status === "healthy" || status === "unhealthy" || status === "starting" ? status : "none";
};

/** Image ids as "sha256:<hex>" whichever API gave them (libpod inspect omits the prefix, compat has it). */
export const normalizeImageId = (id: string | undefined): string => (!id ? "" : id.startsWith("sha256:") ? id : `sha256:${id}`);

export const mapInspect = (json: InspectJson): ObservedContainer => {
  const labels = json.Config?.Labels ?? {};
  const state = runState(json.State?.Status);
  // A container being stopped still runs until it exits (Podman 4 says "stopping" meanwhile).
  // A paused container's processes exist (frozen): Podman 4 says Running=false, but it is not down.
  const running = state === "stopping" || state === "paused" || (json.State?.Running === true && state === "running");
  return {
    id: json.Id ?? json.ID ?? "",
    name: labels[LABELS.container] ?? "",
    podmanName: (json.Name ?? "").replace(/^\//, ""),
    specHash: labels[LABELS.specHash],
    state,
    running,
    exitCode: running ? null : (json.State?.ExitCode ?? null),
    startedAt: toEpochMs(json.State?.StartedAt),
    finishedAt: toEpochMs(json.State?.FinishedAt),
    oomKilled: json.State?.OOMKilled === true,
    health: health(json.State),
    image: json.ImageName ?? json.Config?.Image ?? "",
    imageId: normalizeImageId(json.Image),
  };
};
