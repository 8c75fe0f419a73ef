-- wrk script: one @libsql/client execute() as it goes over HTTP (execute + close, no baton),
-- a point SELECT by a random primary key in 1..10000.
math.randomseed(os.time())
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
errors = 0
local threads = {}
setup = function(thread) table.insert(threads, thread) end
request = function()
  local id = math.random(1, 10000)
  return wrk.format(nil, "/v2/pipeline", nil,
    '{"baton":null,"requests":[{"type":"execute","stmt":{"sql":"SELECT id, name, value FROM bench WHERE id = ?",' ..
    '"args":[{"type":"integer","value":"' .. id .. '"}],"want_rows":true}},{"type":"close"}]}')
end
response = function(status, headers, body)
  if status ~= 200 or string.find(body, '"type":"error"', 1, true) then errors = errors + 1 end
end
done = function(summary, latency, requests)
  local errors = 0
  for _, t in ipairs(threads) do errors = errors + t:get("errors") end
  io.write(string.format("RESULT requests=%d seconds=%.3f p50_us=%d p99_us=%d non2xx_or_error=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99), errors))
end
