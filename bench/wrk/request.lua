-- wrk script: GET or POST with a JSON body, API keys picked round-robin from KEYS_FILE,
-- and a JSON summary printed at the end (requests/s, latency percentiles, errors).
local keys = {}
local counter = 0
local method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
local keys_file = os.getenv("KEYS_FILE")

if keys_file then
  for line in io.lines(keys_file) do
    if #line > 0 then table.insert(keys, line) end
  end
end

request = function()
  counter = counter + 1
  local headers = { ["Content-Type"] = "application/json" }
  if #keys > 0 then
    headers["Authorization"] = "Bearer " .. keys[(counter % #keys) + 1]
  end
  return wrk.format(method, nil, headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "rps": %.1f, "p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "socket_errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
