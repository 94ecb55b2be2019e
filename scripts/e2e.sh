#!/usr/bin/env bash
# The dashboard's end-to-end tests: real headless Chromium (Debian's,
# installed when missing) driving the real server binary against real
# PostgreSQL and Redis (DATABASE_URL / REDIS_URL, from with-services.sh).
# Needs bin/nexmdm with the dashboard embedded, bin/loadgen and
# bin/nexmdm-agent: `make e2e` builds them first. Screenshots of every page
# land in admin-ui/e2e/screenshots/. Arguments pass to the runner, e.g. a
# spec name: scripts/e2e.sh login
set -euo pipefail
cd "$(dirname "$0")/.."
for b in nexmdm loadgen nexmdm-agent; do
  [ -x "bin/$b" ] || { echo "e2e: bin/$b is missing: run make e2e (or make build)" >&2; exit 1; }
done
export CHROMIUM
CHROMIUM=$(scripts/ensure-chromium.sh)
export NEXMDM_BIN_DIR="$PWD/bin"
cd admin-ui
exec ../scripts/ensure-node.sh npm run --silent e2e -- "$@"
