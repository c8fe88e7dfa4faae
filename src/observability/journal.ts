// journald priorities for the JSON log lines. On a stream connected to the journal, journald
// takes a leading "<N>" (sd-daemon.h levels) as the line's priority and strips it; without it
// every line is info (6) and `journalctl -p err` shows nothing. systemd says which stream is the
// journal's in $JOURNAL_STREAM ("<st_dev>:<st_ino>" of that stream), so a line gets the prefix
// only when our log fd is that very stream: a terminal, a file or a pipe gets plain JSON.

import { fstatSync } from "node:fs";

/** sd-daemon.h: SD_CRIT 2, SD_ERR 3, SD_WARNING 4, SD_INFO 6, SD_DEBUG 7. */
export const journalPriority = (pinoLevel: number): number => {
  if (pinoLevel >= 60) return 2; // fatal
  if (pinoLevel >= 50) return 3; // error
  if (pinoLevel >= 40) return 4; // warn
  if (pinoLevel >= 30) return 6; // info
  return 7; // debug, trace
};

/** pino writes the level first: `{"level":30,...`. Anything else is left as it is. */
const LEVEL_FIRST = /^\{"level":(\d{1,3})[,}]/;

/** The line with its journald priority prefix ("<6>{...}"), or unchanged when it has no level. */
export const withPriority = (line: string): string => {
  const m = LEVEL_FIRST.exec(line);
  return m ? `<${journalPriority(Number(m[1]))}>${line}` : line;
};

export interface StreamId {
  readonly dev: bigint;
  readonly ino: bigint;
}

/** "$JOURNAL_STREAM" is "<dev>:<ino>" in decimal; anything else means no journal. */
export const parseJournalStream = (value: string | undefined): StreamId | undefined => {
  const m = /^(\d{1,20}):(\d{1,20})$/.exec(value ?? "");
  return m ? { dev: BigInt(m[1]!), ino: BigInt(m[2]!) } : undefined;
};

export type FstatFn = (fd: number) => StreamId;

const fstatBig: FstatFn = (fd) => fstatSync(fd, { bigint: true });

/** Whether `fd` is the stream systemd connected to the journal (per $JOURNAL_STREAM). */
export const isJournalStream = (fd: number, journalStream: string | undefined, fstat: FstatFn = fstatBig): boolean => {
  const want = parseJournalStream(journalStream);
  if (!want) return false;
  try {
    const got = fstat(fd);
    return got.dev === want.dev && got.ino === want.ino;
  } catch {
    return false;
  }
};
