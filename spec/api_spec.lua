--- The Lua API: every call, every state move (allowed and not), and the errors a caller meets.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local function sample_capture(dir)
  local path = dir .. "/sample.pcap"
  helper.write_pcap(path, {
    { sec = 1672060821, usec = 867123, data = helper.frame {
      src = "140.82.112.22", dst = "192.168.1.20", sport = 443, dport = 53673, payload = 100 } },
    { sec = 1672060822, usec = 494999, data = helper.frame {
      src = "140.82.112.22", dst = "192.168.1.20", sport = 443, dport = 53673, payload = 10 } },
    { sec = 1672060822, usec = 910000, data = helper.frame {
      src = "192.168.1.2", dst = "224.0.0.251", sport = 51057, dport = 5353, proto = "UDP",
      payload = 42 } },
    { sec = 1672060823, usec = 0, data = helper.arp_frame() },
  })
  return path
end

--- A capture still being read long after start() returns (see helper.busy_capture), made once
-- and shared by the tests that need a capture to be running when they act on it.
local BUSY_PACKETS = 1024 * 1024
local busy
local function busy_capture()
  if not busy then
    local p = assert(io.popen("mktemp -d /tmp/nasoone-spec.XXXXXX"))
    local dir = p:read("l")
    p:close()
    busy = { dir = dir, path = dir .. "/busy.pcap" }
    busy.rows = helper.busy_capture(busy.path, BUSY_PACKETS)
  end
  return busy.path, busy.rows
end

--- Sum of the packets column of a report; every row must be one of `rows` (a busy capture's),
-- with at most its packets and their bytes.
local function report_packets(path, rows)
  local total = 0
  for _, line in ipairs(helper.sorted_rows(path)) do
    local key, bytes, packets = line:match("^(.-); %[UDP%]; %d+; %d+; (%d+); (%d+)$")
    assert(key and rows[key], "not a row of the capture: " .. line)
    packets, bytes = tonumber(packets), tonumber(bytes)
    assert.is_true(packets > 0 and packets <= rows[key].packets, line)
    assert.equals(rows[key].bytes // rows[key].packets * packets, bytes)
    total = total + packets
  end
  return total
end

local function expect_failure(pattern, ok, message)
  assert.is_nil(ok)
  assert.is_string(message)
  assert.matches("^nasoone: ", message)
  assert.matches(pattern, message)
end

describe("nasoone", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function()
    collectgarbage()
    helper.cleanup()
  end)
  teardown(function()
    if busy then os.execute("rm -rf '" .. busy.dir .. "'") end
  end)

  describe("the module under test", function()
    it("is this build's, even where another nasoone is installed", function()
      -- the same shared object: its C functions are the very ones nasoone.new is
      local core = assert(package.loadlib(helper.build_dir .. "/nasoone/core.so",
        "luaopen_nasoone_core"))()
      assert.equals(core.new, nasoone.new)
      assert.equals(core.new, require("nasoone.core").new)
      -- an unprivileged probe loads its own copy of this build, and only that
      local output, why = helper.unprivileged_probe([[
        local core = require("nasoone.core")
        print(package.path, package.cpath, package.searchpath("nasoone.core", package.cpath))]])
      if not output then return pending(why) end
      local path, cpath, file = output:match("^(%S+)\t(%S+)\t(%S+)\n$")
      assert(path, output)
      local probe_dir = file:match("^(.*)/nasoone/core%.so$")
      assert.equals(probe_dir .. "/?.lua", path)
      assert.equals(probe_dir .. "/?.so", cpath)
      assert.equals(helper.read_file(helper.build_dir .. "/nasoone/core.so"), helper.read_file(file))
    end)
  end)

  describe("new", function()
    it("starts in state initial, with no shared state between objects", function()
      local a, b = nasoone.new(), nasoone.new()
      assert.equals("initial", a:state())
      assert.equals("initial", b:state())
      assert.truthy(a:set_capture_file(sample_capture(dir)))
      assert.equals("runnable", a:state())
      assert.equals("initial", b:state())
      assert.matches("^nasoone.capture %(runnable%)", tostring(a))
    end)

    it("exposes the libpcap version", function()
      assert.matches("libpcap", nasoone.pcap_version)
    end)
  end)

  describe("set_capture_file", function()
    it("returns the capture for chaining and moves to runnable", function()
      local cap = nasoone.new()
      assert.equals(cap, cap:set_capture_file(sample_capture(dir)))
      assert.equals("runnable", cap:state())
    end)

    it("fails on a missing file", function()
      expect_failure("cannot open capture file .*/missing%.pcap: No such file or directory",
        nasoone.new():set_capture_file(dir .. "/missing.pcap"))
    end)

    it("fails on a folder", function()
      expect_failure("it is a directory", nasoone.new():set_capture_file(dir))
    end)

    it("fails on a FIFO whose writer closes it without writing a capture", function()
      assert(os.execute("mkfifo '" .. dir .. "/fifo'"))
      -- the writer: opens the FIFO (waiting for the capture to open it too) and closes it
      assert(os.execute("sh -c ': > \"$0\"' '" .. dir .. "/fifo' &"))
      expect_failure("fifo is empty, not a capture file", nasoone.new():set_capture_file(dir .. "/fifo"))
    end)

    it("fails on an empty file", function()
      helper.write_file(dir .. "/empty.pcap", "")
      expect_failure("empty%.pcap is empty, not a capture file",
        nasoone.new():set_capture_file(dir .. "/empty.pcap"))
    end)

    it("fails on a file that is not a capture", function()
      helper.write_file(dir .. "/notes.txt", "these are not packets, just some text\n")
      expect_failure("notes%.txt: unknown file format",
        nasoone.new():set_capture_file(dir .. "/notes.txt"))
    end)

    it("fails on an unreadable file", function()
      local path = dir .. "/secret.pcap"
      helper.write_file(path, helper.read_file(sample_capture(dir)))
      os.execute("chmod 000 '" .. path .. "'; chmod 755 '" .. dir .. "'")
      -- root reads anything: an unprivileged child interpreter tries to open it
      local message, why = helper.unprivileged_probe(
        ("print((select(2, require('nasoone').new():set_capture_file(%q))))"):format(path))
      if not message then return pending(why) end
      assert.matches("^nasoone: cannot open capture file .*secret%.pcap: Permission denied\n$",
        message)
    end)

    it("fails on a link type it cannot decode, naming it", function()
      helper.write_pcap(dir .. "/wifi.pcap", { { sec = 1, data = string.rep("\0", 40) } },
        { linktype = 105 })
      expect_failure("unsupported link type IEEE802_11 %(105%)",
        nasoone.new():set_capture_file(dir .. "/wifi.pcap"))
    end)

    it("keeps the previous source when the new one fails", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert.is_nil(cap:set_capture_file(dir .. "/missing.pcap"))
      assert.equals("runnable", cap:state())
      assert(cap:set_output(dir .. "/r.csv"))
      assert(cap:start())
      assert.is_true(cap:wait(10))
      assert.equals(4, cap:stop().received)
    end)

    it("raises on a wrong argument type", function()
      assert.has_error(function() nasoone.new():set_capture_file({}) end)
      assert.has_error(function() nasoone.new().set_capture_file("x", "y") end)
    end)
  end)

  describe("set_output", function()
    it("refuses an existing file", function()
      helper.write_file(dir .. "/old.csv", "keep me")
      expect_failure("output file .*/old%.csv already exists",
        nasoone.new():set_output(dir .. "/old.csv"))
      assert.equals("keep me", helper.read_file(dir .. "/old.csv"))
    end)

    it("refuses a missing folder", function()
      expect_failure("output folder .*/nope does not exist",
        nasoone.new():set_output(dir .. "/nope/report.csv"))
    end)

    it("refuses at start a file that appeared after set_output, and keeps it", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_output(dir .. "/late.csv"))
      helper.write_file(dir .. "/late.csv", "someone else's")
      expect_failure("cannot create output file .*late%.csv: it already exists", cap:start())
      assert.equals("runnable", cap:state())
      assert.equals("someone else's", helper.read_file(dir .. "/late.csv"))
    end)
  end)

  describe("set_timeout", function()
    it("accepts seconds > 0, fractions included", function()
      local cap = nasoone.new()
      assert.equals(cap, cap:set_timeout(0.25))
      assert.equals(cap, cap:set_timeout(3))
    end)

    it("raises on zero, negative and non-finite values (misuse)", function()
      for _, v in ipairs({ 0, -1, 0 / 0, math.huge }) do
        assert.error_matches(function() nasoone.new():set_timeout(v) end,
          "bad argument #1 to 'set_timeout' %(the report interval must be > 0")
      end
    end)

    it("raises on a non-number", function()
      assert.has_error(function() nasoone.new():set_timeout("soon") end)
    end)
  end)

  describe("set_parsers", function()
    it("accepts 1 to 64 and raises on the rest (misuse)", function()
      assert.truthy(nasoone.new():set_parsers(1))
      assert.truthy(nasoone.new():set_parsers(64))
      for _, n in ipairs({ 0, 65 }) do
        assert.error_matches(function() nasoone.new():set_parsers(n) end,
          "bad argument #1 to 'set_parsers' %(the parser count must be from 1 to 64%)")
      end
      assert.has_error(function() nasoone.new():set_parsers(1.5) end)
    end)
  end)

  describe("metrics", function()
    --- The samples of Prometheus text: { ["name{labels}"] = value }.
    local function samples(text)
      local out = {}
      for line in text:gmatch("[^\n]+") do
        if line:sub(1, 1) ~= "#" then
          local key, value = line:match("^(%S+) (%S+)$")
          assert(key, "not a sample line: " .. line)
          out[key] = tonumber(value)
        end
      end
      return out
    end

    it("renders stats as Prometheus text, each sample the stats' value; promtool accepts it", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_output(dir .. "/report.csv"))
      assert(cap:add_export("jsonl", dir .. "/flows.jsonl"))
      assert(cap:start())
      assert(cap:wait(20))
      local stats = cap:stats()
      local text = nasoone.metrics(stats, { capture = 'wan"1"\\' })
      local got = samples(text)
      local l = 'capture="wan\\"1\\"\\\\"'
      assert.equals(stats.received, got["nasoone_packets_received_total{" .. l .. "}"])
      assert.equals(stats.counted, got["nasoone_packets_counted_total{" .. l .. "}"])
      for reason, n in pairs(stats.skipped) do
        assert.equals(n, got[("nasoone_packets_skipped_total{%s,reason=\"%s\"}"):format(l, reason)], reason)
      end
      assert.equals(stats.flows, got["nasoone_report_rows{" .. l .. "}"])
      assert.equals(stats.records, got["nasoone_records_total{" .. l .. "}"])
      assert.equals(stats.exports[1].sent, got[("nasoone_export_records_sent_total{%s,export=\"1\",kind=\"jsonl\","
        .. "target=\"%s\"}"):format(l, dir .. "/flows.jsonl")])
      assert.equals(1, got["nasoone_state{" .. l .. ",state=\"finished\"}"])
      assert.equals(0, got["nasoone_state{" .. l .. ",state=\"running\"}"])
      assert.equals(0, got["nasoone_error{" .. l .. "}"])
      -- every family has its HELP and TYPE, and counters end in _total
      for name, kind in text:gmatch("# TYPE (%S+) (%S+)") do
        assert.matches("# HELP " .. name .. " ", text, 1, true)
        if kind == "counter" then assert.matches("_total$", name) end
      end
      assert.same(samples(text), samples(nasoone.metrics(stats, { capture = 'wan"1"\\' })))
      assert(cap:stop())
      assert.equals(1, samples(cap:metrics())['nasoone_state{state="stopped"}'])
      cap:close()
      if os.execute("command -v promtool >/dev/null") then
        helper.write_file(dir .. "/metrics.prom", text)
        assert.is_true(os.execute(("promtool check metrics < '%s'"):format(dir .. "/metrics.prom")))
      end
      assert.error_matches(function() nasoone.metrics(stats, { ["bad name"] = 1 }) end,
        "label name \"bad name\" is not a Prometheus name")
    end)
  end)

  describe("community_id", function()
    -- The Community ID specification's baseline (github.com/corelight/community-id-spec,
    -- baseline/baseline_deflt.json and baseline_seed1.json): protocol, source, its port,
    -- destination, its port (ICMP: the type, and the code or the type's counterpart), the ID with
    -- seed 0 and with seed 1.
    -- luacheck: push ignore 631 (the vectors' lines are long)
    local BASELINE = {
    { "ICMPv6", "fe80::200:86ff:fe05:80da", 135, "fe80::260:97ff:fe07:69ea", 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
    { "ICMPv6", "fe80::260:97ff:fe07:69ea", 136, "fe80::200:86ff:fe05:80da", 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
    { "ICMPv6", "fe80::260:97ff:fe07:69ea", 135, "fe80::200:86ff:fe05:80da", 136, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
    { "ICMPv6", "fe80::200:86ff:fe05:80da", 136, "fe80::260:97ff:fe07:69ea", 135, "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
    { "ICMPv6", "3ffe:501:1800:2345::2", 3, "3ffe:507:0:1:200:86ff:fe05:80da", 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=" },
    { "ICMPv6", "3ffe:501:410:0:2c0:dfff:fe47:33e", 1, "3ffe:507:0:1:200:86ff:fe05:80da", 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=" },
    { "ICMPv6", "3ffe:507:0:1:200:86ff:fe05:80da", 128, "3ffe:501:0:1001::2", 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
    { "ICMPv6", "3ffe:501:0:1001::2", 129, "3ffe:507:0:1:200:86ff:fe05:80da", 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
    { "ICMPv6", "fe80::200:86ff:fe05:80da", 133, "ff02::2", 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=" },
    { "ICMPv6", "fe80::260:97ff:fe07:69ea", 134, "ff02::1", 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=" },
    { "ICMP", "192.168.0.89", 8, "192.168.0.1", 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
    { "ICMP", "192.168.0.1", 0, "192.168.0.89", 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
    { "ICMP", "10.0.0.1", 11, "10.0.0.2", 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=" },
    { "TCP", "2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    { "TCP", "2607:f8b0:400c:c03::1a", 25, "2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
    { "SCTP", "192.168.170.8", 7, "192.168.170.56", 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
    { "SCTP", "192.168.170.56", 7, "192.168.170.8", 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
    { "TCP", "128.232.110.120", 34855, "66.35.250.204", 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
    { "TCP", "66.35.250.204", 80, "128.232.110.120", 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
    { "UDP", "192.168.1.52", 54585, "8.8.8.8", 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
    { "UDP", "8.8.8.8", 53, "192.168.1.52", 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
    { "46", "10.1.12.1", 0, "10.1.12.2", 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
    { "46", "10.1.12.2", 0, "10.1.12.1", 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI=" },
    }
    -- luacheck: pop

    it("gives the specification's baseline, seed 0 and 1", function()
      for i, v in ipairs(BASELINE) do
        local row = { protocols = { v[1] }, source_ip = v[2], source_port = v[3], destination_ip = v[4],
          destination_port = v[5] }
        assert.equals(v[6], nasoone.community_id(row), "vector " .. i)
        assert.equals(v[7], nasoone.community_id(row, 1), "vector " .. i .. ", seed 1")
      end
    end)

    it("joins both directions of a 5-tuple report's flows; refuses a 4-tuple row", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      assert(cap:set_flow_key("5-tuple"))
      assert.equals(cap, cap:set_community_id(true))
      local rows, records = nil, {}
      assert(cap:on_report(function(report) rows = report.rows end))
      assert(cap:on_flows(function(batch) for _, r in ipairs(batch) do records[#records + 1] = r end end))
      assert(cap:start())
      assert(cap:wait(20))
      assert(cap:stop())
      cap:close()
      local ids = {}
      assert.is_true(#records > 0)
      for _, r in ipairs(records) do assert.equals(nasoone.community_id(r), r.community_id) end
      for _, r in ipairs(rows) do
        local id = assert(nasoone.community_id(r))
        assert.matches("^1:[%w+/]+=$", id)
        assert.equals(id, r.community_id) -- the field set_community_id asks for
        local p = r.protocols[1]
        local forward = table.concat({ r.source_ip, r.source_port, r.destination_ip, r.destination_port, p }, " ")
        local reverse = table.concat({ r.destination_ip, r.destination_port, r.source_ip, r.source_port, p }, " ")
        ids[forward] = id
        if ids[reverse] then assert.equals(ids[reverse], id, forward) end
      end
      assert.equals(ids["140.82.112.22 443 192.168.1.20 53674 TCP"], ids["192.168.1.20 53674 140.82.112.22 443 TCP"])
      local ok, err = nasoone.community_id({ protocols = { "TCP", "UDP" }, source_ip = "10.0.0.1", source_port = 1,
        destination_ip = "10.0.0.2", destination_port = 2 })
      assert.is_nil(ok)
      assert.equals("nasoone: not a 5-tuple row (protocols must name its one protocol)", err)
      assert.error_matches(function() nasoone.community_id({}, 70000) end, "a seed from 0 to 65535 expected")
      -- a 4-tuple report has none
      local four
      cap = nasoone.new()
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      assert(cap:set_community_id(true, 1))
      assert(cap:on_report(function(report) four = report.rows end))
      assert(cap:start())
      assert(cap:wait(20))
      assert(cap:stop())
      cap:close()
      for _, r in ipairs(four) do assert.is_nil(r.community_id) end
    end)
  end)

  describe("set_packet_limit", function()
    it("ends the input after that many packets, as a file ends; 0 is no limit", function()
      local capture = sample_capture(dir)
      for _, limit in ipairs({ 1, 3, 4, 0 }) do
        local cap = nasoone.new()
        assert(cap:set_capture_file(capture))
        assert.equals(cap, cap:set_packet_limit(limit))
        local rows
        assert(cap:on_report(function(report) rows = report.rows end))
        assert(cap:start())
        assert(cap:wait(20))
        assert.equals("finished", cap:state())
        local stats = assert(cap:stop())
        assert.equals(limit == 0 and 4 or limit, stats.received)
        local packets = 0
        for _, row in ipairs(rows) do packets = packets + row.packets end
        assert.equals(stats.counted, packets)
        cap:close()
      end
      assert.error_matches(function() nasoone.new():set_packet_limit(-1) end,
        "bad argument #1 to 'set_packet_limit' %(the packet limit must be 0 %(none%) or more%)")
    end)
  end)

  describe("filters", function()
    it("needs a capture source first (it is compiled for the link type)", function()
      expect_failure("set the capture file or device before the filter",
        nasoone.new():set_raw_filter("tcp"))
    end)

    it("reports libpcap's message for a bad expression, at once", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      expect_failure("bad filter 'tcp port banana': ", cap:set_raw_filter("tcp port banana"))
    end)

    it("filters what is read", function()
      local output, stats = helper.run_file(sample_capture(dir), { filter = "udp" })
      assert.equals(1, stats.received)
      assert.same({ helper.header,
        "192.168.1.2; 51057; 224.0.0.251; 5353; [UDP]; 1672060822910; 1672060822910; 84; 1" },
        helper.report_lines(output))
    end)

  end)

  describe("state machine", function()
    local function runnable()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_output(dir .. "/report-" .. tostring(cap):match("0x%x+") .. ".csv"))
      return cap
    end

    it("refuses moves from initial, naming the state", function()
      local cap = nasoone.new()
      expect_failure("cannot start in state 'initial': set a capture file or device first",
        cap:start())
      expect_failure("cannot pause in state 'initial'", cap:pause())
      expect_failure("cannot resume in state 'initial'", cap:resume())
      expect_failure("cannot stop in state 'initial'", cap:stop())
    end)

    it("refuses pause, resume and stop before start", function()
      local cap = runnable()
      expect_failure("cannot pause in state 'runnable'", cap:pause())
      expect_failure("cannot resume in state 'runnable'", cap:resume())
      expect_failure("cannot stop in state 'runnable'", cap:stop())
    end)

    it("needs an output, on_report, on_flows or an export to start", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      expect_failure("call set_output, on_report, on_flows or add_export before start",
        cap:start())
    end)

    it("goes running -> paused -> running -> finished -> stopped", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file((busy_capture())))
      assert(cap:set_output(dir .. "/r.csv"))
      assert.equals(cap, cap:start())
      assert.equals("running", cap:state()) -- a million packets are not read in a moment
      assert.equals(cap, cap:pause())
      assert.equals("paused", cap:state())
      expect_failure("cannot pause in state 'paused'", cap:pause())
      expect_failure("cannot start in state 'paused'", cap:start())
      assert.equals(cap, cap:resume())
      expect_failure("cannot resume in state 'running'", cap:resume())
      assert.is_true(cap:wait(60))
      assert.equals("finished", cap:state())
      expect_failure("cannot pause in state 'finished'", cap:pause())
      expect_failure("cannot resume in state 'finished'", cap:resume())
      expect_failure("cannot start in state 'finished'", cap:start())
      local stats = cap:stop()
      assert.equals("stopped", cap:state())
      assert.equals("stopped", stats.state)
      assert.equals(BUSY_PACKETS, stats.received) -- the pause lost nothing
      expect_failure("cannot stop in state 'stopped'", cap:stop())
      expect_failure("cannot start in state 'stopped'", cap:start())
      expect_failure("cannot set the capture file in state 'stopped'",
        cap:set_capture_file(sample_capture(dir)))
    end)

    it("stays paused, reading no further, until resumed, then reads the file to its end", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file((busy_capture())))
      assert(cap:set_output(dir .. "/r.csv"))
      assert(cap:set_timeout(0.01))
      assert(cap:start())
      assert.equals(cap, cap:pause())
      -- at most the read in flight at the pause ends (4096 packets at a time)
      os.execute("sleep 0.05")
      local read = cap:total_packets()
      os.execute("sleep 0.2") -- the whole file takes less than this
      assert.equals("paused", cap:state())
      assert.equals(read, cap:total_packets())
      assert.is_true(read < BUSY_PACKETS)
      assert.is_false(cap:wait(0))
      -- nobody else could resume it: waiting for the end would never end
      expect_failure("cannot wait without a timeout in state 'paused': resume first", cap:wait())
      assert.equals(cap, cap:resume())
      assert.is_true(cap:wait(60))
      assert.equals("finished", cap:state())
      assert.equals(BUSY_PACKETS, cap:stop().received)
    end)

    it("refuses setters once started", function()
      local cap = runnable()
      assert(cap:start())
      cap:wait(10)
      expect_failure("cannot set the output in state 'finished'", cap:set_output(dir .. "/x"))
      expect_failure("cannot set the interval in state 'finished'", cap:set_timeout(1))
      expect_failure("cannot set a filter in state 'finished'", cap:set_raw_filter("tcp"))
      expect_failure("cannot set the parser count in state 'finished'", cap:set_parsers(2))
      expect_failure("cannot change on_report in state 'finished'", cap:on_report(print))
      cap:stop()
    end)
  end)

  describe("a run", function()
    it("writes the report with exact rows, times truncated to ms and wire lengths", function()
      local output, stats = helper.run_file(sample_capture(dir))
      assert.same({ helper.header,
        "140.82.112.22; 443; 192.168.1.20; 53673; [TCP]; 1672060821867; 1672060822494; 218; 2",
        "192.168.1.2; 51057; 224.0.0.251; 5353; [UDP]; 1672060822910; 1672060822910; 84; 1",
      }, helper.report_lines(output))
      assert.equals(4, stats.received)
      assert.equals(3, stats.counted)
      assert.equals(1, stats.skipped_total)
      assert.same({ not_ip = 1, not_tcp_udp = 0, fragment = 0, truncated = 0, invalid = 0,
        unsupported_link = 0 },
        stats.skipped)
      assert.equals(2, stats.flows)
      assert.is_false(stats.file_truncated)
      assert.is_nil(stats.error)
      assert.equals(0, stats.dropped)
    end)

    it("counts packets with total_packets and stats at any time", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_output(dir .. "/r.csv"))
      assert.equals(0, cap:total_packets())
      assert.equals(0, cap:stats().received)
      assert(cap:start())
      cap:wait(10)
      assert.equals(4, cap:total_packets())
      assert.equals(4, cap:stats().received)
      cap:stop()
    end)

    it("reports a capture cut in the middle of a record, keeping every packet before", function()
      local whole = helper.read_file(sample_capture(dir))
      helper.write_file(dir .. "/cut.pcap", whole:sub(1, #whole - 20))
      local output, stats = helper.run_file(dir .. "/cut.pcap")
      assert.is_true(stats.file_truncated)
      assert.matches("^nasoone: reading .*cut%.pcap: truncated dump file", stats.error)
      assert.equals(3, stats.received)
      assert.same({ helper.header,
        "140.82.112.22; 443; 192.168.1.20; 53673; [TCP]; 1672060821867; 1672060822494; 218; 2",
        "192.168.1.2; 51057; 224.0.0.251; 5353; [UDP]; 1672060822910; 1672060822910; 84; 1",
      }, helper.report_lines(output))
    end)

    it("reports a capture cut inside its file header as not a capture", function()
      local whole = helper.read_file(sample_capture(dir))
      helper.write_file(dir .. "/stub.pcap", whole:sub(1, 10))
      expect_failure("stub%.pcap: truncated dump file",
        nasoone.new():set_capture_file(dir .. "/stub.pcap"))
    end)

    it("writes a header-only report for a capture with no packets", function()
      helper.write_pcap(dir .. "/none.pcap", {})
      local output, stats = helper.run_file(dir .. "/none.pcap")
      assert.equals(0, stats.received)
      assert.same({ helper.header }, helper.report_lines(output))
    end)

    it("keeps the last complete report when the disk is full, and says why", function()
      local small = helper.tmpdir()
      if not os.execute("mount -t tmpfs -o size=16k nasoone-spec '" .. small .. "' 2>/dev/null") then
        pending("mounting a 16 KiB tmpfs needs root: the full-disk case is not run here")
        return
      end
      finally(function() os.execute("umount '" .. small .. "'") end)
      local big = dir .. "/big.pcap"
      helper.synthetic_capture(big, 5000, 1000) -- a report of ~90 KB: does not fit
      local output = small .. "/report.csv"
      local cap = nasoone.new()
      assert(cap:set_capture_file(big))
      assert(cap:set_output(output))
      assert(cap:start())
      -- a final report that did not reach the disk is an error, from wait and from stop
      local message = "nasoone: the final report was not written (cannot write the report "
        .. output .. ": No space left on device)"
      local over, err = cap:wait(60)
      assert.is_true(over)
      assert.equals(message, err)
      local stats
      stats, err = cap:stop()
      assert.is_nil(stats)
      assert.equals(message, err)
      stats = cap:stats()
      assert.equals("stopped", stats.state)
      assert.equals(message, stats.error)
      assert.equals("nasoone: cannot write the report " .. output .. ": No space left on device",
        stats.write_error)
      assert.is_false(stats.report_current)
      assert.equals(5000, stats.received)
      assert.same({ helper.header }, helper.report_lines(output)) -- the last complete one
      local listing = io.popen("ls -A '" .. small .. "'"):read("a")
      assert.equals("report.csv\n", listing) -- no temporary file left behind
    end)

    it("creates the report with the header as soon as it starts", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_output(dir .. "/r.csv"))
      assert(cap:set_timeout(60))
      assert(cap:start())
      assert.equals(helper.header, helper.report_lines(dir .. "/r.csv")[1])
      cap:stop()
    end)
  end)

  describe("on_report", function()
    it("runs on the calling thread with the same rows as the file, the last one final", function()
      local reports = {}
      local output = helper.run_file(sample_capture(dir), {
        on_report = function(report) reports[#reports + 1] = report end,
      })
      assert.is_true(#reports >= 1)
      local last = reports[#reports]
      assert.is_true(last.final)
      for i = 1, #reports - 1 do assert.is_false(reports[i].final) end
      assert.same({
        source_ip = "140.82.112.22", source_port = 443, destination_ip = "192.168.1.20",
        destination_port = 53673, protocols = { "TCP" }, first = 1672060821867,
        last = 1672060822494, bytes = 218, packets = 2, ip_bytes = 190, tcp_flags = 24,
      }, last.rows[1])
      local lines = helper.report_lines(output)
      assert.equals(#lines - 1, #last.rows)
      for i, row in ipairs(last.rows) do
        local text = ("%s; %d; %s; %d; [%s]; %d; %d; %d; %d"):format(row.source_ip,
          row.source_port, row.destination_ip, row.destination_port,
          table.concat(row.protocols, ", "), row.first, row.last, row.bytes, row.packets)
        assert.equals(lines[i + 1], text)
      end
    end)

    it("alone is enough to start, without an output file", function()
      local cap = nasoone.new()
      local final
      assert(cap:set_capture_file(sample_capture(dir)))
      assert.equals(cap, cap:on_report(function(r) final = r end))
      assert(cap:start())
      assert.is_true(cap:wait(10))
      cap:stop()
      assert.is_true(final.final)
      assert.equals(2, #final.rows)
    end)

    it("passes an error raised in the callback to the caller of wait", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      cap:on_report(function() error("callback exploded") end)
      assert(cap:start())
      local ok, err = pcall(cap.wait, cap, 10)
      assert.is_false(ok)
      assert.matches("callback exploded", err)
      cap:stop()
    end)

    it("passes an error raised in the callback to the caller of stop, after stopping", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_timeout(60))
      cap:on_report(function() error("late failure") end)
      assert(cap:start())
      local ok, err = pcall(cap.stop, cap)
      assert.is_false(ok)
      assert.matches("late failure", err)
      assert.equals("stopped", cap:state())
    end)

    it("raises for a non-function", function()
      assert.has_error(function() nasoone.new():on_report(42) end)
    end)
  end)

  describe("wait, poll and fd", function()
    it("wait returns false when the time runs out, true once finished", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(sample_capture(dir)))
      assert(cap:set_output(dir .. "/r.csv"))
      expect_failure("cannot wait in state 'runnable': start the capture first", cap:wait())
      expect_failure("cannot poll in state 'initial'", nasoone.new():poll())
      assert(cap:start())
      assert.is_true(cap:wait(math.huge))
      assert.is_true(cap:wait(0))
      assert.is_true(cap:poll())
      cap:stop()
      assert.is_true(cap:poll())
    end)

    it("fd becomes readable when a report is pending, and poll drains it", function()
      local cap = nasoone.new()
      local seen = 0
      assert(cap:set_capture_file(sample_capture(dir)))
      cap:on_report(function() seen = seen + 1 end)
      local fd = cap:fd()
      assert.is_true(math.type(fd) == "integer" and fd >= 0)
      assert(cap:start())
      while not cap:poll() do os.execute("sleep 0.01") end
      assert.is_true(seen >= 1)
      cap:stop()
    end)

    it("returns from wait when a callback pauses the capture", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file((busy_capture())))
      assert(cap:set_timeout(0.001)) -- the first report comes long before the end of the file
      local calls, paused, final = 0, nil, nil
      cap:on_report(function(report)
        calls = calls + 1
        if calls == 1 then paused, final = cap:pause(), report.final end
      end)
      assert(cap:start())
      local ok, message = cap:wait()
      assert.equals(1, calls)
      assert.is_false(final)
      assert.equals(cap, paused)
      assert.is_nil(ok)
      assert.equals("nasoone: cannot wait without a timeout in state 'paused': resume first",
        message)
      assert.equals("paused", cap:state())
      assert.equals(cap, cap:resume())
      cap:stop() -- later callbacks do not pause: the first one did
    end)

    it("raises on a negative wait", function()
      assert.has_error(function() nasoone.new():wait(-1) end)
    end)
  end)

  describe("close, __close and __gc", function()
    it("close is idempotent and later calls say the capture is closed", function()
      local cap = nasoone.new()
      cap:close()
      cap:close()
      assert.equals("closed", cap:state())
      assert.has_error(function() cap:start() end, "nasoone: the capture is closed")
    end)

    it("__close of a finished capture joins its threads and keeps the final report", function()
      local output = dir .. "/r.csv"
      do
        local cap <close> = nasoone.new()
        assert(cap:set_capture_file(sample_capture(dir)))
        assert(cap:set_output(output))
        assert(cap:set_timeout(60))
        assert(cap:start())
        assert.is_true(cap:wait(10))
      end
      assert.equals(3, #helper.report_lines(output))
    end)

    it("a collected running or paused capture stops and leaves a complete report", function()
      local path, rows = busy_capture()
      for _, pause in ipairs({ false, true }) do
        local output = dir .. "/r" .. tostring(pause) .. ".csv"
        local counted
        do
          local cap = nasoone.new()
          assert(cap:set_capture_file(path))
          assert(cap:set_output(output))
          assert(cap:set_timeout(60))
          assert(cap:start())
          local deadline = os.time() + 10
          while cap:stats().counted == 0 and os.time() < deadline do cap:wait(0.001) end
          if pause then
            assert.equals(cap, cap:pause())
            -- settled: the read in flight at the pause has ended and every packet it read is
            -- counted, for three checks in a row
            local settled = 0
            while settled < 3 and os.time() < deadline do
              local s = cap:stats()
              settled = (s.counted == counted and s.counted == s.received) and settled + 1 or 0
              counted = s.counted
              cap:wait(0.02)
            end
            assert.equals(3, settled)
            assert.equals("paused", cap:state())
          else
            assert.equals("running", cap:state())
            counted = cap:stats().counted
          end
        end
        assert.is_true(counted > 0 and counted < BUSY_PACKETS)
        collectgarbage()
        collectgarbage()
        -- everything counted before the stop is in the report, in whole rows of the capture
        local total = report_packets(output, rows)
        if pause then
          assert.equals(counted, total) -- and nothing else: a paused file is not read
        else
          assert.is_true(total >= counted and total <= BUSY_PACKETS)
        end
      end
    end)
  end)

  describe("devices", function()
    it("lists devices with addresses and flags, and names a default one", function()
      local devices = assert(nasoone.devices(true))
      assert.is_table(devices)
      local lo
      for _, d in ipairs(devices) do
        assert.is_string(d.name)
        assert.is_table(d.addresses)
        assert.is_boolean(d.flags.up)
        if d.flags.loopback then lo = d end
      end
      if lo then
        local has_ipv4 = false
        for _, a in ipairs(lo.addresses) do
          if a.family == "inet" and a.address == "127.0.0.1" then has_ipv4 = true end
        end
        assert.is_true(has_ipv4)
      end
      -- the default is the first listed device that is up and not a loopback, else the first
      local expected
      for _, d in ipairs(devices) do
        if d.flags.up and not d.flags.loopback then expected = d.name break end
      end
      expected = expected or (devices[1] and devices[1].name)
      local name, message = nasoone.default_device()
      if expected then
        assert.equals(expected, name)
      else
        assert.is_nil(name)
        assert.equals("nasoone: no capture device found", message)
      end
    end)
  end)

  describe("the report's format", function()
    it("report_header is the CSV report's first line", function()
      local output = helper.run_file("examples/data/sample.pcap")
      assert.equals(nasoone.report_header, helper.report_lines(output)[1])
    end)

    it("report_key orders rows as the report does, one key per address however spelled",
      function()
        local rows
        local cap = nasoone.new()
        assert(cap:set_capture_file("spec/fixtures/pppoe-mpls-ethernet.pcap")) -- IPv4 and IPv6
        assert(cap:on_report(function(report) rows = report.rows end))
        assert(cap:start())
        assert(cap:wait(60))
        assert(cap:stop())
        cap:close()
        assert.is_true(#rows > 1)
        local previous
        for _, r in ipairs(rows) do
          local key = nasoone.report_key(r.source_ip, r.source_port, r.destination_ip,
            r.destination_port)
          assert.equals(38, #key)
          if previous then assert.is_true(previous < key, r.source_ip) end
          previous = key
        end
        -- IPv4 before IPv6, addresses as numbers, ports as numbers
        local k = nasoone.report_key
        assert.is_true(k("255.255.255.255", 65535, "1.1.1.1", 1) < k("::", 0, "::", 0))
        assert.is_true(k("9.0.0.1", 1, "1.1.1.1", 1) < k("10.0.0.1", 1, "1.1.1.1", 1))
        assert.is_true(k("10.0.0.1", 9, "1.1.1.1", 1) < k("10.0.0.1", 10, "1.1.1.1", 1))
        assert.equals(k("2001:DB8::1", 1, "2001:db8:0:0::2", 2), k("2001:db8::1", 1, "2001:db8::2", 2))
        assert.is_nil(k("not an address", 1, "1.1.1.1", 1))
        assert.is_nil(k("1.1.1.1", 1, "::1", 1)) -- one family per row
        -- 5-tuple rows: the protocol last, by number; a 4-tuple row's key before them
        assert.is_true(k("10.0.0.1", 1, "1.1.1.1", 1) < k("10.0.0.1", 1, "1.1.1.1", 1, "ICMP"))
        assert.is_true(k("10.0.0.1", 1, "1.1.1.1", 1, "TCP") < k("10.0.0.1", 1, "1.1.1.1", 1, "UDP"))
        assert.equals(k("10.0.0.1", 1, "1.1.1.1", 1, 47), k("10.0.0.1", 1, "1.1.1.1", 1, "GRE"))
        assert.has_error(function() nasoone.report_key("10.0.0.1", 1, "1.1.1.1", 1, "XYZ") end,
          'bad argument #5 to \'report_key\' (an IP protocol (a name such as "ICMP", or 1 to 255) expected)')
        assert.has_error(function() nasoone.report_key("1.1.1.1", 65536, "1.1.1.1", 1) end,
          "bad argument #2 to 'report_key' (a port from 0 to 65535 expected)")
      end)
  end)
end)
