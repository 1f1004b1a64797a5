-- Scenario 3: query 100 random accounts per request, Basic auth.
-- env: PB_BASIC, PB_ACCOUNTS
dofile(os.getenv("PB_WRK_DIR") .. "/common.lua")

local accounts = tonumber(os.getenv("PB_ACCOUNTS"))
local bodies = {}

function init(args)
  seed_thread()
  wrk.method = "POST"
  wrk.headers["Authorization"] = os.getenv("PB_BASIC")
  wrk.headers["Content-Type"] = "application/json"
  for i = 1, 512 do
    local items = {}
    for j = 1, 100 do
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
