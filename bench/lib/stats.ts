// Small statistics and number formatting for the benchmark report.

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export const pct = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export const median = (xs: readonly number[]): number => pct(xs, 50);
export const p99 = (xs: readonly number[]): number => pct(xs, 99);
export const worst = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : xs.reduce((a, b) => Math.max(a, b), -Infinity));
export const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Milliseconds: whole numbers from 10 ms up, one decimal below, two below 1 ms. */
export const ms = (x: number): string => {
  if (!Number.isFinite(x)) return "–";
  const a = Math.abs(x);
  return `${a >= 10 ? Math.round(x) : a >= 1 ? x.toFixed(1) : x.toFixed(2)} ms`;
};

/** Seconds with two decimals. */
export const s2 = (xMs: number): string => (Number.isFinite(xMs) ? `${(xMs / 1000).toFixed(2)} s` : "–");

/** a / b as "1.23×". */
export const ratio = (a: number, b: number): string => (Number.isFinite(a / b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "–");

export const percent = (x: number, digits = 2): string => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)} %` : "–");

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** "median / p99" of a list in ms. */
export const medP99 = (xs: readonly number[]): string => `${ms(median(xs))} / ${ms(p99(xs))}`;
