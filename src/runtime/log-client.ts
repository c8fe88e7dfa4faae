// LogClient over the compat logs endpoint: a container's stdout and stderr, demultiplexed,
// once or followed until the signal aborts or the container goes.

import { PassThrough } from "node:stream";
import type { PodmanApi } from "./podman-api.js";
import type { LogClient, LogOptions } from "./port.js";

export class PodmanLogs implements LogClient {
  readonly #api: PodmanApi;

  constructor(api: PodmanApi) {
    this.#api = api;
  }

  async logs(name: string, opts: LogOptions, out: NodeJS.WritableStream, err: NodeJS.WritableStream, signal?: AbortSignal): Promise<void> {
    const { docker } = this.#api;
    const container = docker.getContainer(name);
    const query = { stdout: true, stderr: true, ...(opts.sinceS !== undefined ? { since: opts.sinceS } : {}), ...(opts.tail !== undefined ? { tail: opts.tail } : {}) };
    if (!opts.follow) {
      const buffer = await this.#api.call("container.logs", () => container.logs({ ...query, follow: false }));
      const stream = new PassThrough();
      stream.end(buffer);
      docker.modem.demuxStream(stream, out, err);
      await new Promise((r) => stream.once("end", r));
      return;
    }
    const stream = await this.#api.call("container.logs", () => container.logs({ ...query, follow: true, ...(signal ? { abortSignal: signal } : {}) }));
    docker.modem.demuxStream(stream, out, err);
    await new Promise<void>((resolve) => {
      stream.once("end", resolve);
      stream.once("close", resolve);
      stream.once("error", () => resolve());
      signal?.addEventListener("abort", () => resolve(), { once: true });
    });
  }
}
