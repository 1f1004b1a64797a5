-- Shared by the wrk scripts: distinct thread ids (each wrk thread has its own
-- Lua state; setup() runs in the main one) and a seeded generator per thread.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Answers a script judged wrong (it sets the global `bad` in its thread).
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("bad") or 0)
  end
  io.write(string.format("bad answers: %d\n", bad))
end

function seed_thread()
  math.randomseed(os.time() * 100 + (tid or 0))
end
