// Duration strings in config files: "500ms", "10s", "2m", "1h", "7d", or compounds such as "1m30s".

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The whole accepted syntax; the schema uses it so that bad strings are reported with their field path. */
export const DURATION_PATTERN = "^(?:[0-9]+(?:ms|s|m|h|d))+$";

const WHOLE = new RegExp(DURATION_PATTERN);
const PART = /([0-9]+)(ms|s|m|h|d)/g;

export const DURATION_HINT = 'a duration such as "500ms", "10s", "2m", "1h", "7d" or "1m30s"';

/** Milliseconds in `text`. Throws a RangeError for anything that is not a duration. */
export function parseDuration(text: string): number {
  if (!WHOLE.test(text)) {
    throw new RangeError(`invalid duration ${JSON.stringify(text)}: expected ${DURATION_HINT}`);
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (!Number.isSafeInteger(total)) {
    throw new RangeError(`invalid duration ${JSON.stringify(text)}: too large`);
  }
  return total;
}

/** "90000" -> "1m30s": for messages that show a limit. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [["h", UNIT_MS.h], ["m", UNIT_MS.m], ["s", UNIT_MS.s], ["ms", UNIT_MS.ms]] as const) {
    const amount = Math.floor(rest / size);
    if (amount > 0) parts.push(`${amount}${unit}`);
    rest -= amount * size;
  }
  return parts.join("");
}
