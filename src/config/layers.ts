// Reads a config file and the chain of files it `extends`, each parsed as YAML with its relative
// paths resolved against its own directory (before merging, so a base keeps pointing at its files).

import path from "node:path";
import { isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import { ConfigError, type ConfigIssue } from "../lib/errors.js";
import { isPlainObject } from "./field-path.js";
import type { Layer } from "./issues.js";
import { LIMITS } from "./limits.js";
import { readBounded } from "./read-bounded.js";

export interface Layers {
  /** Base first, the file given last: the order in which they are merged. */
  readonly layers: readonly Layer[];
  readonly warnings: readonly string[];
}

type Parsed = { ok: true; doc: Record<string, unknown>; warnings: string[] } | { ok: false; issues: ConfigIssue[] };

/** Throws a ConfigError naming every unreadable file, YAML syntax error, or bad `extends`. */
export async function readLayers(file: string): Promise<Layers> {
  const chain: Layer[] = [];
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];
  let current = path.resolve(file);
  let referrer: string | undefined;

  for (;;) {
    const text = await readText(current);
    if (typeof text !== "string") {
      issues.push(unreadable(current, referrer, text.reason));
      break;
    }
    const parsed = parseYaml(current, text);
    if (!parsed.ok) {
      issues.push(...parsed.issues);
      break;
    }
    warnings.push(...parsed.warnings);
    resolveRelativePaths(parsed.doc, path.dirname(current));
    chain.push({ file: current, doc: parsed.doc });
    if (chain.length >= LIMITS.extendsDepth && parsed.doc.extends !== undefined) {
      issues.push({ file: current, path: "extends", message: `more than ${LIMITS.extendsDepth} files in the extends chain (the limit)` });
      break;
    }

    const next = nextLayer(current, parsed.doc.extends, chain);
    if (next === undefined) break;
    if (typeof next !== "string") {
      issues.push(next);
      break;
    }
    [referrer, current] = [current, next];
  }

  if (issues.length > 0) throw new ConfigError(issues);
  return { layers: chain.reverse(), warnings };
}

/** The absolute path of the base named by `extends`, nothing when there is none, or what is wrong with it. */
function nextLayer(file: string, extendsValue: unknown, chain: readonly Layer[]): string | ConfigIssue | undefined {
  if (extendsValue === undefined) return undefined;
  if (typeof extendsValue !== "string" || extendsValue === "") {
    return { file, path: "extends", message: "must be the path of a base config file (relative to this file)" };
  }
  const next = path.resolve(path.dirname(file), extendsValue);
  const seen = chain.map((layer) => layer.file);
  if (seen.includes(next)) {
    const loop = [...seen.slice(seen.indexOf(next)), next].join(" -> ");
    return { file, path: "extends", message: `extends loop: ${loop}` };
  }
  return next;
}

function unreadable(file: string, referrer: string | undefined, reason: string): ConfigIssue {
  return referrer === undefined
    ? { file, path: "", message: `cannot read config file: ${reason}` }
    : { file: referrer, path: "extends", message: `cannot read base config ${file}: ${reason}` };
}

async function readText(file: string): Promise<string | { reason: string }> {
  const read = await readBounded(file, LIMITS.configBytes);
  return "reason" in read ? read : read.content.toString("utf8");
}

function parseYaml(file: string, text: string): Parsed {
  // The yaml package's own check of unique keys scans every earlier key of a mapping for each key:
  // quadratic (a 1 MiB mapping took 25 s). duplicateKeys does the same check with a set.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter });
  const errors = doc.errors.map((e) => yamlMessage(e.message, e.linePos?.[0]));
  if (errors.length === 0) errors.push(...duplicateKeys(doc, lineCounter));
  if (errors.length > 0) return { ok: false, issues: errors.map((message) => ({ file, path: "", message })) };
  let value: unknown;
  try {
    value = doc.toJS() ?? {};
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return { ok: false, issues: [{ file, path: "", message: `YAML error: ${reason}` }] };
  }
  if (!isPlainObject(value)) {
    return { ok: false, issues: [{ file, path: "", message: "the document must be a YAML mapping (with pod and containers)" }] };
  }
  const warnings = doc.warnings.map((w) => `${file}: (root): ${yamlMessage(w.message, w.linePos?.[0])}`);
  return { ok: true, doc: value, warnings };
}

/** A key that repeats in its mapping (compared as the property names they become), in linear time. */
function duplicateKeys(doc: Document, lines: LineCounter): string[] {
  const found: string[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const name = String(pair.key.value);
        if (!seen.has(name)) {
          seen.add(name);
          continue;
        }
        const at = pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
        found.push(yamlMessage(`Map keys must be unique (${JSON.stringify(name.slice(0, 64))} repeats)`, at));
      }
    },
  });
  return found;
}

/**
 * "Map keys must be unique at line 5, column 1:\n\n<excerpt>"
 *   -> "YAML syntax error at line 5, column 1: Map keys must be unique"
 */
function yamlMessage(message: string, at: { line: number; col: number } | undefined): string {
  const reason = message.split(/ at line \d+, column \d+/)[0]?.split("\n")[0]?.trim() ?? message;
  return at === undefined ? `YAML syntax error: ${reason}` : `YAML syntax error at line ${at.line}, column ${at.col}: ${reason}`;
}

/** Paths in a file are relative to that file. Mount sources are not: they are relative to pod.persistRoot. */
function resolveRelativePaths(doc: Record<string, unknown>, dir: string): void {
  resolveField(doc.pod, "envFile", dir);
  resolveField(doc.pod, "persistRoot", dir);
  if (!isPlainObject(doc.images)) return;
  for (const image of Object.values(doc.images)) {
    if (!isPlainObject(image)) continue;
    resolveField(image.build, "containerfile", dir);
    resolveField(image.build, "context", dir);
  }
}

function resolveField(section: unknown, key: string, dir: string): void {
  if (!isPlainObject(section)) return;
  const value = section[key];
  if (typeof value === "string" && value !== "") section[key] = path.resolve(dir, value);
}
