// PURE: the two files `render flux` writes under scripts/ at the top of the GitOps repository:
// seed-copilot-auth.sh (SECR-04: the local OpenCode login's Copilot entry into Doppler) and
// README.md (OPS-04: the Copilot re-auth runbook). Both name the workspaces' Doppler secrets.

export interface SeedTarget {
  readonly name: string;
  /** The Doppler secret holding this workspace's auth.json (OPENCODE_<WS>_COPILOT_AUTH_JSON). */
  readonly secret: string;
}

/**
 * Idempotent and safe to re-run: each Doppler secret is set only when its value differs
 * from the local entry; the value goes to doppler on stdin (never argv), doppler's output
 * (which would show it) goes nowhere, and the script prints names only.
 */
export const SEED_COPILOT_AUTH = (targets: readonly SeedTarget[]): string => `#!/bin/sh
# Rendered by podwarden (render flux). Do not edit; re-render.
#
# SECR-04: copies the GitHub Copilot entry of this machine's OpenCode login into Doppler, one
# secret per workspace; External Secrets brings it into the cluster and the pod's
# copilot-auth step merges it into the persisted auth.json (other providers kept).
#
#   scripts/seed-copilot-auth.sh [WORKSPACE ...]      (default: every workspace)
#
# Reads AUTH_JSON (default: \${XDG_DATA_HOME:-~/.local/share}/opencode/auth.json). Needs jq and
# the doppler CLI, logged in; DOPPLER_PROJECT / DOPPLER_CONFIG choose the project and config
# (else doppler's own setup for this directory). Idempotent: a secret that already holds the
# entry is left alone, so running it again changes nothing. Never prints a token; never
# run it with sh -x.
set -eu

say() { printf 'seed-copilot-auth: %s\\n' "$*"; }

auth=\${AUTH_JSON:-\${XDG_DATA_HOME:-$HOME/.local/share}/opencode/auth.json}
provider=github-copilot
command -v jq >/dev/null 2>&1 || { say "jq is needed (apt-get install jq / brew install jq)" >&2; exit 69; }
command -v doppler >/dev/null 2>&1 || { say "the doppler CLI is needed (and doppler login)" >&2; exit 69; }
[ -r "$auth" ] || { say "cannot read $auth: log in to GitHub Copilot with OpenCode on this machine first (opencode auth login)" >&2; exit 66; }

# {"github-copilot": {...}}: an auth.json of its own, compact, keys sorted (compared as such).
value=$(jq -cS --arg p "$provider" 'if type == "object" and has($p) then {($p): .[$p]} else empty end' "$auth") || { say "$auth is not JSON" >&2; exit 65; }
[ -n "$value" ] || { say "$auth has no $provider entry: log in to GitHub Copilot with OpenCode first" >&2; exit 65; }

set -- \${@:-${targets.map((t) => t.name).join(" ")}}
for ws in "$@"; do
  case "$ws" in
${targets.map((t) => `    ${t.name}) secret=${t.secret} ;;`).join("\n")}
    *) say "unknown workspace $ws (known: ${targets.map((t) => t.name).join(", ")})" >&2; exit 64 ;;
  esac
  scope=""
  [ -z "\${DOPPLER_PROJECT:-}" ] || scope="--project $DOPPLER_PROJECT"
  [ -z "\${DOPPLER_CONFIG:-}" ] || scope="$scope --config $DOPPLER_CONFIG"
  # shellcheck disable=SC2086
  current=$(doppler secrets get "$secret" --plain $scope 2>/dev/null | jq -cS . 2>/dev/null || true)
  if [ "$current" = "$value" ]; then
    say "$secret ($ws) already holds this $provider entry: unchanged"
    continue
  fi
  # shellcheck disable=SC2086
  if ! printf '%s' "$value" | doppler secrets set "$secret" $scope >/dev/null 2>&1; then
    say "doppler secrets set $secret failed (is doppler logged in, with write access to the project?)" >&2
    exit 1
  fi
  say "$secret ($ws) set from $auth"
done
`;

export interface RunbookTarget extends SeedTarget {
  /** The Deployment (and Secret prefix) of the workspace. */
  readonly app: string;
  readonly url: string;
}

/** OPS-04: how to tell the Copilot token expired, what to do, how to check it worked. */
export const SCRIPTS_README = (targets: readonly RunbookTarget[], namespace: string): string => `<!-- Rendered by podwarden (render flux). Do not edit; re-render. -->
# scripts/

- \`seed-copilot-auth.sh\`: puts the GitHub Copilot entry of this machine's OpenCode login
  (\`~/.local/share/opencode/auth.json\`) into Doppler, one secret per workspace
  (${targets.map((t) => `\`${t.secret}\``).join(", ")}). Safe to run again: a secret that
  already holds the entry is not touched. It prints names only, never the token.

## Runbook: the Copilot token expired (OPS-04)

OpenCode cannot renew a GitHub Copilot login by itself without a browser (AUTO-02 is not
possible today), so a login that GitHub revoked or let expire needs a person once.

**How to tell.** In the workspace's web UI (${targets.map((t) => t.url).join(", ")}) the
GitHub Copilot models are missing or every prompt fails with an authentication error
(401/403 from the Copilot API). The pod's log says the same:

    kubectl -n ${namespace} logs deploy/${targets[0]?.app ?? "opencode-<workspace>"} -c opencode | grep -i -E 'copilot|401|403'

**Steps.**

1. On your own machine, log in again: \`opencode auth login\`, choose GitHub Copilot, and
   finish the device flow in the browser.
2. Push the new entry to Doppler: \`scripts/seed-copilot-auth.sh\` (or name one workspace:
   \`scripts/seed-copilot-auth.sh ${targets[0]?.name ?? "<workspace>"}\`).
3. Make the cluster take it now instead of within the ExternalSecret's refresh (1h):

       kubectl -n ${namespace} annotate externalsecret ${targets.map((t) => t.app).join(" ")} force-sync=$(date +%s) --overwrite

   Reloader restarts the Deployment when the Secret changes; without Reloader,
   \`kubectl -n ${namespace} rollout restart deploy/<name>\`. At start the copilot-auth step
   merges the entry into the persisted auth.json; other providers' logins stay.

**Check that it worked.**

    kubectl -n ${namespace} logs deploy/${targets[0]?.app ?? "opencode-<workspace>"} -c copilot-auth
    # merge-auth: merged github-copilot into .../auth.json (mode 0600) ...

then reload the web UI: the GitHub Copilot models are listed again and a prompt is answered.
Running \`scripts/seed-copilot-auth.sh\` once more prints "unchanged" for every workspace.
`;
