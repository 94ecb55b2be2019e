#!/usr/bin/env bash
# `make dev`: the Go server and Vite's dev server side by side. Open Vite's
# URL: it serves the dashboard with hot reload and proxies the API and the
# live feed (/admin, /v1, ...) to the server (admin-ui/vite.config.ts).
# Ctrl-C, or either one exiting, stops both.
#
#   NEXMDM_ADDR   the server's address (default 127.0.0.1:8080)
#   VITE_PORT     Vite's port (default 5173)
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-$(scripts/ensure-go.sh)}
export NEXMDM_ADDR=${NEXMDM_ADDR:-127.0.0.1:8080}
VITE_PORT=${VITE_PORT:-5173}

scripts/services.sh up
eval "$(scripts/services.sh env)"
GOFLAGS=-buildvcs=false CGO_ENABLED=0 "$GO" build -o bin/nexmdm ./cmd/nexmdm
bin/nexmdm migrate
NODE_DIR=$(scripts/ensure-node.sh)

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}" ${banner:-}; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

bin/nexmdm serve &
pids+=($!)
(cd admin-ui && NEXMDM_API="http://$NEXMDM_ADDR" PATH="$NODE_DIR:$PATH" \
  exec node_modules/.bin/vite --host 127.0.0.1 --port "$VITE_PORT" --strictPort) &
pids+=($!)

# The banner last, once Vite answers: the server's own "Dashboard:" line is
# the embedded build, not the live one.
for _ in $(seq 1 150); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$VITE_PORT") 2>/dev/null; then
    echo
    echo "make dev: open http://127.0.0.1:$VITE_PORT/ (hot reload; API and live feed proxied to http://$NEXMDM_ADDR). Ctrl-C stops both."
    echo
    break
  fi
  sleep 0.2
done &
banner=$!
wait -n "${pids[@]}"
