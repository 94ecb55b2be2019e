#!/usr/bin/env bash
# The whole test suite, against the PostgreSQL and Redis that
# with-services.sh provides. Run it with `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
echo "== go vet"
"$GO" vet ./...
echo "== go test -race"
"$GO" test -race -count=1 -timeout 20m ./...
