-- bench/on_report.lua - one whole capture through the Lua API with an on_report callback in
-- one of the ways a script can take rows; bench/on_report.sh times each way.
--
-- Usage: lua5.4 bench/on_report.lua FILE.pcap OUTDIR MODE [INTERVAL]
--   MODE  none          no on_report (the report file only)
--         tables        on_report(fn): report.rows, a table per row; fn does nothing
--         lazy          on_report(fn, { rows = "lazy" }); fn does nothing
--         lazy-rows     the same; fn reads every row with report:rows()
--         changed       on_report(fn, { rows = "changed" }); fn does nothing
--         changed-rows  the same; fn reads every row handed over with report:rows()
-- Every mode writes OUTDIR/report.csv every INTERVAL seconds (default 1), as the issue's runs
-- did, and prints one line: received=N flows=F reports=R callbacks=C rows=S (S: the rows the
-- callbacks read). The reading modes sum the packets of the rows they read and check the sum
-- against report:totals() (spec/report_lazy_spec.lua checks the rows themselves).
local nasoone = require("nasoone")

local file, outdir, mode, interval = arg[1], arg[2], arg[3], tonumber(arg[4] or "1")
local MODES = { none = true, tables = true, lazy = true, ["lazy-rows"] = true, changed = true,
  ["changed-rows"] = true }
if not file or not outdir or not MODES[mode] or not interval then
  io.stderr:write("usage: lua5.4 bench/on_report.lua FILE.pcap OUTDIR "
    .. "none|tables|lazy|lazy-rows|changed|changed-rows [INTERVAL]\n")
  os.exit(2)
end

local report_path = outdir .. "/report.csv"
os.remove(report_path) -- set_output refuses an existing file

local cap = nasoone.new()
assert(cap:set_capture_file(file))
assert(cap:set_output(report_path))
assert(cap:set_timeout(interval))

local callbacks, rows_read = 0, 0
if mode == "tables" then
  cap:on_report(function() callbacks = callbacks + 1 end)
elseif mode == "lazy" or mode == "changed" then
  cap:on_report(function() callbacks = callbacks + 1 end, { rows = mode })
elseif mode == "lazy-rows" then
  cap:on_report(function(report)
    callbacks = callbacks + 1
    local packets = 0
    for _, row in report:rows() do packets = packets + row.packets end
    rows_read = rows_read + #report
    assert(packets == report:totals().packets, "lazy-rows: the rows do not add up")
  end, { rows = "lazy" })
elseif mode == "changed-rows" then
  cap:on_report(function(report)
    callbacks = callbacks + 1
    local packets = 0
    for _, row in report:rows() do packets = packets + row.packets end
    rows_read = rows_read + #report
    assert(packets <= report:totals().packets, "changed-rows: more packets than the report")
  end, { rows = "changed" })
end

assert(cap:start())
while not cap:wait(10) do end
local stats = assert(cap:stop())
print(string.format("received=%d flows=%d reports=%d callbacks=%d rows=%d", stats.received,
  stats.flows, stats.reports_written, callbacks, rows_read))
