-- wrk plays Africa's Talking: each connection (one per thread: run wrk -t C -c C) walks whole
-- report sessions hop by hop, with the exact form fields, and checks every reply.
-- Arguments after "--": data file, request path (with ?token=), run id, mode ("app" checks that
-- the last hop of each path ends the session with a reference; "floor" only checks status and
-- CON/END), threads.

local unpack = table.unpack or unpack
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do table.insert(fields, field) end
  return fields
end

local function encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  local datafile, nthreads = args[1], tonumber(args[5])
  path, run, mode = args[2], args[3], args[4]
  paths, phones = {}, {}
  local v = 0
  for line in io.lines(datafile) do
    local f = split(line)
    if f[1] == "V" then
      -- Volunteers are shared out between connections: one phone is never in two sessions at once.
      if v % nthreads == id - 1 then table.insert(phones, f[2]) end
      v = v + 1
    elseif f[1] == "P" then
      table.insert(paths, {kind = f[2], inputs = {unpack(f, 3)}})
    end
  end
  n, hop = 0, 0
  sessions, hops, errors, wrong_end = 0, 0, 0, 0
  first_bad = ""
  start_session()
end

function start_session()
  n = n + 1
  p = paths[((id - 1) * 7919 + n) % #paths + 1]
  hop = 0
  sid = string.format("ATUid_bench%s_%d_%d", run, id, n)
  if p.kind == "volunteer" and #phones > 0 then
    phone = phones[n % #phones + 1]
  else
    phone = string.format("+25072%02d%02d%03d", tonumber(run) % 100, id % 100, n % 1000)
  end
end

function request()
  local text = table.concat(p.inputs, "*", 1, hop)
  local body = "sessionId=" .. sid .. "&serviceCode=" .. encode("*801#") .. "&phoneNumber=" .. encode(phone)
    .. "&networkCode=63510&text=" .. encode(text)
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
end

local function note(status, body)
  if first_bad == "" then
    first_bad = string.format("status %d at hop %d of %d (%s): %s", status, hop, #p.inputs,
      table.concat(p.inputs, "*", 1, hop), (body:sub(1, 80):gsub("\n", " | ")))
  end
end

function response(status, headers, body)
  hops = hops + 1
  local last = hop == #p.inputs
  local head = body:sub(1, 4)
  if status ~= 200 or (head ~= "CON " and head ~= "END ") then
    errors = errors + 1
    note(status, body)
    start_session()
    return
  end
  -- In "app" mode a session ends exactly at its last hop, with the report's 7-digit reference
  -- (an END without one, e.g. a refusal, is a bad reply, not a report).
  if mode == "app" and ((last and (head ~= "END " or not body:find("%d%d%d%d%d%d%d"))) or (not last and head == "END ")) then
    wrong_end = wrong_end + 1
    note(status, body)
    start_session()
    return
  end
  if last then
    sessions = sessions + 1
    start_session()
  else
    hop = hop + 1
  end
end

function done(summary, latency, requests)
  local s, e, w = 0, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("sessions")
    e = e + thread:get("errors")
    w = w + thread:get("wrong_end")
    local bad = thread:get("first_bad")
    if bad ~= "" then io.write("BAD " .. bad .. "\n") end
  end
  local se = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d sessions=%d errors=%d wrong_end=%d socket_errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), s, e, w,
    se.connect + se.read + se.write + se.timeout))
end
