-- wrk script of the footdrop-cds benchmark (bench/load.py writes its manifest).
--
-- Every request takes the next call of the plan in turn (path and body) and the
-- next pre-signed token for that path: the service refuses a replayed JWT, so a
-- token is used once (the floor, which verifies nothing, may reuse them: "wrap").
-- A body may hold the hookInstance slot; each request puts a new UUID there.
-- After `limit` answers the run ends (SIGINT to wrk itself, which then reports
-- the time actually taken), else at wrk's -d.
--
-- Manifest lines, tab-separated:
--   slot   <text in the bodies to replace by the hookInstance>
--   prefix <first 24 characters of every hookInstance of this run>
--   wrap   0|1
--   limit  <answers>
--   call   <path> <body file> <token file>

local ffi = require("ffi")
ffi.cdef([[
int getpid(void);
int kill(int pid, int sig);
]])
local SIGINT = 2

local calls, pools = {}, {}
local slot, prefix, wrap, limit = nil, "", false, math.huge
local sent, answered = 0, 0
reused, bad = 0, 0 -- globals: done() reads them with thread:get
local threads = {}

local function split(line)
  local fields = {}
  for field in string.gmatch(line, "[^\t]+") do
    fields[#fields + 1] = field
  end
  return fields
end

local function read_all(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end

local function pool(path)
  if pools[path] == nil then
    local tokens = {}
    for line in io.lines(path) do
      tokens[#tokens + 1] = line
    end
    pools[path] = { tokens = tokens, next = 0 }
  end
  return pools[path]
end

function setup(thread)
  threads[#threads + 1] = thread
end

function init(args)
  for line in io.lines(args[1]) do
    local f = split(line)
    if f[1] == "slot" then
      slot = f[2]
    elseif f[1] == "prefix" then
      prefix = f[2]
    elseif f[1] == "wrap" then
      wrap = f[2] == "1"
    elseif f[1] == "limit" then
      limit = tonumber(f[2])
    elseif f[1] == "call" then
      local body = read_all(f[3])
      local call = { path = f[2], tokens = pool(f[4]) }
      local at = slot and string.find(body, slot, 1, true)
      if at then
        call.head, call.tail = string.sub(body, 1, at - 1), string.sub(body, at + #slot)
      else
        call.body = body
      end
      calls[#calls + 1] = call
    end
  end
end

function request()
  sent = sent + 1
  local call = calls[(sent - 1) % #calls + 1]
  local tokens = call.tokens
  tokens.next = tokens.next + 1
  if tokens.next > #tokens.tokens then
    tokens.next = 1
    if not wrap then
      reused = reused + 1
    end
  end
  local body = call.body or (call.head .. prefix .. string.format("%012x", sent) .. call.tail)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens.tokens[tokens.next],
  }
  return wrk.format("POST", call.path, headers, body)
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  end
  answered = answered + 1
  if answered == limit then
    wrk.thread:stop()
    ffi.C.kill(ffi.C.getpid(), SIGINT)
  end
end

function done(summary, latency, requests)
  local not_ok, replayed = 0, 0
  for _, thread in ipairs(threads) do
    not_ok = not_ok + (thread:get("bad") or 0)
    replayed = replayed + (thread:get("reused") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-RESULT {"requests": %d, "duration_us": %d, "not_ok": %d, "replayed": %d, '
      .. '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, not_ok, replayed,
    e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)
  ))
end
