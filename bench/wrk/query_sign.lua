-- Scenario 2: the same queries with Signature auth. wrk has no HMAC, so the
-- bodies and their Sign headers are made beforehand (bench.py, one TimeStamp
-- inside the server's window) and loaded from PB_SIGNED; the server still
-- checks every signature.
dofile(os.getenv("PB_WRK_DIR") .. "/common.lua")

local signed = dofile(os.getenv("PB_SIGNED"))

function init(args)
  seed_thread()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["AccessId"] = signed.access_id
  wrk.headers["TimeStamp"] = signed.timestamp
end

local n = 0
function request()
  n = (n + 1 + (tid or 0) * 7919) % #signed.bodies + 1
  local headers = {Sign = signed.signs[n]}
  return wrk.format(nil, "/v3/device/account/query", headers, signed.bodies[n])
end
