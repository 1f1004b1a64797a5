#!/usr/bin/env bash
# Bulk import against its baseline, in one run: the same N synthetic bindings
# (scripts/gen-bindings.py, default 10,000,000) loaded by `pushbind import`
# into a fresh data directory, and by `redis-cli --pipe` into a fresh
# redis-server. Prints each run, then the medians and the ratio.
#
#   scripts/bench-import-redis.sh [N [ROUNDS]]     (ROUNDS pairs, default 3)
#
# Redis gets the two commands a minimal binding registry needs per binding,
# written by `gen-bindings.py --resp`: SADD a:ACCOUNT TOKEN and SADD t:TOKEN
# ACCOUNT (2N commands; no times, no platform, no order, which pushbind keeps).
# It runs with appendonly yes, appendfsync everysec, no RDB snapshots and no
# automatic AOF rewrite (auto-aof-rewrite-percentage 0: by default Redis forks
# and rewrites its AOF each time it doubles, which made a 10M load 1.4-2x
# slower here; without, Redis gets its best case). Its time
# runs from the first command sent until the data is durable: `redis-cli
# --pipe` returns once every reply is in, by when Redis has written every
# command to its AOF (it writes before it replies); then the AOF files are
# fsynced (`sync FILE...`, coreutils) and the clock stops. No BGREWRITEAOF: a
# rewrite would make Redis write everything a second time. pushbind's time is
# the whole `pushbind import` command, whose last commit is fsynced. Peak RSS
# is the server's (redis-server's VmHWM) and the importer's (pushbind's).
#
# The pairs run alternately (pushbind, Redis, pushbind, Redis, ...) because a
# shared machine's load changes from minute to minute; the ratio is Redis's
# median time over pushbind's, and each pair's own ratio is printed too.
#
# Environment: PUSHBIND_BIN (build/pushbind), BENCH_DIR
# (/tmp/pushbind-bench-import), REDIS_PORT (25499). Needs about 3 GB of RAM
# and 5 GB of disk for 10M, plus the two input files (2.6 GB), kept for reuse.
set -euo pipefail
n=${1:-10000000}
rounds=${2:-3}
bin=${PUSHBIND_BIN:-build/pushbind}
work=${BENCH_DIR:-/tmp/pushbind-bench-import}
port=${REDIS_PORT:-25499}
gen="$(dirname "$0")/gen-bindings.py"
mkdir -p "$work"
ndjson="$work/bindings-$n.ndjson"
resp="$work/bindings-$n.resp"
[[ -s "$ndjson" ]] || "$gen" "$n" > "$ndjson"
[[ -s "$resp" ]] || "$gen" --resp "$n" > "$resp"

now() { date +%s.%N; }
redis_pid=
cleanup() { [[ -z "$redis_pid" ]] || kill "$redis_pid" 2>/dev/null || true; rm -rf "$work/data" "$work/redis"; }
trap cleanup EXIT

pushbind_times=() redis_times=() ratios=()

run_pushbind() {
  rm -rf "$work/data"
  "$bin" app add --data "$work/data" --access-id 1500001048 --secret-key 1452fcebae9f3115ba794fb0fff2fd73 >/dev/null
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -o "$work/time" -f "%e %U %S %M" \
    "$bin" import --data "$work/data" --access-id 1500001048 "$ndjson" > "$work/out" 2>/dev/null
  read -r wall user sys rss < "$work/time"
  pushbind_times+=("$wall")
  printf 'pushbind import:  %7.2f s wall, %6.2f s CPU, peak RSS %5d MiB, data %5d MiB, load %s: %s\n' \
    "$wall" "$(echo "$user + $sys" | bc)" $((rss / 1024)) $(($(stat -c %s "$work/data/data.mdb") >> 20)) \
    "$load" "$(cat "$work/out")"
  rm -rf "$work/data"
}

run_redis() {
  rm -rf "$work/redis"
  mkdir -p "$work/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$work/redis" --save '' --appendonly yes \
    --appendfsync everysec --auto-aof-rewrite-percentage 0 --daemonize no --logfile "$work/redis/log" &
  redis_pid=$!
  until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local start end
  start=$(now)
  redis-cli -p "$port" --pipe < "$resp" > "$work/out"
  sync "$work"/redis/appendonlydir/*
  end=$(now)
  local wall rss cpu keys
  wall=$(echo "$end - $start" | bc)
  rss=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$redis_pid/status")
  cpu=$(awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$redis_pid/stat")
  keys=$(redis-cli -p "$port" dbsize)
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait "$redis_pid" || true
  redis_pid=
  redis_times+=("$wall")
  printf 'redis-cli --pipe: %7.2f s wall, %6.2f s CPU, peak RSS %5d MiB, AOF  %5d MiB, load %s: %s, %s keys\n' \
    "$wall" "$cpu" "$rss" $(($(du -sb "$work/redis/appendonlydir" | cut -f1) >> 20)) "$load" \
    "$(grep -o 'errors: .*' "$work/out")" "$keys"
  rm -rf "$work/redis"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "$n bindings, pairs: $rounds, cores: $(nproc)"
for ((r = 1; r <= rounds; r++)); do
  run_pushbind
  run_redis
  ratios+=("$(echo "scale=3; ${redis_times[-1]} / ${pushbind_times[-1]}" | bc)")
  echo "pair $r: Redis / pushbind = ${ratios[-1]}"
done
p=$(median "${pushbind_times[@]}") q=$(median "${redis_times[@]}")
printf -v q '%.2f' "$q"
echo "median: pushbind import $p s ($(echo "$n / $p" | bc) lines/s), redis-cli --pipe $q s;" \
  "ratio $(echo "scale=2; $q / $p" | bc) (pairs: ${ratios[*]})"
