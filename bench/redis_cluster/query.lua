-- wrk script: every request asks the accounts of one random preloaded token
-- ("q-0" … "q-(PB_BENCH_TOKENS-1)").
local tokens = tonumber(os.getenv("PB_BENCH_TOKENS") or "2000")
local auth = os.getenv("PB_BENCH_AUTH")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

errors = 0

function request()
  local body = string.format('{"operator_type":2,"token_list":["q-%d"]}', math.random(0, tokens - 1))
  return wrk.format("POST", "/v3/device/account/query",
    {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"retCode":0', 1, true) then errors = errors + 1 end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  io.write(string.format("RESULT %d %.3f %d %d\n", summary.requests, summary.duration / 1e6, e,
    latency:percentile(99)))
end
