// One short line that says where the pod is: systemd's STATUS=, and the log on change.

import { formatBytes } from "../domain/disk.js";
import { startOrder } from "../domain/graph.js";
import type { PodSpec } from "../domain/spec.js";
import type { Snapshot } from "../domain/snapshot.js";

export const phaseText = (spec: PodSpec, s: Snapshot): string => {
  const total = spec.containers.length;
  if (!s.podman.reachable) return "Podman unreachable, retrying";
  if (s.mode === "down") {
    const running = Object.values(s.containers).filter((c) => c.running).length;
    return running > 0 ? `stopping (${running} running)` : "stopped";
  }
  if (s.blocked) return `blocked: ${s.blocked.cause}: ${s.blocked.fix}`;
  const full = Object.entries(s.containers).flatMap(([name, c]) => (c.disk?.full ? [`${name} out of disk space on ${c.disk.filesystem} (${formatBytes(c.disk.freeBytes)} free)`] : []));
  if (full.length > 0) return `${full.join(", ")}: not restarted, free space`;
  if (s.pod.containersReady === total) return `ready ${total}/${total}`;
  const soft = s.softDown.map((name) => `${name} down`);
  if (s.serving && soft.length > 0) return `ready ${s.pod.containersReady}/${total} (${soft.join(", ")}: soft ${soft.length > 1 ? "dependencies" : "dependency"})`;
  const order = startOrder(spec.containers);
  for (const [i, name] of order.entries()) {
    const c = s.containers[name];
    if (!c || c.ready) continue;
    const n = `(${i + 1}/${total})`;
    switch (c.state) {
      case "backing-off":
        return `${name} backing off ${c.backoffSeconds}s ${n}`;
      case "failed":
      case "unhealthy":
        return `${name} ${c.state}, restarting ${n}`;
      case "stopping":
        return `${name} stopping ${n}`;
      case "pending":
      case "stopped":
        return `waiting for ${name}'s dependencies ${n}`;
      default:
        return `starting ${name} ${n}`;
    }
  }
  return `ready ${s.pod.containersReady}/${total}`;
};
