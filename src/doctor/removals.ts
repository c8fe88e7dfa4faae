// Throwaway pods whose removal `up` and `run` do not wait for (CheckInput.removeLater). Removing
// a pod tears its network down, which Podman does under the same host locks as setting up the
// real pod's: done at once, it slowed the real pod's start by as much as it saved. So the
// removals wait until release() (the daemon and `up` call it once every container has been
// started, while the last one, OpenCode, spends seconds on its own start) or settled().

import { errorMessage } from "../lib/errors.js";
import type { Logger } from "../observability/logger.js";

export class Removals {
  readonly #waiting: (() => Promise<void>)[] = [];
  readonly #running = new Set<Promise<void>>();
  #released = false;

  constructor(private readonly log: Logger) {}

  /**
   * A removal to make once released. Only the first start-up's is held back: one added after
   * it (a check made again while the host was not ready) releases both, so that throwaway pods
   * never pile up while the daemon waits.
   */
  readonly add = (remove: () => Promise<void>): void => {
    this.#waiting.push(remove);
    if (this.#released || this.#waiting.length > 1) this.release();
  };

  /** Starts the removals held back, and any added from now on at once. */
  release(): void {
    this.#released = true;
    for (const remove of this.#waiting.splice(0)) this.#run(remove);
  }

  /** Releases and waits for every removal; a failure is said as a warning with its fix. */
  async settled(): Promise<void> {
    this.release();
    await Promise.all([...this.#running]);
  }

  #run(remove: () => Promise<void>): void {
    const running = remove()
      .catch((err: unknown) => this.log.warn(errorMessage(err)))
      .finally(() => this.#running.delete(running));
    this.#running.add(running);
  }
}
