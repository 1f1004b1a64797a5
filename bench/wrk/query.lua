-- Scenarios 1, 3 and 5: query PB_PER_QUERY random accounts (operator_type 1)
-- per request, Basic auth.
-- env: PB_BASIC (the Authorization value), PB_ACCOUNTS (accounts in the data
-- set), PB_PER_QUERY (accounts per request, default 1)
dofile(os.getenv("PB_WRK_DIR") .. "/common.lua")

local accounts = tonumber(os.getenv("PB_ACCOUNTS"))
local per_query = tonumber(os.getenv("PB_PER_QUERY") or "1")
local bodies = {}

function init(args)
  seed_thread()
  wrk.method = "POST"
  wrk.headers["Authorization"] = os.getenv("PB_BASIC")
  wrk.headers["Content-Type"] = "application/json"
  for i = 1, 4096 / per_query + 256 do
    local items = {}
    for j = 1, per_query do
      items[j] = string.format('{"account":"%012d"}', math.random(0, accounts - 1))
    end
    bodies[i] = '{"operator_type":1,"account_list":[' .. table.concat(items, ",") .. ']}'
  end
end

local n = 0
function request()
  n = n % #bodies + 1
  return wrk.format(nil, "/v3/device/account/query", nil, bodies[n])
end
