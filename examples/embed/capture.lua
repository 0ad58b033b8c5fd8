--- The script examples/embed/host runs: the report of a capture file, on stdout.
-- usage: host capture.lua CAPTURE.pcap
local nasoone = require("nasoone") -- preloaded by the host: no search path needed
local capture = assert(arg[1], "usage: host capture.lua CAPTURE.pcap")

local cap <close> = nasoone.new()
assert(cap:set_capture_file(capture))
assert(cap:set_filter(nasoone.filter():any_protocol())) -- the Lua part works too
local rows
cap:on_report(function(report)
  if report.final then rows = report.rows end
end)
assert(cap:start())
assert(cap:wait())
local stats = assert(cap:stop())
for _, r in ipairs(rows) do
  print(("%s; %d; %s; %d; [%s]; %d; %d; %d; %d"):format(r.source_ip, r.source_port,
    r.destination_ip, r.destination_port, table.concat(r.protocols, ", "), r.first, r.last,
    r.bytes, r.packets))
end
io.stderr:write(("embedded nasoone (%s): %d packets, %d rows\n"):format(nasoone._VERSION,
  stats.received, #rows))
