// What every section gets: the mode, the janitor, a scratch directory, and the figures one
// section hands to another in the same run.

import type { Janitor } from "./bench-run.js";

export interface BenchContext {
  readonly quick: boolean;
  /** Rounds of the cold start, when given (--rounds). */
  readonly rounds?: number;
  readonly janitor: Janitor;
  /** Temp directory for bundles and generated files (removed at the end). */
  readonly scratch: string;
  /** Figures shared between sections of one run. */
  readonly shared: {
    /** Per container: podwarden's median start -> first passing probe in the cold starts. */
    startToReadyMs?: Record<string, number>;
  };
  /** Progress, to stderr. */
  log(line: string): void;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
