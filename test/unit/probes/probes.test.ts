// Protocol tests for the native probes against small in-process servers on loopback.
import { createServer as createHttpServer } from "node:http";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { probeHttp } from "../../../src/probes/http.js";
import { probeRedis } from "../../../src/probes/redis.js";
import { probeTcp } from "../../../src/probes/tcp.js";

const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  // A server's close waits for its connections: a test server still writing a long answer to a probe that has its verdict is ended here.
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

const listen = async <S extends Server>(s: S): Promise<number> => {
  servers.push(s);
  s.on("connection", (socket: Socket) => sockets.push(socket));
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return (s.address() as AddressInfo).port;
};

/** A RESP server: requires AUTH when `password` is set, answers PING with +PONG. */
const respServer = (password?: string) =>
  createServer((sock) => {
    let authed = password === undefined;
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString();
      const parts = buf.split("\r\n");
      while (parts.length >= 1 && parts[0]!.startsWith("*")) {
        const n = Number(parts[0]!.slice(1));
        if (parts.length < 1 + 2 * n) break;
        const args = Array.from({ length: n }, (_, i) => parts[2 + 2 * i]!);
        parts.splice(0, 1 + 2 * n);
        if (args[0] === "AUTH") {
          authed = args[1] === password;
          sock.write(authed ? "+OK\r\n" : "-WRONGPASS invalid username-password pair\r\n");
        } else if (args[0] === "PING") sock.write(authed ? "+PONG\r\n" : "-NOAUTH Authentication required.\r\n");
      }
      buf = parts.join("\r\n");
    });
  });

describe("native probes", () => {
  it("tcp: passes on a listening port, fails on a closed one", async () => {
    const port = await listen(createServer((s) => s.end()));
    await expect(probeTcp({ host: "127.0.0.1", port }, 500)).resolves.toMatch(/connected/);
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 20));
    await expect(probeTcp({ host: "127.0.0.1", port }, 500)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("redis: PING -> PONG, with and without AUTH", async () => {
    const open = await listen(respServer());
    await expect(probeRedis({ host: "127.0.0.1", port: open }, 500)).resolves.toBe("PONG");
    const locked = await listen(respServer("pw-1234"));
    await expect(probeRedis({ host: "127.0.0.1", port: locked }, 500, "pw-1234")).resolves.toBe("PONG");
    await expect(probeRedis({ host: "127.0.0.1", port: locked }, 500)).rejects.toThrow(/NOAUTH/);
    await expect(probeRedis({ host: "127.0.0.1", port: locked }, 500, "wrong")).rejects.toThrow(/WRONGPASS/);
  });

  it("redis: a server that never answers times out", async () => {
    const port = await listen(createServer((s) => s.resume())); // reads, never answers
    await expect(probeRedis({ host: "127.0.0.1", port }, 150)).rejects.toThrow(/timed out after 150 ms/);
  });

  it("http: 2xx passes; 401 fails unless the right basic credentials are sent", async () => {
    const port = await listen(
      createHttpServer((req, res) => {
        const ok = req.headers.authorization === `Basic ${Buffer.from("opencode:pw").toString("base64")}`;
        res.writeHead(ok ? 200 : 401).end();
      }),
    );
    await expect(probeHttp({ host: "127.0.0.1", port }, "/global/health", 500)).rejects.toThrow(/HTTP 401 \(credentials/);
    await expect(probeHttp({ host: "127.0.0.1", port }, "/global/health", 500, { username: "opencode", password: "pw" })).resolves.toBe("HTTP 200");
  });

  it("http: sends the path it is given and reads only the status line; 3xx/5xx fail, non-HTTP and silence fail", async () => {
    const seen: string[] = [];
    const port = await listen(
      createHttpServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.connection}`);
        const status = req.url === "/moved" ? 302 : req.url === "/down" ? 503 : 204;
        // A long body after the status: the probe has its verdict before it.
        res.writeHead(status, { "content-type": "text/plain" }).end("x".repeat(200_000));
      }),
    );
    await expect(probeHttp({ host: "127.0.0.1", port }, "/global/health?x=1", 500)).resolves.toBe("HTTP 204");
    await expect(probeHttp({ host: "127.0.0.1", port }, "/moved", 500)).rejects.toThrow(/^HTTP 302$/);
    await expect(probeHttp({ host: "127.0.0.1", port }, "/down", 500)).rejects.toThrow(/^HTTP 503$/);
    expect(seen).toEqual(["GET /global/health?x=1 close", "GET /moved close", "GET /down close"]);
    const notHttp = await listen(createServer((s) => s.end("+PONG\r\n")));
    await expect(probeHttp({ host: "127.0.0.1", port: notHttp }, "/", 500)).rejects.toThrow(/not an HTTP answer: "\+PONG"/);
    const closes = await listen(createServer((s) => s.end()));
    await expect(probeHttp({ host: "127.0.0.1", port: closes }, "/", 500)).rejects.toThrow(/closed before an HTTP status line/);
    const silent = await listen(createServer((s) => s.resume()));
    await expect(probeHttp({ host: "127.0.0.1", port: silent }, "/", 150)).rejects.toThrow(/timed out after 150 ms/);
    await expect(probeHttp({ host: "127.0.0.1", port }, "/a\r\nX-Injected: 1", 500)).rejects.toThrow(/not a printable path/);
    expect(seen).toHaveLength(3);
  });

  it("an aborted signal closes a connection the server holds, long before the timeout", async () => {
    let closed!: () => void;
    const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
    const port = await listen(createServer((s) => s.resume().on("close", closed))); // accepts, never answers
    const stop = new AbortController();
    const probing = probeHttp({ host: "127.0.0.1", port }, "/global/health", 60_000, undefined, stop.signal);
    await new Promise((r) => setTimeout(r, 20));
    stop.abort(new Error("daemon stopping"));
    await expect(probing).rejects.toThrow(/daemon stopping/);
    await serverSawClose; // the probe's socket was destroyed, not left to its 60 s timeout
    await expect(probeTcp({ host: "127.0.0.1", port }, 500, stop.signal)).rejects.toThrow(/daemon stopping/);
  });
});
