// The daemon's HTTP settings, and the control token read from its root-only file.

import { readFile, stat } from "node:fs/promises";
import { Value } from "@sinclair/typebox/value";
import type { Issues } from "./issues.js";
import { HTTP_DEFAULTS, HttpSchema } from "./schema.js";

export interface HttpSettings {
  readonly enabled: boolean;
  readonly host: string;
  readonly port: number;
  /** The bearer token for control endpoints; undefined: they do not exist. */
  readonly token: string | undefined;
}

const LOOPBACK = /^(127\.|::1$|localhost$)/;

export async function httpSettings(section: unknown, issues: Issues): Promise<HttpSettings> {
  const s = Value.Check(HttpSchema, section) ? section : {};
  const settings = { enabled: s.enabled ?? HTTP_DEFAULTS.enabled, host: s.host ?? HTTP_DEFAULTS.host, port: s.port ?? HTTP_DEFAULTS.port };
  if (settings.enabled && !LOOPBACK.test(settings.host)) {
    issues.warn(["http", "host"], `${settings.host} is not a loopback address: /status and /metrics will be reachable from the network, without authentication`);
  }
  if (s.tokenFile === undefined) return { ...settings, token: undefined };
  const info = await stat(s.tokenFile).catch(() => undefined);
  if (!info) {
    issues.error(["http", "tokenFile"], `cannot read ${s.tokenFile}`);
    return { ...settings, token: undefined };
  }
  if ((info.mode & 0o077) !== 0) {
    issues.error(["http", "tokenFile"], `${s.tokenFile} is readable by others (mode ${(info.mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const token = (await readFile(s.tokenFile, "utf8")).trim();
  if (token.length < 16) issues.error(["http", "tokenFile"], `${s.tokenFile} must hold a token of at least 16 characters`);
  return { ...settings, token };
}
