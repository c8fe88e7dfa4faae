// Pure mapping from one line of Podman's event stream to a RuntimeEvent for one pod.
// Other pods' and other programs' events share the stream and are dropped here.

import { LABELS } from "../domain/spec.js";
import type { RuntimeEvent } from "./port.js";

export interface EventJson {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  time?: number;
  timeNano?: number;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

export const mapEvent = (json: EventJson, pod: string): RuntimeEvent | null => {
  const attrs = json.Actor?.Attributes ?? {};
  const action = json.Action ?? json.status ?? "";
  const at = json.timeNano !== undefined ? Math.floor(json.timeNano / 1e6) : (json.time ?? 0) * 1000;
  const id = json.Actor?.ID ?? json.id ?? "";
  if (json.Type === "pod") {
    return attrs.name === pod ? { type: "pod", action, name: pod, id, exitCode: undefined, at } : null;
  }
  if (json.Type !== "container" || attrs[LABELS.pod] !== pod) return null;
  const logical = attrs[LABELS.container];
  if (logical === undefined) return null; // the pod's infra container carries the pod labels too
  const code = attrs.containerExitCode ?? attrs.exitCode;
  return { type: "container", action: action === "die" ? "died" : action, name: logical, id, exitCode: code === undefined ? undefined : Number(code), at };
};

/** Actions that can change what the supervisor should do; health checks and execs cannot. */
const RELEVANT: ReadonlySet<string> = new Set(["died", "start", "stop", "remove", "create", "pause", "unpause", "kill", "oom"]);

export const isRelevant = (e: RuntimeEvent): boolean => e.type === "pod" || RELEVANT.has(e.action);

/** Actions that end something (a process, a container, the pod): worth reading at once. */
const ENDING: ReadonlySet<string> = new Set(["died", "stop", "remove", "kill", "oom"]);

export const isEnding = (e: RuntimeEvent): boolean => ENDING.has(e.action);
