// TCP probe: the port accepts a connection.

import { connect, type Socket } from "node:net";

export interface Target {
  readonly host: string;
  readonly port: number;
}

/**
 * Opens a connection and hands it to `talk`; the socket is always destroyed afterwards: when
 * `talk` is done, at the timeout, or when `signal` aborts (a probe held by a server that never
 * answers must not keep a stopping daemon, or `up`, waiting for its timeout).
 */
export const withSocket = <T>(
  target: Target,
  timeoutMs: number,
  talk: (socket: Socket, done: (err: Error | null, value?: T) => void) => void,
  signal?: AbortSignal,
): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const socket = connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (err: Error | null, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const onAbort = (): void => finish(signal!.reason as Error);
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", (err) => finish(err));
    socket.once("connect", () => talk(socket, finish));
  });

export const probeTcp = (target: Target, timeoutMs: number, signal?: AbortSignal): Promise<string> =>
  withSocket<string>(target, timeoutMs, (_socket, done) => done(null, `connected to ${target.host}:${target.port}`), signal);
