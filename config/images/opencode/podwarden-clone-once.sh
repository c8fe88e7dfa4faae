#!/bin/sh
# podwarden-clone-once: put a git repository at REPO_DIR once; every later run sees it and
# exits at once, without touching the network. The same script runs as the pod's init
# step on one host and as the init container on Kubernetes (from a ConfigMap, in a small
# git image: it needs only sh, git, base64 and mktemp).
#
#   REPO_URL        https://host/owner/repo.git (no credentials in it)
#   REPO_DIR        where the repository lives, e.g. /workspaces/repo
#   REPO_BRANCH     optional branch to check out
#   REPO_TOKEN_VAR  optional: the NAME of the variable holding an access token
#   REPO_USER       optional user for the token (default x-access-token, as GitHub wants)
#   REPO_PULL       optional: 1 = on a later run, fetch and fast-forward the checked-out
#                   branch before OpenCode starts (AUTO-01). A pull that cannot fast-forward
#                   (diverged or ahead), or fails (network, token), is logged with the reason
#                   and leaves the repository and working tree as they were; the script then
#                   exits 0 so that OpenCode starts anyway.
#
# The token never reaches argv, the URL, .git/config or the output: git gets it as an
# HTTP header through GIT_CONFIG_* variables of its own process only. The clone goes to a
# temporary directory beside REPO_DIR and is renamed into place when complete, so a
# half-done clone is never taken for done. Never trace it (sh -x).
set -eu

say() { printf 'clone-once: %s\n' "$*"; }

dir=${REPO_DIR:?REPO_DIR is required}
url=${REPO_URL:?REPO_URL is required}
branch=${REPO_BRANCH:-}

token=""
if [ -n "${REPO_TOKEN_VAR:-}" ]; then
  case "$REPO_TOKEN_VAR" in *[!A-Za-z0-9_]*|[0-9]*) say "REPO_TOKEN_VAR is not a variable name" >&2; exit 64 ;; esac
  eval "token=\${$REPO_TOKEN_VAR:-}"
fi
header=""
[ -z "$token" ] || header="Authorization: Basic $(printf '%s:%s' "${REPO_USER:-x-access-token}" "$token" | base64 | tr -d '\n')"
# git on the repository even when another user owns it (on one host this step runs as root,
# OpenCode as the user opencode): safe.directory from the command line, never a config file.
repogit() { git -c safe.directory="$dir" "$@"; }
# git with the token as an HTTP header in its own environment only (nothing written to any config file).
authgit() {
  if [ -n "$header" ]; then
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="$header" GIT_TERMINAL_PROMPT=0 repogit "$@"
  else
    GIT_TERMINAL_PROMPT=0 repogit "$@"
  fi
}

# AUTO-01: fast-forward only. Every way out exits 0: a workspace that cannot be synced is
# still a workspace, and OpenCode must start.
pull() {
  cur=$(repogit -C "$dir" symbolic-ref --quiet --short HEAD) || { say "not pulling: $dir has a detached HEAD (no branch to fast-forward)"; exit 0; }
  want=${branch:-$cur}
  if [ "$cur" != "$want" ]; then say "not pulling: $dir has branch $cur checked out, not $want"; exit 0; fi
  say "pulling $want from $url into $dir (fast-forward only)"
  if ! authgit -C "$dir" fetch --quiet origin "refs/heads/$want"; then
    say "not pulled: fetching $want from $url failed (git's message above${token:+; check the token in $REPO_TOKEN_VAR}); the working tree is untouched"
    exit 0
  fi
  head=$(repogit -C "$dir" rev-parse HEAD)
  new=$(repogit -C "$dir" rev-parse FETCH_HEAD)
  if [ "$head" = "$new" ]; then say "$want is up to date at $(printf '%.12s' "$head")"; exit 0; fi
  if repogit -C "$dir" merge-base --is-ancestor "$new" "$head"; then
    say "not pulled: the local $want is ahead of $url (local commits not pushed); left as it is"; exit 0
  fi
  if ! repogit -C "$dir" merge-base --is-ancestor "$head" "$new"; then
    say "not pulled: the local $want and $url have diverged (local commits not pushed); a fast-forward is impossible, so the branch and working tree are left as they are"; exit 0
  fi
  if ! repogit -C "$dir" merge --ff-only --quiet "$new"; then
    say "not pulled: the fast-forward of $want stopped (git's message above: uncommitted changes in the way?); the working tree is left as it was"; exit 0
  fi
  say "fast-forwarded $want from $(printf '%.12s' "$head") to $(printf '%.12s' "$new")"
  exit 0
}

if [ -e "$dir/.git/HEAD" ]; then
  if [ "${REPO_PULL:-}" = 1 ]; then pull; fi
  say "$dir already holds a repository; nothing to do"
  exit 0
fi
if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  say "$dir is not empty and is not a git repository: refusing to touch it" >&2
  exit 65
fi
case "$url" in
  *://*@*) say "REPO_URL must not carry credentials; put the token in the env file and name it in REPO_TOKEN_VAR" >&2; exit 64 ;;
esac

parent=$(dirname "$dir")
mkdir -p "$parent"
if [ -n "${REPO_TOKEN_VAR:-}" ] && [ -z "$token" ]; then say "$REPO_TOKEN_VAR is empty or unset" >&2; exit 64; fi
tmp=$(mktemp -d "$parent/.clone-once.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

say "cloning $url${branch:+ (branch $branch)} into $dir"
if ! authgit clone --quiet ${branch:+--branch "$branch"} -- "$url" "$tmp/repo"; then
  if [ -n "$token" ]; then
    say "clone of $url failed: check that the token in $REPO_TOKEN_VAR is valid and may read the repository (git's message above); nothing was left behind" >&2
  else
    say "clone of $url failed (git's message above; a private repository needs workspace.tokenKey); nothing was left behind" >&2
  fi
  exit 1
fi

[ -d "$dir" ] && rmdir "$dir"
mv "$tmp/repo" "$dir"
say "cloned into $dir"
