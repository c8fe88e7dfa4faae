// The tar format, both ways, for podwarden's own archives: ustar headers, with a pax header
// before any entry whose path, link target, size or owner does not fit (or is not plain
// ASCII). The reader is strict and bounded: checksums are checked, numbers parsed exactly,
// every byte it takes from the stream is counted against a budget, and anything it does not
// understand is refused with a typed error rather than guessed at.

import { PodwardenError } from "../lib/errors.js";

export const BLOCK = 512;
/** A pax header larger than this is refused (ours hold a path and a link target at most). */
export const PAX_MAX_BYTES = 64 * 1024;
/** Zero blocks accepted after the end-of-archive marker (tar pads to its record size, 10 KiB). */
const TRAILER_MAX_BYTES = 64 * 1024;

export type EntryType = "file" | "dir" | "symlink" | "link";

export interface TarHeader {
  readonly path: string;
  readonly type: EntryType;
  readonly size: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** symlink: its target; link: the archive path it links to; otherwise "". */
  readonly linkTarget: string;
}

/** Why an archive is refused: damaged (unreadable, checksums), altered (paths, entries, links), too big. */
export type ArchiveFault = "damaged" | "altered" | "too-big";

export class ArchiveError extends PodwardenError {
  readonly fault: ArchiveFault;
  readonly entry: string | undefined;
  constructor(fault: ArchiveFault, message: string, entry?: string, cause?: unknown) {
    super("E_RESTORE", message, cause === undefined ? undefined : { cause });
    this.fault = fault;
    this.entry = entry;
  }
}

const TYPEFLAG: Readonly<Record<EntryType, string>> = { file: "0", link: "1", symlink: "2", dir: "5" };
const OCTAL_MAX = { 8: 0o7777777, 12: 0o77777777777 } as const;

// --- writing ---

const plain = (s: string, max: number): boolean => Buffer.byteLength(s) <= max && /^[\x20-\x7e]*$/.test(s);

/** One pax record: "<length> <key>=<value>\n", where length counts the whole record. */
const paxRecord = (key: string, value: string): string => {
  const body = ` ${key}=${value}\n`;
  let n = Buffer.byteLength(body);
  while (String(n).length + Buffer.byteLength(body) !== n) n = String(n).length + Buffer.byteLength(body);
  return `${n}${body}`;
};

const octal = (buf: Buffer, offset: number, width: 8 | 12, value: number): void => {
  buf.write(`${Math.min(value, OCTAL_MAX[width]).toString(8).padStart(width - 1, "0")}\0`, offset, width, "ascii");
};

const rawHeader = (name: string, typeflag: string, size: number, h: Omit<TarHeader, "path" | "type" | "size" | "linkTarget">, linkname: string): Buffer => {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, 100, "utf8");
  octal(b, 100, 8, h.mode & 0o7777);
  octal(b, 108, 8, h.uid);
  octal(b, 116, 8, h.gid);
  octal(b, 124, 12, size);
  octal(b, 136, 12, Math.max(0, Math.floor(h.mtime)));
  b.write(typeflag, 156, 1, "ascii");
  b.write(linkname, 157, 100, "utf8");
  b.write("ustar\x0000", 257, 8, "binary");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return b;
};

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** The header block(s) of one entry: a pax header first when a field does not fit ustar. */
export const encodeHeader = (h: TarHeader): Buffer => {
  const records: string[] = [];
  if (!plain(h.path, 100)) records.push(paxRecord("path", h.path));
  if (!plain(h.linkTarget, 100)) records.push(paxRecord("linkpath", h.linkTarget));
  if (h.size > OCTAL_MAX[12]) records.push(paxRecord("size", String(h.size)));
  if (h.uid > OCTAL_MAX[8]) records.push(paxRecord("uid", String(h.uid)));
  if (h.gid > OCTAL_MAX[8]) records.push(paxRecord("gid", String(h.gid)));
  const main = rawHeader(plain(h.path, 100) ? h.path : "", TYPEFLAG[h.type], h.size, h, plain(h.linkTarget, 100) ? h.linkTarget : "");
  if (records.length === 0) return main;
  const pax = Buffer.from(records.join(""), "utf8");
  return Buffer.concat([rawHeader("PaxHeader", "x", pax.length, { mode: 0o644, uid: 0, gid: 0, mtime: h.mtime }, ""), pax, Buffer.alloc(padding(pax.length)), main]);
};

export const entryPadding = (size: number): Buffer => Buffer.alloc(padding(size));

/** Two zero blocks: the end of the archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

// --- reading ---

/**
 * Pulls exact byte counts out of an async stream of chunks, counting everything taken against
 * `budget` (raised by the reader once the manifest says how much is coming). Errors of the
 * source (gzip damage, a truncated file) become ArchiveErrors.
 */
export class ByteReader {
  readonly #source: AsyncIterator<Buffer>;
  #buffered: Buffer = Buffer.alloc(0);
  #taken = 0;
  budget: number;

  constructor(source: AsyncIterable<Buffer>, budget: number) {
    this.#source = source[Symbol.asyncIterator]();
    this.budget = budget;
  }

  get taken(): number {
    return this.#taken;
  }

  async #more(): Promise<boolean> {
    let next: IteratorResult<Buffer>;
    try {
      next = await this.#source.next();
    } catch (err) {
      throw new ArchiveError("damaged", `unreadable (${err instanceof Error ? err.message : String(err)}): damaged, or not a gzip file`, undefined, err);
    }
    if (next.done) return false;
    this.#buffered = this.#buffered.length === 0 ? next.value : Buffer.concat([this.#buffered, next.value]);
    return true;
  }

  #charge(n: number, what: string): void {
    if (this.#taken + n > this.budget) throw new ArchiveError("too-big", `more bytes than its manifest declares (${what} goes past ${this.budget} bytes)`);
    this.#taken += n;
  }

  /** Exactly `n` bytes, or undefined at a clean end of stream (nothing buffered); a short read is damage. */
  async exactly(n: number, what: string): Promise<Buffer | undefined> {
    this.#charge(n, what);
    while (this.#buffered.length < n) {
      if (!(await this.#more())) {
        if (this.#buffered.length === 0) return undefined;
        throw new ArchiveError("damaged", `truncated (in ${what})`);
      }
    }
    const out = this.#buffered.subarray(0, n);
    this.#buffered = this.#buffered.subarray(n);
    return out;
  }

  /** Streams the next `n` bytes to `sink` chunk by chunk (never more than is left of `n` in memory at once beyond one chunk). */
  async stream(n: number, what: string, sink: (chunk: Buffer) => Promise<void> | void): Promise<void> {
    this.#charge(n, what);
    let left = n;
    while (left > 0) {
      if (this.#buffered.length === 0 && !(await this.#more())) throw new ArchiveError("damaged", `truncated (in ${what})`);
      const chunk = this.#buffered.subarray(0, Math.min(left, this.#buffered.length));
      this.#buffered = this.#buffered.subarray(chunk.length);
      left -= chunk.length;
      await sink(chunk);
    }
  }

  /** Reads to the end; every remaining byte must be zero and there must be at most `max` of them. */
  async zerosToEnd(max: number): Promise<void> {
    let seen = 0;
    for (;;) {
      if (this.#buffered.some((b) => b !== 0)) throw new ArchiveError("altered", "data after the end-of-archive marker");
      seen += this.#buffered.length;
      this.#buffered = Buffer.alloc(0);
      if (seen > max) throw new ArchiveError("altered", `more than ${max} bytes of padding after the end-of-archive marker`);
      if (!(await this.#more())) return;
    }
  }
}

const text = new TextDecoder("utf-8", { fatal: true });

const field = (b: Buffer, offset: number, width: number, what: string): string => {
  const raw = b.subarray(offset, offset + width);
  const end = raw.indexOf(0);
  try {
    return text.decode(end === -1 ? raw : raw.subarray(0, end));
  } catch {
    throw new ArchiveError("altered", `a header whose ${what} is not UTF-8`);
  }
};

/** An octal number field (spaces and NULs around it), or GNU base-256 (high bit set). */
const number = (b: Buffer, offset: number, width: number, what: string): number => {
  const raw = b.subarray(offset, offset + width);
  if (raw[0]! & 0x80) {
    let n = raw[0]! & 0x7f;
    for (const byte of raw.subarray(1)) n = n * 256 + byte;
    if (raw[0]! & 0x40 || !Number.isSafeInteger(n)) throw new ArchiveError("altered", `a header whose ${what} is out of range`);
    return n;
  }
  const s = raw.toString("latin1").replace(/^[ \0]+|[ \0]+$/g, "");
  if (!/^[0-7]*$/.test(s)) throw new ArchiveError("damaged", `a header whose ${what} is not a number`);
  return s === "" ? 0 : parseInt(s, 8);
};

const checksumOk = (b: Buffer): boolean => {
  const want = number(b, 148, 8, "checksum");
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i]!;
  return sum === want;
};

const parsePax = (body: Buffer): Map<string, string> => {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    const len = space === -1 ? NaN : Number(body.subarray(at, space).toString("latin1"));
    if (!Number.isSafeInteger(len) || len <= space - at + 1 || at + len > body.length || body[at + len - 1] !== 0x0a) {
      throw new ArchiveError("damaged", "a malformed pax header");
    }
    let record: string;
    try {
      record = text.decode(body.subarray(space + 1, at + len - 1));
    } catch {
      throw new ArchiveError("altered", "a pax header that is not UTF-8");
    }
    const eq = record.indexOf("=");
    if (eq <= 0) throw new ArchiveError("damaged", "a malformed pax record");
    out.set(record.slice(0, eq), record.slice(eq + 1));
    at += len;
  }
  return out;
};

const paxNumber = (pax: Map<string, string>, key: string, fallback: number): number => {
  const v = pax.get(key);
  if (v === undefined) return fallback;
  if (!/^[0-9]{1,16}$/.test(v) || !Number.isSafeInteger(Number(v))) throw new ArchiveError("altered", `a pax ${key} that is not a whole number`);
  return Number(v);
};

const TYPES: Readonly<Record<string, EntryType>> = { "0": "file", "\0": "file", "1": "link", "2": "symlink", "5": "dir" };

/**
 * The next entry's header (a pax header before it folded in), or undefined at the end-of-archive
 * marker (after which only zero padding may follow). The caller must then consume exactly
 * `size` bytes of body and the padding (see `skipPadding`).
 */
export const readHeader = async (r: ByteReader): Promise<TarHeader | undefined> => {
  let pax: Map<string, string> | undefined;
  for (;;) {
    const b = await r.exactly(BLOCK, "a header");
    if (b === undefined) throw new ArchiveError("damaged", "truncated (no end-of-archive marker)");
    if (b.every((x) => x === 0)) {
      if (pax) throw new ArchiveError("damaged", "ends right after a pax header");
      await r.zerosToEnd(TRAILER_MAX_BYTES);
      return undefined;
    }
    if (!checksumOk(b)) throw new ArchiveError("damaged", "a header whose checksum does not match");
    const magic = b.subarray(257, 263).toString("latin1");
    if (magic !== "ustar\0" && magic !== "ustar ") throw new ArchiveError("damaged", "a header that is not ustar: not a podwarden backup");
    const flag = String.fromCharCode(b[156]!);
    let size = number(b, 124, 12, "size");
    if (flag === "x") {
      if (pax) throw new ArchiveError("altered", "two pax headers in a row");
      if (size > PAX_MAX_BYTES) throw new ArchiveError("too-big", `a pax header of ${size} bytes (at most ${PAX_MAX_BYTES})`);
      const body = size === 0 ? Buffer.alloc(0) : await r.exactly(size, "a pax header");
      if (body === undefined) throw new ArchiveError("damaged", "truncated (in a pax header)");
      pax = parsePax(Buffer.from(body));
      await skipPadding(r, size);
      continue;
    }
    const prefix = field(b, 345, 155, "path prefix");
    const name = field(b, 0, 100, "path");
    const type = TYPES[flag];
    const shown = pax?.get("path") ?? (prefix ? `${prefix}/${name}` : name);
    if (type === undefined) throw new ArchiveError("altered", `${shown}: entry type ${JSON.stringify(flag)} is not a file, directory or link (not written by podwarden)`, shown);
    size = paxNumber(pax ?? new Map(), "size", size);
    // Directories are written with a trailing slash by some writers; nothing else may end in one.
    const path = type === "dir" && shown.endsWith("/") ? shown.slice(0, -1) : shown;
    const linkTarget = pax?.get("linkpath") ?? field(b, 157, 100, "link target");
    if (type !== "file" && size !== 0) throw new ArchiveError("altered", `${path}: a ${type} entry with ${size} bytes of content`, path);
    return {
      path,
      type,
      size,
      mode: number(b, 100, 8, "mode") & 0o7777,
      uid: paxNumber(pax ?? new Map(), "uid", number(b, 108, 8, "uid")),
      gid: paxNumber(pax ?? new Map(), "gid", number(b, 116, 8, "gid")),
      mtime: number(b, 136, 12, "mtime"),
      linkTarget: type === "symlink" || type === "link" ? linkTarget : "",
    };
  }
};

/** Consumes the zero padding after a body of `size` bytes. */
export const skipPadding = async (r: ByteReader, size: number): Promise<void> => {
  const n = padding(size);
  if (n > 0 && (await r.exactly(n, "padding")) === undefined) throw new ArchiveError("damaged", "truncated (in padding)");
};
