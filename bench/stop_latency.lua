-- bench/stop_latency.lua - how long cap:stop() takes on an idle device: 20 captures, each
-- started, left idle 0.2 s, stopped (final report written, every thread joined).
-- usage (root): lua5.4 bench/stop_latency.lua DEVICE [LIBPCAP_TIMEOUT_SECONDS]
-- An idle device: e.g. `ip link add nsl0 type veth peer name nsl1`, both ends up, IPv6 off.
package.path = "./lua/?.lua;" .. package.path
package.cpath = (os.getenv("NASOONE_BUILD_DIR") or "build") .. "/?.so;" .. package.cpath
local nasoone = require("nasoone")
local system = require("system")
local device, timeout = assert(arg[1], "usage: stop_latency.lua DEVICE [TIMEOUT]"), tonumber(arg[2] or "0.1")
local dir = assert(io.popen("mktemp -d")):read("l")
local times = {}
for i = 1, 20 do
  local cap = nasoone.new()
  assert(cap:set_capture_device(device, { timeout = timeout }))
  assert(cap:set_output(("%s/report-%d.csv"):format(dir, i)))
  assert(cap:start())
  system.sleep(0.2)
  local t0 = system.monotime()
  assert(cap:stop())
  times[#times + 1] = (system.monotime() - t0) * 1000
end
os.execute("rm -rf '" .. dir .. "'")
table.sort(times)
print(("stop on idle %s (libpcap timeout %g s), 20 runs: min %.2f ms, median %.2f ms, max %.2f ms")
  :format(device, timeout, times[1], (times[10] + times[11]) / 2, times[20]))
