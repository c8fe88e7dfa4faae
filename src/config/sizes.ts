// Sizes in config files: a whole number with a unit, binary (KiB, MiB, GiB, TiB) or decimal
// (KB, MB, GB, TB), or plain bytes (B). The schema's pattern admits only what parseSize reads.

export const SIZE_PATTERN = "^[1-9][0-9]{0,5}(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$";
export const SIZE_HINT = 'a size such as "512MiB", "32GiB" or "2TB" (a whole number and a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)';

const UNIT: Readonly<Record<string, number>> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };

/** Bytes of a size the schema accepted. */
export const parseSize = (s: string): number => {
  const m = /^([0-9]+)([A-Za-z]+)$/.exec(s);
  if (!m || UNIT[m[2]!] === undefined) throw new Error(`not a size: ${s}`);
  return Number(m[1]) * UNIT[m[2]!]!;
};
