#!/usr/bin/env bash
# Prints the CPU each program took over the next SECONDS (default 10), in
# cores, from /proc: run it beside a loadgen run to see how the two cores
# are shared between NexMDM, the loadgen, PostgreSQL and Redis.
#
#   bin/loadgen run --scenario stress ... & sleep 8; scripts/cpu-by-process.sh 10
set -euo pipefail
seconds=${1:-10}
# join needs its inputs sorted as it compares them: one collation for both,
# or it silently drops the programs past the first line out of its order.
export LC_ALL=C

# ticks prints "<program> <user+system clock ticks>" summed over its
# processes, in one pass so that the window is what was asked. cat reads
# the files: a process that exits between the glob and the read is skipped,
# where awk would stop at it and drop every later process.
ticks() {
  cat /proc/[0-9]*/stat 2>/dev/null | awk '{
    comm = $2; gsub(/[()]/, "", comm)
    # a name with spaces shifts the fields: count utime and stime from the end of it
    i = 2; while (i < NF && $i !~ /\)$/) i++
    sum[comm] += $(i + 12) + $(i + 13)
  } END {for (c in sum) print c, sum[c]}' | sort -k1,1 || true
}

read -r up0 _ </proc/uptime
before=$(ticks)
read -r _ u0 n0 s0 i0 w0 q0 sq0 st0 _ </proc/stat
sleep "$seconds"
read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
after=$(ticks)
read -r up1 _ </proc/uptime
seconds=$(awk -v a="$up0" -v b="$up1" 'BEGIN {print b - a}')

hz=$(getconf CLK_TCK)
join <(echo "$before") <(echo "$after") |
  awk -v s="$seconds" -v hz="$hz" '{c = ($3 - $2) / hz / s; if (c >= 0.02) printf "%-16s %.2f cores\n", $1, c}' |
  sort -k2 -rn
total=$(((u1 + n1 + s1 + i1 + w1 + q1 + sq1 + st1) - (u0 + n0 + s0 + i0 + w0 + q0 + sq0 + st0)))
echo "machine: user $(((u1 + n1 - u0 - n0) * 100 / total))%" \
  "sys $(((s1 - s0) * 100 / total))%" \
  "softirq $(((sq1 - sq0) * 100 / total))%" \
  "idle $(((i1 - i0) * 100 / total))%" \
  "steal $(((st1 - st0) * 100 / total))%"
