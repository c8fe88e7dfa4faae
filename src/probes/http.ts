// HTTP probe: GET path, a 2xx status passes; optional basic auth. One request on a connection of
// its own (Connection: close), and only the status line is read: node:http's client (a request
// and a response object, a parser per connection, an agent) was most of a native probe's CPU,
// for a verdict that needs the first line of the answer.

import { withSocket, type Target } from "./tcp.js";

export interface BasicAuth {
  readonly username: string;
  readonly password: string;
}

const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: |$)/;
/** An answer whose first line is longer than this is not an HTTP server's. */
const MAX_STATUS_LINE = 4096;

export const probeHttp = (target: Target, path: string, timeoutMs: number, auth?: BasicAuth, signal?: AbortSignal): Promise<string> => {
  // The config allows printable ASCII only; a path that could end the request line is never sent.
  if (!/^\/[!-~]*$/.test(path)) return Promise.reject(new Error(`probe path ${JSON.stringify(path)} is not a printable path`));
  const head = [`GET ${path} HTTP/1.1`, `Host: ${target.host}:${target.port}`, "Connection: close", "Accept: */*"];
  if (auth) head.push(`Authorization: Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`);
  const request = `${head.join("\r\n")}\r\n\r\n`;
  return withSocket<string>(target, timeoutMs, (socket, done) => {
    let received = "";
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("latin1");
      const eol = received.indexOf("\r\n");
      if (eol < 0) {
        if (received.length > MAX_STATUS_LINE) done(new Error("not an HTTP answer (no status line)"));
        return;
      }
      const m = STATUS_LINE.exec(received.slice(0, eol));
      if (!m) return done(new Error(`not an HTTP answer: ${JSON.stringify(received.slice(0, Math.min(eol, 60)))}`));
      const status = Number(m[1]);
      if (status >= 200 && status < 300) done(null, `HTTP ${status}`);
      else done(new Error(`HTTP ${status}${status === 401 ? " (credentials missing or wrong)" : ""}`));
    });
    socket.once("end", () => done(new Error("the connection closed before an HTTP status line")));
    socket.write(request);
  }, signal);
};
