// String order for sorting keys and names: the order String.prototype.localeCompare gives
// (ICU's root collation), without loading ICU's collation data (about 2 MiB of the daemon's
// resident memory) for the printable ASCII that keys and file names almost always are.
// Hashes over sorted keys (spec-hash.ts) were made with localeCompare: the order must stay
// exactly the same, or every container would count as changed after an upgrade. Anything
// outside printable ASCII goes to localeCompare itself. test/unit/domain/collate.test.ts
// checks the two against each other.

/**
 * Printable ASCII in the root collation's order; characters in one group differ only in case
 * (lowercase first), groups differ at the primary level.
 */
const ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ";

/** By character code (32–126): the primary weight (case folded) and the tertiary one (0 lowercase or caseless, 1 uppercase). */
const PRIMARY = new Uint8Array(127);
const UPPER = new Uint8Array(127);
{
  let weight = 0;
  for (const ch of ORDER) {
    const lower = ch.toLowerCase();
    const code = ch.charCodeAt(0);
    if (lower !== ch) {
      PRIMARY[code] = PRIMARY[lower.charCodeAt(0)]!;
      UPPER[code] = 1;
    } else PRIMARY[code] = ++weight;
  }
}

const printable = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c > 126) return false;
  }
  return true;
};

/** Negative, zero or positive, as `a.localeCompare(b)` would answer. */
export const collate = (a: string, b: string): number => {
  if (!printable(a) || !printable(b)) return a.localeCompare(b);
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = PRIMARY[a.charCodeAt(i)]! - PRIMARY[b.charCodeAt(i)]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < n; i++) {
    const d = UPPER[a.charCodeAt(i)]! - UPPER[b.charCodeAt(i)]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
};
