import { afterEach, describe, expect, it, vi } from "vitest";
import { FAMILIES_PER_CHUNK, LEAD_MS, Metrics, REFRESH_MS, type ProcessStats } from "../../../src/observability/metrics.js";
import { buildSnapshot } from "../../../src/domain/snapshot.js";
import { FakeClock } from "../../support/fake-clock.js";
import { chainSpec } from "../../support/pod-spec.js";

const CONTAINERS = ["valkey", "falkordb", "datadog", "opencode"];
/** Fixed process figures: two renders of the same series give the same text. */
const STATS: ProcessStats = { cpu: { user: 1_500_000, system: 250_000 }, memory: { rss: 50_331_648, heapTotal: 20_000_000, heapUsed: 12_000_000, external: 1_000_000 }, openFds: 23 };
const fixed = (over: Partial<{ containers: string[]; persisted: string[] }> = {}) =>
  new Metrics({ version: "1", containers: over.containers ?? CONTAINERS, persisted: over.persisted ?? ["valkey"], processStats: () => STATS });
/** A pod nothing is known of yet: what the gauges show before the first pass. */
const SNAPSHOT = buildSnapshot({ spec: chainSpec(), mode: "up", observed: undefined, plan: undefined, history: new Map(), lastError: undefined, podmanReachable: true, eventsConnected: true, lastPassAt: undefined, now: 0 });
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** The kept text, split: podwarden's own families (as prom-client renders them) and the process ones after them. */
const parts = (text: string): { own: string; process: string } => {
  const at = text.indexOf("# HELP podwarden_process_");
  return { own: text.slice(0, at), process: text.slice(at) };
};
const families = (text: string): string[] => text.split("\n").flatMap((l) => (l.startsWith("# TYPE ") ? [l.split(" ")[2]!] : []));

/** Every change the daemon feeds in, once each. */
const changeEverything = (m: Metrics): void => {
  m.onApiCall("container.list", 12, true);
  m.onApiCall("container.start", 40, false);
  m.onPass(5, false, 1_700_000_000_000);
  m.onEvent({ kind: "probe", at: 0, container: "valkey", ok: false, ms: 3 });
  m.onEvent({ kind: "restart", at: 0, container: "opencode", reason: "exited" });
  m.onEvent({ kind: "start-failed", at: 0, container: "datadog", message: "no such image" });
  m.onJob({ job: "backup", result: "ok", ms: 2_000 });
  m.onBackup({ bytes: 4096, pausedMs: { valkey: 120 } }, 1_700_000_000_000);
  m.onUpdate({ container: "falkordb", result: "rolled-back" });
  m.setContainers([...CONTAINERS, "extra"], ["valkey", "extra"]);
};

/** Counts the families prom-client renders in each turn of the event loop while `run` runs. */
const familiesPerTurn = async (m: Metrics, run: () => Promise<void>): Promise<{ perTurn: number[]; names: string[] }> => {
  const names: string[] = [];
  const render = m.registry.getSingleMetricAsString.bind(m.registry);
  const spy = vi.spyOn(m.registry, "getSingleMetricAsString").mockImplementation((name) => (names.push(name), render(name)));
  const perTurn: number[] = [];
  let seen = 0;
  let running = true;
  const tick = (): void => {
    perTurn.push(names.length - seen);
    seen = names.length;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  await run();
  running = false;
  await nextTurn();
  spy.mockRestore();
  return { perTurn: perTurn.filter((n) => n > 0), names };
};

describe("the exposition kept current off the request path", () => {
  it("after a refresh, the kept text is exactly a fresh full render of the registry, then the process families", async () => {
    const m = fixed();
    await m.refresh();
    // prom-client ends its text with one newline; the process families follow after a blank line.
    expect(parts(m.text()).own).toBe(`${await m.registry.metrics()}\n`);
    const processBefore = parts(m.text()).process;
    changeEverything(m);
    await m.refresh();
    const text = m.text();
    expect(parts(text).own).toBe(`${await m.registry.metrics()}\n`);
    expect(parts(text).process).toBe(processBefore);
    for (const line of [
      'podwarden_podman_api_failures_total{operation="container.start"} 1',
      "podwarden_reconcile_failures_total 1",
      'podwarden_container_probe_failures_total{container="valkey"} 1',
      'podwarden_container_restarts_total{container="opencode",reason="exited"} 1',
      'podwarden_container_start_failures_total{container="datadog"} 1',
      'podwarden_job_runs_total{job="backup",result="ok"} 1',
      'podwarden_backup_pause_seconds{container="valkey"} 0.12',
      'podwarden_image_rollbacks_total{container="falkordb"} 1',
      'podwarden_container_ready{container="extra"} 0',
    ]) {
      expect(text).toContain(line);
    }
  });

  it("text() answers at once with the last complete text: a change shows after the next refresh, and a refresh under way is never seen half done", async () => {
    const m = fixed();
    await m.refresh();
    const before = m.text();
    m.onApiCall("container.list", 12, true);
    expect(m.text()).toBe(before);
    const refreshed = m.refresh();
    let done = false;
    void refreshed.then(() => (done = true));
    for (let turns = 0; !done; turns++) {
      await nextTurn();
      if (!done) expect(m.text()).toBe(before);
      expect(turns).toBeLessThan(100);
    }
    expect(m.text()).toContain('podwarden_podman_api_requests_total{operation="container.list"} 1');
  });

  it(`renders at most ${FAMILIES_PER_CHUNK} families per turn of the event loop, and every family on the first refresh`, async () => {
    const m = fixed();
    const first = await familiesPerTurn(m, () => m.refresh());
    const all = families(parts(m.text()).own);
    expect(first.names.sort()).toEqual([...all].sort());
    expect(Math.max(...first.perTurn)).toBeLessThanOrEqual(FAMILIES_PER_CHUNK);
    expect(first.perTurn.length).toBeGreaterThanOrEqual(Math.ceil(all.length / FAMILIES_PER_CHUNK));
    changeEverything(m);
    const again = await familiesPerTurn(m, () => m.refresh());
    expect(Math.max(...again.perTurn)).toBeLessThanOrEqual(FAMILIES_PER_CHUNK);
  });

  it("a refresh renders again only the families that changed", async () => {
    const m = fixed();
    await m.refresh();
    const idle = await familiesPerTurn(m, () => m.refresh());
    expect(idle.names).toEqual([]);
    m.onApiCall("container.list", 12, true);
    const after = await familiesPerTurn(m, () => m.refresh());
    expect(after.names.sort()).toEqual(
      ["podwarden_podman_api_failures_total", "podwarden_podman_api_request_duration_seconds", "podwarden_podman_api_requests_total"].sort(),
    );
  });

  it("refreshes asked for while one runs are done once, after it, and see every change made meanwhile", async () => {
    const m = fixed();
    const first = m.refresh();
    m.onApiCall("container.list", 12, true);
    const second = m.refresh();
    m.onApiCall("container.list", 12, true);
    expect(m.refresh()).toBe(second);
    await first;
    await second;
    expect(m.text()).toContain('podwarden_podman_api_requests_total{operation="container.list"} 2');
  });
});

describe("refreshes follow the scrapes", () => {
  const following = async () => {
    const clock = new FakeClock();
    /** When each refresh sampled the process (once per refresh). */
    const renders: number[] = [];
    const m = new Metrics({ version: "1", containers: CONTAINERS, processStats: () => (renders.push(clock.now()), STATS), clock });
    await m.follow(() => SNAPSHOT);
    /** Moves the clock by `ms`, 10 ms at a time, letting the refresh loop and its chunks run. */
    const advance = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 10) {
        clock.advance(10);
        for (let i = 0; i < 4; i++) await nextTurn();
      }
    };
    /** A scrape: whether it was answered at once, and its text. */
    const scrape = async (): Promise<{ atOnce: boolean; text: string }> => {
      const r = m.scrape();
      return { atOnce: typeof r === "string", text: await r };
    };
    return { clock, m, renders, advance, scrape };
  };

  it("nobody scraping: no refresh after the first", async () => {
    const { m, renders, advance } = await following();
    await advance(60_000);
    expect(renders).toHaveLength(1);
    m.unfollow();
  });

  it("a scraper every 15 s: one refresh per scrape, LEAD_MS before it is due, and from the third scrape on each is answered at once", async () => {
    // The first scrape finds follow()'s refresh fresh; the second, 15 s later, waits for one; then the gap is known.
    const { clock, m, renders, advance, scrape } = await following();
    const scrapes: { at: number; atOnce: boolean }[] = [];
    for (let k = 0; k < 6; k++) {
      scrapes.push({ at: clock.now(), ...(await scrape()) });
      await advance(15_000);
    }
    expect(scrapes.map((s) => s.atOnce)).toEqual([true, false, true, true, true, true]);
    // After the second scrape, one refresh before each next one.
    const second = scrapes[1]!.at;
    expect(renders.filter((t) => t > second)).toEqual([1, 2, 3, 4, 5].map((k) => second + k * 15_000 - LEAD_MS));
    expect(LEAD_MS).toBeLessThan(REFRESH_MS);
    m.unfollow();
  });

  it("a scraper faster than REFRESH_MS: a refresh every REFRESH_MS / 2, each scrape answered at once; none once it went away", async () => {
    const { m, renders, advance, scrape } = await following();
    await scrape();
    await advance(100);
    const atOnce: boolean[] = [];
    for (let k = 0; k < 30; k++) {
      atOnce.push((await scrape()).atOnce);
      await advance(100);
    }
    expect(atOnce.every(Boolean)).toBe(true);
    const during = renders.length;
    expect(during).toBeGreaterThanOrEqual(1 + 1 + 3000 / (REFRESH_MS / 2) - 1);
    expect(during).toBeLessThanOrEqual(1 + 1 + 3000 / (REFRESH_MS / 2) + 1);
    await advance(30_000);
    expect(renders.length - during).toBeLessThanOrEqual(3);
    m.unfollow();
  });

  it("a scrape after a quiet spell gets the values of now, not those of before the spell", async () => {
    const { m, advance, scrape } = await following();
    await scrape();
    await advance(300_000);
    m.onApiCall("container.list", 0.001, true);
    expect(m.text()).not.toContain('podwarden_podman_api_requests_total{operation="container.list"} 1');
    const late = await scrape();
    expect(late.atOnce).toBe(false);
    expect(late.text).toContain('podwarden_podman_api_requests_total{operation="container.list"} 1');
    m.unfollow();
  });

  it("unfollow ends the loop: no refresh after it", async () => {
    const { m, renders, advance, scrape } = await following();
    for (let k = 0; k < 3; k++) {
      await scrape();
      await advance(2_000);
    }
    m.unfollow();
    const n = renders.length;
    await advance(10_000);
    expect(renders).toHaveLength(n);
  });
});

describe("a refresh that fails", () => {
  it("rejects, keeps the last text, and leaves the next refreshes working", async () => {
    const m = fixed();
    await m.refresh();
    const before = m.text();
    m.onApiCall("container.list", 12, true);
    await expect(
      m.follow(() => {
        throw new Error("no snapshot");
      }),
    ).rejects.toThrow("no snapshot");
    m.unfollow();
    expect(m.text()).toBe(before);
    await m.refresh();
    expect(m.text()).toContain('podwarden_podman_api_requests_total{operation="container.list"} 1');
  });
});

describe("process and Node.js families", () => {
  afterEach(() => vi.restoreAllMocks());

  it("keep the usual names, help and types, from one sample per refresh; prom-client's monitors are gone", async () => {
    const m = fixed();
    await m.refresh();
    const { process: text } = parts(m.text());
    const start = /^podwarden_process_start_time_seconds (\d{10})$/m.exec(text)?.[1];
    const maxFds = /^podwarden_process_max_fds (\d+|Nan)$/m.exec(text)?.[1];
    expect(Math.abs(Number(start) - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
    expect(text).toBe(
      [
        ["process_cpu_user_seconds_total", "Total user CPU time spent in seconds.", "counter", "1.5"],
        ["process_cpu_system_seconds_total", "Total system CPU time spent in seconds.", "counter", "0.25"],
        ["process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", "counter", "1.75"],
        ["process_start_time_seconds", "Start time of the process since unix epoch in seconds.", "gauge", start],
        ["process_resident_memory_bytes", "Resident memory size in bytes.", "gauge", "50331648"],
        ["process_open_fds", "Number of open file descriptors.", "gauge", "23"],
        ["process_max_fds", "Maximum number of open file descriptors.", "gauge", maxFds],
        ["nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.", "gauge", "20000000"],
        ["nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.", "gauge", "12000000"],
        ["nodejs_external_memory_bytes", "Node.js external memory size in bytes.", "gauge", "1000000"],
      ]
        .map(([name, help, type, value]) => `# HELP podwarden_${name} ${help}\n# TYPE podwarden_${name} ${type}\npodwarden_${name} ${value}`)
        .join("\n\n") + "\n",
    );
    expect(m.text()).not.toMatch(/eventloop_lag|gc_duration|heap_space/);
  });

  it("by default come from this process, and move between refreshes", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey"] });
    await m.refresh();
    const cpu = (): number => Number(/^podwarden_process_cpu_seconds_total (\S+)$/m.exec(m.text())?.[1]);
    const rss = Number(/^podwarden_process_resident_memory_bytes (\S+)$/m.exec(m.text())?.[1]);
    expect(rss).toBeGreaterThan(10 * 1024 * 1024);
    expect(Number(/^podwarden_process_open_fds (\S+)$/m.exec(m.text())?.[1])).toBeGreaterThan(2);
    const before = cpu();
    const until = performance.now() + 30;
    while (performance.now() < until);
    await m.refresh();
    expect(cpu()).toBeGreaterThan(before);
  });
});

describe("persisted filesystem gauges", () => {
  it("exist from the start for the containers with persisted directories (free and size NaN until sampled, full 0), and for no other", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey", "datadog"], persisted: ["valkey"] });
    await m.refresh();
    const text = m.text();
    expect(text).toContain("# TYPE podwarden_persist_free_bytes gauge");
    // prom-client writes NaN as "Nan", which Prometheus and promtool read as NaN (case-insensitive).
    expect(text).toMatch(/^podwarden_persist_free_bytes\{container="valkey"\} nan$/im);
    expect(text).toMatch(/^podwarden_persist_size_bytes\{container="valkey"\} nan$/im);
    expect(text).toContain('podwarden_persist_full{container="valkey"} 0');
    expect(text).not.toMatch(/^podwarden_persist_\w+\{container="datadog"\}/m);
  });

  it("a reload that adds a persisted directory adds its series", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey"], persisted: [] });
    await m.refresh();
    expect(m.text()).not.toContain('podwarden_persist_full{container="valkey"}');
    m.setContainers(["valkey"], ["valkey"]);
    await m.refresh();
    expect(m.text()).toContain('podwarden_persist_full{container="valkey"} 0');
  });
});

describe("series the shipped alert rules compare against (monitoring/)", () => {
  /** What a scrape gets after the next refresh. */
  const scrape = async (m: Metrics): Promise<string> => (await m.refresh(), m.text());

  it("container_start_period_seconds from the spec, and after a reload the new values", async () => {
    const m = new Metrics({ version: "1", containers: ["valkey", "datadog"], startPeriodsS: { valkey: 30 } });
    let text = await scrape(m);
    expect(text).toContain('podwarden_container_start_period_seconds{container="valkey"} 30');
    expect(text).toContain('podwarden_container_start_period_seconds{container="datadog"} 0');
    m.setContainers(["valkey", "datadog"], [], { valkey: 45, datadog: 5 });
    text = await scrape(m);
    expect(text).toContain('podwarden_container_start_period_seconds{container="valkey"} 45');
    expect(text).toContain('podwarden_container_start_period_seconds{container="datadog"} 5');
  });

  it("backup_interval_seconds is the given gap, 0 when backups are not scheduled", async () => {
    const scheduled = new Metrics({ version: "1", containers: [] });
    scheduled.setBackupInterval(86_400);
    expect(await scrape(scheduled)).toMatch(/^podwarden_backup_interval_seconds 86400$/m);
    expect(await scrape(new Metrics({ version: "1", containers: [] }))).toMatch(/^podwarden_backup_interval_seconds 0$/m);
  });

  it("container_not_ready_since_timestamp_seconds: when the daemon first saw it not ready, kept while it stays so, 0 once ready", async () => {
    let wall = 1_000_000;
    const m = new Metrics({ version: "1", containers: ["valkey"], wallNow: () => wall });
    const snap = (ready: boolean, state: "starting" | "ready" | "backing-off") =>
      ({
        podman: { reachable: true, events: true },
        pod: { exists: true, state: "Running", containersReady: ready ? 1 : 0, containersTotal: 1 },
        containers: { valkey: { state, health: ready ? "healthy" : "starting", ready, lastExitCode: null, running: true, startedAt: null, backoffSeconds: 0, id: "x", image: "i", imageId: "y", disk: null } },
      }) as unknown as Parameters<Metrics["update"]>[0];
    const since = async (): Promise<string | undefined> => /^podwarden_container_not_ready_since_timestamp_seconds\{container="valkey"\} (\S+)$/m.exec(await scrape(m))?.[1];
    m.update(snap(false, "starting"));
    expect(await since()).toBe("1000");
    wall += 60_000;
    m.update(snap(false, "backing-off"));
    expect(await since()).toBe("1000");
    m.update(snap(true, "ready"));
    expect(await since()).toBe("0");
    wall += 60_000;
    m.update(snap(false, "backing-off"));
    expect(await since()).toBe("1120");
  });
});
