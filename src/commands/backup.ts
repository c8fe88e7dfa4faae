// podwarden backup now | list: asks the running daemon (which pauses and saves containers
// consistently) to write an archive now, or lists the pod's archives, newest first.

import type { ArchiveInfo, BackupResult } from "../jobs/backup.js";
import { EXIT, UsageError } from "../lib/errors.js";
import { askDaemon } from "./control-client.js";
import type { ContextOf } from "./options.js";
import type { BACKUP } from "./declarations.js";
import { printJson } from "./shared.js";

const mb = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MB`;

export const backup = async (ctx: ContextOf<typeof BACKUP>): Promise<number> => {
  const [sub, ...extra] = ctx.args;
  if (extra.length > 0 || (sub !== "now" && sub !== "list")) throw new UsageError("usage: podwarden backup now | podwarden backup list");
  if (sub === "list") {
    const list = await askDaemon<ArchiveInfo[]>(ctx, "GET", "/backups");
    if (ctx.options.json) printJson(ctx, list);
    else if (list.length === 0) ctx.out.write("no backups yet\n");
    else for (const a of list) ctx.out.write(`${a.createdAt}  ${mb(a.bytes).padStart(10)}  ${a.path}\n`);
    return EXIT.ok;
  }
  const r = await askDaemon<BackupResult>(ctx, "POST", "/backups");
  if (ctx.options.json) printJson(ctx, r);
  else {
    const paused = Object.entries(r.pausedMs).map(([c, ms]) => `${c} paused ${ms} ms`);
    const saved = Object.entries(r.saveMs).map(([c, ms]) => `${c} saved in ${ms} ms`);
    ctx.out.write(`${r.archive}: ${mb(r.bytes)}, ${r.files} files, ${(r.ms / 1000).toFixed(1)} s (${[...saved, ...paused].join(", ")})\n`);
    if (r.deleted.length > 0) ctx.out.write(`deleted by retention: ${r.deleted.join(", ")}\n`);
  }
  return EXIT.ok;
};
