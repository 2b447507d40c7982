-- wrk script for bench.webhook_ingest: POST pre-signed bodies read from a file ("<signature> <body>" per
-- line), each once (it wraps around only if the file runs out; the driver sizes it so it does not).
-- Arguments after "--": the file, the path.
local requests = {}
local index = 0

function init(args)
  for line in io.lines(args[1]) do
    local space = line:find(" ", 1, true)
    local headers = {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature-256"] = line:sub(1, space - 1),
    }
    requests[#requests + 1] = wrk.format("POST", args[2], headers, line:sub(space + 1))
  end
end

function request()
  index = index + 1
  if index > #requests then
    index = 1
  end
  return requests[index]
end

function done(summary, latency, _)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "socket_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
