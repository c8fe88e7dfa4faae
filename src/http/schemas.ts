// Response schemas (TypeBox, i.e. JSON Schema): fastify validates and serializes with them,
// so a field that is not declared here never leaves the daemon.

import { Type, type Static } from "@sinclair/typebox";

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const ProbeSchema = Type.Object({ ok: Type.Boolean(), ms: Type.Number(), at: Type.String(), message: Type.String() });

export const ContainerStatusSchema = Type.Object({
  state: Type.String(),
  health: Type.String(),
  ready: Type.Boolean(),
  restarts: Type.Integer(),
  lastExitCode: Type.Union([Type.Integer(), Type.Null()]),
  lastReason: Nullable(Type.String()),
  startedAt: Nullable(Type.String()),
  readyAt: Nullable(Type.String()),
  backoffSeconds: Type.Number(),
  nextAttemptAt: Nullable(Type.String()),
  dependsOn: Type.Array(Type.String()),
  /** Its dependents, when only soft edges point at it: its being down is a warning, not a failure. */
  softDependencyOf: Type.Array(Type.String()),
  image: Type.String(),
  id: Nullable(Type.String()),
  imageId: Nullable(Type.String()),
  /** The image id an update or rollback keeps the container on (null: the config's image). */
  pinnedImage: Nullable(Type.String()),
  previousImageId: Nullable(Type.String()),
  lastUpdate: Type.Union([
    Type.Object({
      at: Type.String(),
      result: Type.String(),
      from: Nullable(Type.String()),
      to: Nullable(Type.String()),
      message: Type.String(),
      ms: Type.Number(),
    }),
    Type.Null(),
  ]),
  lastProbe: Type.Union([ProbeSchema, Type.Null()]),
  /** Its persisted filesystem (least free space of its persisted directories); null: none, or not sampled yet. */
  disk: Type.Union([
    Type.Object({
      path: Type.String(),
      filesystem: Type.String(),
      freeBytes: Type.Number(),
      sizeBytes: Type.Number(),
      at: Type.String(),
      /** Out of space: /status fails and liveness restarts are held off. */
      full: Type.Boolean(),
      reason: Nullable(Type.String()),
    }),
    Type.Null(),
  ]),
});

const JobOutcomeSchema = Type.Union([
  Type.Object({ job: Type.String(), trigger: Type.String(), result: Type.String(), ms: Type.Number(), message: Type.String() }),
  Type.Null(),
]);

export const JobsStatusSchema = Type.Object({
  /** The job running now, if any. */
  running: Nullable(Type.String()),
  backup: Type.Object({
    configured: Type.Boolean(),
    dir: Nullable(Type.String()),
    schedule: Nullable(Type.String()),
    nextRunAt: Nullable(Type.String()),
    last: JobOutcomeSchema,
  }),
  update: Type.Object({ nextRunAt: Type.Record(Type.String(), Nullable(Type.String())), last: JobOutcomeSchema }),
});

export const EventSchema = Type.Object({ at: Type.String(), container: Type.String(), kind: Type.String(), message: Type.String() });

export const StatusSchema = Type.Object({
  status: Type.Union([Type.Literal("pass"), Type.Literal("warn"), Type.Literal("fail")]),
  version: Type.String(),
  description: Type.String(),
  notes: Type.Array(Type.String()),
  podman: Type.Object({ reachable: Type.Boolean(), events: Type.Boolean() }),
  /** A host problem retrying cannot fix (see `podwarden doctor`): what, and the fix. */
  blocked: Type.Union([Type.Object({ check: Type.String(), cause: Type.String(), fix: Type.String() }), Type.Null()]),
  lastPassAt: Nullable(Type.String()),
  pod: Type.Object({
    name: Type.String(),
    state: Type.String(),
    containersReady: Type.Integer(),
    containersTotal: Type.Integer(),
    /** Every container ready except soft dependencies that are down. */
    serving: Type.Boolean(),
  }),
  containers: Type.Record(Type.String(), ContainerStatusSchema),
  jobs: JobsStatusSchema,
  events: Type.Array(EventSchema),
});
export type StatusDocument = Static<typeof StatusSchema>;

export const ProbeResultSchema = Type.Object({ status: Type.String() });
export const ErrorSchema = Type.Object({ error: Type.String() });
/** What a reload changed: the containers it recreates, and whether the pod itself is recreated. */
export const ReloadResultSchema = Type.Object({ changed: Type.Array(Type.String()), podChanged: Type.Boolean() });
