#!/usr/bin/env bash
# Brings up the project-local PostgreSQL and Redis that `make run`, `make test`
# and `make bench` use, under .data/ (git-ignored). Installs them from the OS
# packages when they are missing. When DATABASE_URL or REDIS_URL is already set,
# that service is left to the caller.
#
#   scripts/services.sh up     start what is needed (idempotent), print nothing
#   scripts/services.sh env    print `export` lines for the running services
#   scripts/services.sh down   stop the project-local services
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA="$ROOT/.data"
PG_PORT=${NEXMDM_PG_PORT:-55432}
REDIS_PORT=${NEXMDM_REDIS_PORT:-56379}
PG_USER=nexmdm
PG_DB=nexmdm

LOG_PREFIX=services
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

pg_bindir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

# The OS user that owns and runs the cluster: initdb and postgres refuse root.
pg_os_user() {
  if [ "$(id -u)" -ne 0 ]; then id -un; return; fi
  id postgres >/dev/null 2>&1 || as_root useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  echo postgres
}

run_as() {
  local user=$1; shift
  if [ "$(id -un)" = "$user" ]; then "$@"; else runuser -u "$user" -- "$@"; fi
}

# The cluster lives in .data/pg when its OS user can reach that folder; a
# checkout under a private home (mode 700) falls back to a folder in /var/tmp.
pg_datadir() {
  local user=$1 dir="$DATA/postgres"
  mkdir -p "$DATA"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u "$user" -- test -x "$DATA" 2>/dev/null; then
    dir="/var/tmp/nexmdm-$(echo "$ROOT" | sha1sum | cut -c1-10)/postgres"
  fi
  echo "$dir"
}

pg_up() {
  local bindir user base dir
  bindir=$(pg_bindir)
  if [ -z "$bindir" ]; then apt_install postgresql; bindir=$(pg_bindir); fi
  user=$(pg_os_user)
  base=$(pg_datadir "$user")
  dir="$base/data"
  if [ ! -s "$dir/PG_VERSION" ]; then
    log "initdb $dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown -R "$user" "$base"; fi
    run_as "$user" "$bindir/initdb" -D "$dir" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! run_as "$user" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1 && pg_answers "$bindir"; then
    # Another checkout's cluster (or one you started) already serves this
    # port with our role: share it. Tests each create their own database.
    log "reusing the PostgreSQL already on 127.0.0.1:$PG_PORT"
  elif ! run_as "$user" "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    run_as "$user" "$bindir/pg_ctl" -D "$dir" -l "$base/postgres.log" -w -t 60 start \
      -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=400 $(pg_tuning)" >/dev/null
  fi
  if ! "$bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$PG_DB'" | grep -q 1; then
    "$bindir/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
  fi
}

# pg_tuning is what a heartbeat-heavy cluster needs beyond the defaults (the
# README's Production notes say why): shared buffers that hold the
# heartbeats index's hot pages, a quarter of the RAM up to 2 GB; full-page
# images compressed; checkpoints spaced by 2 GB of WAL; the WAL writer
# flushing every 10 ms, so that a big transaction's WAL is on disk before
# the heartbeat commits behind it need it.
pg_tuning() {
  local mb
  mb=$(awk '/^MemTotal:/ {mb = int($2 / 1024 / 4); print (mb > 2048 ? 2048 : (mb < 128 ? 128 : mb))}' /proc/meminfo)
  echo "-c shared_buffers=${mb}MB -c wal_compression=lz4 -c max_wal_size=2GB -c wal_writer_delay=10ms"
}

pg_answers() {
  "$1/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc 'SELECT 1' >/dev/null 2>&1
}

pg_down() {
  local bindir user dir
  bindir=$(pg_bindir); [ -n "$bindir" ] || return 0
  user=$(pg_os_user); dir="$(pg_datadir "$user")/data"
  [ -s "$dir/PG_VERSION" ] || return 0
  run_as "$user" "$bindir/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

redis_up() {
  command -v redis-server >/dev/null || apt_install redis-server
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then return; fi
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  mkdir -p "$DATA/redis"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$DATA/redis" \
    --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log" \
    --save "60 1000" --appendonly no >/dev/null
  for _ in $(seq 1 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return; sleep 0.1; done
  log "Redis did not start; see $DATA/redis/redis.log"; return 1
}

redis_down() {
  command -v redis-cli >/dev/null || return 0
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
}

case "${1:-up}" in
  up)
    [ -n "${DATABASE_URL:-}" ] || pg_up
    [ -n "${REDIS_URL:-}" ] || redis_up
    ;;
  env)
    echo "export DATABASE_URL='${DATABASE_URL:-postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable}'"
    echo "export REDIS_URL='${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}'"
    ;;
  down)
    pg_down
    redis_down
    ;;
  *) echo "usage: $0 up|env|down" >&2; exit 2 ;;
esac
