// observe() in one Podman call when nothing changed. libpod's container list carries each
// container's state, health, pid, exit code and times (in seconds); a container's inspect
// (ms times, OOM, image id) is fetched only when it is new or its listed state changed,
// and the pod's inspect only when the pod or anything in it changed (its state is derived
// from its containers'). Unchanged containers reuse the last inspect. (A container someone
// added to the pod by hand carries no podwarden label and is not listed: a change of its
// alone reaches the pod's state, which only /status shows, with the next change of ours.)
//
// A container an event or exit notice named since the last observe is inspected at the
// same time as the list, with the pod: after an exit, Podman's cleanup process holds the
// container's lock for tens of ms (unmounting), and an inspect that waits for the list to
// answer first often waits for that cleanup too.

import type { Observed, ObservedContainer, ObservedPod } from "../domain/observed.js";
import { LABELS } from "../domain/spec.js";
import { mapInspect, runState, type InspectJson } from "./map-inspect.js";
import { unlessMissing, type PodmanApi } from "./podman-api.js";

/** One entry of GET /libpod/containers/json (Podman 4.3: times in epoch seconds, health in Status). */
export interface ListedContainer {
  readonly Id: string;
  readonly State?: string;
  /** The health check's status ("healthy", ...) or "". */
  readonly Status?: string;
  readonly Pid?: number;
  readonly ExitCode?: number;
  readonly Exited?: boolean;
  readonly StartedAt?: number;
  readonly ExitedAt?: number;
  readonly Names?: readonly string[] | null;
  readonly Labels?: Readonly<Record<string, string>> | null;
  readonly Pod?: string;
  readonly IsInfra?: boolean;
}

interface PodInspect {
  Id: string;
  Name: string;
  State: string;
  Labels?: Record<string, string> | null;
}

/**
 * Everything of a listed container that changes whenever its inspect does: a new process
 * (pid, start), an exit (state, code, time), health, a rename. Labels, image and id do not change.
 */
export const listKey = (c: ListedContainer): string =>
  JSON.stringify([c.State ?? "", c.Status ?? "", c.Pid ?? 0, c.StartedAt ?? 0, c.ExitedAt ?? 0, c.ExitCode ?? 0, c.Exited ?? false, c.Names ?? []]);

/** The logical name of a container podwarden manages (its io.podwarden.container label), else undefined. */
const logicalName = (c: ListedContainer): string | undefined => (c.IsInfra === true ? undefined : c.Labels?.[LABELS.container]);

interface Cached<T> {
  readonly key: string;
  readonly value: T;
}

/** Whether an inspect made beside the list shows the same instance in the same state as the list. */
const agrees = (o: ObservedContainer, c: ListedContainer): boolean =>
  o.state === runState(c.State) &&
  (o.startedAt === null ? 0 : Math.floor(o.startedAt / 1000)) === Math.max(0, c.StartedAt ?? 0) &&
  (o.running || o.exitCode === (c.ExitCode ?? null));

export class PodObserver {
  readonly #api: PodmanApi;
  /** Per pod: each managed container's last inspect, by id, under the list key it was read at. */
  readonly #containers = new Map<string, ReadonlyMap<string, Cached<ObservedContainer>>>();
  /** Per pod: its last inspect, under the key of the whole list it was read with. */
  readonly #pods = new Map<string, Cached<ObservedPod | null>>();
  /** Per pod: ids of containers an event or exit notice named since the last observe. */
  readonly #noticed = new Map<string, Set<string>>();

  constructor(api: PodmanApi) {
    this.#api = api;
  }

  /** The logical name of one of the pod's containers as of the last observe, by id. */
  nameOf(pod: string, id: string): string | undefined {
    return this.#containers.get(pod)?.get(id)?.value.name;
  }

  /** An event or exit notice named this container (or, with no id, the pod): the next observe inspects it beside the list. */
  noticed(pod: string, id: string): void {
    const ids = this.#noticed.get(pod) ?? new Set<string>();
    ids.add(id);
    this.#noticed.set(pod, ids);
  }

  async observe(pod: string, signal?: AbortSignal): Promise<Observed> {
    const noticed = this.#noticed.get(pod) ?? new Set<string>();
    this.#noticed.delete(pod);
    const listed = this.#api.get<ListedContainer[]>(
      "container.list",
      "/containers/json",
      { all: true, filters: { label: [`${LABELS.managed}=true`, `${LABELS.pod}=${pod}`] } },
      signal,
    );
    // Read beside the list; unusable (undefined) when it failed or no longer agrees with the list.
    const early = new Map([...noticed].filter((id) => id !== "").map((id) => [id, this.#inspect(id, signal).catch(() => undefined)] as const));
    const earlyPod = noticed.size > 0 ? this.inspectPod(pod, signal).then((p) => ({ p }), () => undefined) : undefined;
    const list = await listed;
    const before = this.#containers.get(pod);
    const podKey = JSON.stringify(list.map((c) => [c.Id, c.Pod ?? "", listKey(c)]));
    const cachedPod = this.#pods.get(pod);
    // An empty list says nothing about the pod (absent, empty, or somebody else's): always ask.
    const podInfo = earlyPod
      ? earlyPod.then((r) => (r ? r.p : this.inspectPod(pod, signal)))
      : list.length > 0 && cachedPod?.key === podKey
        ? Promise.resolve(cachedPod.value)
        : this.inspectPod(pod, signal);
    const [pod_, read] = await Promise.all([podInfo, Promise.all(list.filter((c) => logicalName(c) !== undefined).map((c) => this.#read(c, before, early, signal)))]);
    const containers = new Map<string, ObservedContainer>();
    const cache = new Map<string, Cached<ObservedContainer>>();
    for (const r of read) {
      if (!r || !r.value.name) continue;
      containers.set(r.value.name, r.value);
      cache.set(r.value.id, r);
    }
    this.#containers.set(pod, cache);
    this.#pods.set(pod, { key: podKey, value: pod_ });
    return { pod: pod_, containers };
  }

  /** A listed container: its cached inspect while its list key holds, else the early inspect if it agrees, else a new one. */
  async #read(
    c: ListedContainer,
    before: ReadonlyMap<string, Cached<ObservedContainer>> | undefined,
    early: ReadonlyMap<string, Promise<ObservedContainer | null | undefined>>,
    signal: AbortSignal | undefined,
  ): Promise<Cached<ObservedContainer> | null> {
    const key = listKey(c);
    const hit = before?.get(c.Id);
    if (hit?.key === key) return hit;
    const seen = await early.get(c.Id);
    const value = seen && agrees(seen, c) ? seen : await this.#inspect(c.Id, signal);
    return value ? { key, value } : null;
  }

  async #inspect(id: string, signal?: AbortSignal): Promise<ObservedContainer | null> {
    // Removed between the list and the inspect: gone.
    const json = await unlessMissing(this.#api.get<InspectJson>("container.inspect", `/containers/${id}/json`, undefined, signal));
    return json ? mapInspect(json) : null;
  }

  /** The pod's inspect, or null when there is no such pod. */
  async inspectPod(name: string, signal?: AbortSignal): Promise<ObservedPod | null> {
    const p = await unlessMissing(this.#api.get<PodInspect>("pod.inspect", `/pods/${encodeURIComponent(name)}/json`, undefined, signal));
    return p ? { id: p.Id, name: p.Name, state: p.State, managed: p.Labels?.[LABELS.managed] === "true", specHash: p.Labels?.[LABELS.specHash] } : null;
  }
}
