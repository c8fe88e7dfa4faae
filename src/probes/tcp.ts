// TCP probe: the port accepts a connection.

import { connect, type Socket } from "node:net";

export interface Target {
  readonly host: string;
  readonly port: number;
}

/** Opens a connection and hands it to `talk`; the socket is always destroyed afterwards. */
export const withSocket = <T>(
  target: Target,
  timeoutMs: number,
  talk: (socket: Socket, done: (err: Error | null, value?: T) => void) => void,
): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const socket = connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (err: Error | null, value?: T): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as T);
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once("error", (err) => finish(err));
    socket.once("connect", () => talk(socket, finish));
  });

export const probeTcp = (target: Target, timeoutMs: number): Promise<string> =>
  withSocket<string>(target, timeoutMs, (_socket, done) => done(null, `connected to ${target.host}:${target.port}`));
