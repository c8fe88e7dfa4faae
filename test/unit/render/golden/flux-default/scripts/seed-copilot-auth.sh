#!/bin/sh
# Rendered by podwarden (render flux). Do not edit; re-render.
#
# SECR-04: copies the GitHub Copilot entry of this machine's OpenCode login into Doppler, one
# secret per workspace; External Secrets brings it into the cluster and the pod's
# copilot-auth step merges it into the persisted auth.json (other providers kept).
#
#   scripts/seed-copilot-auth.sh [WORKSPACE ...]      (default: every workspace)
#
# Reads AUTH_JSON (default: ${XDG_DATA_HOME:-~/.local/share}/opencode/auth.json). Needs jq and
# the doppler CLI, logged in; DOPPLER_PROJECT / DOPPLER_CONFIG choose the project and config
# (else doppler's own setup for this directory). Idempotent: a secret that already holds the
# entry is left alone, so running it again changes nothing. Never prints a token; never
# run it with sh -x.
set -eu

say() { printf 'seed-copilot-auth: %s\n' "$*"; }

auth=${AUTH_JSON:-${XDG_DATA_HOME:-$HOME/.local/share}/opencode/auth.json}
provider=github-copilot
command -v jq >/dev/null 2>&1 || { say "jq is needed (apt-get install jq / brew install jq)" >&2; exit 69; }
command -v doppler >/dev/null 2>&1 || { say "the doppler CLI is needed (and doppler login)" >&2; exit 69; }
[ -r "$auth" ] || { say "cannot read $auth: log in to GitHub Copilot with OpenCode on this machine first (opencode auth login)" >&2; exit 66; }

# {"github-copilot": {...}}: an auth.json of its own, compact, keys sorted (compared as such).
value=$(jq -cS --arg p "$provider" 'if type == "object" and has($p) then {($p): .[$p]} else empty end' "$auth") || { say "$auth is not JSON" >&2; exit 65; }
[ -n "$value" ] || { say "$auth has no $provider entry: log in to GitHub Copilot with OpenCode first" >&2; exit 65; }

set -- ${@:-flux ha}
for ws in "$@"; do
  case "$ws" in
    flux) secret=OPENCODE_FLUX_COPILOT_AUTH_JSON ;;
    ha) secret=OPENCODE_HA_COPILOT_AUTH_JSON ;;
    *) say "unknown workspace $ws (known: flux, ha)" >&2; exit 64 ;;
  esac
  scope=""
  [ -z "${DOPPLER_PROJECT:-}" ] || scope="--project $DOPPLER_PROJECT"
  [ -z "${DOPPLER_CONFIG:-}" ] || scope="$scope --config $DOPPLER_CONFIG"
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
