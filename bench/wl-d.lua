-- Workload D of bench/run.sh: 64 KiB PATCHes on keep-alive connections, requests per second.
--
--   wrk -t4 -c4 -d5s -s bench/wl-d.lua http://127.0.0.1:PORT/files/ -- tus
--   wrk -t4 -c4 -d5s -s bench/wl-d.lua http://127.0.0.1:PORT/files/ -- put
--
-- tus: each wrk thread (one connection each, -t == -c) first POSTs its own upload, takes the
--      path from the Location header, then sends PATCHes of 64 KiB with sequential
--      Upload-Offset values taken from each 204's Upload-Offset. A non-204 answer makes the
--      thread start a fresh upload (and counts as an error in wrk's "Non-2xx" line).
-- put: each thread PUTs 64 KiB again and again to its own file (nginx WebDAV baseline).
--
-- done() prints one machine-readable line: "WLD requests=N duration_us=N non2xx=N errors=N".

local CHUNK = 65536
local LENGTH = 64 * 1024 * 1024 * 1024 -- Upload-Length: far more than 5 s can fill

local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

mode, body, base, loc, offset, bad = nil, nil, nil, nil, 0, 0 -- per-thread globals (done() reads "bad")

local function header(headers, name)
  for k, v in pairs(headers) do
    if string.lower(k) == name then return v end
  end
  return nil
end

function init(args)
  mode = args[1] or "tus"
  body = string.rep("x", CHUNK)
  base = wrk.path
  if string.sub(base, -1) ~= "/" then base = base .. "/" end
  loc = nil
  offset = 0
  bad = 0
end

function request()
  if mode == "put" then
    return wrk.format("PUT", base .. "d-" .. id, nil, body)
  end
  if loc == nil then
    return wrk.format("POST", base, {
      ["Tus-Resumable"] = "1.0.0",
      ["Upload-Length"] = tostring(LENGTH),
    })
  end
  return wrk.format("PATCH", loc, {
    ["Tus-Resumable"] = "1.0.0",
    ["Upload-Offset"] = tostring(offset),
    ["Content-Type"] = "application/offset+octet-stream",
  }, body)
end

function response(status, headers, rbody)
  if mode == "put" then
    if status ~= 201 and status ~= 204 then bad = bad + 1 end
    return
  end
  if loc == nil then
    local l = header(headers, "location")
    if status == 201 and l then
      loc = string.gsub(l, "^https?://[^/]*", "")
      offset = 0
    else
      bad = bad + 1
    end
    return
  end
  if status == 204 then
    offset = tonumber(header(headers, "upload-offset")) or (offset + CHUNK)
  else
    bad = bad + 1
    loc = nil -- start over on a fresh upload
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local bad_total = 0
  for _, t in ipairs(threads) do bad_total = bad_total + (t:get("bad") or 0) end
  io.write(string.format("WLD requests=%d duration_us=%d non2xx=%d errors=%d bad=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    bad_total, latency:percentile(50), latency:percentile(99)))
end
