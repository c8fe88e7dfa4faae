// podwarden auth import: copy one provider's entry (default github-copilot) from a local
// OpenCode auth.json into the pod's persisted one (mode 0600, other providers kept, a second
// run changes nothing), then hand it to the running OpenCode server (PUT /auth/{provider}) so
// no restart is needed. With --doppler-secret it instead pushes the entry to Doppler with the
// `doppler` CLI, only when it differs, the value on stdin. Tokens are never printed.

import { spawn } from "node:child_process";
import { chmod, chown, mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { loadConfig } from "../config/load.js";
import { findOpenCode } from "../domain/opencode.js";
import { mergeAuthEntry, type AuthFile } from "../domain/opencode-auth.js";
import { EXIT, PodwardenError, UsageError } from "../lib/errors.js";
import type { CommandContext } from "./context.js";
import type { ContextOf } from "./options.js";
import type { AUTH } from "./declarations.js";
import { printJson } from "./shared.js";

const readJson = async (path: string, missingOk: boolean): Promise<AuthFile> => {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (missingOk && (err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new PodwardenError("E_USAGE", `cannot read ${path}: ${(err as Error).message}`, { exitCode: EXIT.failure });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as AuthFile;
  } catch {
    /* reported below */
  }
  throw new PodwardenError("E_USAGE", `${path} is not a JSON object (an OpenCode auth.json)`, { exitCode: EXIT.failure });
};

/**
 * Writes beside, then renames: a reader never sees half a file; mode 0600 from the start,
 * owned like its directory (OpenCode runs as an unprivileged user that owns its data directory).
 */
const writeAtomic = async (path: string, content: string): Promise<void> => {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, content, { mode: 0o600 });
  await chmod(tmp, 0o600);
  const dir = await stat(dirname(path));
  if (process.getuid?.() === 0 && (dir.uid !== 0 || dir.gid !== 0)) await chown(tmp, dir.uid, dir.gid);
  await rename(tmp, path);
};

const run = (cmd: string, args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", (err) => reject(new PodwardenError("E_USAGE", `${cmd}: ${err.message} (is the Doppler CLI installed?)`, { exitCode: EXIT.failure })));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    if (stdin !== undefined) {
      child.stdin!.on("error", () => undefined); // a program that exits without reading: its exit code tells
      child.stdin!.end(stdin);
    }
  });

export interface AuthOptions {
  readonly from: string;
  readonly provider: string;
  readonly doppler?: { readonly secret: string; readonly project?: string; readonly config?: string };
}

/** Pushes the entry to Doppler unless it already holds the same value. */
const pushToDoppler = async (provider: string, entry: unknown, d: NonNullable<AuthOptions["doppler"]>): Promise<boolean> => {
  const scope = [...(d.project ? ["--project", d.project] : []), ...(d.config ? ["--config", d.config] : [])];
  // The value is an auth.json of its own ({"github-copilot": {...}}): a cluster mounts it as is.
  const value = JSON.stringify({ [provider]: entry });
  const current = await run("doppler", ["secrets", "get", d.secret, "--plain", ...scope]);
  if (current.code === 0 && current.stdout.trim() === value) return false;
  const set = await run("doppler", ["secrets", "set", d.secret, ...scope], value);
  if (set.code !== 0) throw new PodwardenError("E_USAGE", `doppler secrets set ${d.secret} failed (exit ${set.code})`, { exitCode: EXIT.failure });
  return true;
};

/** Hands the entry to the running OpenCode (published port, basic auth from the env file); false when it does not answer. */
const tellOpenCode = async (url: string, password: string | undefined, username: string, provider: string, entry: unknown): Promise<boolean> => {
  try {
    const res = await fetch(`${url}/auth/${encodeURIComponent(provider)}`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...(password ? { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` } : {}) },
      body: JSON.stringify(entry),
      signal: AbortSignal.timeout(5_000),
    });
    return res.ok;
  } catch {
    return false;
  }
};

export const importAuth = async (ctx: CommandContext<{ readonly json: boolean }>, opts: AuthOptions): Promise<number> => {
  const source = await readJson(opts.from, false);
  const entry = source[opts.provider];
  if (entry === undefined) throw new PodwardenError("E_USAGE", `${opts.from} has no "${opts.provider}" entry (log in with OpenCode first)`, { exitCode: EXIT.failure });
  if (opts.doppler) {
    const pushed = await pushToDoppler(opts.provider, entry, opts.doppler);
    ctx.out.write(pushed ? `pushed ${opts.provider} to Doppler secret ${opts.doppler.secret}\n` : `Doppler secret ${opts.doppler.secret} already holds this ${opts.provider} entry: nothing pushed\n`);
    return EXIT.ok;
  }
  const { spec, secrets } = await loadConfig(ctx.global.config);
  const found = findOpenCode(spec.containers);
  if (!found) throw new PodwardenError("E_CONFIG", `no container in ${spec.source} mounts OpenCode's data directory (…/.local/share/opencode)`, { exitCode: EXIT.badConfig });
  const { container: oc, data: mount } = found;
  const target = join(mount.source, "auth.json");
  const { changed, next } = mergeAuthEntry(await readJson(target, true), opts.provider, entry);
  if (changed) await writeAtomic(target, `${JSON.stringify(next, null, 2)}\n`);
  let live = false;
  const probe = oc.probe;
  if (changed && probe?.kind === "http") {
    const port = spec.ports.find((p) => p.container === probe.port)?.host ?? probe.port;
    const auth = probe.auth;
    const username = (auth?.usernameKey ? secrets.get(auth.usernameKey) : undefined) ?? auth?.defaultUsername ?? "opencode";
    live = await tellOpenCode(`http://127.0.0.1:${port}`, auth ? secrets.get(auth.passwordKey) : undefined, username, opts.provider, entry);
  }
  if (ctx.options.json) printJson(ctx, { ok: true, provider: opts.provider, file: target, changed, loadedByRunningServer: live });
  else if (!changed) ctx.out.write(`${target} already holds this ${opts.provider} entry: nothing changed\n`);
  else ctx.out.write(`imported ${opts.provider} into ${target} (mode 0600)${live ? "; the running OpenCode server has it now" : "; OpenCode reads it at its next start"}\n`);
  return EXIT.ok;
};

export const auth = async (ctx: ContextOf<typeof AUTH>): Promise<number> => {
  const [sub, ...rest] = ctx.args;
  if (sub !== "import" || rest.length > 0) throw new UsageError("usage: podwarden auth import [--from FILE] [--provider NAME] [--doppler-secret NAME [--doppler-project P] [--doppler-config C]]");
  const a = ctx.options;
  const home = ctx.global.env.HOME ?? "/root";
  return importAuth(ctx, {
    from: a.from ?? join(home, ".local/share/opencode/auth.json"),
    provider: a.provider ?? "github-copilot",
    ...(a.dopplerSecret ? { doppler: { secret: a.dopplerSecret, ...(a.dopplerProject ? { project: a.dopplerProject } : {}), ...(a.dopplerConfig ? { config: a.dopplerConfig } : {}) } } : {}),
  });
};
