// podwarden status: asks the running daemon (GET /status) and prints a table, or the raw
// document with --json. Exit 0 when the pod is ready (or serving without a soft dependency),
// 1 when not, 69 when no daemon answers.

import { loadConfig } from "../config/load.js";
import { EXIT, UsageError, errorMessage } from "../lib/errors.js";
import type { StatusDocument } from "../http/schemas.js";
import type { ContextOf } from "./options.js";
import type { STATUS } from "./declarations.js";
import { noArgs, printJson } from "./shared.js";

const COLORS: Record<string, string> = { ready: "32", healthy: "32", pass: "32", starting: "33", creating: "33", stopping: "33", warn: "33" };
const paint = (tty: boolean, text: string, key: string): string => (tty ? `\x1b[${COLORS[key] ?? "31"}m${text}\x1b[0m` : text);

export const renderTable = (doc: StatusDocument, tty: boolean): string => {
  const rows = Object.entries(doc.containers).map(([name, c]) => [
    name,
    paint(tty, c.state, c.state),
    paint(tty, c.health, c.health),
    String(c.restarts),
    c.backoffSeconds > 0 ? `${c.backoffSeconds}s` : "-",
    c.lastProbe ? `${c.lastProbe.ok ? "ok" : "FAIL"} ${Math.round(c.lastProbe.ms)}ms` : "-",
    c.lastReason ?? "",
  ]);
  const header = ["CONTAINER", "STATE", "HEALTH", "RESTARTS", "BACKOFF", "PROBE", "LAST REASON"];
  // eslint-disable-next-line no-control-regex
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i]!))));
  const line = (cells: string[]) => cells.map((c, i) => c + " ".repeat(widths[i]! - visible(c))).join("  ").trimEnd();
  const jobs = doc.jobs;
  const outcome = (o: typeof jobs.backup.last): string => (o ? `last ${o.result} (${o.trigger}, ${Math.round(o.ms / 1000)} s)${o.result === "ok" ? "" : `: ${o.message}`}` : "none yet");
  const jobLines = [
    ...(jobs.running ? [`  job running: ${jobs.running}`] : []),
    ...(jobs.backup.configured ? [`  backups: ${outcome(jobs.backup.last)}; next ${jobs.backup.nextRunAt ?? "on demand only"}`] : []),
    ...Object.entries(doc.containers).flatMap(([name, c]) => (c.lastUpdate ? [`  update ${name}: ${c.lastUpdate.result} at ${c.lastUpdate.at}: ${c.lastUpdate.message}`] : [])),
  ];
  return [
    `pod ${doc.pod.name}: ${paint(tty, doc.status, doc.status)}, ${doc.pod.containersReady}/${doc.pod.containersTotal} ready, Podman ${doc.podman.reachable ? "reachable" : "UNREACHABLE"}`,
    ...doc.notes.map((n) => `  note: ${n}`),
    line(header),
    ...rows.map(line),
    ...jobLines,
  ].join("\n");
};

/** Where the daemon listens unless told otherwise (its http section's defaults). */
export const DEFAULT_STATUS_URL = "http://127.0.0.1:9090";

/** The /status URL: --url, else the config's http section when a config was named, else the default. */
const statusUrl = async (ctx: ContextOf<typeof STATUS>): Promise<string> => {
  if (ctx.options.url !== undefined) {
    let base: URL;
    try {
      base = new URL(ctx.options.url);
    } catch {
      throw new UsageError(`--url: '${ctx.options.url}' is not a URL (e.g. http://127.0.0.1:9090)`);
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new UsageError(`--url: only http(s) URLs, not ${base.protocol}`);
    return new URL("status", base.href.endsWith("/") ? base.href : `${base.href}/`).href;
  }
  if (!ctx.global.configGiven) return `${DEFAULT_STATUS_URL}/status`;
  const { http } = await loadConfig(ctx.global.config);
  return `http://${http.host.includes(":") ? `[${http.host}]` : http.host}:${http.port}/status`;
};

export const status = async (ctx: ContextOf<typeof STATUS>): Promise<number> => {
  noArgs(ctx, "status");
  const url = await statusUrl(ctx);
  let doc: StatusDocument;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    doc = (await res.json()) as StatusDocument;
  } catch (err) {
    const hint = ctx.options.url === undefined && !ctx.global.configGiven ? " (another address: --url, or --config for the config's http section)" : "";
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    ctx.err.write(`podwarden status: no daemon answers at ${url} (${cause ?? errorMessage(err)})${hint}\n`);
    return EXIT.podmanUnavailable;
  }
  if (ctx.options.json) printJson(ctx, doc);
  else ctx.out.write(`${renderTable(doc, (ctx.out as NodeJS.WriteStream).isTTY === true)}\n`);
  // Serving: every container ready except soft dependencies that are down (a note names them).
  return doc.pod.serving ? EXIT.ok : EXIT.failure;
};
