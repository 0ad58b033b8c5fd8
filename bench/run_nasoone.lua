-- bench/run_nasoone.lua - the nasoone side of the benchmark: one whole capture through the Lua API.
--
-- Usage: lua5.4 bench/run_nasoone.lua FILE.pcap OUTDIR [INTERVAL]
-- Writes OUTDIR/report.csv (removing an old one first), rewritten every INTERVAL seconds
-- (default 1), and prints one line on stdout:
--   received=N counted=C flows=F reports=R records=K
--   cpu_reader=S cpu_parsers=S cpu_writer=S cpu_keeper=S cpu_exporter=S  (stats.cpu, seconds)
-- bench/run.sh sets LUA_PATH_5_4 / LUA_CPATH_5_4 so that require finds lua/nasoone.lua and the
-- module built in build-bench/, and checks these figures against bench/baseline.

local nasoone = require("nasoone")

local file, outdir, interval = arg[1], arg[2], tonumber(arg[3] or "1")
if not file or not outdir or not interval then
  io.stderr:write("usage: lua5.4 bench/run_nasoone.lua FILE.pcap OUTDIR [INTERVAL]\n")
  os.exit(2)
end

local report = outdir .. "/report.csv"
os.remove(report) -- set_output refuses an existing file

local cap = nasoone.new()
assert(cap:set_capture_file(file))
assert(cap:set_output(report))
assert(cap:set_timeout(interval))
-- BENCH_PARSERS=N: that many parser threads (default: one per core less one)
local parsers = tonumber(os.getenv("BENCH_PARSERS") or "")
if parsers then assert(cap:set_parsers(parsers)) end
-- BENCH_KEY=5-tuple: the report's key (default: 4-tuple)
if os.getenv("BENCH_KEY") then assert(cap:set_flow_key(os.getenv("BENCH_KEY"))) end
-- BENCH_BIFLOW=1: biflow rows (set_biflow)
if os.getenv("BENCH_BIFLOW") == "1" then assert(cap:set_biflow(true)) end
-- BENCH_LIMITS="idle_timeout=60,max_flows=100000": flow limits (bench/lifecycle.sh)
local limits = os.getenv("BENCH_LIMITS")
if limits and limits ~= "" then
  local t = {}
  for name, value in limits:gmatch("([%w_]+)=([%d.]+)") do
    t[name] = math.tointeger(tonumber(value)) or tonumber(value)
  end
  assert(cap:set_flow_limits(t))
end
-- BENCH_EXPORT="ipfix udp://127.0.0.1:4739" or "jsonl /tmp/x/flows-%H%M.jsonl"
local export = os.getenv("BENCH_EXPORT")
if export and export ~= "" then
  local kind, target = export:match("^(%S+)%s+(%S+)$")
  assert(cap:add_export(kind, target))
end
assert(cap:start())
while not cap:wait(10) do end
local stats = assert(cap:stop())

for _, field in ipairs({ "received", "counted", "flows" }) do
  assert(math.type(stats[field]) == "integer",
    "run_nasoone: stats." .. field .. " is " .. tostring(stats[field]) .. ", expected an integer")
end
print(string.format("received=%d counted=%d flows=%d reports=%d records=%d", stats.received,
  stats.counted, stats.flows, stats.reports_written, stats.records))
-- the engine's threads' CPU seconds (stats.cpu), for bench/run.sh's split
print(string.format("cpu_reader=%.3f cpu_parsers=%.3f cpu_writer=%.3f cpu_keeper=%.3f cpu_exporter=%.3f",
  stats.cpu.reader, stats.cpu.parsers, stats.cpu.writer, stats.cpu.keeper, stats.cpu.exporter))
for _, e in ipairs(stats.exports) do
  print(string.format("export %s %s sent=%d dropped=%d errors=%d%s", e.kind, e.target, e.sent,
    e.dropped, e.errors, e.error and (" error=" .. e.error) or ""))
end
