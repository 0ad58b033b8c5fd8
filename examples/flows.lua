#!/usr/bin/env lua5.4
--- A long-running capture point: bounded memory, finished connections exported.
-- usage: lua5.4 examples/flows.lua SOURCE LOG_FOLDER [IPFIX_URL]
--   SOURCE      a capture file, or an interface name (live; needs root or CAP_NET_RAW)
--   LOG_FOLDER  where the hourly JSON-lines flow logs go (flows-YYYYmmdd-HH00.jsonl, UTC)
--   IPFIX_URL   optional: udp://HOST:PORT of nfcapd or any IPFIX collector
-- Prints a status line every 10 s, and the biggest records (over 1 MB) as they end.
local nasoone = require("nasoone")

local source, logs, ipfix = arg[1], arg[2], arg[3]
if not source or not logs then
  io.stderr:write("usage: lua5.4 examples/flows.lua SOURCE LOG_FOLDER [IPFIX_URL]\n")
  os.exit(2)
end

local cap <close> = nasoone.new()
local file = io.open(source, "rb")
if file then
  file:close()
  assert(cap:set_capture_file(source))
else
  assert(cap:set_capture_device(source))
end
-- rows quiet for 5 minutes end; a long connection gives a record every 30 minutes; at most a
-- million rows held (about 330 MB)
assert(cap:set_flow_limits{ idle_timeout = 300, active_timeout = 1800, max_flows = 1000000 })
assert(cap:add_export("jsonl", logs .. "/flows-%Y%m%d-%H00.jsonl", { rotate = 3600 }))
if ipfix then assert(cap:add_export("ipfix", ipfix)) end

local records, packets = 0, 0
assert(cap:on_flows(function(batch)
  for _, r in ipairs(batch) do
    records, packets = records + 1, packets + r.packets
    if r.bytes > 1e6 then
      print(("%s %s:%d -> %s:%d %d bytes %d packets"):format(r.reason, r.source_ip,
        r.source_port, r.destination_ip, r.destination_port, r.bytes, r.packets))
    end
  end
end))
assert(cap:start())

local function status()
  local s = cap:stats()
  local line = ("held %d (peak %d), %d records, %d packets counted"):format(s.rows_held,
    s.rows_peak, s.records, s.counted)
  for _, e in ipairs(s.exports) do
    line = line .. (", %s sent %d dropped %d"):format(e.kind, e.sent, e.dropped)
  end
  io.stderr:write(line, "\n")
end

while true do
  local over, why = cap:wait(10) -- callbacks run in here; Ctrl-C interrupts it
  if why then io.stderr:write(why, "\n") end -- a failed export, or what ended the capture
  if over then break end
  status()
end
local stats, err = cap:stop()
if not stats then
  io.stderr:write(err, "\n")
  os.exit(1)
end
status()
io.stderr:write(("%d records of %d packets\n"):format(records, packets))
