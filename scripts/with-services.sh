#!/usr/bin/env bash
# Runs a command with the project-local PostgreSQL and Redis up and
# DATABASE_URL / REDIS_URL exported (see services.sh).
set -euo pipefail
here=$(dirname "$0")
"$here/services.sh" up
eval "$("$here/services.sh" env)"
exec "$@"
