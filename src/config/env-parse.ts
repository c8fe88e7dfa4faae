// The env file's grammar, parsed strictly (pure: text in, entries and problems out). Every line is
// accounted for: a line that is not blank, a comment or an assignment is a problem, never skipped.
//
//   line        = blank | comment | assignment
//   comment     = [ws] "#" anything
//   assignment  = [ws] ["export" ws] KEY [ws] "=" [ws] [value] [ws] [ws "#" anything]
//   KEY         = [A-Za-z_][A-Za-z0-9_]*          (what sh accepts in `export KEY=...`)
//   value       = 'single quoted'   literal, may span lines
//               | `backquoted`      literal, may span lines
//               | "double quoted"   \n \r \" \\ are escapes, may span lines
//               | unquoted          up to a "#" that follows whitespace, trimmed
//
// Problems name the line and (when it is a well-formed name) the key; values are never quoted
// in them, and neither is a line that has no "=" (it may be a pasted secret).

export const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface EnvEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line of the key. */
  readonly line: number;
}

export interface EnvProblem {
  readonly line: number;
  readonly message: string;
}

export interface ParsedEnv {
  readonly entries: readonly EnvEntry[];
  readonly problems: readonly EnvProblem[];
}

const QUOTES = new Set(["'", '"', "`"]);
/**
 * A key is shown in a message only when it looks like a name someone meant (letters, digits, _ . -
 * and spaces, at most 64), not like a pasted value that happens to hold a "=".
 */
const SHOWABLE_KEY = /^[A-Za-z0-9_. -]{1,64}$/;

export const describeKey = (key: string): string => (SHOWABLE_KEY.test(key) ? JSON.stringify(key) : "(not shown: it may be part of a value)");

/** One pass over the text, a cursor at the start of a line; linear in its length (no backtracking regex). */
export function parseEnv(text: string): ParsedEnv {
  const entries: EnvEntry[] = [];
  const problems: EnvProblem[] = [];
  let pos = 0;
  let line = 1;
  while (pos <= text.length) {
    const end = lineEnd(text, pos);
    const raw = text.slice(pos, end);
    const trimmed = raw.trim();
    const equals = raw.indexOf("=");
    let next = end;
    if (trimmed === "" || trimmed.startsWith("#")) {
      // blank or comment
    } else if (equals < 0) {
      problems.push({ line, message: 'not KEY=VALUE (no "=" on this line; its text is not shown, it may hold a secret)' });
    } else {
      const key = keyOf(raw.slice(0, equals));
      const read = readValue(text, pos + equals + 1, end);
      if (!ENV_KEY.test(key)) problems.push({ line, message: badKey(key) });
      else if (read.value?.includes("\0") === true) problems.push({ line, message: `${describeKey(key)}: the value holds a NUL byte, which no environment variable can` });
      else if (read.value !== undefined) entries.push({ key, value: read.value, line });
      if (read.problem !== undefined) problems.push({ line, message: `${key === "" ? "" : `${describeKey(key)}: `}${read.problem}` });
      next = read.end;
    }
    line += countNewlines(text, end, next) + 1;
    pos = next + 1;
  }
  return { entries, problems };
}

/** Where the line starting at `pos` ends (its "\n", or the end of the text). */
function lineEnd(text: string, pos: number): number {
  const nl = text.indexOf("\n", pos);
  return nl < 0 ? text.length : nl;
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf("\n", from); i >= 0 && i < to; i = text.indexOf("\n", i + 1)) n += 1;
  return n;
}

/** The text before "=" without blanks and an `export ` prefix. */
function keyOf(before: string): string {
  const key = before.trim();
  const m = /^export\s+/.exec(key);
  return m === null ? key : key.slice(m[0].length);
}

function badKey(key: string): string {
  if (key === "") return 'not KEY=VALUE (nothing before "=")';
  return `key ${describeKey(key)} is not a shell variable name (letters, digits and _, not starting with a digit): containers receive the secrets as \`export KEY=...\` lines, which sh refuses for it`;
}

interface ValueRead {
  readonly value?: string;
  readonly problem?: string;
  /** Where the line holding the end of the value ends (a quoted value may span lines). */
  readonly end: number;
}

/** The value from `start` (just after "="); `end`: where that line ends. */
function readValue(text: string, start: number, end: number): ValueRead {
  const rest = text.slice(start, end).replace(/\r$/, "");
  const lead = rest.length - rest.trimStart().length;
  const quote = rest[lead] ?? "";
  if (!QUOTES.has(quote)) return { value: unquoted(rest), end };
  const open = start + lead;
  const close = closingQuote(text, open + 1, quote);
  if (close < 0) return { problem: `the ${quote} that opens the value is never closed`, end: text.length };
  const closeLineEnd = lineEnd(text, close);
  const after = text.slice(close + 1, closeLineEnd).trim();
  if (after !== "" && !after.startsWith("#")) {
    return { problem: `unexpected text after the closing ${quote} (the value is not shown)`, end: closeLineEnd };
  }
  const inner = text.slice(open + 1, close).replace(/\r\n/g, "\n");
  return { value: quote === '"' ? unescapeDouble(inner) : inner, end: closeLineEnd };
}

/** Index of the quote that closes a value opened before `from` (in double quotes, \" and \\ do not close it), or -1. */
function closingQuote(text: string, from: number, quote: string): number {
  for (let i = from; i < text.length; i += 1) {
    const c = text[i];
    if (quote === '"' && c === "\\") i += 1;
    else if (c === quote) return i;
  }
  return -1;
}

const ESCAPES: Readonly<Record<string, string>> = { n: "\n", r: "\r", '"': '"', "\\": "\\" };

const unescapeDouble = (inner: string): string => inner.replace(/\\(.)/gs, (all, c: string) => ESCAPES[c] ?? all);

/** An unquoted value ends at a "#" that follows whitespace (a comment); `a#b` keeps its "#". */
function unquoted(rest: string): string {
  const comment = /\s#/.exec(rest);
  return (comment === null ? rest : rest.slice(0, comment.index)).trim();
}
