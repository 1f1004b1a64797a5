#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS (default 60) on its committed seeds
# (fuzz/corpus/TARGET, read only) plus what earlier runs found
# (build-fuzz/corpus/TARGET). A crash, leak, sanitizer report or broken model
# stops with the failing input saved in build-fuzz/artifacts/ and exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
build=build-fuzz
targets=(decode_query decode_batch auth store import_line json_writer)

mkdir -p "$build/artifacts"
status=0
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  log="$build/fuzz_$t.log"
  if "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
       -artifact_prefix="$build/artifacts/$t-" "$build/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz_$t: ok, $runs executions in ${seconds} s, corpus $(ls "$build/corpus/$t" | wc -l) new inputs"
  else
    echo "fuzz_$t: FAILED (log: $log)"
    grep -E 'ERROR|SUMMARY|fuzz_store:|Test unit written' "$log" | head -20
    status=1
  fi
done
exit $status
