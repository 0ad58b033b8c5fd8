--- Biflows (cap:set_biflow): a row and a record per connection, both directions (RFC 5103).
-- What the user relies on: conservation (a biflow row's forward and reverse counts are exactly
-- the two one-way rows of the same capture, every one-way row in exactly one biflow row), the
-- initiator rule (docs/report.md), the exact biflow CSV and JSON, and timeouts of pairs.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local function key_of(row)
  return table.concat({ row.source_ip, row.source_port, row.destination_ip, row.destination_port }, "; ")
end

local function reversed_key_of(row)
  return table.concat({ row.destination_ip, row.destination_port, row.source_ip, row.source_port }, "; ")
end

--- Runs a capture file to its end. opts: biflow, key, limits, parsers, on_flows (collect
-- records), community (a seed). Returns the final report's rows and the records.
local function run(path, opts)
  opts = opts or {}
  local cap = nasoone.new()
  assert(cap:set_capture_file(path))
  assert(cap:set_timeout(0.05))
  assert(cap:set_parsers(opts.parsers or 2))
  if opts.key then assert(cap:set_flow_key(opts.key)) end
  if opts.biflow then assert(cap:set_biflow(true)) end
  if opts.community then assert(cap:set_community_id(true, opts.community)) end
  if opts.limits then assert(cap:set_flow_limits(opts.limits)) end
  if opts.output then assert(cap:set_output(opts.output, opts.output_options)) end
  local records = {}
  if opts.on_flows then
    assert(cap:on_flows(function(batch)
      for _, r in ipairs(batch) do records[#records + 1] = r end
    end))
  end
  local rows
  assert(cap:on_report(function(report) if report.final then rows = report.rows end end))
  assert(cap:start())
  assert(cap:wait(120), "capture did not finish within 120 s")
  local stats = assert(cap:stop())
  cap:close()
  assert.equals(#rows, stats.flows) -- in biflow mode: the pairs
  return rows, records
end

local function endpoint_key(ip_a, port_a, ip_b, port_b, protocol)
  return table.concat({ ip_a, port_a, ip_b, port_b, protocol or "" }, "; ")
end

--- The key of a one-way row (with its 5-tuple protocol name, if any).
local function one_way_key(row, five_tuple)
  return endpoint_key(row.source_ip, row.source_port, row.destination_ip, row.destination_port,
    five_tuple and row.protocols[1] or nil)
end

local ICMP_ANSWER = { ICMP = { [8] = 0, [0] = 8, [13] = 14, [14] = 13, [15] = 16, [16] = 15,
  [10] = 9, [9] = 10, [17] = 18, [18] = 17 }, ICMPv6 = { [128] = 129, [129] = 128, [133] = 134,
  [134] = 133, [135] = 136, [136] = 135, [130] = 131, [131] = 130, [139] = 140, [140] = 139,
  [144] = 145, [145] = 144 } }

--- The key of a biflow row's reverse direction, as the one-way report has it; nil when it has
-- none (a one-way ICMP message).
local function reverse_key(row, five_tuple)
  local protocol = five_tuple and row.protocols[1] or nil
  local answers = ICMP_ANSWER[protocol or ""]
  if answers then
    local answer = answers[row.source_port]
    if not answer then return nil end
    return endpoint_key(row.destination_ip, answer, row.source_ip, row.destination_port, protocol)
  end
  return endpoint_key(row.destination_ip, row.destination_port, row.source_ip, row.source_port,
    protocol)
end

local COUNTS = { "first", "last", "bytes", "packets", "ip_bytes", "tcp_flags" }

--- Asserts conservation: every one-way row is in exactly one biflow row, forward or reverse,
-- with exactly its counts; a reverse that sent nothing is all zero.
local function assert_conserved(one_way, biflows, five_tuple, label)
  local by_key = {}
  for _, row in ipairs(one_way) do by_key[one_way_key(row, five_tuple)] = row end
  local used = {}
  local function take(key, from, prefix)
    local row = by_key[key]
    assert(row, label .. ": no one-way row " .. key)
    assert(not used[key], label .. ": " .. key .. " is in two biflow rows")
    used[key] = true
    for _, field in ipairs(COUNTS) do
      assert(from[prefix .. field] == row[field], ("%s: %s %s%s: %s, the one-way row has %s")
        :format(label, key, prefix, field, tostring(from[prefix .. field]), tostring(row[field])))
    end
  end
  for _, row in ipairs(biflows) do
    take(one_way_key(row, five_tuple), row, "")
    local reverse = reverse_key(row, five_tuple)
    if row.reverse_packets > 0 then
      take(assert(reverse, label .. ": reverse counts on a one-way message"), row, "reverse_")
    else
      for _, field in ipairs(COUNTS) do
        assert(row["reverse_" .. field] == 0, label .. ": reverse_" .. field .. " of a row alone")
      end
      assert(reverse == nil or not by_key[reverse] or reverse == one_way_key(row, five_tuple),
        label .. ": " .. tostring(reverse) .. " sent packets but is not paired")
    end
  end
  for key in pairs(by_key) do assert(used[key], label .. ": one-way row " .. key .. " is in no biflow") end
end

local function check_capture(path, label)
  for _, key in ipairs({ "4-tuple", "5-tuple" }) do
    local one_way = run(path, { key = key })
    local biflows = run(path, { key = key, biflow = true })
    assert_conserved(one_way, biflows, key == "5-tuple", label .. " (" .. key .. ")")
  end
end

describe("biflows", function()
  teardown(helper.cleanup)

  it("conserve the one-way report on the project's captures, in both keys", function()
    local listing = assert(io.popen("ls spec/fixtures/*.pcap spec/fixtures/*.pcapng examples/data/*.pcap"))
    local count = 0
    for path in listing:lines() do
      check_capture(path, path)
      count = count + 1
    end
    listing:close()
    assert.is_true(count >= 10)
  end)

  it("conserve the one-way report on every capture of ../shared", function()
    local shared = helper.shared_dir()
    if not shared then
      pending("../shared/pcaps is not there (CI has it; NASOONE_SHARED names another place)")
      return
    end
    local listing = assert(io.popen("ls " .. shared .. "/pcaps/*.pcap " .. shared .. "/pcaps/*.pcapng"))
    local count = 0
    for path in listing:lines() do
      check_capture(path, path:match("[^/]+$"))
      count = count + 1
    end
    listing:close()
    assert.is_true(count >= 40)
  end)

  -- Each pair below is its own connection; times in ms from t0.
  local t0 = 1700000000
  local function at(ms, spec)
    return { sec = t0 + ms // 1000, usec = (ms % 1000) * 1000, data = helper.frame(spec) }
  end
  local function initiator_capture()
    local dir = helper.tmpdir()
    local path = dir .. "/initiators.pcap"
    helper.write_pcap(path, {
      -- mid-stream first (B answers), then A's SYN: A opened it
      at(0, { src = "10.0.0.2", dst = "10.0.0.1", sport = 80, dport = 40000, payload = 10 }),
      at(5, { src = "10.0.0.1", dst = "10.0.0.2", sport = 40000, dport = 80, tcp_flags = 0x02 }),
      -- UDP: the first packet's sender
      at(10, { src = "10.0.1.9", dst = "10.0.1.1", sport = 53, dport = 5353, proto = "UDP", payload = 3 }),
      at(12, { src = "10.0.1.1", dst = "10.0.1.9", sport = 5353, dport = 53, proto = "UDP", payload = 30 }),
      -- the same millisecond: the first in the file, either way round
      at(20, { src = "10.0.2.1", dst = "10.0.2.2", sport = 1000, dport = 2000, proto = "UDP" }),
      at(20, { src = "10.0.2.2", dst = "10.0.2.1", sport = 2000, dport = 1000, proto = "UDP" }),
      at(30, { src = "10.0.3.2", dst = "10.0.3.1", sport = 2000, dport = 1000, proto = "UDP" }),
      at(30, { src = "10.0.3.1", dst = "10.0.3.2", sport = 1000, dport = 2000, proto = "UDP" }),
      -- both sent a SYN (simultaneous open): the first packet decides
      at(40, { src = "10.0.4.2", dst = "10.0.4.1", sport = 7, dport = 9, tcp_flags = 0x02 }),
      at(41, { src = "10.0.4.1", dst = "10.0.4.2", sport = 9, dport = 7, tcp_flags = 0x02 }),
      -- SYN+ACK first (the SYN was missed) does not open: then the first packet decides
      at(50, { src = "10.0.5.2", dst = "10.0.5.1", sport = 443, dport = 5000, tcp_flags = 0x12 }),
      at(51, { src = "10.0.5.1", dst = "10.0.5.2", sport = 5000, dport = 443, tcp_flags = 0x10 }),
      -- one direction only
      at(60, { src = "10.0.6.1", dst = "10.0.6.2", sport = 1, dport = 2, proto = "UDP" }),
    })
    return path
  end

  it("take the initiator's direction as forward: the SYN, else the first packet", function()
    local dir = helper.tmpdir()
    local report = dir .. "/biflow.csv"
    run(initiator_capture(), { biflow = true, output = report })
    local f = assert(io.open(report))
    local text = f:read("a")
    f:close()
    local t = function(ms) return tostring(t0 * 1000 + ms) end
    assert.are.equal(table.concat({
      "source ip; source port; destination ip; destination port; protocols; first; last; bytes; "
        .. "packets; ip bytes; tcp flags; reverse first; reverse last; reverse bytes; reverse packets; "
        .. "reverse ip bytes; reverse tcp flags",
      "10.0.0.1; 40000; 10.0.0.2; 80; [TCP]; " .. t(5) .. "; " .. t(5) .. "; 54; 1; 40; ......S.; "
        .. t(0) .. "; " .. t(0) .. "; 64; 1; 50; ...AP...",
      "10.0.1.9; 53; 10.0.1.1; 5353; [UDP]; " .. t(10) .. "; " .. t(10) .. "; 45; 1; 31; -; "
        .. t(12) .. "; " .. t(12) .. "; 72; 1; 58; -",
      "10.0.2.1; 1000; 10.0.2.2; 2000; [UDP]; " .. t(20) .. "; " .. t(20) .. "; 42; 1; 28; -; "
        .. t(20) .. "; " .. t(20) .. "; 42; 1; 28; -",
      "10.0.3.2; 2000; 10.0.3.1; 1000; [UDP]; " .. t(30) .. "; " .. t(30) .. "; 42; 1; 28; -; "
        .. t(30) .. "; " .. t(30) .. "; 42; 1; 28; -",
      "10.0.4.2; 7; 10.0.4.1; 9; [TCP]; " .. t(40) .. "; " .. t(40) .. "; 54; 1; 40; ......S.; "
        .. t(41) .. "; " .. t(41) .. "; 54; 1; 40; ......S.",
      "10.0.5.2; 443; 10.0.5.1; 5000; [TCP]; " .. t(50) .. "; " .. t(50) .. "; 54; 1; 40; ...A..S.; "
        .. t(51) .. "; " .. t(51) .. "; 54; 1; 40; ...A....",
      "10.0.6.1; 1; 10.0.6.2; 2; [UDP]; " .. t(60) .. "; " .. t(60) .. "; 42; 1; 28; -; 0; 0; 0; 0; 0; -",
      "" }, "\n"), text)
  end)

  it("pair ICMP echo request and reply, and leave one-way messages alone (5-tuple)", function()
    local dir = helper.tmpdir()
    local path = dir .. "/icmp.pcap"
    local function icmp(type_, code) return string.pack(">I1I1I2I4", type_, code, 0, 0) end
    helper.write_pcap(path, {
      at(0, { src = "10.0.0.1", dst = "10.0.0.2", proto = 1, l4 = icmp(8, 0), payload = 8 }),
      at(1, { src = "10.0.0.2", dst = "10.0.0.1", proto = 1, l4 = icmp(0, 0), payload = 8 }),
      at(2, { src = "10.0.0.2", dst = "10.0.0.1", proto = 1, l4 = icmp(3, 3) }),
      at(3, { src = "2001:db8::1", dst = "2001:db8::2", proto = 58, l4 = icmp(128, 0) }),
      at(4, { src = "2001:db8::2", dst = "2001:db8::1", proto = 58, l4 = icmp(129, 0) }),
    })
    local rows = run(path, { key = "5-tuple", biflow = true, community = 0 })
    assert.are.equal(3, #rows)
    local echo, unreachable, echo6 = rows[1], rows[2], rows[3]
    assert.are.same({ "10.0.0.1", 8, "10.0.0.2", 0, { "ICMP" }, 1, 1, { "ICMP" } },
      { echo.source_ip, echo.source_port, echo.destination_ip, echo.destination_port, echo.protocols,
        echo.packets, echo.reverse_packets, echo.reverse_protocols })
    assert.are.same({ "10.0.0.2", 3, 3, 0, {} }, { unreachable.source_ip, unreachable.source_port,
      unreachable.destination_port, unreachable.reverse_packets, unreachable.reverse_protocols })
    assert.are.same({ "2001:db8::1", 128, 1, 1 },
      { echo6.source_ip, echo6.source_port, echo6.packets, echo6.reverse_packets })
    -- the pair has the Community ID both directions share
    assert.are.equal(nasoone.community_id(echo), echo.community_id)
    assert.are.equal(nasoone.community_id({ source_ip = "10.0.0.2", source_port = 0,
      destination_ip = "10.0.0.1", destination_port = 0, protocols = { "ICMP" } }), echo.community_id)
  end)

  it("write JSON lines with the reverse fields and the Community ID", function()
    local dir = helper.tmpdir()
    local report = dir .. "/biflow.jsonl"
    run(initiator_capture(), { key = "5-tuple", biflow = true, community = 0, output = report,
      output_options = { format = "jsonl" } })
    local f = assert(io.open(report))
    local first = f:read("l")
    f:close()
    local t = function(ms) return tostring(t0 * 1000 + ms) end
    assert.are.equal('{"source_ip":"10.0.0.1","source_port":40000,"destination_ip":"10.0.0.2",'
      .. '"destination_port":80,"protocols":["TCP"],"first":' .. t(5) .. ',"last":' .. t(5)
      .. ',"bytes":54,"ip_bytes":40,"packets":1,"tcp_flags":2,"reverse_first":' .. t(0)
      .. ',"reverse_last":' .. t(0) .. ',"reverse_bytes":64,"reverse_ip_bytes":50,'
      .. '"reverse_packets":1,"reverse_tcp_flags":24,"community_id":"'
      .. nasoone.community_id({ source_ip = "10.0.0.1", source_port = 40000,
        destination_ip = "10.0.0.2", destination_port = 80, protocols = { "TCP" } }) .. '"}', first)
  end)

  it("time pairs out as one: a pair is idle only when both directions are", function()
    local dir = helper.tmpdir()
    local path = dir .. "/idle.pcap"
    local a = { src = "10.0.0.1", dst = "10.0.0.2", sport = 1000, dport = 2000, proto = "UDP" }
    local b = { src = "10.0.0.2", dst = "10.0.0.1", sport = 2000, dport = 1000, proto = "UDP" }
    helper.write_pcap(path, {
      at(0, a), at(50000, b), at(100000, a), -- A->B quiet for 100 s, but B->A spoke at 50 s
      at(200000, b),                          -- the pair has been idle 100 s: it ends
    })
    local _, records = run(path, { biflow = true, on_flows = true, limits = { idle_timeout = 60 } })
    assert.are.equal(2, #records)
    assert.are.same({ "idle", "10.0.0.1", 2, 1 },
      { records[1].reason, records[1].source_ip, records[1].packets, records[1].reverse_packets })
    assert.are.same({ "end", "10.0.0.2", 1, 0 },
      { records[2].reason, records[2].source_ip, records[2].packets, records[2].reverse_packets })
    -- one-way, A->B would have left at 100 s
    local _, one_way = run(path, { on_flows = true, limits = { idle_timeout = 60 } })
    assert.are.equal(4, #one_way)
  end)

  it("emit records that conserve the biflow report, under every limit", function()
    local dir = helper.tmpdir()
    local path = dir .. "/synthetic.pcap"
    helper.synthetic_capture(path, 20000, 700)
    local rows = run(path, { biflow = true })
    for _, limits in ipairs({ { idle_timeout = 0.001 }, { active_timeout = 0.002 }, { max_flows = 50 } }) do
      local _, records = run(path, { biflow = true, on_flows = true, limits = limits })
      -- each direction's sums, whichever way round the pair was when a record was made
      local sums = {}
      local function add(key, packets, bytes)
        local s = sums[key] or { packets = 0, bytes = 0 }
        sums[key] = s
        s.packets, s.bytes = s.packets + packets, s.bytes + bytes
      end
      for _, r in ipairs(records) do
        add(key_of(r), r.packets, r.bytes)
        add(reversed_key_of(r), r.reverse_packets, r.reverse_bytes)
      end
      local seen = 0
      for _, row in ipairs(rows) do
        local forward, reverse = sums[key_of(row)], sums[reversed_key_of(row)]
        assert(forward, "no record for " .. key_of(row))
        seen = seen + 1
        assert.are.same({ row.packets, row.bytes, row.reverse_packets, row.reverse_bytes },
          { forward.packets, forward.bytes, reverse.packets, reverse.bytes })
      end
      assert.are.equal(#rows, seen)
    end
  end)
end)
