#!/usr/bin/env lua5.4
--- Writes the connection report of a capture file and prints it.
-- usage: lua5.4 examples/report.lua CAPTURE.pcap REPORT.csv [interval seconds]
local nasoone = require("nasoone")

local capture_path, report_path, interval = arg[1], arg[2], tonumber(arg[3] or "1")
if not capture_path or not report_path then
  io.stderr:write("usage: lua5.4 examples/report.lua CAPTURE.pcap REPORT.csv [interval]\n")
  os.exit(2)
end

local cap <close> = nasoone.new()
assert(cap:set_capture_file(capture_path))
assert(cap:set_output(report_path))
assert(cap:set_timeout(interval))
assert(cap:start())
local _, err = cap:wait()        -- until the end of the file (Ctrl-C interrupts it)
local stats, stop_err = cap:stop() -- joins the threads and writes the final report
if not stats then                -- the final report did not reach the disk: say so, fail
  io.stderr:write(stop_err, "\n")
  os.exit(1)
end
if err then io.stderr:write(err, "\n") end -- a capture that ended on an error: reported so far

for line in io.lines(report_path) do print(line) end
io.stderr:write(("%d packets read, %d counted, %d skipped, %d connections\n"):format(
  stats.received, stats.counted, stats.skipped_total, stats.flows))
