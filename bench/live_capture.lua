-- bench/live_capture.lua - captures on a device until SIGTERM-free stop: reads a line on stdin
-- ("stop") and prints the stats. Used by bench/live_rate.sh.
-- usage: lua5.4 bench/live_capture.lua DEVICE REPORT.csv [INTERVAL]   (default 1 s)
local nasoone = require("nasoone")
local system = require("system")
local device, report, interval = arg[1], arg[2], tonumber(arg[3] or "1")
local cap = nasoone.new()
assert(cap:set_capture_device(device))
os.remove(report)
assert(cap:set_output(report))
assert(cap:set_timeout(interval))
assert(cap:start())
io.stdout:write("ready\n")
io.stdout:flush()
io.read("l") -- the driver writes a line when the replay is over
local t0 = system.monotime()
local stats = assert(cap:stop())
print(string.format("received=%d counted=%d dropped=%d if_dropped=%d queue_dropped=%d "
  .. "pcap_received=%d flows=%d reports=%d stop_ms=%.2f", stats.received, stats.counted,
  stats.dropped, stats.if_dropped, stats.queue_dropped, stats.pcap_received, stats.flows,
  stats.reports_written, (system.monotime() - t0) * 1000))
