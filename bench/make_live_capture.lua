-- bench/make_live_capture.lua - the capture bench/live_rate.sh replays: COUNT frames between
-- the two addresses it gives its veth pair (10.213.0.2 -> 10.213.0.1), FLOWS flows (default
-- 1000; at most 64512 x 64512) told apart by their ports, 80% TCP / 20% UDP, frames of SIZE
-- bytes (at least 60). With FLOWS >= COUNT every frame opens a new flow.
-- usage: lua5.4 bench/make_live_capture.lua OUT.pcap COUNT [SIZE] [FLOWS]
package.path = "./?.lua;" .. package.path
local helper = require("spec.helper")
local out, count, size = arg[1], tonumber(arg[2]), tonumber(arg[3] or "60")
local flows = tonumber(arg[4] or "1000")
assert(out and count and size and size >= 60 and flows and flows >= 1,
  "usage: make_live_capture.lua OUT.pcap COUNT [SIZE] [FLOWS]")
local packets = {}
for i = 1, count do
  local flow = i % flows
  local udp = flow % 5 == 0
  local header = 14 + 20 + (udp and 8 or 20)
  packets[i] = { sec = 1700000000 + i // 1000000, usec = i % 1000000, data = helper.frame {
    src = "10.213.0.2", dst = "10.213.0.1", sport = 1024 + flow % 64512,
    dport = 1024 + flow // 64512 % 64512,
    proto = udp and "UDP" or "TCP", payload = math.max(size - header, 0) } }
end
helper.write_pcap(out, packets)
print(("wrote %s: %d frames of %d bytes"):format(out, count, size))
