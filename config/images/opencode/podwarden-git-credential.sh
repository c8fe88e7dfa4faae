#!/bin/sh
# podwarden-git-credential: a git credential helper (gitcredentials(7)) that lets a manual
# `git pull` in OpenCode's terminal reach a private workspace repository. git runs it with
# `get` and the request on stdin; it answers only for the host of REPO_URL, and reads the
# token at that moment: from the file REPO_TOKEN_FILE (a mounted Secret: a rotated token is
# used at once) or from the variable named by REPO_TOKEN_VAR. The token is never in argv, a
# URL, .git/config or any output but git's own stdin. `store` and `erase` are ignored.
#
# Wired through git's environment, not a config file:
#   GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=credential.helper GIT_CONFIG_VALUE_0='!sh /path/to/this'
set -eu

[ "${1:-}" = get ] || exit 0
host=""
protocol=""
while IFS= read -r line && [ -n "$line" ]; do
  case "$line" in
    host=*) host=${line#host=} ;;
    protocol=*) protocol=${line#protocol=} ;;
  esac
done
want=${REPO_URL:-}
scheme=${want%%://*}
want=${want#*://}
want=${want%%/*}
# Another host (a submodule, a second remote) gets nothing from this helper.
[ -n "$want" ] && [ "$host" = "$want" ] && [ "$protocol" = "$scheme" ] || exit 0

token=""
if [ -n "${REPO_TOKEN_FILE:-}" ] && [ -r "$REPO_TOKEN_FILE" ]; then
  token=$(cat -- "$REPO_TOKEN_FILE")
elif [ -n "${REPO_TOKEN_VAR:-}" ]; then
  case "$REPO_TOKEN_VAR" in *[!A-Za-z0-9_]*|[0-9]*) exit 0 ;; esac
  eval "token=\${$REPO_TOKEN_VAR:-}"
fi
[ -n "$token" ] || exit 0
# printf is a shell builtin: the token reaches git's pipe, no process's argv.
printf 'username=%s\npassword=%s\n' "${REPO_USER:-x-access-token}" "$token"
