#!/usr/bin/env bash
# Measures `pushbind import` on N synthetic bindings (default 10,000,000):
# the default (one chunk) against chunks of 1,000,000 lines as the baseline,
# in fresh data directories, and prints wall time, CPU time, lines/s and the
# data file's size for both. The machine's load average is printed before
# each run: a shared machine makes wall times noisy, CPU times less so.
#
#   scripts/bench-import.sh [N]      (needs about 3 GB of RAM and 10 GB of disk for 10M)
set -euo pipefail
n=${1:-10000000}
bin=${PUSHBIND_BIN:-build/pushbind}
work=${BENCH_DIR:-/tmp/pushbind-bench-import}
mkdir -p "$work"
file="$work/bindings-$n.ndjson"
[[ -s "$file" ]] || "$(dirname "$0")/gen-bindings.py" "$n" > "$file"

run() { # label, extra import flags...
  local label=$1; shift
  rm -rf "$work/data"
  "$bin" app add --data "$work/data" --access-id 1500001048 --secret-key 1452fcebae9f3115ba794fb0fff2fd73 >/dev/null
  echo "$label: load average $(cut -d' ' -f1-3 /proc/loadavg)"
  /usr/bin/time -o "$work/time" -f "%e s wall, %U s user, %S s sys, %M KiB peak RSS" \
    "$bin" import --data "$work/data" --access-id 1500001048 "$@" "$file" > "$work/out" 2>/dev/null
  echo "$label: $(cat "$work/out")"
  echo "$label: $(cat "$work/time"), data file $(stat -c %s "$work/data/data.mdb") bytes"
}
run default
echo "default re-run (every line already present): $("$bin" import --data "$work/data" --access-id 1500001048 "$file" 2>/dev/null)"
run baseline --batch-size 1000000
rm -rf "$work/data"
