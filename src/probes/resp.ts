// A minimal RESP client for Redis and Valkey: send a few commands on one connection (AUTH
// first when a password is given) and read their replies. Enough for PING, BGSAVE, LASTSAVE
// and INFO; arrays are not needed and are refused.

import { withSocket, type Target } from "./tcp.js";

export type Reply = string | number | null;

const encode = (args: readonly string[]): string =>
  `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");

/** Parses complete replies from the front of `buf`; returns them and the bytes consumed. */
export const parseReplies = (buf: Buffer): { replies: (Reply | Error)[]; used: number } => {
  const replies: (Reply | Error)[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf("\r\n", at);
    if (eol < 0) break;
    const head = buf.toString("utf8", at + 1, eol);
    const type = String.fromCharCode(buf[at]!);
    if (type === "$") {
      const len = Number(head);
      if (len < 0) {
        replies.push(null);
        at = eol + 2;
        continue;
      }
      if (buf.length < eol + 2 + len + 2) break; // the body has not all arrived
      replies.push(buf.toString("utf8", eol + 2, eol + 2 + len));
      at = eol + 2 + len + 2;
      continue;
    }
    if (type === "+") replies.push(head);
    else if (type === "-") replies.push(new Error(head.replace(/\s+/g, " ").slice(0, 200)));
    else if (type === ":") replies.push(Number(head));
    else replies.push(new Error(`unsupported reply type ${JSON.stringify(type)}`));
    at = eol + 2;
  }
  return { replies, used: at };
};

/** Sends `commands` in one go and resolves with their replies; a server error rejects. */
export const redisCommands = (
  target: Target,
  timeoutMs: number,
  password: string | undefined,
  commands: readonly (readonly string[])[],
  signal?: AbortSignal,
): Promise<Reply[]> =>
  withSocket<Reply[]>(
    target,
    timeoutMs,
    (socket, done) => {
      const all = password === undefined ? commands : [["AUTH", password], ...commands];
      let pending = Buffer.alloc(0);
      const replies: Reply[] = [];
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        const parsed = parseReplies(pending);
        pending = pending.subarray(parsed.used);
        for (const r of parsed.replies) {
          if (r instanceof Error) return done(new Error(`server replied ${r.message}`));
          replies.push(r);
        }
        if (replies.length >= all.length) done(null, password === undefined ? replies : replies.slice(1));
      });
      socket.once("end", () => done(new Error(`connection closed after ${replies.length} of ${all.length} replies`)));
      socket.write(all.map(encode).join(""));
    },
    signal,
  );
