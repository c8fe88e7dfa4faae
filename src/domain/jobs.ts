// The shared words about jobs (backups, restores, image updates): what a run came to, what an
// update did, an image pin, and what /status shows about them. Types only: the jobs run in
// jobs/, the supervisor applies pins, http/ and observability/ show the outcomes.

/**
 * An image pinned by a job (an update, a rollback) in place of the spec's reference, while the
 * spec still names `ref`: a changed config drops the pin.
 */
export interface ImagePin {
  readonly ref: string;
  readonly image: string;
}

export type Trigger = "scheduled" | "manual";

export interface JobOutcome {
  readonly job: string;
  readonly trigger: Trigger;
  readonly result: "ok" | "failed" | "skipped";
  readonly ms: number;
  readonly message: string;
}

export interface UpdateRecord {
  readonly at: string;
  readonly result: "updated" | "rolled-back" | "up-to-date" | "failed" | "skipped";
  /** Image id before, and the candidate tried. */
  readonly from: string | null;
  readonly to: string | null;
  readonly message: string;
  readonly ms: number;
}

export interface JobsStatus {
  readonly running: string | null;
  readonly backup: { readonly configured: boolean; readonly dir: string | null; readonly schedule: string | null; readonly nextRunAt: string | null; readonly last: JobOutcome | null };
  readonly update: { readonly nextRunAt: Readonly<Record<string, string | null>>; readonly last: JobOutcome | null };
  /** Per container: the image pinned by an update or rollback, the previous image, the last update. */
  readonly containers: Readonly<Record<string, { readonly pinnedImage: string | null; readonly previousImageId: string | null; readonly lastUpdate: UpdateRecord | null }>>;
}
