-- wrk script: every request binds a new token to an account (50 tokens per
-- account, below the 100 limit). PB_BENCH_PREFIX keeps two wrk runs apart.
dofile("bench/redis_cluster/common.lua")
local prefix = os.getenv("PB_BENCH_PREFIX") or "p"
local n = 0

count_errors('"ret_code":0')

function request()
  n = n + 1
  return post("/v3/device/account/batchoperate", string.format(
    '{"operator_type":1,"token_accounts":[{"token":"b-%s-%d-%d","account_list":[{"account":"a-%s-%d-%d"}]}]}',
    prefix, tid, n, prefix, tid, math.floor(n / 50)))
end
