-- wrk script for flowd's answer webhook: POSTs the answer form Plivo
-- sends, with a CallUUID that is fresh on every request. Used by
-- scripts/load-answer.sh; by hand:
--
--   wrk -t1 -c64 -d5s -s scripts/answer.lua http://127.0.0.1:PORT/flows/ivr/answer -- 1a2b3c4d
--
-- The argument after -- is a run id (hex, up to 8 digits): give each wrk
-- run against the same server a different one, or CallUUIDs repeat and
-- flowd answers them as Plivo's retries.
--
-- A CallUUID is run id + thread number + request counter, so it is unique
-- per run; its first group is a hash of the counter so, like Plivo's
-- random UUIDs, they do not arrive in sorted order. The parameters are
-- the same as runtime/bench_test.go and scripts/rate send.

local head = "From=%2B14155550100&To=%2B14155550199&Direction=inbound&CallStatus=ringing"
  .. "&Event=StartApp&CallerName=Jane+Doe&BillRate=0.0085&ParentAuthID=MAXXXXXXXXXXXXXXXXXX"
  .. "&RequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b&ALegRequestUUID=5c1e0f5a-8f6e-4a0e-9b0c-2f3d4e5f6a7b"
  .. "&SessionStart=2025-01-01+12%3A00%3A00.000000&STIRAttestation=A&STIRVerification=Verified"
  .. "&CallUUID="

local threads = 0

-- setup runs in the main state, once per thread, before init: number the
-- threads (thread:set makes a global in the thread's state).
function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local counter = 0
local run = 0

function init(args)
  run = tonumber(args[1] or "0", 16) or 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["User-Agent"] = "PlivoHTTP"
end

function request()
  counter = counter + 1
  local hash = (counter * 40503 + run) % 4294967296
  local id = string.format("%08x-%04x-4000-8000-%012x", hash, (thread_id or 0) % 65536, counter)
  return wrk.format(nil, nil, nil, head .. id)
end
