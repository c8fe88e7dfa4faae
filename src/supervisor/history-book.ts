// The supervisor's memory of each container between passes (domain/history.ts), shared by
// the pass, the acting on its plan and the probe scheduler. Every change is a pure function
// of the current entry, so a probe that lands while a pass runs never overwrites it.

import { emptyHistory, type ContainerHistory } from "../domain/history.js";

export class HistoryBook {
  readonly #entries = new Map<string, ContainerHistory>();

  get(name: string): ContainerHistory | undefined {
    return this.#entries.get(name);
  }

  /** Applies `f` to the container's history (an empty one if it has none) and returns the result. */
  update(name: string, f: (h: ContainerHistory) => ContainerHistory): ContainerHistory {
    const next = f(this.#entries.get(name) ?? emptyHistory());
    this.#entries.set(name, next);
    return next;
  }

  delete(name: string): void {
    this.#entries.delete(name);
  }

  get all(): ReadonlyMap<string, ContainerHistory> {
    return this.#entries;
  }

  /** The running instances of `names` right now (those without one are left out). */
  instancesOf(names: readonly string[]): Record<string, string> {
    return Object.fromEntries(names.flatMap((n) => {
      const inst = this.#entries.get(n)?.instance;
      return inst === undefined ? [] : [[n, inst] as const];
    }));
  }
}
