// pod.ports entries -> PortMapping: 4096 (host = container), "8080:80", "5353:53/udp".

import type { PortMapping } from "../domain/spec.js";
import type { Issues } from "./issues.js";
import { PORT_STRING_PATTERN } from "./schema.js";

const PORT_STRING = new RegExp(PORT_STRING_PATTERN);
const inRange = (port: number): boolean => Number.isInteger(port) && port >= 1 && port <= 65535;

/** The mappings of `entries` (pod.ports); bad entries and duplicate host ports are reported at `pod.ports[i]`. */
export function buildPorts(entries: readonly unknown[], issues: Issues): PortMapping[] {
  const mappings: PortMapping[] = [];
  const firstUse = new Map<string, number>();
  entries.forEach((entry, index) => {
    // Entries of another type have been reported by the schema check.
    if (typeof entry !== "number" && typeof entry !== "string") return;
    const path = ["pod", "ports", index];
    const mapping = parsePort(entry);
    if (typeof mapping === "string") {
      issues.error(path, mapping);
      return;
    }
    const key = `${mapping.host}/${mapping.protocol}`;
    const earlier = firstUse.get(key);
    if (earlier !== undefined) {
      issues.error(path, `host port ${key} is already published by pod.ports[${earlier}]`);
      return;
    }
    firstUse.set(key, index);
    mappings.push(mapping);
  });
  return mappings;
}

/** A mapping, or what is wrong with the entry. */
export function parsePort(entry: number | string): PortMapping | string {
  if (typeof entry === "number") {
    return inRange(entry) ? { host: entry, container: entry, protocol: "tcp" } : `port ${entry} is out of range 1..65535`;
  }
  const match = PORT_STRING.exec(entry);
  if (match === null) return `${JSON.stringify(entry)} is not a port, "HOST:CONTAINER" or "HOST:CONTAINER/udp"`;
  const host = Number(match[1]);
  const container = Number(match[2]);
  const protocol = match[3] === "udp" ? "udp" : "tcp";
  const bad = [["host", host], ["container", container]].filter(([, port]) => !inRange(Number(port)));
  if (bad.length > 0) return bad.map(([which, port]) => `${which} port ${port} is out of range 1..65535`).join("; ");
  return { host, container, protocol };
}
