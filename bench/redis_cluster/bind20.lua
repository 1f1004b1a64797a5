-- wrk script: every request binds 20 new tokens, each to an account of its
-- own (50 tokens per account), in one batchoperate: the largest default batch.
dofile("bench/redis_cluster/common.lua")
local prefix = os.getenv("PB_BENCH_PREFIX") or "p"
local n = 0

count_errors('"ret_code":0')

function request()
  local items = {}
  for i = 1, 20 do
    n = n + 1
    items[i] = string.format('{"token":"m-%s-%d-%d","account_list":[{"account":"ma-%s-%d-%d-%d"}]}',
      prefix, tid, n, prefix, tid, i, math.floor(n / 1000))
  end
  return post("/v3/device/account/batchoperate",
    '{"operator_type":1,"token_accounts":[' .. table.concat(items, ",") .. ']}')
end
