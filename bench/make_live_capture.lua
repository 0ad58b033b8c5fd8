-- bench/make_live_capture.lua - the capture bench/live_rate.sh replays: COUNT frames between
-- the two addresses it gives its veth pair (10.213.0.2 -> 10.213.0.1), 1000 flows told apart by
-- their ports, 80% TCP / 20% UDP, frames of SIZE bytes (at least 60).
-- usage: lua5.4 bench/make_live_capture.lua OUT.pcap COUNT [SIZE]
package.path = "./?.lua;" .. package.path
local helper = require("spec.helper")
local out, count, size = arg[1], tonumber(arg[2]), tonumber(arg[3] or "60")
assert(out and count and size and size >= 60, "usage: make_live_capture.lua OUT.pcap COUNT [SIZE]")
local packets = {}
for i = 1, count do
  local udp = i % 5 == 0
  local header = 14 + 20 + (udp and 8 or 20)
  packets[i] = { sec = 1700000000 + i // 1000000, usec = i % 1000000, data = helper.frame {
    src = "10.213.0.2", dst = "10.213.0.1", sport = 20000 + i % 1000, dport = udp and 53 or 8080,
    proto = udp and "UDP" or "TCP", payload = math.max(size - header, 0) } }
end
helper.write_pcap(out, packets)
print(("wrote %s: %d frames of %d bytes"):format(out, count, size))
