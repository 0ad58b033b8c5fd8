-- bench/stop_pipe.lua - how long cap:stop() takes when the writer of a FIFO is silent: 20
-- captures of a FIFO whose writer wrote the bundled sample capture and then stays open without
-- writing; each started, its rows seen, stopped (final report written, every thread joined).
-- usage: lua5.4 bench/stop_pipe.lua
package.path = "./lua/?.lua;" .. package.path
package.cpath = (os.getenv("NASOONE_BUILD_DIR") or "build") .. "/?.so;" .. package.cpath
local nasoone = require("nasoone")
local system = require("system")
local dir = assert(io.popen("mktemp -d")):read("l")
local times = {}
for i = 1, 20 do
  local fifo = ("%s/fifo-%d"):format(dir, i)
  assert(os.execute(("mkfifo '%s'"):format(fifo)))
  -- the writer: the sample, then silence (it is killed below)
  assert(os.execute(("sh -c 'cat examples/data/sample.pcap; exec sleep 30' > '%s' & echo $! > '%s.pid'")
    :format(fifo, fifo)))
  local cap = nasoone.new()
  assert(cap:set_capture_file(fifo))
  assert(cap:set_output(("%s/report-%d.csv"):format(dir, i)))
  local rows = 0
  cap:on_report(function(report) rows = #report.rows end)
  assert(cap:set_timeout(0.05))
  assert(cap:start())
  while rows == 0 do cap:wait(0.05) end
  local t0 = system.monotime()
  assert(cap:stop())
  times[#times + 1] = (system.monotime() - t0) * 1000
  os.execute(("kill $(cat '%s.pid')"):format(fifo))
  cap:close()
end
os.execute("rm -rf '" .. dir .. "'")
table.sort(times)
print(("stop on a FIFO whose writer is silent, 20 runs: min %.2f ms, median %.2f ms, max %.2f ms")
  :format(times[1], (times[10] + times[11]) / 2, times[20]))
