--- Live capture on real interfaces: a veth pair whose peer end lives in a network namespace
-- made here (traffic replayed from it with tcpreplay), and loopback. Needs root, iproute2 and
-- tcpreplay; without them every test says pending. The traffic stays on the pair, between the
-- two addresses given to its ends (10.213.0.2 the peer, 10.213.0.1 this end: the frames of
-- spec/fixtures/live.pcap), and on 127.0.0.1 between two free ports chosen at random for each
-- test, with a filter naming both: other traffic on lo is never counted.
local helper = require("spec.helper")
local nasoone = require("nasoone")
local system = require("system") -- luasystem, a busted dependency: a monotonic clock

local function sh(command)
  local ok = os.execute(command .. " >/dev/null 2>&1")
  return ok == true
end

local function now_ms() return system.gettime() * 1000 end

local free_udp_ports = helper.free_udp_ports

--- A BPF filter for the datagrams from port `from` to port `to` on 127.0.0.1, and no others.
local function loopback_filter(from, to)
  return ("udp and src host 127.0.0.1 and dst host 127.0.0.1 and src port %d and dst port %d")
    :format(from, to)
end

--- Runs the capture's callbacks until stats field `field` reaches `count`, 5 s at most (the
-- assertions after it say what was missing).
local function wait_stats(cap, field, count)
  local deadline = now_ms() + 5000
  while cap:stats()[field] < count and now_ms() < deadline do cap:wait(0.02) end
end

describe("live capture #live", function()
  local usable, why = true, nil
  if not helper.is_root() then
    usable, why = false, "live captures need root (CAP_NET_RAW and network namespaces)"
  elseif not sh("command -v ip") or not sh("command -v tcpreplay") then
    usable, why = false, "live captures need iproute2 and tcpreplay"
  end

  -- names unique to this run: interface names have at most 15 characters
  local tag = tostring(math.random(10000, 99999))
  local namespace, here, peer = "nasoone-" .. tag, "nsa" .. tag, "nsb" .. tag
  -- a second pair in the same namespace, for captures of several devices
  local here2, peer2 = "nsc" .. tag, "nsd" .. tag
  local dir

  local function make_pair()
    -- `peer` is the sender's end. Without IPv6 the kernel adds no traffic of its own, and the
    -- replayed frames are addressed to another MAC than `here`'s, so it does not answer them.
    return sh("ip link add " .. here .. " type veth peer name " .. peer)
      and sh("ip link set " .. peer .. " netns " .. namespace)
      and sh("sysctl -qw net.ipv6.conf." .. here .. ".disable_ipv6=1")
      and sh("ip netns exec " .. namespace .. " sysctl -qw net.ipv6.conf." .. peer .. ".disable_ipv6=1")
      and sh("ip addr add 10.213.0.1/30 dev " .. here)
      and sh("ip netns exec " .. namespace .. " ip addr add 10.213.0.2/30 dev " .. peer)
      and sh("ip link set " .. here .. " up")
      and sh("ip netns exec " .. namespace .. " ip link set " .. peer .. " up")
  end

  local FIXTURE, EXPECTED = "spec/fixtures/live.pcap", "spec/fixtures/live.expected.csv"
  -- spec/fixtures/live.pcap: 23 frames, 20 counted in 7 rows; 1 ARP, 1 ICMP, 1 later fragment

  setup(function()
    if not usable then return end
    if not (sh("ip netns add " .. namespace) and make_pair()) then
      usable, why = false, "could not create a network namespace with a veth pair"
    end
  end)

  --- The second pair (10.213.1.0/30), made once when a test needs it.
  local second_pair
  local function make_second_pair()
    if second_pair == nil then
      second_pair = sh("ip link add " .. here2 .. " type veth peer name " .. peer2)
        and sh("ip link set " .. peer2 .. " netns " .. namespace)
        and sh("sysctl -qw net.ipv6.conf." .. here2 .. ".disable_ipv6=1")
        and sh("ip netns exec " .. namespace .. " sysctl -qw net.ipv6.conf." .. peer2 .. ".disable_ipv6=1")
        and sh("ip addr add 10.213.1.1/30 dev " .. here2)
        and sh("ip link set " .. here2 .. " up")
        and sh("ip netns exec " .. namespace .. " ip link set " .. peer2 .. " up")
    end
    return second_pair
  end

  teardown(function()
    sh("ip link del " .. here)
    sh("ip link del " .. here2)
    sh("ip netns del " .. namespace)
    helper.cleanup()
  end)

  before_each(function()
    if usable then dir = helper.tmpdir() end
  end)

  --- Replays a capture file from the peer end, as fast as the link takes it (its own timing
  -- would take as long as the capture lasted).
  local function replay(path, extra, from)
    assert(sh(("ip netns exec %s tcpreplay -q --topspeed %s -i %s '%s'"):format(namespace, extra or "",
      from or peer, path)), "tcpreplay failed")
  end

  --- A capture on `here`, started; returns it and its report path.
  local function start_here(opts)
    local cap = nasoone.new()
    assert(cap:set_capture_device(here, opts or { immediate = true }))
    local output = dir .. "/live.csv"
    assert(cap:set_output(output))
    assert(cap:set_timeout(0.05))
    return cap, output
  end

  --- The rows of a report without their first/last columns, and the times they hold.
  local function rows_and_times(path)
    local rows, times = {}, {}
    for _, row in ipairs(helper.sorted_rows(path)) do
      local a, first, last, b = row:match("^(.-; %[[^%]]+%]); (%d+); (%d+); (.*)$")
      rows[#rows + 1] = a .. "; " .. b
      times[#times + 1] = { tonumber(first), tonumber(last) }
    end
    table.sort(rows)
    return rows, times
  end

  it("reports exactly the packets sent through a veth pair", function()
    if not usable then return pending(why) end
    local cap, output = start_here()
    assert(cap:start())
    local before = now_ms()
    replay(FIXTURE)
    local sent_by = now_ms()
    wait_stats(cap, "received", 23)
    local stats = assert(cap:stop())
    assert.equals(23, stats.received)
    assert.equals(20, stats.counted)
    assert.equals(0, stats.dropped)
    assert.equals(0, stats.queue_dropped)
    assert.is_true(stats.pcap_received >= 23)
    local expected = rows_and_times(EXPECTED)
    local rows, times = rows_and_times(output)
    assert.same(expected, rows)
    -- live timestamps are the kernel's: within the replay, to the millisecond
    for _, t in ipairs(times) do
      assert.is_true(t[1] >= math.floor(before) - 1 and t[2] <= sent_by + 1 and t[1] <= t[2])
    end
  end)

  it("captures on loopback", function()
    if not usable then return pending(why) end
    local sender = helper.build_dir .. "/tests/udp_sender"
    local cap = nasoone.new()
    assert(cap:set_capture_device("lo", { immediate = true }))
    assert.equals("EN10MB", cap:datalink())
    local from, to = free_udp_ports()
    assert(cap:set_raw_filter(loopback_filter(from, to)))
    assert(cap:set_output(dir .. "/lo.csv"))
    assert(cap:set_timeout(0.05))
    assert(cap:start())
    assert(sh(("%s 127.0.0.1 %d %d 25 100"):format(sender, from, to)), "udp_sender failed")
    wait_stats(cap, "counted", 25)
    local stats = assert(cap:stop())
    assert.equals(25, stats.counted)
    local rows = rows_and_times(dir .. "/lo.csv")
    assert.same({ ("127.0.0.1; %d; 127.0.0.1; %d; [UDP]; 3550; 25"):format(from, to) },
      rows) -- 25 * 142 bytes
  end)

  it("reports on time while traffic never pauses", function()
    if not usable then return pending(why) end
    local sender = helper.build_dir .. "/tests/udp_sender"
    local cap = nasoone.new()
    assert(cap:set_capture_device("lo")) -- blocks of packets, handed over at most 0.1 s late
    local from, to = free_udp_ports()
    assert(cap:set_raw_filter(loopback_filter(from, to)))
    assert(cap:set_timeout(0.4))
    local seen = 0
    cap:on_report(function(report)
      for _, row in ipairs(report.rows) do seen = math.max(seen, row.packets) end
    end)
    assert(cap:start())
    -- a datagram every 30 ms or so for 2 s or more: the link is never quiet for interval/4
    local done = dir .. "/sent"
    assert(sh(("(for i in $(seq 66); do %s 127.0.0.1 %d %d 1 50; sleep 0.03; done; "
      .. "touch '%s') &"):format(sender, from, to, done)))
    local t0 = now_ms()
    while now_ms() - t0 < 1200 do cap:wait(0.05) end
    local during, still_sending = seen, not helper.exists(done)
    local deadline = now_ms() + 20000
    while not (helper.exists(done) and cap:stats().counted == 66) and now_ms() < deadline do
      cap:wait(0.05)
    end
    local stats = assert(cap:stop())
    assert.is_true(still_sending, "the sender was done before the first check: test too slow")
    assert.is_true(during > 0, "no report during the traffic")
    assert.equals(66, stats.counted)
  end)

  it("holds at most max_flows rows through 30 s of short connections, losing no packet",
    function()
      if not usable then return pending(why) end
      local churn = helper.build_dir .. "/tests/udp_churn"
      local _, to = free_udp_ports()
      local cap = nasoone.new()
      assert(cap:set_capture_device("lo"))
      assert(cap:set_raw_filter(("udp and src host 127.0.0.1 and dst host 127.0.0.1 and dst port %d")
        :format(to)))
      assert(cap:set_timeout(0.5))
      assert(cap:set_flow_limits({ max_flows = 5000, idle_timeout = 2 }))
      local record_packets, records = 0, 0
      assert(cap:on_flows(function(batch)
        for _, r in ipairs(batch) do
          record_packets = record_packets + r.packets
          records = records + 1
        end
      end))
      local report_rows = 0
      assert(cap:on_report(function(report) report_rows = #report.rows end))
      assert(cap:start())
      -- 3000 connections a second of 2 datagrams each, from fresh source ports: about 6000
      -- rows would be idle for less than 2 s at any moment, so capacity ends rows too
      local out = dir .. "/churn.out"
      assert(sh(("%s 127.0.0.1 %d 30 3000 2 > '%s' &"):format(churn, to, out)))
      local held_max, report_max = 0, 0
      local deadline = now_ms() + 60000
      repeat
        cap:wait(0.1)
        held_max = math.max(held_max, cap:stats().rows_held)
        report_max = math.max(report_max, report_rows)
        local sent = tonumber(helper.read_file(out) or "")
      until (sent and cap:stats().counted >= sent) or now_ms() > deadline
      local sent = assert(tonumber(helper.read_file(out) or ""), "udp_churn did not finish")
      -- a quiet link still ends idle rows: the clock follows the wall when no packet comes
      deadline = now_ms() + 6000
      while cap:stats().rows_held > 0 and now_ms() < deadline do cap:wait(0.1) end
      local stats = assert(cap:stop())
      assert.equals(0, stats.rows_held)
      assert.equals(0, stats.dropped + stats.queue_dropped)
      assert.equals(sent, stats.counted)
      assert.is_true(held_max <= 5000 and stats.rows_peak <= 5000 and report_max <= 5000,
        ("held %d, peak %d, report %d"):format(held_max, stats.rows_peak, report_max))
      assert.is_true(stats.rows_ended.capacity > 0 and stats.rows_ended.idle > 0,
        ("ended: capacity %d, idle %d"):format(stats.rows_ended.capacity, stats.rows_ended.idle))
      -- the records account for every counted packet
      assert.equals(stats.counted, record_packets)
      assert.equals(stats.records, records)
      assert.equals(0, stats.exports[1].dropped)
    end)

  it("captures on 'any', as Linux cooked frames", function()
    if not usable then return pending(why) end
    local cap = nasoone.new()
    assert(cap:set_capture_device("any", { immediate = true }))
    assert.matches("^LINUX_SLL2?$", cap:datalink())
    -- the pair's traffic only, whatever else the machine's interfaces carry
    assert(cap:set_raw_filter("host 10.213.0.2"))
    assert(cap:set_output(dir .. "/any.csv"))
    assert(cap:set_timeout(0.05))
    assert(cap:start())
    replay(FIXTURE)
    wait_stats(cap, "counted", 20)
    assert(cap:stop())
    local expected = {}
    for _, row in ipairs(rows_and_times(EXPECTED)) do
      -- a cooked header is 2 bytes longer than Ethernet's, and counts in the frame length
      local head, bytes, packets = row:match("^(.*); (%d+); (%d+)$")
      expected[#expected + 1] = ("%s; %d; %s"):format(head, bytes + 2 * packets, packets)
    end
    assert.same(expected, (rows_and_times(dir .. "/any.csv")))
  end)

  it("applies filters from the builder on a live device", function()
    if not usable then return pending(why) end
    local cap, output = start_here()
    assert(cap:set_filter(nasoone.filter():udp_only()))
    assert(cap:start())
    replay(FIXTURE)
    wait_stats(cap, "received", 6)
    cap:wait(0.1)
    local stats = assert(cap:stop())
    -- the kernel passed the UDP frames only: 5, and the later fragment of a UDP datagram
    assert.equals(6, stats.received)
    assert.equals(5, stats.counted)
    for _, row in ipairs((rows_and_times(output))) do assert.matches("%[UDP%]", row) end
  end)

  it("keeps reading while paused, counting what it discards, and counts again on resume",
    function()
      if not usable then return pending(why) end
      local cap, output = start_here()
      assert(cap:start())
      assert(cap:pause())
      replay(FIXTURE)
      local deadline = now_ms() + 5000
      while cap:stats().paused_discarded < 23 and now_ms() < deadline do system.sleep(0.02) end
      local paused = cap:stats()
      assert.equals(23, paused.paused_discarded)
      assert.equals(0, paused.counted)
      assert(cap:resume())
      replay(FIXTURE)
      wait_stats(cap, "counted", 20)
      local stats = assert(cap:stop())
      assert.equals(46, stats.received)
      assert.equals(23, stats.paused_discarded)
      assert.equals(20, stats.counted)
      assert.same(rows_and_times(EXPECTED), (rows_and_times(output)))
    end)

  it("stops within 100 ms on an idle interface, with every thread joined", function()
    if not usable then return pending(why) end
    local cap = start_here({ immediate = false, timeout = 1 }) -- a long libpcap timeout too
    assert(cap:set_timeout(5))
    assert(cap:start())
    system.sleep(0.3)
    local t0 = system.monotime()
    local stats = assert(cap:stop())
    local elapsed_ms = (system.monotime() - t0) * 1000
    assert.equals("stopped", stats.state)
    assert.is_true(elapsed_ms < 100, ("stop took %.1f ms"):format(elapsed_ms))
  end)

  it("gives stats while running", function()
    if not usable then return pending(why) end
    local cap = start_here()
    assert(cap:start())
    replay(FIXTURE)
    local deadline = now_ms() + 5000
    local function settled()
      local s = cap:stats()
      return s.pcap_received == 23 and s.counted + s.skipped_total == 23 and s.flows == 7
    end
    while not settled() and now_ms() < deadline do cap:wait(0.05) end
    local stats = cap:stats()
    assert.equals("running", stats.state)
    assert.equals(23, stats.received)
    assert.equals(23, stats.pcap_received)
    assert.equals(0, stats.dropped)
    assert.equals(1, stats.skipped.not_ip)
    assert.equals(1, stats.skipped.not_tcp_udp)
    assert.equals(1, stats.skipped.fragment)
    assert.equals(7, stats.flows)
    cap:stop()
  end)

  it("finishes, with the error, when the interface goes away", function()
    if not usable then return pending(why) end
    local cap, output = start_here()
    assert(cap:start())
    replay(FIXTURE)
    wait_stats(cap, "received", 23)
    assert(sh("ip link del " .. here)) -- the peer goes with it
    local over, err = cap:wait(5)
    assert.is_true(over)
    assert.equals("nasoone: the capture device went away", err)
    assert.equals("finished", cap:state())
    local stats = assert(cap:stop())
    assert.equals("nasoone: the capture device went away", stats.error)
    assert.same(rows_and_times(EXPECTED), (rows_and_times(output)))
    assert(make_pair(), "could not recreate the veth pair")
  end)

  local TWO_DEVICES_HEADER = "source ip; source port; destination ip; destination port; protocols; first; "
    .. "last; bytes; packets; ip bytes; tcp flags; interface"

  --- The expected rows of live.pcap sent `times` over, as "key; protocols; bytes; packets".
  local function expected_counts(times)
    local rows = {}
    for _, row in ipairs(helper.sorted_rows(EXPECTED)) do
      local key, bytes, packets = row:match("^(.-; %[[^%]]+%]); %d+; %d+; (%d+); (%d+)$")
      rows[#rows + 1] = ("%s; %d; %d"):format(key, tonumber(bytes) * times, tonumber(packets) * times)
    end
    table.sort(rows)
    return rows
  end

  it("captures on two devices at once, each row saying which, counts as sent on each", function()
    if not usable then return pending(why) end
    assert(make_second_pair(), "could not create the second veth pair")
    local cap = nasoone.new()
    assert(cap:set_capture_device({ here, here2 }, { immediate = true }))
    local output = dir .. "/two.csv"
    assert(cap:set_output(output))
    assert(cap:set_timeout(0.05))
    assert(cap:add_export("jsonl", dir .. "/flows.jsonl"))
    local rows
    assert(cap:on_report(function(report) rows = report.rows end))
    assert(cap:start())
    replay(FIXTURE)                      -- 23 frames on the first
    replay(FIXTURE, "--loop 2", peer2)   -- 46 on the second
    wait_stats(cap, "received", 69)
    local stats = assert(cap:stop())
    assert.equals(69, stats.received)
    assert.equals(60, stats.counted)
    assert.equals(0, stats.queue_dropped)
    assert.same({ here, here2 }, { stats.devices[1].name, stats.devices[2].name })
    assert.same({ 23, 46 }, { stats.devices[1].received, stats.devices[2].received })
    assert.same({ 0, 0 }, { stats.devices[1].dropped, stats.devices[2].dropped })
    -- each device's packets in the Prometheus text too, which promtool accepts
    local text = nasoone.metrics(stats)
    for _, d in ipairs(stats.devices) do
      assert.matches(('\nnasoone_device_packets_received_total{device="%s"} %d\n'):format(d.name, d.received),
        text, 1, true)
    end
    if os.execute("command -v promtool >/dev/null") then
      helper.write_file(dir .. "/metrics.prom", text)
      assert.is_true(os.execute(("promtool check metrics < '%s'"):format(dir .. "/metrics.prom")))
    end
    -- the Lua rows: each device's rows are exactly what was sent on it
    local by_device = { [here] = {}, [here2] = {} }
    for _, r in ipairs(rows) do
      local list = assert(by_device[r.interface], "a row of interface " .. tostring(r.interface))
      list[#list + 1] = ("%s; %d; %s; %d; [%s]; %d; %d"):format(r.source_ip, r.source_port,
        r.destination_ip, r.destination_port, table.concat(r.protocols, ", "), r.bytes, r.packets)
    end
    for _, list in pairs(by_device) do table.sort(list) end
    assert.same(expected_counts(1), by_device[here])
    assert.same(expected_counts(2), by_device[here2])
    -- the report file: the extended columns, then the interface
    local lines = helper.sorted_rows_under(TWO_DEVICES_HEADER, output)
    assert.equals(14, #lines)
    local seen = { [here] = 0, [here2] = 0 }
    for _, line in ipairs(lines) do
      local name = line:match("; ([^;]+)$")
      seen[name] = seen[name] + 1
    end
    assert.same({ [here] = 7, [here2] = 7 }, seen)
    -- the flow records: each says its device, and they add up to what each one counted
    local packets = { [here] = 0, [here2] = 0 }
    for line in io.lines(dir .. "/flows.jsonl") do
      local name = assert(line:match('"protocols":%[[^%]]*%],"interface":"([^"]+)","first"'), line)
      packets[name] = packets[name] + tonumber(line:match('"packets":(%d+)'))
    end
    assert.same({ [here] = 20, [here2] = 40 }, packets)
  end)

  it("nasoone capture -i A -i B: the interface column names the right device", function()
    if not usable then return pending(why) end
    assert(make_second_pair(), "could not create the second veth pair")
    local cmd = require("spec.command_helper")
    local output = dir .. "/two-command.csv"
    local process = cmd.spawn({ "capture", "-i", here, "-i", here2, "--immediate", "-c", "69", "-o", output,
      "-q", "-t", "0.05" }, dir)
    -- the report exists once both devices are open and the capture started
    assert(cmd.eventually(function() return io.open(output) ~= nil end, 10), process:stderr())
    replay(FIXTURE, "--loop 2")
    replay(FIXTURE, nil, peer2)
    assert.equals(0, process:wait(30), process:stderr())
    local rows = {}
    for _, line in ipairs(helper.sorted_rows_under(TWO_DEVICES_HEADER, output)) do
      local key, bytes, packets, name =
        line:match("^(.-; %[[^%]]+%]); %d+; %d+; (%d+); (%d+); %d+; [^;]+; (.+)$")
      rows[name] = rows[name] or {}
      table.insert(rows[name], ("%s; %s; %s"):format(key, bytes, packets))
    end
    for _, list in pairs(rows) do table.sort(list) end
    assert.same(expected_counts(2), rows[here])
    assert.same(expected_counts(1), rows[here2])
  end)

  it("ends a capture of several devices with an error naming the one that went away", function()
    if not usable then return pending(why) end
    assert(make_second_pair(), "could not create the second veth pair")
    local cap = nasoone.new()
    assert(cap:set_capture_device({ here, here2 }, { immediate = true }))
    assert(cap:set_output(dir .. "/gone.csv"))
    assert(cap:start())
    replay(FIXTURE, nil, peer2)
    wait_stats(cap, "received", 23)
    assert(sh("ip link del " .. here2))
    second_pair = nil
    local over, err = cap:wait(5)
    assert.is_true(over)
    assert.equals("nasoone: reading " .. here2 .. ": the capture device went away", err)
    assert.equals(23, assert(cap:stop()).received)
  end)

  it("refuses a list of devices with one named twice, or a bad name", function()
    local cap = nasoone.new()
    local ok, err, code = cap:set_capture_device({ "lo", "lo" })
    assert.same({ nil, "nasoone: device lo is named twice", "invalid_argument" }, { ok, err, code })
    ok, err, code = cap:set_capture_device({ "lo", "a;b" })
    assert.same({ nil, "invalid_argument" }, { ok, code })
    assert.matches("must be named with 1 to 63 printable characters", err)
    assert.has_error(function() cap:set_capture_device({}) end,
      "bad argument #1 to 'set_capture_device' (a list of 1 to 16 device names expected)")
  end)

  it("refuses a missing device, a device that is down, and says why, with a code", function()
    if not usable then return pending(why) end
    local ok, message, code = nasoone.new():set_capture_device("nosuchdev0")
    assert.is_nil(ok)
    assert.equals("nasoone: cannot capture on nosuchdev0: No such device exists", message)
    assert.equals("no_such_device", code)
    assert(sh("ip link set " .. here .. " down"))
    ok, message, code = nasoone.new():set_capture_device(here)
    assert(sh("ip link set " .. here .. " up"))
    assert.is_nil(ok)
    assert.equals("nasoone: cannot capture on " .. here .. ": That device is not up", message)
    assert.equals("interface_down", code)
    local cap = nasoone.new()
    assert(cap:set_capture_device(here))
    ok, message = cap:set_raw_filter("udp port fifty")
    assert.is_nil(ok)
    assert.matches("^nasoone: bad filter 'udp port fifty': .*fifty", message)
  end)

  it("says permission denied, with the capability hint, to an unprivileged user", function()
    if not usable then return pending(why) end
    local message, cannot = helper.unprivileged_probe(
      "print(select(2, require('nasoone').new():set_capture_device('lo')))")
    if not message then return pending(cannot) end
    assert.matches("^nasoone: cannot capture on lo: .*Operation not permitted", message)
    assert.matches("setcap cap_net_raw,cap_net_admin=eip", message, 1, true)
  end)

  it("checks device options", function()
    if not usable then return pending(why) end
    -- misuse raises, naming the options argument
    assert.error_matches(function() nasoone.new():set_capture_device("lo", { snaplenn = 10 }) end,
      "bad argument #2 to 'set_capture_device' %(unknown device option 'snaplenn'%)")
    assert.error_matches(function() nasoone.new():set_capture_device("lo", { promiscuous = 1 }) end,
      "bad argument #2 to 'set_capture_device' %(option promiscuous must be a boolean%)")
    assert.error_matches(function()
      nasoone.new():set_capture_device("lo", { timestamp_precision = "pico" })
    end, "bad argument #2 to 'set_capture_device' %(option timestamp_precision must be 'micro' or 'nano'%)")
    local cap = nasoone.new()
    assert.equals(cap, cap:set_capture_device("lo", { snaplen = 128, promiscuous = false,
      buffer_size = 4 * 1024 * 1024, immediate = true, timestamp_precision = "nano", timeout = 0.5 }))
  end)

  it("lists the devices, loopback and this pair included", function()
    if not usable then return pending(why) end
    local names = {}
    for _, d in ipairs(assert(nasoone.devices(true))) do names[d.name] = d end
    assert.is_table(names.lo)
    assert.is_true(names.lo.flags.loopback)
    assert.is_true(names.lo.flags.up)
    assert.is_table(names[here]) -- no address: listed only with devices(true)
    assert.is_false(names[here].flags.loopback)
    for _, d in ipairs(assert(nasoone.devices())) do
      assert.is_true(#d.addresses > 0, d.name .. " has no address")
    end
  end)
end)
