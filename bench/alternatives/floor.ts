// The floor: the least any program must do to bring the pod up in order. Create the pod,
// then for each container in order create it, start it and probe it every 10 ms until a
// probe passes (probes overlap: one held by a starting server does not stop the next). No config, no images check, no secrets, no state, no logging. The benchmark
// bundles this file (esbuild) and runs it as its own process, timed from spawn to exit.
//
//   node floor.mjs PLAN.json       (plan: see FloorPlan in render.ts)
//
// Prints one JSON line per container: { container, startedAt, readyAt } (epoch ms).

import { readFileSync } from "node:fs";
import { libpodOk } from "../lib/libpod.js";
import { firstPass, nativeProber } from "../lib/external-probe.js";
import type { FloorPlan } from "./render.js";

const plan = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as FloorPlan;
const prober = nativeProber(plan.spec, new Map(plan.secrets));

await libpodOk(plan.socket, "POST", "/pods/create", plan.pod);
for (const c of plan.containers) {
  await libpodOk(plan.socket, "POST", "/containers/create", c.body);
  await libpodOk(plan.socket, "POST", `/containers/${encodeURIComponent(c.podmanName)}/start`);
  const startedAt = Date.now();
  const spec = plan.spec.containers.find((s) => s.name === c.name)!;
  const readyAt = await firstPass(prober, spec, { everyMs: plan.everyMs });
  process.stdout.write(`${JSON.stringify({ container: c.name, startedAt, readyAt })}\n`);
}
