-- Shared by the bench scripts: per-thread ids, counting answers, a JSON summary line for bench/run.py.
local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

ok, bad, refused, last_bad = 0, 0, 0, ""

-- What a failed answer says: its first alert or error text, else its beginning.
local function why(status, body)
  local at = string.find(body, 'role="alert"', 1, true) or string.find(body, 'class="error', 1, true) or 1
  return tostring(status) .. ": " .. string.sub(string.gsub(string.sub(body, at, at + 400), "%s+", " "), 1, 200)
end

-- status >= 400 is an error (wrk counts it too); `expect`, when set, must be in every 2xx body.
function check(status, body, expect)
  if status >= 400 then
    bad = bad + 1
    last_bad = why(status, body)
  elseif expect ~= nil and expect ~= "" and status < 300 and not string.find(body, expect, 1, true) then
    refused = refused + 1
    last_bad = why(status, body)
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local n_ok, n_bad, n_refused, sample = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    n_ok = n_ok + (t:get("ok") or 0)
    n_bad = n_bad + (t:get("bad") or 0)
    n_refused = n_refused + (t:get("refused") or 0)
    local lb = t:get("last_bad") or ""
    if lb ~= "" then sample = lb end
  end
  local e = summary.errors
  sample = string.gsub(string.gsub(sample, "\\", "\\\\"), "[\"%c]", " ")
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "ok": %d, "bad_status": %d, "refused": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p99_us": %d, "mean_us": %d, "sample": "%s"}\n',
    summary.requests, summary.duration, n_ok, n_bad, n_refused, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, sample))
end
