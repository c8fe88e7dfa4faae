#!/bin/sh
# Entrypoint of the FalkorDB STAND-IN image (falkordb-standin.Containerfile): a Valkey
# server on 6379 plus a static HTTP page on 3000. Not FalkorDB; see the Containerfile.
#
#   REDIS_ARGS           extra valkey-server arguments, word-split like FalkorDB's image
#                        does (e.g. "--save 60 100"); as there, --dir comes after them.
#   FALKORDB_DATA_PATH   where the server writes (default /var/lib/falkordb/data, made if
#                        missing), as in the real image.
#   BROWSER              1 (default) serves the page on 3000; 0 does not.
#   STANDIN_READY_DELAY  seconds to wait before listening on anything (default 0).
#   arguments            appended to valkey-server's arguments; a first argument that
#                        does not start with "-" is run instead (e.g. "sh").
set -eu

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

delay=${STANDIN_READY_DELAY:-0}
case $delay in
    '' | *[!0-9.]* | *.*.* | .)
        echo "falkordb-standin: STANDIN_READY_DELAY must be a number of seconds, got '$delay'" >&2
        exit 2 ;;
esac

# PID 1 ignores signals it has no handler for: trap them so a stop during the delay is
# immediate. The sleep runs in the background because "wait" is interrupted by a trapped
# signal, whereas a foreground sleep would have to finish first.
trap 'exit 143' TERM
trap 'exit 130' INT
if [ "$delay" != 0 ]; then
    echo "falkordb-standin: waiting ${delay}s before listening (STANDIN_READY_DELAY)"
    sleep "$delay" &
    wait "$!"
fi

if [ "${BROWSER:-1}" = 1 ]; then
    busybox httpd -f -p 3000 -h /srv/falkordb-standin &
fi

data=${FALKORDB_DATA_PATH:-/var/lib/falkordb/data}
[ -d "$data" ] || mkdir "$data"

echo "falkordb-standin: Valkey on 6379 (REDIS_ARGS: ${REDIS_ARGS:-none}), data in $data, browser page on 3000: ${BROWSER:-1}"
set -f  # split REDIS_ARGS on spaces, but never expand globs in it
# shellcheck disable=SC2086
exec valkey-server --port 6379 ${REDIS_ARGS:-} --protected-mode no --dir "$data" "$@"
