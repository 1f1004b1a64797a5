-- wrk script: every request binds a new token to an account (50 tokens per
-- account, below the 100 limit). PB_BENCH_PREFIX keeps two wrk runs apart.
local prefix = os.getenv("PB_BENCH_PREFIX") or "p"
local auth = os.getenv("PB_BENCH_AUTH")
local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("tid", count)
  table.insert(threads, thread)
end

local n = 0
errors = 0

function request()
  n = n + 1
  local body = string.format(
    '{"operator_type":1,"token_accounts":[{"token":"b-%s-%d-%d","account_list":[{"account":"a-%s-%d-%d"}]}]}',
    prefix, tid, n, prefix, tid, math.floor(n / 50))
  return wrk.format("POST", "/v3/device/account/batchoperate",
    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"ret_code":0', 1, true) then errors = errors + 1 end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  io.write(string.format("RESULT %d %.3f %d %d\n", summary.requests, summary.duration / 1e6, e,
    latency:percentile(99)))
end
