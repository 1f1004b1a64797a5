#!/usr/bin/env bash
# Two pushbind processes on a 3-primary Redis Cluster against two pushbind
# processes on one embedded (LMDB) data directory: query and bind throughput.
#
#   bench/redis_cluster.sh            # from the repository root, after `make build`
#   PUSHBIND_BIN=/other/pushbind bench/redis_cluster.sh   # another build of pushbind
#   DURATION=10 CONNECTIONS=32 TOKENS=2000 bench/redis_cluster.sh
#
# Each process runs one event-loop thread (--threads 1) and gets its own wrk
# (-t1 -c$CONNECTIONS -d$DURATION); a scenario's figure is the two wrk runs
# summed. query: the accounts of one random token out of $TOKENS preloaded.
# bind: each request binds a new token (op 1, one account); bind20: 20 new
# tokens per request, each with its own account (req/s; x20 for bindings/s). The cluster uses
# appendonly yes / appendfsync everysec (the recommended setting; see
# docs/design.md); the embedded store fsyncs every batch. Redis runs on ports
# 30061-30063 (cluster bus +500), on the same machine as everything else.
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${DURATION:-10}s
connections=${CONNECTIONS:-32}
tokens=${TOKENS:-2000}
ports=(30061 30062 30063)
bin=${PUSHBIND_BIN:-build/pushbind}
access_id=1500001048
secret=1452fcebae9f3115ba794fb0fff2fd73
auth="Basic $(printf '%s:%s' $access_id $secret | base64)"
export PB_BENCH_AUTH=$auth PB_BENCH_TOKENS=$tokens

[[ -x $bin ]] || { echo "build first: make build" >&2; exit 1; }
work=$(mktemp -d /tmp/pushbind-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for p in "${ports[@]}"; do
  mkdir -p "$work/$p"
  redis-server --port "$p" --bind 127.0.0.1 --dir "$work/$p" --save '' --appendonly yes --appendfsync everysec \
    --cluster-enabled yes --cluster-port $((p + 500)) --cluster-config-file nodes.conf \
    --logfile "$work/$p/redis.log" --daemonize no >/dev/null 2>&1 &
  pids+=($!)
done
for p in "${ports[@]}"; do until redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.05; done; done
redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
for p in "${ports[@]}"; do until redis-cli -p "$p" cluster info | grep -q cluster_state:ok; do sleep 0.1; done; done

# start_server STORE_FLAGS… : starts `pushbind serve`; its port goes to $server_port.
start_server() {
  local log="$work/serve-${#pids[@]}.log"
  "$bin" serve "$@" --listen 127.0.0.1:0 --threads 1 >/dev/null 2>"$log" &
  pids+=($!)
  server_port=""
  for _ in $(seq 200); do
    server_port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
    [[ -n $server_port ]] && return 0
    sleep 0.05
  done
  echo "pushbind did not start: $(cat "$log")" >&2
  exit 1
}

# preload PORT: binds q-0 … q-(TOKENS-1), 20 per request.
preload() {
  python3 - "$1" "$tokens" "$auth" <<'PY'
import http.client, json, sys
port, n, auth = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conn = http.client.HTTPConnection('127.0.0.1', port)
for start in range(0, n, 20):
    items = [{'token': 'q-%d' % i, 'account_list': [{'account': 'qa-%d' % (i // 50)}]} for i in range(start, min(n, start + 20))]
    conn.request('POST', '/v3/device/account/batchoperate', json.dumps({'operator_type': 1, 'token_accounts': items}),
                 {'Authorization': auth, 'Content-Type': 'application/json'})
    r = json.loads(conn.getresponse().read())
    assert r['ret_code'] == 0, r
PY
}

# run SCRIPT PORT1 PORT2: both wrk runs at once; prints "req/s errors p99_us".
run() {
  local script=$1 out1="$work/wrk1.out" out2="$work/wrk2.out"
  PB_BENCH_PREFIX="1$RANDOM" wrk -t1 -c"$connections" -d"$duration" -s "bench/redis_cluster/$script" "http://127.0.0.1:$2" >"$out1" &
  local w1=$!
  PB_BENCH_PREFIX="2$RANDOM" wrk -t1 -c"$connections" -d"$duration" -s "bench/redis_cluster/$script" "http://127.0.0.1:$3" >"$out2" &
  local w2=$!
  wait $w1 $w2
  awk '/^RESULT/ { rate += $2 / $3; errors += $4; if ($5 > p99) p99 = $5 } END { printf "%.0f %d %d\n", rate, errors, p99 }' "$out1" "$out2"
}

declare -A result
for store in embedded cluster; do
  if [[ $store == embedded ]]; then
    flags=(--data "$work/data")
  else
    flags=(--store "redis-cluster://127.0.0.1:${ports[0]},127.0.0.1:${ports[1]}/bench")
  fi
  "$bin" app add "${flags[@]}" --access-id $access_id --secret-key $secret >/dev/null
  start_server "${flags[@]}"
  port1=$server_port
  start_server "${flags[@]}"
  port2=$server_port
  preload "$port1"
  result[$store,query]=$(run query.lua "$port1" "$port2")
  result[$store,bind]=$(run bind.lua "$port1" "$port2")
  result[$store,bind20]=$(run bind20.lua "$port1" "$port2")
  kill "${pids[-1]}" "${pids[-2]}"
  wait "${pids[-1]}" "${pids[-2]}" 2>/dev/null || true
  pids=("${pids[@]:0:${#pids[@]}-2}")
done

echo "pushbind: 2 processes x 1 thread, wrk 2 x (-t1 -c$connections -d$duration), $(nproc) CPUs shared by all"
printf '%-8s %14s %8s %14s %8s %8s\n' scenario 'embedded r/s' 'p99 ms' 'cluster r/s' 'p99 ms' ratio
for scenario in query bind bind20; do
  read -r e_rate e_err e_p99 <<<"${result[embedded,$scenario]}"
  read -r c_rate c_err c_p99 <<<"${result[cluster,$scenario]}"
  printf '%-8s %14s %8.2f %14s %8.2f %8.2f\n' "$scenario" "$e_rate" "$(echo "$e_p99/1000" | bc -l)" \
    "$c_rate" "$(echo "$c_p99/1000" | bc -l)" "$(echo "$c_rate/$e_rate" | bc -l)"
  [[ $e_err == 0 && $c_err == 0 ]] || echo "  $scenario: $e_err embedded / $c_err cluster answers were not ok"
done
echo "ratio = cluster / embedded"
