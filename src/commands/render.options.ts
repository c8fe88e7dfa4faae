// `podwarden render`: its declaration (see options.ts); render.ts is loaded only to run it.

import { declareCommand, SHARED } from "./options.js";

export const RENDER = declareCommand({
  name: "render",
  summary: "render kube | render flux --domain D --workspace NAME=REPO_URL: the pod as Kubernetes YAML or a Flux tree",
  usage: "kube | flux",
  options: {
    config: SHARED.config,
    domain: { type: "string", arg: "D", help: "flux: workspaces at <ws>.opencode.D" },
    workspace: { type: "string", arg: "NAME=REPO_URL[#BRANCH]", multiple: true, help: "flux: a workspace (repeat for more)" },
    out: { type: "string", arg: "DIR", help: "flux: write kubernetes/apps/opencode/ under DIR (default: stdout)" },
    image: {
      type: "string",
      arg: "REF",
      help: "flux: the OpenCode image from a registry, pinned by version tag\nor digest (default: the config's, if it is one; localhost/ and :latest\nare refused)",
    },
    gateway: { type: "string", arg: "NS/NAME[:SECTION]", help: "flux: the Gateway (default network/envoy-external:https)" },
    store: { type: "string", arg: "NAME", help: "flux: the Doppler ClusterSecretStore (default doppler)" },
    "storage-class": { type: "string", arg: "NAME", help: "PVC storage class (flux default ceph-block)" },
    issuer: { type: "string", arg: "NAME", help: "flux: the ClusterIssuer (default letsencrypt-production)" },
    backup: { type: "boolean", help: "flux: a VolSync ReplicationSource per PVC" },
    "with-memory": { type: "boolean", help: "flux: Valkey, FalkorDB and the Agent in each workspace's pod" },
    "with-alerts": { type: "boolean", help: "flux: podwarden's alert rules as a PrometheusRule (Prometheus Operator)" },
  },
  exits: ["config"],
});
