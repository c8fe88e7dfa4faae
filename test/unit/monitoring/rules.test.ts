// monitoring/podwarden.rules.yml: promtool accepts it and its rule tests pass (CI gets
// promtool from Debian's prometheus package: .ci/setup-host.sh --test), every alert is
// covered by a firing and a quiet case, carries what a person needs (summary, description,
// severity, a runbook link to its section of docs/alerts.md), and reads only real series.

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { exportedNames, metricNames } from "../../support/promql-names.js";

const exec = promisify(execFile);
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const RULES = `${REPO}monitoring/podwarden.rules.yml`;
const RULE_TESTS = `${REPO}monitoring/podwarden.rules.test.yml`;
const PROMTOOL = "/usr/bin/promtool";

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}
interface RuleTest {
  readonly name: string;
  readonly alert_rule_test?: readonly { readonly alertname: string; readonly exp_alerts?: readonly unknown[] }[];
}

const rules = async (): Promise<Rule[]> => (parse(await readFile(RULES, "utf8")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const alerts = async (): Promise<Rule[]> => (await rules()).filter((r) => r.alert);

/** Runs promtool; a missing promtool is a failure that says how to get it, never a skip. */
const promtool = async (...args: string[]): Promise<{ code: number; out: string }> => {
  expect(existsSync(PROMTOOL), `${PROMTOOL} is missing: install Debian's prometheus package (bash .ci/setup-host.sh --test does)`).toBe(true);
  return exec(PROMTOOL, args, { cwd: REPO }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
};

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string): string => heading.trim().toLowerCase().replace(/[^\w\s-]/g, "").replace(/\s/g, "-");

describe("monitoring/podwarden.rules.yml", () => {
  it("passes promtool check rules", async () => {
    const r = await promtool("check", "rules", RULES);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code, r.out).toBe(0);
  });

  it("passes its promtool rule tests (monitoring/podwarden.rules.test.yml)", async () => {
    const r = await promtool("test", "rules", RULE_TESTS);
    expect(r.out).toContain("SUCCESS");
    expect(r.code, r.out).toBe(0);
  });

  it("has the alerts of issue 17, each with a case where it fires and one where it stays quiet", async () => {
    const names = (await alerts()).map((a) => a.alert);
    expect(names).toEqual([
      "PodwardenDown",
      "PodwardenReconcileStalled",
      "PodwardenPodmanUnreachable",
      "PodwardenContainerNotReady",
      "PodwardenContainerCrashLooping",
      "PodwardenContainerUnhealthy",
      "PodwardenBackupOverdue",
      "PodwardenImageUpdateRolledBack",
      "PodwardenPersistFilesystemNearlyFull",
      "PodwardenPersistFilesystemFull",
    ]);
    const tests = (parse(await readFile(RULE_TESTS, "utf8")) as { tests: RuleTest[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const name of names) {
      const mine = cases.filter((c) => c.alertname === name);
      expect(mine.some((c) => (c.exp_alerts ?? []).length > 0), `${name} fires in some test`).toBe(true);
      expect(mine.some((c) => (c.exp_alerts ?? []).length === 0), `${name} stays quiet in some test`).toBe(true);
    }
  });

  it("each alert has a severity, a summary, a description and a runbook_url to its section of docs/alerts.md", async () => {
    const doc = await readFile(`${REPO}docs/alerts.md`, "utf8");
    const sections = new Map<string, string>();
    for (const part of doc.split(/^## /m).slice(1)) sections.set(anchor(part.split("\n", 1)[0] ?? ""), part);
    for (const a of await alerts()) {
      expect(["warning", "critical"], `${a.alert} severity`).toContain(a.labels?.severity);
      for (const k of ["summary", "description"]) expect(a.annotations?.[k]?.length ?? 0, `${a.alert} ${k}`).toBeGreaterThan(20);
      const url = a.annotations?.runbook_url ?? "";
      const m = /^file:\/\/\/opt\/podwarden\/docs\/alerts\.md#([\w-]+)$/.exec(url);
      expect(m?.[1], `${a.alert} runbook_url ${url}`).toBe(anchor(a.alert ?? ""));
      const section = sections.get(m?.[1] ?? "");
      expect(section, `docs/alerts.md has a section ## ${a.alert}`).toBeDefined();
      for (const part of ["What it means", "How to check", "What to do"]) expect(section, `${a.alert}: ${part}`).toContain(`### ${part}`);
    }
  });

  it("reads only series podwarden exports (from the metrics registry), recorded series, or up", async () => {
    const all = await rules();
    const known = new Set([...(await exportedNames()), ...all.flatMap((r) => (r.record ? [r.record] : [])), "up"]);
    const unknown = all.flatMap((r) => metricNames(r.expr).filter((n) => !known.has(n)).map((n) => `${r.alert ?? r.record}: ${n}`));
    expect(unknown).toEqual([]);
  });
});
