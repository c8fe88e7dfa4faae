// End-to-end helpers for the OpenCode issue: an OpenCode API client with basic auth, the
// daemon as a child process read from both of its output streams, a git smart-HTTP server
// started inside a pod's network namespace, and a scan of every process's arguments.

import { execFile, spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO, freePort, podman, startDaemon, type Daemon, type E2eRun } from "./podman-harness.js";

export { freePort };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A container's output, stdout and stderr both (`podman logs` passes them on as two streams). */
export const containerLogs = async (name: string): Promise<string> => {
  const { stdout, stderr } = await promisify(execFile)("podman", ["logs", name], { maxBuffer: 16 * 1024 * 1024 });
  return `${stdout}${stderr}`;
};

export const basicAuth = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

export interface ApiAnswer {
  readonly status: number;
  readonly text: string;
  readonly json: <T = unknown>() => T;
}

export interface OpenCodeApi {
  readonly url: string;
  /** `password`: basic auth as user `opencode` (default: the run's password); null sends no Authorization header. */
  call(method: string, path: string, opts?: { readonly body?: unknown; readonly password?: string | null }): Promise<ApiAnswer>;
}

/** OpenCode through the run's published host port, with the run's password unless told otherwise. */
export const openCodeApi = (run: E2eRun): OpenCodeApi => {
  const url = `http://127.0.0.1:${run.hostPort[4096]}`;
  return {
    url,
    async call(method, path, { body, password = run.password } = {}) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...(password === null ? {} : { authorization: basicAuth("opencode", password) }),
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return { status: res.status, text, json: <T>() => JSON.parse(text) as T };
    },
  };
};

/**
 * OpenCode from inside its own container (`podman exec ... curl`), for a pod whose port is
 * not published (e.g. one `podman kube play` started). With credentials the password is the
 * container's own OPENCODE_SERVER_PASSWORD, handed to curl as a config on stdin: it is in no
 * argv. `password: null` sends no Authorization header; a password of the caller's is not
 * supported (it would have to travel in argv).
 */
export const openCodeInContainer = (container: string, port = 4096): OpenCodeApi => {
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async call(method, path, { body, password } = {}) {
      if (typeof password === "string") throw new Error("openCodeInContainer uses the container's own password");
      if (!/^[A-Z]+$/.test(method) || !/^\/[\w/?=&.-]*$/.test(path)) throw new Error(`unexpected request ${method} ${path}`);
      const json = body === undefined ? "" : JSON.stringify(body);
      if (json.includes("'")) throw new Error("a body with a single quote cannot be passed through sh");
      const auth = password === null ? "" : `printf 'user = "opencode:%s"\\n' "$OPENCODE_SERVER_PASSWORD" | `;
      const data = body === undefined ? "" : ` -H 'content-type: application/json' --data-raw '${json}'`;
      const script = `${auth}curl -sS --max-time 15 ${password === null ? "" : "-K - "}-X ${method}${data} -w '\\n%{http_code}' ${url}${path}`;
      const out = await podman("exec", container, "sh", "-c", script);
      const cut = out.lastIndexOf("\n");
      const text = out.slice(0, cut);
      return { status: Number(out.slice(cut + 1)), text, json: <T>() => JSON.parse(text) as T };
    },
  };
};

// ---- the daemon ---------------------------------------------------------------------------

export type DaemonProcess = Daemon;

/** `podwarden run -c config` in the background, both output streams collected (see startDaemon). */
export const startDaemonProcess = (config: string, env: Readonly<Record<string, string>> = {}): DaemonProcess => startDaemon(config, { env });

// ---- a git server inside a pod's network namespace ----------------------------------------

export interface PodGitServer {
  /** The clone URL as seen from inside the pod. */
  readonly url: string;
  readonly port: number;
  /** Every request that reached it. */
  readonly requests: { readonly authorised: boolean; readonly line: string }[];
  readonly output: string[];
  stop(): Promise<void>;
}

const NETNS_SCRIPT = join(REPO, "test/support/git-server-netns.ts");

/** The pid (on the host) of the pod's infra container: a process in the pod's network namespace. */
export const infraPid = async (pod: string): Promise<number> => {
  const infra = (await podman("pod", "inspect", pod, "--format", "{{.InfraContainerID}}")).trim();
  const pid = Number((await podman("inspect", "-f", "{{.State.Pid}}", infra)).trim());
  if (!(pid > 0)) throw new Error(`pod ${pod}: infra container ${infra} has no process (pid ${pid})`);
  return pid;
};

/**
 * Starts the git smart-HTTP server (basic auth with `token`) on 127.0.0.1:`port` INSIDE the
 * pod's network namespace (nsenter -n into the infra container's), so the pod's containers
 * reach it on their loopback. The token travels in the environment, never in argv. With
 * `root`, the repository lives there and a later server (after the pod was recreated) serves
 * the same history.
 */
export const startGitServerInPod = async (pod: string, token: string, port: number, delayMs = 0, root?: string): Promise<PodGitServer> => {
  const pid = await infraPid(pod);
  const child = spawn("nsenter", ["-t", String(pid), "-n", "--", process.execPath, "--import", "tsx", NETNS_SCRIPT, String(port), String(delayMs)], {
    cwd: REPO,
    env: { ...process.env, PW_GIT_TOKEN: token, ...(root ? { PW_GIT_ROOT: root } : {}) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const requests: { authorised: boolean; line: string }[] = [];
  const output: string[] = [];
  let stderr = "";
  let exited = false;
  const closed = new Promise<void>((resolve) =>
    child.on("close", () => {
      exited = true;
      resolve();
    }),
  );
  let partial = "";
  let url: string | undefined;
  child.stdout!.on("data", (d: Buffer) => {
    const parts = (partial + d.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const l of parts) {
      output.push(l);
      const m = /^request (authorised|refused) (.*)$/.exec(l);
      if (m) requests.push({ authorised: m[1] === "authorised", line: m[2]! });
      const listening = /^listening (\S+)$/.exec(l);
      if (listening) url = listening[1];
    }
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const stop = async (): Promise<void> => {
    if (!exited) child.kill("SIGTERM");
    const timer = setTimeout(() => !exited && child.kill("SIGKILL"), 5_000);
    await closed;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  while (url === undefined) {
    if (exited || Date.now() > deadline) {
      await stop();
      throw new Error(`the git server in pod ${pod}'s network namespace did not start:\n${stderr.slice(-2000)}`);
    }
    await sleep(25);
  }
  return { url, port, requests, output, stop };
};

// ---- every process's arguments --------------------------------------------------------------

export interface ArgvWatch {
  /** Distinct command lines seen (arguments joined by spaces), with the pid. */
  readonly seen: Map<string, number>;
  stop(): Promise<void>;
}

/** Reads /proc/<pid>/cmdline of every process on the host (containers' included) until stopped. */
export const watchArgv = (everyMs = 5): ArgvWatch => {
  const seen = new Map<string, number>();
  let on = true;
  const loop = (async () => {
    while (on) {
      const pids = (await readdir("/proc")).filter((p) => /^\d+$/.test(p));
      await Promise.all(
        pids.map(async (p) => {
          const raw = await readFile(`/proc/${p}/cmdline`, "utf8").catch(() => "");
          if (raw) seen.set(raw.replace(/\0+$/, "").split("\0").join(" "), Number(p));
        }),
      );
      await sleep(everyMs);
    }
  })();
  return {
    seen,
    stop: async () => {
      on = false;
      await loop;
    },
  };
};

/** The forms a token can leak in: as is, and inside the basic-auth header the clone sends. */
export const tokenForms = (token: string): string[] => [token, Buffer.from(`x-access-token:${token}`).toString("base64")];

/**
 * OpenCode's HTTP API from inside a pod's network namespace, for images without curl (the
 * stock image): node on the host, nsenter'd into the infra container's network namespace,
 * sends the request; the password travels in its environment, never in argv.
 */
export const openCodeInPodNetns = (pod: string, password: string, port = 4096): OpenCodeApi => {
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    async call(method, path, { body, password: pw } = {}) {
      if (typeof pw === "string") throw new Error("openCodeInPodNetns uses the password it was given");
      const script = [
        "const h = process.env.PW_AUTH ? { authorization: 'Basic ' + Buffer.from('opencode:' + process.env.PW_AUTH).toString('base64') } : {};",
        "if (process.env.PW_BODY) h['content-type'] = 'application/json';",
        "const r = await fetch(process.env.PW_URL, { method: process.env.PW_METHOD, headers: h, body: process.env.PW_BODY || undefined, signal: AbortSignal.timeout(60000) });",
        "process.stdout.write((await r.text()) + '\\n' + r.status);",
      ].join("\n");
      const pid = await infraPid(pod);
      const out = await new Promise<string>((resolve, reject) => {
        const child = spawn("nsenter", ["-t", String(pid), "-n", "--", process.execPath, "--input-type=module", "-e", script], {
          env: { PATH: process.env.PATH ?? "", PW_URL: `${url}${path}`, PW_METHOD: method, PW_BODY: body === undefined ? "" : JSON.stringify(body), PW_AUTH: pw === null ? "" : password },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("close", (code) => (code === 0 ? resolve(stdout) : reject(new Error(`request to ${path} in pod ${pod} failed: ${stderr.slice(-500)}`))));
      });
      const cut = out.lastIndexOf("\n");
      const text = out.slice(0, cut);
      return { status: Number(out.slice(cut + 1)), text, json: <T>() => JSON.parse(text) as T };
    },
  };
};
