// What Podman shows, reduced to the fields the supervisor decides on (see runtime/map-inspect.ts).

export type RunState = "created" | "running" | "paused" | "exited" | "stopping" | "removing" | "unknown";

export interface ObservedContainer {
  readonly id: string;
  /** Logical name from the io.podwarden.container label. */
  readonly name: string;
  readonly podmanName: string;
  readonly specHash: string | undefined;
  readonly state: RunState;
  readonly running: boolean;
  readonly exitCode: number | null;
  /** Epoch ms, or null when the container never started. */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly oomKilled: boolean;
  readonly health: "healthy" | "unhealthy" | "starting" | "none";
  readonly image: string;
  readonly imageId: string;
}

export interface ObservedPod {
  readonly id: string;
  readonly name: string;
  readonly state: string;
  readonly managed: boolean;
  /** The io.podwarden.spec-hash label of the pod. */
  readonly specHash: string | undefined;
}

export interface Observed {
  readonly pod: ObservedPod | null;
  readonly containers: ReadonlyMap<string, ObservedContainer>;
}
