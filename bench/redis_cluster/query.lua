-- wrk script: every request asks the accounts of one random preloaded token
-- ("q-0" … "q-(PB_BENCH_TOKENS-1)").
dofile("bench/redis_cluster/common.lua")
local tokens = tonumber(os.getenv("PB_BENCH_TOKENS") or "2000")

count_errors('"retCode":0')

function request()
  return post("/v3/device/account/query",
    string.format('{"operator_type":2,"token_list":["q-%d"]}', math.random(0, tokens - 1)))
end
