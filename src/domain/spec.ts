// The validated, frozen pod spec: what config/ produces and every other part consumes.

export interface PortMapping {
  /** Port published on the host (probes from the host dial this one). */
  readonly host: number;
  /** Port inside the pod's shared network namespace. */
  readonly container: number;
  readonly protocol: "tcp" | "udp";
}

interface ProbeTiming {
  /** Time between probes once the container is ready. */
  readonly intervalMs: number;
  /** Time between probes while the container is starting (faster cadence). */
  readonly startIntervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failures that make a ready container unhealthy. */
  readonly retries: number;
  /** How long a starting container may take to pass its first probe before that counts as a failure. */
  readonly startPeriodMs: number;
}

export type ProbeSpec = ProbeTiming &
  (
    | { readonly kind: "redis"; readonly port: number; readonly passwordKey?: string }
    | {
        readonly kind: "http";
        readonly port: number;
        readonly path: string;
        /** Keys in the env file that hold basic-auth credentials. */
        readonly auth?: { readonly usernameKey?: string; readonly defaultUsername: string; readonly passwordKey: string };
      }
    | { readonly kind: "tcp"; readonly port: number }
    | { readonly kind: "exec"; readonly command: readonly string[] }
  );

export interface MountSpec {
  /** Absolute host path. */
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
  /** Skipped (with a log line) when the source does not exist. */
  readonly optional: boolean;
  /** Created (mode 0750) when missing; persisted data directories. */
  readonly create: boolean;
}

export interface DependencyEdge {
  readonly name: string;
  /** Restart this container after the dependency has restarted and is ready again. */
  readonly restart: boolean;
  /**
   * The dependency still starts first and is waited for (up to its start period), but once it
   * has failed this container starts without it, and its being down never stops this container
   * nor keeps the pod from serving (telemetry must not take the service down). Never with `restart`.
   */
  readonly soft: boolean;
}

/** A key of the env file a container cannot do without (a warning when the file lacks it). */
export interface RequiredSecret {
  readonly key: string;
  /** What goes wrong without it, for the warning (e.g. "the Agent exits at start without it"). */
  readonly why?: string;
}

export interface ContainerSpec {
  /** Logical name (valkey, falkordb, ...). The Podman name is `${pod}-${name}`. */
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  /** Plain, non-secret environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Keys of the env file passed as Podman secrets (type=env). "all" = every key in the file. */
  readonly secretEnv: readonly string[] | "all";
  /** Env-file keys the container needs to work: checked (as warnings) when the config is loaded. */
  readonly requiredSecrets?: readonly RequiredSecret[];
  readonly mounts: readonly MountSpec[];
  readonly dependsOn: readonly DependencyEdge[];
  readonly probe?: ProbeSpec;
  readonly stopTimeoutS: number;
  readonly workdir?: string;
  readonly user?: string;
  /**
   * Runs to completion before its dependents start (clone a repository, migrate data):
   * ready once it has exited 0; a non-zero exit is a failure, retried with backoff.
   */
  readonly init?: boolean;
  /** Image updates for this container (absent: never). */
  readonly update?: UpdateSpec;
}

export interface UpdateSpec {
  /** registry: pull the tag and compare image ids; local: rebuild from the Containerfile. */
  readonly policy: "registry" | "local";
  /** Cron expression; absent: only on demand (`podwarden update`). */
  readonly schedule?: string;
  /** How long the new image must stay ready before the update counts as done. */
  readonly windowMs: number;
}

export interface ImageBuildSpec {
  /** Absolute path of the Containerfile. */
  readonly containerfile: string;
  /** Absolute path of the build context directory. */
  readonly context: string;
  readonly args: Readonly<Record<string, string>>;
}

export interface DebootstrapSpec {
  readonly suite: string;
  readonly variant: string;
  readonly mirror: string;
}

/** How an image is obtained when it is missing. Images not listed are pulled. */
export interface ImageSpec {
  readonly ref: string;
  /** Another image that must exist first (passed as build arg BASE_IMAGE). */
  readonly from?: string;
  readonly build?: ImageBuildSpec;
  readonly debootstrap?: DebootstrapSpec;
}

/** Restart backoff for every container (see domain/backoff.ts). */
export interface RestartPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly resetAfterMs: number;
}

export interface PodSpec {
  readonly name: string;
  readonly ports: readonly PortMapping[];
  /** Absolute path of the env file with secrets (KEY=VALUE). */
  readonly envFile: string;
  /** Absolute directory under which the persisted (relative) mount sources live. */
  readonly persistRoot: string;
  readonly containers: readonly ContainerSpec[];
  readonly images: Readonly<Record<string, ImageSpec>>;
  readonly restart: RestartPolicy;
  /** DNS servers for the pod; absent = Podman's default. */
  readonly dns?: readonly string[];
  /** Where the config came from (for messages). */
  readonly source: string;
}

/** Secret values from the env file. Kept apart from PodSpec so the spec can be logged and hashed safely. */
export type Secrets = ReadonlyMap<string, string>;

export const podmanName = (pod: string, container: string): string => `${pod}-${container}`;

export const LABELS = {
  managed: "io.podwarden.managed",
  pod: "io.podwarden.pod",
  container: "io.podwarden.container",
  specHash: "io.podwarden.spec-hash",
} as const;
