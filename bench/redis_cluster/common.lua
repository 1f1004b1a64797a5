-- Shared by bind.lua and query.lua (loaded with dofile, from the repository
-- root): threads get ids, answers that are not ok are counted, and done()
-- prints "RESULT requests seconds errors p99_us" for bench/redis_cluster.sh.
auth = os.getenv("PB_BENCH_AUTH")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

errors = 0

-- ok_marker: the text an ok answer contains ('"ret_code":0' or '"retCode":0').
function count_errors(ok_marker)
  response = function(status, headers, body)
    if status ~= 200 or not body:find(ok_marker, 1, true) then errors = errors + 1 end
  end
end

function post(path, body)
  return wrk.format("POST", path, {["Authorization"] = auth, ["Content-Type"] = "application/json"}, body)
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  io.write(string.format("RESULT %d %.3f %d %d\n", summary.requests, summary.duration / 1e6, e,
    latency:percentile(99)))
end
