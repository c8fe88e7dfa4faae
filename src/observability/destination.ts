// Where log lines go: pretty lines for people, or JSON lines, each with its journald priority
// when the stream is the one systemd connected to the journal ($JOURNAL_STREAM).

import { isJournalStream } from "./journal.js";
import { jsonDestination, type LoggerOptions } from "./logger.js";
import { prettyDestination } from "./pretty.js";

export interface LogTarget {
  readonly logFormat: "json" | "pretty";
  readonly logTo: "stdout" | "stderr";
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const logDestination = (target: LogTarget): NonNullable<LoggerOptions["destination"]> => {
  if (target.logFormat === "pretty") return prettyDestination(process[target.logTo]);
  const fd = target.logTo === "stdout" ? 1 : 2;
  return jsonDestination(fd, isJournalStream(fd, target.env.JOURNAL_STREAM));
};
