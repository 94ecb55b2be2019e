#!/usr/bin/env bash
# Compares two nexmdm builds under one loadgen scenario, alternating them
# run by run on the fleet `make bench` enrolled, and prints each run's
# throughput, latency, CPU per program and the bytes the server allocated
# per heartbeat (from its Go runtime; unlike throughput, it barely varies
# from run to run). This is how the README's per-change figures were
# taken; `make bench` remains the measurement.
#
#   make bench                      # enrolls the fleet and resets its state
#   cp bin/nexmdm /tmp/nexmdm.old   # then build the change into bin/nexmdm
#   scripts/compare-builds.sh /tmp/nexmdm.old bin/nexmdm
#
# SCENARIO (fleet), RUNS (3 per build), DURATION (20s; CPU is read from
# 6 s in for 10 s, so keep it at 16s or more) and CLOCK_START (300m) tune
# it; GOGC and the rest of the environment reach both builds. Each run
# starts its device clocks 4 minutes later than the one before, as clocks
# must only move forward: a run whose clocks fall behind the devices'
# stored buckets measures the if-absent path instead. Run it soon after
# `make bench`: after 12 silent minutes the whole fleet is offline, and the
# first run pays for 100,000 offline-alert resolutions.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 OLD_NEXMDM NEW_NEXMDM" >&2; exit 2; }
old=$(realpath "$1") new=$(realpath "$2")
scenario=${SCENARIO:-fleet} runs=${RUNS:-3} duration=${DURATION:-20s}
clock=${CLOCK_START:-300m}
clock=${clock%m}
tokens=bench/work/tokens.jsonl
[ -s "$tokens" ] || { echo "no $tokens: run make bench first" >&2; exit 2; }

"$(dirname "$0")/services.sh" up
eval "$("$(dirname "$0")/services.sh" env)"
db=$(echo "$DATABASE_URL" | sed -E 's#/[^/?]+(\?|$)#/nexmdm_bench\1#')
addr=127.0.0.1:18090
pprof=127.0.0.1:16060
log=$(mktemp)
server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null; rm -f "$log"' EXIT

# allocated is the server's Go runtime TotalAlloc, in bytes.
allocated() { curl -s "http://$pprof/debug/pprof/heap?debug=1" | awk '/^# TotalAlloc/ {print $4}'; }

for run in $(seq 1 "$runs"); do
  for build in "$old" "$new"; do
    clock=$((clock - 4))
    [ "$clock" -gt 0 ] || { echo "device clocks have caught up with now: run make bench again" >&2; exit 1; }
    DATABASE_URL=$db NEXMDM_REDIS_PREFIX=nexmdm_bench: NEXMDM_ADDR=$addr \
      NEXMDM_ADMIN_KEY=bench-admin-key-0123456789abcdef NEXMDM_LOG_LEVEL=warn \
      NEXMDM_BLOB_URL="file://$PWD/bench/work/blobs" NEXMDM_BCRYPT_COST=4 NEXMDM_PPROF_ADDR=$pprof \
      "$build" serve >"$log" 2>&1 &
    server=$!
    for _ in $(seq 1 300); do curl -sf "http://$addr/readyz" >/dev/null && break; sleep 0.1; done
    alloc0=$(allocated)
    bin/loadgen run --url "http://$addr" --scenario "$scenario" --tokens "$tokens" --prefix bench \
      --clock-start "${clock}m" --duration "$duration" --quiet >"$log.run" 2>&1 &
    loadgen=$!
    sleep 6 # past the ramp
    cpu=$("$(dirname "$0")/cpu-by-process.sh" 10 | tr '\n' ' ' | tr -s ' ')
    wait "$loadgen"
    alloc1=$(allocated)
    acked=$(grep -oE 'acknowledged [0-9]+' "$log.run" | awk '{print $2}')
    kill "$server"; wait "$server" 2>/dev/null || true
    server=""
    echo "$(basename "$build") run $run: $(grep -o 'sent: [0-9]*/s' "$log.run")" \
      "$(grep 'latency' "$log.run" | tr -s ' ') :: $cpu :: $(( (alloc1 - alloc0) / acked )) B allocated/heartbeat"
    rm -f "$log.run"
  done
done
