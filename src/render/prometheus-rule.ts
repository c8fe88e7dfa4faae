// PURE: podwarden's Prometheus rules (the text of monitoring/podwarden.rules.yml) as a
// Prometheus Operator PrometheusRule (monitoring.coreos.com/v1), for `render flux --with-alerts`.
// The groups go over as they are: the rule file stays the one source, tested by promtool.

import { parse } from "yaml";
import type { K8sObject } from "./k8s.js";

/** The file the PrometheusRule goes to, beside namespace.yaml in the Flux tree. */
export const PROMETHEUS_RULE_FILE = "prometheusrule.yaml";

/** The rule file's groups; an Error naming `source` when the text is not a Prometheus rule file. */
export const ruleGroups = (text: string, source: string): K8sObject[] => {
  const doc: unknown = parse(text);
  const groups = typeof doc === "object" && doc !== null ? (doc as { groups?: unknown }).groups : undefined;
  if (!Array.isArray(groups) || groups.length === 0 || !groups.every((g) => typeof g === "object" && g !== null && Array.isArray((g as { rules?: unknown }).rules))) {
    throw new Error(`${source}: not a Prometheus rule file (want groups: [{ name, rules: [...] }])`);
  }
  return groups as K8sObject[];
};

export const prometheusRule = (
  rulesText: string,
  o: { readonly namespace: string; readonly header: string; readonly source: string },
): { obj: K8sObject; comments: string[] } => ({
  obj: {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "podwarden",
      namespace: o.namespace,
      labels: { "app.kubernetes.io/name": "podwarden", "app.kubernetes.io/managed-by": "podwarden" },
    },
    spec: { groups: ruleGroups(rulesText, o.source) },
  },
  comments: [
    o.header,
    `podwarden's alert and recording rules (${o.source}); the runbook is docs/alerts.md.`,
    "They read podwarden_* series, so they alert only where this Prometheus scrapes a podwarden",
    'daemon (a host\'s, e.g. through a ScrapeConfig), in a job called "podwarden".',
    "The Prometheus picks PrometheusRules by its ruleSelector: kube-prometheus-stack's default wants",
    "the label release=<its release name>; add it (a kustomize patch) or widen the selector.",
  ],
});
