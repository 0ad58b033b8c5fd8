#!/usr/bin/env lua5.4
--- Prints the three connections with the most bytes after every report, from a capture file
-- or a live device (live capture needs root or cap_net_raw,cap_net_admin).
-- usage: lua5.4 examples/top_talkers.lua CAPTURE.pcap      or   lua5.4 examples/top_talkers.lua -i eth0
local nasoone = require("nasoone")

local cap <close> = nasoone.new()
if arg[1] == "-i" then
  assert(cap:set_capture_device(arg[2] or assert(nasoone.default_device())))
else
  assert(cap:set_capture_file(assert(arg[1], "usage: top_talkers.lua CAPTURE.pcap | -i DEVICE")))
end
assert(cap:set_timeout(1))
local function endpoint(ip, port)
  return (ip:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(ip, port)
end

cap:on_report(function(report)
  table.sort(report.rows, function(a, b) return a.bytes > b.bytes end)
  for i = 1, math.min(3, #report.rows) do
    local r = report.rows[i]
    print(("%s -> %s  [%s]  %d bytes in %d packets"):format(endpoint(r.source_ip, r.source_port),
      endpoint(r.destination_ip, r.destination_port), table.concat(r.protocols, ", "), r.bytes,
      r.packets))
  end
  print(report.final and "-- final" or "--")
end)
assert(cap:start())
while not cap:wait(1) do end     -- an event loop would watch cap:fd() and call cap:poll()
cap:stop()
