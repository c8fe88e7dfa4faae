import { describe, expect, it } from "vitest";
import { isJournalStream, journalPriority, parseJournalStream, withPriority } from "../../../src/observability/journal.js";
import { createLogger } from "../../../src/observability/logger.js";

describe("journald priorities", () => {
  it("maps pino levels to sd-daemon levels: trace/debug 7, info 6, warn 4, error 3, fatal 2", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "trace", destination: { write: (l: string) => void lines.push(l) } });
    log.trace("t");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    log.fatal("f");
    // The real pino output, so a change in its line format (level no longer first) fails here.
    expect(lines.map((l) => withPriority(l).slice(0, 3))).toEqual(["<7>", "<7>", "<6>", "<4>", "<3>", "<2>"]);
    expect(withPriority(lines[4]!).slice(3)).toBe(lines[4]);
    expect([10, 20, 30, 40, 50, 60].map(journalPriority)).toEqual([7, 7, 6, 4, 3, 2]);
  });

  it("leaves a line without a leading level alone", () => {
    expect(withPriority('{"msg":"x","level":50}\n')).toBe('{"msg":"x","level":50}\n');
    expect(withPriority("plain text\n")).toBe("plain text\n");
    expect(withPriority('{"level":"error"}\n')).toBe('{"level":"error"}\n');
  });

  it("parses $JOURNAL_STREAM strictly", () => {
    expect(parseJournalStream("64769:123456")).toEqual({ dev: 64769n, ino: 123456n });
    expect(parseJournalStream("18446744073709551615:1")).toEqual({ dev: 18446744073709551615n, ino: 1n });
    for (const bad of [undefined, "", "1:", ":1", "1:2:3", "a:b", " 1:2", "1:2\n", "-1:2", "0x1:2"]) expect(parseJournalStream(bad)).toBeUndefined();
  });

  it("prefixes only when the log fd is the very stream systemd connected to the journal", () => {
    const stat = (dev: bigint, ino: bigint) => (fd: number) => {
      expect(fd).toBe(2);
      return { dev, ino };
    };
    expect(isJournalStream(2, "10:20", stat(10n, 20n))).toBe(true);
    expect(isJournalStream(2, "10:20", stat(10n, 21n))).toBe(false); // e.g. stderr redirected to a file
    expect(isJournalStream(2, "10:20", stat(11n, 20n))).toBe(false);
    expect(isJournalStream(2, undefined, stat(10n, 20n))).toBe(false); // a terminal, no systemd
    expect(isJournalStream(2, "garbage", stat(10n, 20n))).toBe(false);
    expect(
      isJournalStream(2, "10:20", () => {
        throw new Error("EBADF");
      }),
    ).toBe(false);
  });
});
