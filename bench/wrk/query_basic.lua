-- Scenario 1 and 5: query one random account (operator_type 1), Basic auth.
-- env: PB_BASIC (the Authorization value), PB_ACCOUNTS (accounts in the data set)
dofile(os.getenv("PB_WRK_DIR") .. "/common.lua")

local accounts = tonumber(os.getenv("PB_ACCOUNTS"))
local bodies = {}

function init(args)
  seed_thread()
  wrk.method = "POST"
  wrk.headers["Authorization"] = os.getenv("PB_BASIC")
  wrk.headers["Content-Type"] = "application/json"
  for i = 1, 4096 do
    bodies[i] = string.format('{"operator_type":1,"account_list":[{"account":"%012d"}]}',
                              math.random(0, accounts - 1))
  end
end

local n = 0
function request()
  n = n % #bodies + 1
  return wrk.format(nil, "/v3/device/account/query", nil, bodies[n])
end
