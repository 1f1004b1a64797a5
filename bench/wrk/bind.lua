-- Scenario 4: durable binds. batchoperate operator_type 1, 20 tokens bound to
-- one account per request, every token new (thread id, run id and a counter
-- are in it). Each request is 20 bindings once answered.
-- env: PB_BASIC, PB_RUN (distinct per wrk run)
dofile(os.getenv("PB_WRK_DIR") .. "/common.lua")

local run = os.getenv("PB_RUN")

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = os.getenv("PB_BASIC")
  wrk.headers["Content-Type"] = "application/json"
end

local n = 0
function request()
  n = n + 1
  local items = {}
  for i = 1, 20 do
    items[i] = string.format('{"token":"bind-%s-%02d-%010d-%02d-xxxxxxxxx","account_list":[{"account":"bind-%s-%02d-%010d"}]}',
                             run, tid, n, i, run, tid, n)
  end
  local body = '{"operator_type":1,"token_accounts":[' .. table.concat(items, ",") .. ']}'
  return wrk.format(nil, "/v3/device/account/batchoperate", nil, body)
end

bad = 0
function response(status, headers, body)
  if status ~= 200 or not body:find('"ret_code":0', 1, true) then
    bad = bad + 1
  end
end
