#!/usr/bin/env bash
# The whole test suite, against the PostgreSQL and Redis that
# with-services.sh provides. Run it with `make test`, which first builds the
# dashboard and the binaries (bin/) that the end-to-end tests drive.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
echo "== go vet"
"$GO" vet ./...
echo "== the agent cross-compiles for Android (arm64, no cgo)"
GOOS=android GOARCH=arm64 CGO_ENABLED=0 "$GO" build -o /dev/null ./cmd/nexmdm-agent
echo "== dashboard: Vitest"
(cd admin-ui && ../scripts/ensure-node.sh npm test --silent)
echo "== go test -race"
"$GO" test -race -count=1 -timeout 20m ./...
echo "== dashboard: end-to-end in headless Chromium"
scripts/e2e.sh
