// A real git smart-HTTP server for tests: git's own `http-backend` (CGI) behind a small
// Node HTTP server on 127.0.0.1 that demands basic auth and counts every request.

import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface GitServer {
  readonly url: string;
  readonly token: string;
  /** Every request that reached the server (method and path), authorised or not. */
  readonly requests: string[];
  /** Commits `file` with `content` on main and pushes it to the served repository (a new upstream commit). */
  commit(file: string, content: string): string;
  close(): Promise<void>;
}

export interface GitServerOptions {
  /** Port to listen on (default: any free one). Always 127.0.0.1 of the caller's network namespace. */
  readonly port?: number;
  /** Called for every request that reaches the server, authorised or not. */
  readonly onRequest?: (line: string, authorised: boolean) => void;
  /** Holds every authorised request this long before answering (lets a test watch the client run). */
  readonly delayMs?: number;
  /** Where the repository lives (kept on close); default: a temporary directory. */
  readonly root?: string;
}

const gitIn = (work: string, ...args: string[]): string =>
  execFileSync("git", args, { cwd: work, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).toString();

/** Makes `root`/repo.git (a bare repository with a commit holding README.md) and `root`/work, unless they are there. */
export const initGitRoot = (root: string): void => {
  const work = join(root, "work");
  if (existsSync(join(root, "repo.git"))) return;
  execFileSync("git", ["init", "--quiet", "-b", "main", work]);
  writeFileSync(join(work, "README.md"), "# podwarden test repository\n");
  gitIn(work, "add", "README.md");
  gitIn(work, "commit", "--quiet", "-m", "first");
  execFileSync("git", ["clone", "--quiet", "--bare", work, join(root, "repo.git")]);
};

/** Commits `file` with `content` on main in `root`/work and pushes it to `root`/repo.git (a new upstream commit); returns its id. */
export const commitUpstream = (root: string, file: string, content: string): string => {
  const work = join(root, "work");
  writeFileSync(join(work, file), content);
  gitIn(work, "add", file);
  gitIn(work, "commit", "--quiet", "-m", `update ${file}`);
  gitIn(work, "push", "--quiet", join(root, "repo.git"), "main");
  return gitIn(work, "rev-parse", "HEAD").trim();
};

/**
 * Serves one repository, `repo.git`, with a commit holding README.md; basic auth with any user
 * and `token`. With `opts.root` the repository lives there and outlives the server (a later
 * server serves the same history); else in a temporary directory removed on close.
 */
export const startGitServer = async (token: string, opts: GitServerOptions = {}): Promise<GitServer> => {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), "pw-git-"));
  initGitRoot(root);

  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    const [user, pass] = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString().split(":");
    opts.onRequest?.(line, pass === token);
    if (pass !== token) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end("credentials required\n");
      return;
    }
    if (opts.delayMs) return void setTimeout(() => serve(req, res, user), opts.delayMs);
    serve(req, res, user);
  });
  const serve = (req: IncomingMessage, res: ServerResponse, user: string | undefined): void => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const cgi = spawn("git", ["http-backend"], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: root,
        GIT_HTTP_EXPORT_ALL: "1",
        REQUEST_METHOD: req.method ?? "GET",
        PATH_INFO: url.pathname,
        QUERY_STRING: url.search.slice(1),
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: user ?? "",
        REMOTE_ADDR: "127.0.0.1",
        ...(req.headers["content-encoding"] ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
        ...(req.headers["git-protocol"] ? { GIT_PROTOCOL: String(req.headers["git-protocol"]) } : {}),
      },
    });
    req.pipe(cgi.stdin);
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on("data", (chunk: Buffer) => {
      if (headersDone) return void res.write(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString().split("\r\n")) {
        const [k, ...v] = line.split(":");
        const value = v.join(":").trim();
        if (k!.toLowerCase() === "status") status = Number(value.split(" ")[0]);
        else res.setHeader(k!, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + 4));
    });
    cgi.on("close", () => res.end());
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/repo.git`,
    token,
    requests,
    commit: (file, content) => commitUpstream(root, file, content),
    close: async () => {
      await new Promise((r) => server.close(r));
      if (!opts.root) rmSync(root, { recursive: true, force: true });
    },
  };
};
