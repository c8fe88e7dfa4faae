// Redis/Valkey probe: RESP PING (AUTH first when a password is configured), expects +PONG.

import { withSocket, type Target } from "./tcp.js";

const command = (...args: string[]): string =>
  `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("");

export const probeRedis = (target: Target, timeoutMs: number, password?: string): Promise<string> =>
  withSocket<string>(target, timeoutMs, (socket, done) => {
    let buffer = "";
    const expected = password === undefined ? 1 : 2;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split("\r\n").filter((l) => l.length > 0);
      const error = lines.find((l) => l.startsWith("-"));
      if (error) return done(new Error(`server replied ${error.slice(1).replace(/\s+/g, " ").slice(0, 120)}`));
      if (lines.length >= expected) {
        const last = lines[expected - 1]!;
        return last === "+PONG" ? done(null, "PONG") : done(new Error(`unexpected reply ${JSON.stringify(last.slice(0, 40))}`));
      }
    });
    socket.once("end", () => done(new Error("connection closed before PONG")));
    socket.write((password === undefined ? "" : command("AUTH", password)) + command("PING"));
  });
