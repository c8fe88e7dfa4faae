// Entry point for a git smart-HTTP test server that runs inside another network namespace
// (a pod's), started from the host with
//   PW_GIT_TOKEN=<token> nsenter -t <infra pid> -n node --import tsx test/support/git-server-netns.ts <port> [delayMs]
// It listens on 127.0.0.1:<port> of that namespace (its loopback, not the host's) and
// prints one line per event on stdout:
//   listening <url>
//   request authorised|refused <METHOD> <URL>
// PW_GIT_ROOT (optional): the directory the repository lives in, kept across servers.
// The token comes from the environment, not argv, so a scan of every process's arguments
// during a clone cannot find it here. It exits on SIGTERM or SIGINT.

import { startGitServer } from "./git-http-server.js";

const token = process.env.PW_GIT_TOKEN;
const port = Number(process.argv[2]);
const delayMs = Number(process.argv[3] ?? 0);
if (!token || !Number.isInteger(port) || port <= 0) {
  process.stderr.write("usage: PW_GIT_TOKEN=<token> git-server-netns.ts <port> [delayMs]\n");
  process.exit(2);
}

const server = await startGitServer(token, {
  port,
  delayMs,
  ...(process.env.PW_GIT_ROOT ? { root: process.env.PW_GIT_ROOT } : {}),
  onRequest: (line, authorised) => process.stdout.write(`request ${authorised ? "authorised" : "refused"} ${line}\n`),
});
process.stdout.write(`listening ${server.url}\n`);

const stop = (): void => {
  setTimeout(() => process.exit(0), 2_000).unref(); // a client holding a connection open does not keep it alive
  void server.close().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
