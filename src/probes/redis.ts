// Redis/Valkey probe: RESP PING (AUTH first when a password is configured), expects PONG.

import { redisCommands } from "./resp.js";
import type { Target } from "./tcp.js";

export const probeRedis = async (target: Target, timeoutMs: number, password?: string, signal?: AbortSignal): Promise<string> => {
  const [reply] = await redisCommands(target, timeoutMs, password, [["PING"]], signal);
  if (reply !== "PONG") throw new Error(`unexpected reply ${JSON.stringify(String(reply).slice(0, 40))}`);
  return "PONG";
};
