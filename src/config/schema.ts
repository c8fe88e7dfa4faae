// The config file format (YAML), as a TypeBox schema. Unknown keys are errors everywhere.
//
// Two non-standard schema options feed the error messages (see schema-errors.ts):
//   errorMessage - replaces TypeBox's wording for a value this schema rejects;
//   keyError     - explains what the keys of a map (Record) must look like.
// Checks that need more than one field (dependency cycles, probe ports published by the pod,
// exactly one probe kind, ...) are semantic and live in build-spec.ts and its helpers.

import { Type, type Static, type TSchema } from "@sinclair/typebox";
import { DURATION_HINT, DURATION_PATTERN } from "./durations.js";
import { SIZE_HINT, SIZE_PATTERN } from "./sizes.js";
import { WorkspaceSchema } from "./workspace.js";

const strict = { additionalProperties: false } as const;

const Duration = Type.String({ pattern: DURATION_PATTERN, errorMessage: `must be ${DURATION_HINT}` });

const AbsolutePath = Type.String({ pattern: "^/", errorMessage: "must be an absolute path (starting with /)" });

const NonEmpty = Type.String({ minLength: 1 });

const Strings = Type.Array(Type.String(), { errorMessage: "must be a list of strings (quote numbers and booleans)" });

const ENV_KEY_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$";
const EnvKey = Type.String({
  pattern: ENV_KEY_PATTERN,
  errorMessage: "must be an environment variable name (letters, digits, _; not starting with a digit)",
});

/** A key, a glob over keys (`*` = any run of characters), either after `!` to leave keys out. */
const SecretEnvPattern = Type.String({
  pattern: "^!?[A-Za-z_*][A-Za-z0-9_*]*$",
  errorMessage: "must be an env-file key (letters, digits, _), a pattern with * (DD_*), or ! before either to leave keys out",
});

const Port = Type.Integer({ minimum: 1, maximum: 65535, errorMessage: "must be a port number between 1 and 65535" });

/** "HOST:CONTAINER" or "HOST:CONTAINER/udp" (the range of each number is checked when it is parsed). */
export const PORT_STRING_PATTERN = "^([0-9]{1,5}):([0-9]{1,5})(?:/(tcp|udp))?$";

const PortEntry = Type.Union([Port, Type.String({ pattern: PORT_STRING_PATTERN })], {
  errorMessage: 'must be a port number 1..65535 (host = container) or "HOST:CONTAINER" or "HOST:CONTAINER/udp"',
});

/** Same as a Record, with a message for keys that do not match. */
const NamedMap = <T extends TSchema>(keyPattern: string, keyError: string, value: T) =>
  Type.Record(Type.String({ pattern: keyPattern }), value, { ...strict, keyError });

const StringMap = (what: string) =>
  Type.Record(
    Type.String(),
    Type.String({ errorMessage: `must be a string: ${what} values are text, quote numbers and booleans in YAML` }),
    strict,
  );

// ---- pod ------------------------------------------------------------------------------------

const POD_NAME_PATTERN = "^[a-z0-9][a-z0-9_.-]*$";

export const PodSchema = Type.Object(
  {
    name: Type.String({
      pattern: POD_NAME_PATTERN,
      maxLength: 48,
      errorMessage: "must be lowercase letters, digits, '_', '.' or '-', start with a letter or digit, at most 48 characters",
    }),
    ports: Type.Optional(Type.Array(PortEntry)),
    /** KEY=VALUE file with the secrets; relative to the file that sets it. */
    envFile: NonEmpty,
    /** Relative mount sources live under this directory; relative to the file that sets it. */
    persistRoot: NonEmpty,
    /** DNS servers for the pod (default: Podman's). [127.0.0.1] keeps every lookup on the host. */
    dns: Type.Optional(
      Type.Array(Type.String({ pattern: "^[0-9A-Fa-f:.]+$", errorMessage: "must be an IP address" }), { maxItems: 3 }),
    ),
  },
  strict,
);

// ---- images ---------------------------------------------------------------------------------

const BuildSchema = Type.Object(
  {
    /** Relative to the file that sets it. */
    containerfile: NonEmpty,
    /** Relative to the file that sets it; defaults to the Containerfile's directory. */
    context: Type.Optional(NonEmpty),
    args: Type.Optional(StringMap("build arg")),
  },
  strict,
);

const DebootstrapSchema = Type.Object(
  {
    suite: NonEmpty,
    variant: Type.Optional(NonEmpty),
    mirror: Type.Optional(NonEmpty),
  },
  strict,
);

/** Exactly one of build / debootstrap (checked semantically, to say which one is missing or extra). */
export const ImageSchema = Type.Object(
  {
    /** Another key of `images`, built first and passed as build arg BASE_IMAGE. */
    from: Type.Optional(NonEmpty),
    build: Type.Optional(BuildSchema),
    debootstrap: Type.Optional(DebootstrapSchema),
  },
  strict,
);

// ---- probes ---------------------------------------------------------------------------------

const probeTiming = {
  interval: Type.Optional(Duration),
  startInterval: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  retries: Type.Optional(Type.Integer({ minimum: 1, errorMessage: "must be an integer of at least 1" })),
  startPeriod: Type.Optional(Duration),
};

const ProbeTimingSchema = Type.Object(probeTiming, strict);

export const PROBE_KINDS = ["redis", "http", "tcp", "exec"] as const;

/** Exactly one kind (checked semantically, to name what is missing or extra) plus optional timing. */
export const ProbeSchema = Type.Object(
  {
    redis: Type.Optional(Type.Object({ port: Port, passwordKey: Type.Optional(EnvKey) }, strict)),
    http: Type.Optional(
      Type.Object(
        {
          port: Port,
          path: Type.Optional(Type.String()),
          auth: Type.Optional(
            Type.Object(
              { passwordKey: EnvKey, usernameKey: Type.Optional(EnvKey), username: Type.Optional(NonEmpty) },
              strict,
            ),
          ),
        },
        strict,
      ),
    ),
    tcp: Type.Optional(Type.Object({ port: Port }, strict)),
    exec: Type.Optional(
      Type.Array(Type.String(), {
        minItems: 1,
        errorMessage: "must be a non-empty list of strings (the command and its arguments)",
      }),
    ),
    ...probeTiming,
  },
  strict,
);

// ---- containers -----------------------------------------------------------------------------

const MountSchema = Type.Object(
  {
    /** Relative: under pod.persistRoot. Absolute: as is. */
    source: NonEmpty,
    target: AbsolutePath,
    readOnly: Type.Optional(Type.Boolean()),
    optional: Type.Optional(Type.Boolean()),
    create: Type.Optional(Type.Boolean()),
  },
  strict,
);

const DependencySchema = Type.Union(
  [NonEmpty, Type.Object({ name: NonEmpty, restart: Type.Optional(Type.Boolean()), soft: Type.Optional(Type.Boolean()) }, strict)],
  { errorMessage: "must be a container name or { name, restart, soft }" },
);

/** An env-file key the container needs, optionally with what goes wrong without it. */
const RequiredSecretSchema = Type.Union([EnvKey, Type.Object({ key: EnvKey, why: Type.Optional(NonEmpty) }, strict)], {
  errorMessage: "must be a key of the env file or { key, why }",
});

const CONTAINER_NAME_PATTERN = "^[a-z][a-z0-9-]{0,31}$";

export const ContainerSchema = Type.Object(
  {
    image: NonEmpty,
    command: Type.Optional(Strings),
    entrypoint: Type.Optional(Strings),
    env: Type.Optional(
      NamedMap(ENV_KEY_PATTERN, "environment variable names are letters, digits and _ (not starting with a digit)",
        Type.String({ errorMessage: "must be a string: quote numbers and booleans in YAML (\"true\", \"6380\")" })),
    ),
    /** Env-file keys this container receives: keys, globs (DD_*), exclusions (!DD_*); see domain/secret-env.ts. */
    secretEnv: Type.Optional(
      Type.Union([Type.Literal("all"), Type.Array(SecretEnvPattern)], {
        errorMessage: 'must be a list of env-file keys and patterns (KEY, DD_*, !DD_*), or "all"',
      }),
    ),
    /** Keys the container cannot work without: a warning (not an error) when the env file lacks one. */
    requiredSecrets: Type.Optional(Type.Array(RequiredSecretSchema)),
    mounts: Type.Optional(Type.Array(MountSchema)),
    dependsOn: Type.Optional(Type.Array(DependencySchema)),
    probe: Type.Optional(ProbeSchema),
    stopTimeout: Type.Optional(Duration),
    workdir: Type.Optional(AbsolutePath),
    user: Type.Optional(NonEmpty),
    /** Runs to completion (exit 0) before its dependents start. */
    init: Type.Optional(Type.Boolean({ errorMessage: "must be true or false" })),
    /** Image updates: when to look for a new image and where from (see jobs/update.ts). */
    update: Type.Optional(
      Type.Object(
        {
          policy: Type.Union([Type.Literal("none"), Type.Literal("registry"), Type.Literal("local")], {
            errorMessage: 'must be "none", "registry" (pull the tag) or "local" (rebuild from its Containerfile)',
          }),
          /** Cron expression (node-cron syntax, host time); without it, only `podwarden update`. */
          schedule: Type.Optional(NonEmpty),
          /** How long the new image must stay ready before the update counts as done. */
          window: Type.Optional(Duration),
        },
        strict,
      ),
    ),
  },
  strict,
);

/** Scheduled care: backups (off unless configured) and where job state is kept. */
export const JobsSchema = Type.Object(
  {
    /** Where podwarden keeps what jobs decided (image pins, last results); default /var/lib/podwarden. */
    stateDir: Type.Optional(AbsolutePath),
    backup: Type.Optional(
      Type.Object(
        {
          /** Cron expression (node-cron syntax, host time). Without it, only `podwarden backup now`. */
          schedule: Type.Optional(NonEmpty),
          dir: AbsolutePath,
          /** Archives kept (newest first); older ones are deleted after a successful run. */
          keep: Type.Optional(Type.Integer({ minimum: 1, errorMessage: "must be an integer of at least 1" })),
          /** Archives older than this are deleted after a successful run (the newest is always kept). */
          maxAge: Type.Optional(Duration),
          /** Most file content one archive may hold ("32GiB"): a backup over it fails, a restore over it is refused unread. */
          maxSize: Type.Optional(Type.String({ pattern: SIZE_PATTERN, errorMessage: `must be ${SIZE_HINT}` })),
        },
        strict,
      ),
    ),
  },
  strict,
);

// ---- the file -------------------------------------------------------------------------------

/** Restart backoff: the first failure is retried at once, then initialDelay doubling up to maxDelay. */
export const RestartSchema = Type.Object(
  {
    initialDelay: Type.Optional(Duration),
    maxDelay: Type.Optional(Duration),
    /** Staying ready this long forgives earlier failures. */
    resetAfter: Type.Optional(Duration),
  },
  strict,
);

export const DefaultsSchema = Type.Object(
  { probe: Type.Optional(ProbeTimingSchema), stopTimeout: Type.Optional(Duration), restart: Type.Optional(RestartSchema) },
  strict,
);

/** The daemon's HTTP endpoints (/status, /metrics, /healthz, /readyz, the status page). */
export const HttpSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ errorMessage: "must be true or false" })),
    host: Type.Optional(NonEmpty),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535, errorMessage: "must be a port number from 1 to 65535" })),
    /** A root-only file holding a bearer token; without it no endpoint changes anything. */
    tokenFile: Type.Optional(AbsolutePath),
  },
  strict,
);

export const ConfigFileSchema = Type.Object(
  {
    /** A base file loaded first (relative to this file); this file is deep-merged over it. */
    extends: Type.Optional(NonEmpty),
    pod: PodSchema,
    images: Type.Optional(Type.Record(Type.String(), ImageSchema, strict)),
    defaults: Type.Optional(DefaultsSchema),
    http: Type.Optional(HttpSchema),
    jobs: Type.Optional(JobsSchema),
    /** The OpenCode workspace repository, cloned once by an init step (see workspace.ts). */
    workspace: Type.Optional(WorkspaceSchema),
    /** Ordered: the order of the file is the order of the spec. */
    containers: NamedMap(
      CONTAINER_NAME_PATTERN,
      "container names are a lowercase letter then lowercase letters, digits or '-', at most 32 characters",
      ContainerSchema,
    ),
  },
  strict,
);

export type ConfigFile = Static<typeof ConfigFileSchema>;
export type PodSection = Static<typeof PodSchema>;
export type ImageSection = Static<typeof ImageSchema>;
export type ProbeSection = Static<typeof ProbeSchema>;
export type ProbeTimingSection = Static<typeof ProbeTimingSchema>;
export type MountSection = Static<typeof MountSchema>;
export type DependencySection = Static<typeof DependencySchema>;
export type RequiredSecretSection = Static<typeof RequiredSecretSchema>;
export type ContainerSection = Static<typeof ContainerSchema>;
export type DefaultsSection = Static<typeof DefaultsSchema>;

/** Used when `defaults` (or one of its keys) is absent. */
export const BUILTIN_DEFAULTS = {
  probe: { interval: "10s", startInterval: "25ms", timeout: "2s", retries: 3, startPeriod: "120s" },
  stopTimeout: "10s",
  restart: { initialDelay: "1s", maxDelay: "2m", resetAfter: "10m" },
} as const;

export const JOBS_DEFAULTS = { stateDir: "/var/lib/podwarden", keep: 7, updateWindow: "2m", maxSize: "32GiB" } as const;

export const HTTP_DEFAULTS = { enabled: true, host: "127.0.0.1", port: 9090 } as const;

export const DEBOOTSTRAP_DEFAULTS = { variant: "minbase", mirror: "http://deb.debian.org/debian" } as const;

export const DEFAULT_HTTP_USERNAME = "opencode";
