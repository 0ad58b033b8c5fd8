--- What the decoder makes of odd captures, through the whole engine: IP fragments in both
-- modes, malformed packets among good ones, capture files libpcap half-refuses, short snaplens.
local helper = require("spec.helper")
local cmd = require("spec.command_helper")
local nasoone = require("nasoone")

describe("decoding", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(helper.cleanup)

  describe("IP fragments", function()
    local fixture = "spec/fixtures/fragments.pcap"

    it("by default counts first fragments with their ports and skips the later ones", function()
      local output, stats = helper.run_file(fixture)
      assert.same({
        "10.1.2.3; 7000; 203.0.113.9; 7001; [UDP]; 1700000000137; 1700000002959; 1566; 2",
        "2001:db8:1::10; 53; 2001:db8:2::20; 40053; [UDP]; 1700000001548; 1700000001548; 1270; 1",
      }, helper.sorted_rows(output))
      assert.equals(4, stats.skipped.fragment)
      assert.equals(0, stats.fragments_attributed)
    end)

    it("with set_fragments('attribute') counts later fragments in their datagram's row", function()
      local output, stats = helper.run_file(fixture, { fragments = "attribute" })
      -- IPv4: + 1514 + 74 bytes, two more packets; IPv6: + 362 bytes and one packet, and its
      -- last time is the later fragment's
      assert.same({
        "10.1.2.3; 7000; 203.0.113.9; 7001; [UDP]; 1700000000137; 1700000002959; 3154; 4",
        "2001:db8:1::10; 53; 2001:db8:2::20; 40053; [UDP]; 1700000001548; 1700000001685; 1632; 2",
      }, helper.sorted_rows(output))
      assert.equals(3, stats.fragments_attributed)
      assert.equals(1, stats.skipped.fragment) -- its first fragment never came: unattributed
      assert.equals(6, stats.counted)
    end)

    it("attributes the same way whatever the number of parsers", function()
      local one = helper.run_file(fixture, { fragments = "attribute", parsers = 1 })
      local four = helper.run_file(fixture, { fragments = "attribute", parsers = 4 })
      assert.equals(helper.read_file(one), helper.read_file(four))
    end)

    it("refuses an unknown mode", function()
      assert.has_error(function() nasoone.new():set_fragments("reassemble") end)
    end)

    local shared = helper.shared_dir()
    local captures = { "zeek-ipv4-fragmented-1", "zeek-dns-edns-ecs", "zeek-ipv6-fragmented-dns",
      "sv-frag-eth-vlan-ip-tcp-syn", "tcpdump-afs" }
    for _, name in ipairs(captures) do
      it("moves fragments of " .. name .. " from skipped to their rows, nothing else", function()
        if not shared then
          pending("../shared/pcaps is not beside this checkout")
          return
        end
        local capture = shared .. "/pcaps/" .. name .. ".pcap"
        local skip_out, skip = helper.run_file(capture)
        local attr_out, attr = helper.run_file(capture, { fragments = "attribute" })
        assert.is_true(attr.fragments_attributed > 0)
        assert.equals(skip.counted + attr.fragments_attributed, attr.counted)
        assert.equals(skip.skipped.fragment, attr.skipped.fragment + attr.fragments_attributed)
        local function by_key(path)
          local rows = {}
          for _, row in ipairs(helper.sorted_rows(path)) do
            local key, packets = row:match("^(.-; %d+; .-; %d+);.*; (%d+)$")
            rows[key] = tonumber(packets)
          end
          return rows
        end
        local before, after = by_key(skip_out), by_key(attr_out)
        local added = 0
        for key, packets in pairs(after) do
          assert.is_not_nil(before[key], "attribution made a new row: " .. key)
          assert.is_true(packets >= before[key])
          added = added + packets - before[key]
        end
        for key in pairs(before) do assert.is_not_nil(after[key]) end
        assert.equals(attr.fragments_attributed, added)
      end)
    end
  end)

  describe("malformed packets", function()
    -- good flows around frames that lie about themselves
    local function good(i)
      return helper.frame { src = "192.0.2.1", dst = "192.0.2.2", sport = 1000 + i, dport = 80,
        payload = 10 }
    end
    local function ipv4_with(fields)
      local ip = helper.ip_packet { src = "192.0.2.9", dst = "192.0.2.8", sport = 9, dport = 9,
        proto = "UDP", payload = 20 }
      for offset, byte in pairs(fields) do
        ip = ip:sub(1, offset) .. string.char(byte) .. ip:sub(offset + 2)
      end
      return string.rep("\2", 6) .. string.rep("\4", 6) .. "\8\0" .. ip
    end
    local function ipv6_chain(count)
      -- `count` destination-options headers, each pointing to the next, never ending
      local ext = string.rep(string.pack(">I1I1", 60, 0) .. string.rep("\0", 6), count)
      return string.rep("\2", 6) .. string.rep("\4", 6) .. "\x86\xdd"
        .. string.pack(">I4I2I1I1", 0x60000000, #ext, 60, 64) .. string.rep("\1", 32) .. ext
    end
    local bad = {
      { "IPv4 header length 4", ipv4_with { [0] = 0x44 }, "invalid" },
      { "IPv4 header length 15, longer than the datagram", ipv4_with { [0] = 0x4f }, "invalid" },
      { "IPv4 total length below the header", ipv4_with { [2] = 0, [3] = 12 }, "invalid" },
      { "IPv4 total length beyond caplen", ipv4_with { [2] = 0x40, [3] = 0 }, nil },
      { "IPv4 version 5 behind 0x0800", ipv4_with { [0] = 0x55 }, "invalid" },
      { "endless IPv6 extension chain", ipv6_chain(200), "truncated" },
      { "VLAN tag bomb", string.rep("\2", 12) .. string.rep("\x81\0\0\1", 40) .. "\8\0"
        .. helper.ip_packet { src = "192.0.2.9", dst = "192.0.2.8", sport = 1, dport = 2 },
        "invalid" },
      { "frame of 3 bytes", "\1\2\3", "truncated" },
      { "empty frame", "", "truncated" },
    }

    it("skips each by reason and leaves every other flow exact", function()
      local packets, sec = {}, 1700000000
      for i, case in ipairs(bad) do
        packets[#packets + 1] = { sec = sec + i, data = good(i) }
        packets[#packets + 1] = { sec = sec + i, usec = 500, data = case[2] }
      end
      helper.write_pcap(dir .. "/bad.pcap", packets)
      local output, stats = helper.run_file(dir .. "/bad.pcap", { parsers = 2 })
      local rows = helper.sorted_rows(output)
      local expected = {}
      for i = 1, #bad do
        expected[#expected + 1] = ("192.0.2.1; %d; 192.0.2.2; 80; [TCP]; %d; %d; 64; 1")
          :format(1000 + i, (sec + i) * 1000, (sec + i) * 1000)
      end
      -- the one frame whose total length lies past the capture still counts, as in tshark
      expected[#expected + 1] = "192.0.2.9; 9; 192.0.2.8; 9; [UDP]; 1700000004000; 1700000004000; 62; 1"
      table.sort(expected)
      assert.same(expected, rows)
      local reasons = { invalid = 0, truncated = 0 }
      for _, case in ipairs(bad) do
        if case[3] then reasons[case[3]] = reasons[case[3]] + 1 end
      end
      assert.equals(reasons.invalid, stats.skipped.invalid)
      assert.equals(reasons.truncated, stats.skipped.truncated)
      assert.equals(#bad * 2, stats.received)
    end)
  end)

  describe("capture files", function()
    it("counts bytes from the wire length when the snaplen cut the frames", function()
      local frame = helper.frame { src = "192.0.2.1", dst = "192.0.2.2", sport = 1, dport = 2,
        payload = 1400 }
      helper.write_pcap(dir .. "/short.pcap", {
        { sec = 1, data = frame, caplen = 60 }, { sec = 2, data = frame, caplen = 60 } })
      local output = helper.run_file(dir .. "/short.pcap")
      assert.same({ "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 1000; 2000; 2908; 2" },
        helper.sorted_rows(output))
    end)

    it("reads pcapng with several interfaces of one link type", function()
      local a = helper.frame { src = "192.0.2.1", dst = "192.0.2.2", sport = 1, dport = 2 }
      local b = helper.frame { src = "192.0.2.3", dst = "192.0.2.4", sport = 3, dport = 4 }
      helper.write_pcapng(dir .. "/two.pcapng", {
        { linktype = 1 }, { linktype = 1 },
        { interface = 0, sec = 10, usec = 1, data = a },
        { interface = 1, sec = 11, usec = 2, data = b },
      })
      local output = helper.run_file(dir .. "/two.pcapng")
      assert.same({ "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 10000; 10000; 54; 1",
        "192.0.2.3; 3; 192.0.2.4; 4; [TCP]; 11000; 11000; 54; 1" }, helper.sorted_rows(output))
    end)

    it("reads pcapng interfaces of different link types (libpcap 1.10 refuses them)", function()
      local a = helper.frame { src = "192.0.2.1", dst = "192.0.2.2", sport = 1, dport = 2 }
      helper.write_pcapng(dir .. "/mixed.pcapng", {
        { linktype = 1 },
        { interface = 0, sec = 10, data = a },
        { linktype = 101 }, -- raw IP
        { interface = 1, sec = 11, data = a:sub(15) },
      })
      local output, stats = helper.run_file(dir .. "/mixed.pcapng")
      assert.is_nil(stats.error)
      assert.same({ "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 10000; 11000; 94; 2" },
        helper.sorted_rows(output))
    end)
  end)

  describe("TCP flags", function()
    it("are the OR of each row's TCP packets, 0 without TCP or where they were not captured", function()
      local function tcp(sport, flags)
        return helper.frame { src = "192.0.2.1", dst = "192.0.2.2", sport = sport, dport = 80, tcp_flags = flags }
      end
      local udp = helper.frame { src = "192.0.2.1", dst = "192.0.2.2", sport = 3, dport = 80, proto = "UDP" }
      local v6 = helper.frame { src = "2001:db8::1", dst = "2001:db8::2", sport = 4, dport = 80, tcp_flags = 0xc2 }
      helper.write_pcap(dir .. "/flags.pcap", {
        { sec = 1, data = tcp(1, 0x02) }, { sec = 2, data = tcp(1, 0x10) }, { sec = 3, data = tcp(1, 0x19) },
        { sec = 4, data = tcp(2, 0x04) },
        -- the same 4-tuple as TCP and UDP: the UDP packet adds no flag
        { sec = 5, data = tcp(3, 0x02) }, { sec = 6, data = udp },
        { sec = 7, data = v6 },
        -- cut one byte before the flags: the ports count, the flags are not known
        { sec = 8, data = tcp(5, 0x3f), caplen = 14 + 20 + 13 },
      })
      local rows = {}
      local cap = nasoone.new()
      assert(cap:set_capture_file(dir .. "/flags.pcap"))
      assert(cap:on_report(function(report) rows = report.rows end))
      assert(cap:set_output(dir .. "/flags.jsonl", { format = "jsonl" }))
      assert(cap:start())
      assert(cap:wait(20))
      assert(cap:stop())
      cap:close()
      local flags = {}
      for _, row in ipairs(rows) do flags[row.source_port] = row.tcp_flags end
      assert.same({ [1] = 0x1b, [2] = 0x04, [3] = 0x02, [4] = 0xc2, [5] = 0 }, flags)
      -- JSON lines: a row with TCP says its flags, a UDP row has none
      local report = helper.read_file(dir .. "/flags.jsonl")
      assert.matches('"source_port":1,[^\n]*"packets":3,"tcp_flags":27}', report)
      assert.matches('"source_port":3,[^\n]*"protocols":%["TCP","UDP"%][^\n]*"tcp_flags":2}', report)
      assert.matches('"source_port":5,[^\n]*"tcp_flags":0}', report)
    end)
  end)

  describe("the 5-tuple key", function()
    it("makes a row of every IP protocol, ICMP's type and code as its ports; 4-tuple is unchanged", function()
      local a, b, a6, b6 = "10.0.0.1", "10.0.0.2", "2001:db8::1", "2001:db8::2"
      local frames = {
        helper.frame { src = a, dst = b, sport = 40000, dport = 443 },                                  -- 54
        helper.frame { src = a, dst = b, sport = 40000, dport = 443, proto = "UDP", payload = 10 },     -- 52
        helper.frame { src = a, dst = b, proto = 1, l4 = "\8\0\0\0\0\1\0\1", payload = 56 },          -- 98
        helper.frame { src = b, dst = a, proto = 1, l4 = "\0\0\0\0\0\1\0\1", payload = 56 },          -- 98
        helper.frame { src = a, dst = b, proto = 1, l4 = "\3\3\0\0\0\0\0\0", payload = 28 },          -- 70
        helper.frame { src = a6, dst = b6, proto = 58, l4 = "\128\0\0\0\0\1\0\1" },                 -- 62
        helper.frame { src = a, dst = b, proto = 47, l4 = "\0\0\8\0", payload = 20 },                 -- 58
        helper.frame { src = a, dst = b, proto = 50, l4 = "\0\0\1\0\0\0\0\1", payload = 16 },        -- 58
        helper.frame { src = a, dst = b, proto = 132, l4 = string.pack(">I2I2I4I4", 5000, 6000, 1, 0) }, -- 46
        helper.frame { src = a, dst = b, proto = 1, l4 = "\8" },                        -- ICMP cut after its type
      }
      local packets = {}
      for i, data in ipairs(frames) do packets[i] = { sec = 100 + i, data = data } end
      helper.write_pcap(dir .. "/protocols.pcap", packets)
      local rows
      local cap = nasoone.new()
      assert(cap:set_capture_file(dir .. "/protocols.pcap"))
      assert.equals(cap, cap:set_flow_key("5-tuple"))
      assert(cap:set_output(dir .. "/five.csv"))
      assert(cap:on_report(function(report) rows = report.rows end))
      assert(cap:start())
      assert(cap:wait(20))
      local stats = assert(cap:stop())
      cap:close()
      assert.same({
        "10.0.0.1; 0; 10.0.0.2; 0; [ESP]; 108000; 108000; 58; 1",
        "10.0.0.1; 0; 10.0.0.2; 0; [GRE]; 107000; 107000; 58; 1",
        "10.0.0.1; 3; 10.0.0.2; 3; [ICMP]; 105000; 105000; 70; 1",
        "10.0.0.1; 40000; 10.0.0.2; 443; [TCP]; 101000; 101000; 54; 1",
        "10.0.0.1; 40000; 10.0.0.2; 443; [UDP]; 102000; 102000; 52; 1",
        "10.0.0.1; 5000; 10.0.0.2; 6000; [SCTP]; 109000; 109000; 46; 1",
        "10.0.0.1; 8; 10.0.0.2; 0; [ICMP]; 103000; 103000; 98; 1",
        "10.0.0.2; 0; 10.0.0.1; 0; [ICMP]; 104000; 104000; 98; 1",
        "2001:db8::1; 128; 2001:db8::2; 0; [ICMPv6]; 106000; 106000; 62; 1",
      }, helper.sorted_rows(dir .. "/five.csv"))
      assert.equals(9, stats.counted)
      assert.equals(1, stats.skipped.truncated) -- the ICMP frame cut before its code
      assert.equals(0, stats.skipped.not_tcp_udp)
      -- Lua rows: one protocol each, in the report's order (ports numerically; then the protocol)
      local protocols = {}
      for _, row in ipairs(rows) do protocols[#protocols + 1] = table.concat(row.protocols, ",") end
      assert.same({ "GRE", "ESP", "ICMP", "ICMP", "SCTP", "TCP", "UDP", "ICMP", "ICMPv6" }, protocols)
      -- view reads the 5-tuple report
      local status, stdout = cmd.run({ "view", dir .. "/five.csv" })
      assert.equals(0, status)
      assert.matches("\n10%.0%.0%.1:8%s+10%.0%.0%.2:0%s+ICMP%s", stdout)
      assert.matches("\n%[2001:db8::1%]:128%s+%[2001:db8::2%]:0%s+ICMPv6%s", stdout)
      -- the 4-tuple report of the same file: TCP and UDP only, as always
      local output, four = helper.run_file(dir .. "/protocols.pcap")
      assert.same({ "10.0.0.1; 40000; 10.0.0.2; 443; [TCP, UDP]; 101000; 102000; 106; 2" },
        helper.sorted_rows(output))
      assert.equals(8, four.skipped.not_tcp_udp + four.skipped.truncated)
      assert.has_error(function() nasoone.new():set_flow_key("6-tuple") end)
    end)
  end)
end)
