// What jobs decided that must outlive the daemon: image pins (a container kept on an image
// id after an update or a rollback) and the last update of each container. One JSON file per
// pod under jobs.stateDir, replaced atomically.

import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ImagePin, UpdateRecord } from "../domain/jobs.js";

export interface JobState {
  readonly pins: Readonly<Record<string, ImagePin>>;
  /** The image id each container ran before its last update (kept from pruning by a tag). */
  readonly previous: Readonly<Record<string, string>>;
  readonly updates: Readonly<Record<string, UpdateRecord>>;
  /** Candidates that were rolled back: not tried again until the tag moves on. */
  readonly rejected: Readonly<Record<string, string>>;
}

const EMPTY: JobState = { pins: {}, previous: {}, updates: {}, rejected: {} };

export class StateStore {
  readonly #file: string;
  #state: JobState = EMPTY;

  constructor(dir: string, pod: string) {
    this.#file = join(dir, `${pod}.json`);
  }

  get file(): string {
    return this.#file;
  }

  get state(): JobState {
    return this.#state;
  }

  /** A missing file is an empty state; an unreadable one is an error naming the file. */
  async load(): Promise<JobState> {
    const text = await readFile(this.#file, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (text !== undefined) {
      try {
        this.#state = { ...EMPTY, ...(JSON.parse(text) as Partial<JobState>) };
      } catch (err) {
        throw new Error(`${this.#file}: not valid JSON (${(err as Error).message}); move it away to start afresh`, { cause: err });
      }
    }
    return this.#state;
  }

  async update(change: (s: JobState) => JobState): Promise<void> {
    this.#state = change(this.#state);
    await mkdir(join(this.#file, ".."), { recursive: true, mode: 0o700 });
    const tmp = `${this.#file}.tmp`;
    await writeFile(tmp, JSON.stringify(this.#state, null, 2) + "\n", { mode: 0o600 });
    await rename(tmp, this.#file);
  }
}
