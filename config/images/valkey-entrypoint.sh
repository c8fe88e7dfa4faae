#!/bin/sh
# Entrypoint of the locally built Valkey images (valkey.Containerfile).
#
# - No arguments, or a first argument that starts with "-": run valkey-server with them,
#   as the official valkey/valkey image does (the seed passes only "--port 6380 ...").
# - valkey-server without an explicit protected-mode setting gets "--protected-mode no":
#   with protected mode on and no password, Valkey refuses clients that do not come from
#   loopback, and published ports reach the container from the bridge, not from loopback.
#   The official image builds Valkey with protected mode off for the same reason.
# - exec, so valkey-server is PID 1 and receives SIGTERM itself (it saves and exits).
set -eu

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
    set -- valkey-server "$@"
fi

if [ "$1" = valkey-server ]; then
    case " $* " in
        *protected-mode*) ;;
        *) set -- "$@" --protected-mode no ;;
    esac
fi

exec "$@"
