--- Regenerates examples/data/sample.pcap, the small capture the quick start reports on.
-- Run from the repository root: lua5.4 examples/data/make_sample.lua
-- Then check the reference report against tshark's (../shared/tools/oracle.sh), as sets of rows:
--   diff <(../shared/tools/oracle.sh examples/data/sample.pcap | sort) <(sort examples/data/sample.expected.csv)
-- examples/data/sample.expected.csv keeps its rows in the order nasoone writes them (the oracle
-- sorts them as text), so that `diff` with a fresh report of the capture shows nothing.
package.path = "./?.lua;" .. package.path
local helper = require("spec.helper")

local client, server, dns = "192.168.1.20", "140.82.112.22", "192.168.1.1"
local v6_client, v6_server = "2001:db8:10::20", "2606:4700::6810:84e5"
local t0 = 1672060821
local packets = {}
local function at(ms, data) packets[#packets + 1] = { sec = t0 + ms // 1000, usec = (ms % 1000) * 1000 + 123, data = data } end

-- DNS lookup, then a TCP/443 conversation both ways
at(10, helper.frame { src = client, dst = dns, sport = 53673, dport = 53, proto = "UDP", payload = 31 })
at(25, helper.frame { src = dns, dst = client, sport = 53, dport = 53673, proto = "UDP", payload = 47 })
for i = 0, 9 do
  at(30 + i * 40, helper.frame { src = client, dst = server, sport = 53674, dport = 443, payload = i == 2 and 517 or 0 })
  at(50 + i * 40, helper.frame { src = server, dst = client, sport = 443, dport = 53674, payload = i < 5 and 1400 or 0 })
end
-- the same 4-tuple over UDP too (QUIC fallback): one row, protocols [TCP, UDP]
at(600, helper.frame { src = client, dst = server, sport = 53674, dport = 443, proto = "UDP", payload = 1200 })
-- IPv6, on VLAN 7
for i = 0, 3 do
  at(700 + i * 10, helper.frame { src = v6_client, dst = v6_server, sport = 40000, dport = 80, payload = 64, vlan = 1 })
  at(705 + i * 10, helper.frame { src = v6_server, dst = v6_client, sport = 80, dport = 40000, payload = 900, vlan = 1 })
end
-- multicast DNS
at(910, helper.frame { src = "192.168.1.2", dst = "224.0.0.251", sport = 5353, dport = 5353, proto = "UDP", payload = 42 })
-- not counted: ARP, ICMP echo, a later fragment of a datagram
at(920, helper.arp_frame())
at(930, helper.frame { src = client, dst = dns, proto = "ICMP", payload = 56 })
at(940, helper.frame { src = client, dst = dns, sport = 7000, dport = 7001, proto = "UDP", payload = 1000, id = 77, fragment_offset = 0x2000 })
at(941, helper.frame { src = client, dst = dns, sport = 0, dport = 0, proto = "UDP", payload = 200, id = 77, fragment_offset = 128 })

helper.write_pcap("examples/data/sample.pcap", packets)
print(("wrote examples/data/sample.pcap: %d packets"):format(#packets))
