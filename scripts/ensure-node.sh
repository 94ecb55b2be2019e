#!/usr/bin/env bash
# Makes sure Node.js (at least what the dashboard's Vite needs) and npm are
# here, for admin-ui/. When they are missing it installs Debian's nodejs and
# npm; when that Node is too old (Debian 12 has 18), it fetches a newer one
# from the npm registry (the node-linux-<arch> package, with Debian's npm)
# into .data/node.
#
#   scripts/ensure-node.sh            print the folder to put first on PATH
#   scripts/ensure-node.sh CMD ARGS   run CMD with that folder first on PATH
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WANT=20.19.0       # vite 8: ^20.19.0 || >=22.12.0
FETCH=22.12.0      # what is fetched when the machine's Node is older than WANT
LOCAL="$ROOT/.data/node"

LOG_PREFIX=ensure-node
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

newer_or_equal() { # $1 >= $2
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

# node_ok DIR: DIR holds a node new enough and an npm.
node_ok() {
  local v
  [ -x "$1/node" ] || return 1
  v=$("$1/node" --version 2>/dev/null | sed 's/^v//') || return 1
  newer_or_equal "$v" "$WANT" || return 1
  PATH="$1:$PATH" command -v npm >/dev/null
}

find_node() {
  local d
  for d in "$LOCAL/bin" "$(dirname "$(command -v node 2>/dev/null || echo /nonexistent/node)")" /usr/bin /usr/local/bin; do
    if node_ok "$d"; then echo "$d"; return 0; fi
  done
  return 1
}

if ! dir=$(find_node); then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    apt_install nodejs npm
  fi
  if ! dir=$(find_node); then
    arch=$(uname -m); case "$arch" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; esac
    log "Node $(node --version 2>/dev/null || echo '(none)') is older than $WANT: fetching node-linux-$arch@$FETCH from the npm registry into .data/node"
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm install --no-save --no-audit --no-fund --ignore-scripts --prefix "$tmp" "node-linux-$arch@$FETCH" >&2)
    rm -rf "$LOCAL"; mkdir -p "$LOCAL/bin"
    cp "$tmp/node_modules/node-linux-$arch/bin/node" "$LOCAL/bin/node"
    # Debian's npm, run by the new node.
    npm_cli=$(readlink -f "$(command -v npm)")
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$LOCAL/bin/node" "$npm_cli" >"$LOCAL/bin/npm"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$LOCAL/bin/node" "$(dirname "$npm_cli")/npx-cli.js" >"$LOCAL/bin/npx"
    chmod +x "$LOCAL/bin/"*
    dir=$(find_node) || { log "could not set up Node.js >= $WANT; install it (e.g. from nodesource.com) and retry"; exit 1; }
  fi
fi

if [ $# -eq 0 ]; then echo "$dir"; exit 0; fi
PATH="$dir:$PATH" exec "$@"
