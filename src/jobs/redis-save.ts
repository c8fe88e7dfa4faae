// Makes a Redis/Valkey server write its snapshot now and waits until that snapshot is on disk:
// BGSAVE (forked, so the copy is one consistent point in time), then INFO persistence until
// the save count has moved and no save is in progress.

import { redisCommands } from "../probes/resp.js";
import type { Target } from "../probes/tcp.js";
import type { Clock } from "../lib/clock.js";
import { PodwardenError } from "../lib/errors.js";

const TALK_MS = 5_000;
const POLL_MS = 50;

const persistence = async (target: Target, password: string | undefined): Promise<Map<string, string>> => {
  const [text] = await redisCommands(target, TALK_MS, password, [["INFO", "persistence"]]);
  return new Map(
    String(text)
      .split("\r\n")
      .map((l) => l.split(":") as [string, string?])
      .filter((kv): kv is [string, string] => kv[1] !== undefined),
  );
};

/** Resolves with the time the save took; throws E_BACKUP naming `what` when it fails or times out. */
export const redisSave = async (what: string, target: Target, password: string | undefined, clock: Clock, timeoutMs: number, signal?: AbortSignal): Promise<number> => {
  const started = clock.now();
  const deadline = started + timeoutMs;
  const fail = (why: string): never => {
    throw new PodwardenError("E_BACKUP", `${what}: save failed: ${why}`);
  };
  const before = await persistence(target, password);
  const savesBefore = Number(before.get("rdb_saves") ?? NaN);
  // One save at a time: if one is already running (its own schedule), wait for it, then ask for ours.
  for (;;) {
    try {
      await redisCommands(target, TALK_MS, password, [["BGSAVE"]]);
      break;
    } catch (err) {
      if (!/in progress/i.test(String(err))) throw err;
      if (clock.now() > deadline || signal?.aborted) fail("another save did not finish");
      await clock.sleep(POLL_MS, signal);
    }
  }
  for (;;) {
    const info = await persistence(target, password);
    const saves = Number(info.get("rdb_saves") ?? NaN);
    const done =
      info.get("rdb_bgsave_in_progress") === "0" &&
      (Number.isNaN(savesBefore) ? Number(info.get("rdb_last_save_time")) * 1000 >= Math.floor(started / 1000) * 1000 : saves > savesBefore);
    if (done) {
      if (info.get("rdb_last_bgsave_status") !== "ok") fail(`rdb_last_bgsave_status is ${info.get("rdb_last_bgsave_status")} (disk full? see the container's log)`);
      return clock.now() - started;
    }
    if (clock.now() > deadline) fail(`not finished after ${Math.round(timeoutMs / 1000)} s`);
    if (signal?.aborted) fail("interrupted");
    await clock.sleep(POLL_MS, signal);
  }
};
