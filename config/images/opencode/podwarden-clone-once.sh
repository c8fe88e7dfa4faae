#!/bin/sh
# podwarden-clone-once: put a git repository at REPO_DIR once; every later run sees it and
# exits at once, without touching the network. The same script runs as the pod's init
# step on one host and as the init container on Kubernetes.
#
#   REPO_URL        https://host/owner/repo.git (no credentials in it)
#   REPO_DIR        where the repository lives, e.g. /workspaces/repo
#   REPO_BRANCH     optional branch to check out
#   REPO_TOKEN_VAR  optional: the NAME of the variable holding an access token
#   REPO_USER       optional user for the token (default x-access-token, as GitHub wants)
#
# The token never reaches argv, the URL, .git/config or the output: git gets it as an
# HTTP header through GIT_CONFIG_* variables of its own process only. The clone goes to a
# temporary directory beside REPO_DIR and is renamed into place when complete, so a
# half-done clone is never taken for done. Never run this with `set -x`.
set -eu

say() { printf 'clone-once: %s\n' "$*"; }

dir=${REPO_DIR:?REPO_DIR is required}
url=${REPO_URL:?REPO_URL is required}
branch=${REPO_BRANCH:-}

if [ -e "$dir/.git/HEAD" ]; then
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
tmp=$(mktemp -d "$parent/.clone-once.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

token=""
if [ -n "${REPO_TOKEN_VAR:-}" ]; then
  case "$REPO_TOKEN_VAR" in *[!A-Za-z0-9_]*|[0-9]*) say "REPO_TOKEN_VAR is not a variable name" >&2; exit 64 ;; esac
  eval "token=\${$REPO_TOKEN_VAR:-}"
  [ -n "$token" ] || { say "$REPO_TOKEN_VAR is empty or unset" >&2; exit 64; }
fi

say "cloning $url${branch:+ (branch $branch)} into $dir"
count=0
header=""
if [ -n "$token" ]; then
  count=1
  header="Authorization: Basic $(printf '%s:%s' "${REPO_USER:-x-access-token}" "$token" | base64 | tr -d '\n')"
fi
# Only git's own environment carries the header; nothing is written to any config file.
if ! GIT_CONFIG_COUNT=$count GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="$header" GIT_TERMINAL_PROMPT=0 \
  git clone --quiet ${branch:+--branch "$branch"} -- "$url" "$tmp/repo"; then
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
