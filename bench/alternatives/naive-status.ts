// The naive status endpoint: every request asks Podman afresh, where podwarden's /status
// answers from the snapshot its reconcile loop keeps. Two flavours:
//   ps      runs `podman ps -a --filter pod=POD --format json` per request (a new process each time)
//   libpod  calls GET /libpod/containers/json?all=true&filters={"pod":[POD]} per request
// and a control that does no work at all:
//   static  answers a constant body (what the machine and the load generator allow)
// The benchmark bundles this file and runs it as its own process:
//
//   node naive-status.mjs ps|libpod|static PORT POD SOCKET
//
// Answers GET (any path) with {containers: [{name, state, status}]}; prints "listening" once up.

import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { promisify } from "node:util";
import { libpodOk } from "../lib/libpod.js";

const exec = promisify(execFile);
const [mode, port, pod, socket] = process.argv.slice(2) as [string, string, string, string];

interface Listed {
  Names?: string[] | string;
  State?: string;
  Status?: string;
}

const list = async (): Promise<Listed[]> => {
  if (mode === "ps") {
    const { stdout } = await exec("podman", ["ps", "-a", "--filter", `pod=${pod}`, "--format", "json"], { maxBuffer: 16 * 1024 * 1024 });
    return JSON.parse(stdout) as Listed[];
  }
  return libpodOk<Listed[]>(socket, "GET", `/containers/json?all=true&filters=${encodeURIComponent(JSON.stringify({ pod: [pod] }))}`);
};

const STATIC = JSON.stringify({ containers: ["valkey", "falkordb", "datadog", "opencode"].map((n) => ({ name: `${pod}-${n}`, state: "running", status: "Up" })) });

const server = createServer((_req, res) => {
  if (mode === "static") {
    res.writeHead(200, { "content-type": "application/json" }).end(STATIC);
    return;
  }
  list().then(
    (cs) => {
      const body = JSON.stringify({ containers: cs.map((c) => ({ name: Array.isArray(c.Names) ? c.Names[0] : c.Names, state: c.State, status: c.Status })) });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
    },
    (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(String(err)),
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(port), "127.0.0.1", () => process.stdout.write("listening\n"));
