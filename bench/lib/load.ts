// An HTTP load generator with a fixed request rate (open loop, like wrk2) and a closed-loop
// maximum-throughput mode. Why not an existing one: Debian's wrk has no fixed rate (that is
// wrk2), and autocannon's rate limit sends each second's budget in a burst and records
// latencies in whole milliseconds, too coarse for a 2 ms target.
//
// Fixed rate: request i is due at t0 + i/rate; a 1 ms timer sends whatever is due over a
// pool of keep-alive connections. Latency is measured from sending to the end of the
// response body, and also from the due time (which adds any wait for a free connection or
// for the timer: coordinated omission corrected, wrk2's way).

import { Agent, request } from "node:http";
import { pct } from "./stats.js";

export interface Latency {
  readonly n: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

const stats = (xs: readonly number[]): Latency => ({
  n: xs.length,
  p50: pct(xs, 50),
  p90: pct(xs, 90),
  p99: pct(xs, 99),
  p999: pct(xs, 99.9),
  max: xs.length ? xs.reduce((a, b) => Math.max(a, b), -Infinity) : Number.NaN,
});

export interface FixedRateResult {
  readonly rate: number;
  readonly seconds: number;
  readonly sent: number;
  /** 2xx answers. */
  readonly ok: number;
  readonly failed: number;
  /** Send -> end of body. */
  readonly latency: Latency;
  /** Due time -> end of body. */
  readonly fromDue: Latency;
}

const get = (agent: Agent, url: URL): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request(url, { agent, method: "GET" }, (res) => {
      res.on("data", () => undefined);
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });

/** `rate` requests per second for `seconds` s over up to `connections` keep-alive connections. */
export const fixedRate = async (target: string, rate: number, seconds: number, connections = 32): Promise<FixedRateResult> => {
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const total = Math.round(rate * seconds);
  const latency: number[] = [];
  const fromDue: number[] = [];
  let ok = 0;
  let failed = 0;
  const inFlight = new Set<Promise<void>>();
  const send = (due: number): void => {
    const sent = performance.now();
    const p = get(agent, url).then(
      (status) => {
        const end = performance.now();
        if (status >= 200 && status < 300) ok++;
        else failed++;
        latency.push(end - sent);
        fromDue.push(end - due);
      },
      () => {
        failed++;
      },
    );
    const tracked = p.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  const t0 = performance.now() + 5;
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (i < total && t0 + (i * 1000) / rate <= now) send(t0 + (i++ * 1000) / rate);
      if (i < total) setTimeout(tick, 1);
      else resolve();
    };
    setTimeout(tick, 5);
  });
  await Promise.all(inFlight);
  agent.destroy();
  return { rate, seconds, sent: total, ok, failed, latency: stats(latency), fromDue: stats(fromDue) };
};

export interface ThroughputResult {
  readonly seconds: number;
  readonly connections: number;
  readonly ok: number;
  readonly failed: number;
  /** 2xx answers per second. */
  readonly rps: number;
  readonly latency: Latency;
}

/** As many requests as `connections` keep-alive connections carry, each sending its next on the previous answer. */
/** Requests one after the other on a pool: each counted as 2xx or failed, with its latency. */
const tallied = (target: string, connections: number) => {
  const url = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const t = {
    ok: 0,
    failed: 0,
    latency: [] as number[],
    agent,
    one: async (): Promise<void> => {
      const sent = performance.now();
      try {
        const status = await get(agent, url);
        if (status >= 200 && status < 300) t.ok++;
        else t.failed++;
        t.latency.push(performance.now() - sent);
      } catch {
        t.failed++;
      }
    },
  };
  return t;
};

export const maxThroughput = async (target: string, seconds: number, connections: number): Promise<ThroughputResult> => {
  const tally = tallied(target, connections);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      await tally.one();
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  const took = (performance.now() - t0) / 1000;
  tally.agent.destroy();
  return { seconds: took, connections, ok: tally.ok, failed: tally.failed, rps: tally.ok / took, latency: stats(tally.latency) };
};

export interface Scraper {
  /** Stops scraping; resolves with the scrapes' latencies once the last one has answered. */
  stop(): Promise<{ readonly ok: number; readonly failed: number; readonly latency: Latency }>;
}

/** A Prometheus-like scraper: one GET of `target` every `everyMs` over one keep-alive connection, never two at once. */
export const scrapeEvery = (target: string, everyMs: number): Scraper => {
  const tally = tallied(target, 1);
  let stopped = false;
  const loop = (async () => {
    let next = performance.now();
    while (!stopped) {
      await tally.one();
      next += everyMs;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      tally.agent.destroy();
      return { ok: tally.ok, failed: tally.failed, latency: stats(tally.latency) };
    },
  };
};
