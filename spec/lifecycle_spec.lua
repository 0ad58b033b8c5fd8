--- Flow lifecycle: set_flow_limits, flow records (on_flows), and the conservation rule of
-- DESIGN.md: with any limits, the records of a capture add up, row by row, to the report the
-- same capture gives without limits.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local function key_of(row)
  return table.concat({ row.source_ip, row.source_port, row.destination_ip, row.destination_port },
    "; ")
end

local function protocols_of(row)
  return table.concat(row.protocols, ", ")
end

--- Runs a capture file to its end. opts: limits (set_flow_limits), parsers, interval.
-- Returns the records (in the order on_flows gave them), the final report's rows, the stats.
local function run(path, opts)
  opts = opts or {}
  local cap = nasoone.new()
  assert(cap:set_capture_file(path))
  assert(cap:set_timeout(opts.interval or 0.05))
  if opts.parsers then assert(cap:set_parsers(opts.parsers)) end
  if opts.limits then assert(cap:set_flow_limits(opts.limits)) end
  local records = {}
  if not opts.no_records then
    assert(cap:on_flows(function(batch)
      for _, r in ipairs(batch) do records[#records + 1] = r end
    end))
  end
  local rows
  assert(cap:on_report(function(report) rows = report.rows end))
  assert(cap:start())
  assert(cap:wait(120), "capture did not finish within 120 s")
  local stats = assert(cap:stop())
  cap:close()
  return records, rows, stats
end

--- Counts what on_flows gives `cap`: the returned table's records and packets so far.
local function count_records(cap)
  local tally = { records = 0, packets = 0 }
  assert(cap:on_flows(function(batch)
    for _, r in ipairs(batch) do
      tally.records, tally.packets = tally.records + 1, tally.packets + r.packets
    end
  end))
  return tally
end

--- Sums records by 4-tuple as a report row would: packets, bytes, ip_bytes, min first, max last,
-- the union of protocols.
local function sum_records(records)
  local sums = {}
  for _, r in ipairs(records) do
    local key = key_of(r)
    local s = sums[key]
    if not s then
      s = { first = r.first, last = r.last, bytes = 0, ip_bytes = 0, packets = 0, protocols = {} }
      sums[key] = s
    end
    if r.first < s.first then s.first = r.first end
    if r.last > s.last then s.last = r.last end
    s.bytes = s.bytes + r.bytes
    s.ip_bytes = s.ip_bytes + r.ip_bytes
    s.packets = s.packets + r.packets
    for _, p in ipairs(r.protocols) do s.protocols[p] = true end
  end
  return sums
end

--- Asserts the records sum, row by row, to exactly the rows of a report without limits.
local function assert_conserved(records, unlimited_rows, label)
  local sums = sum_records(records)
  local seen = 0
  for _, row in ipairs(unlimited_rows) do
    local key = key_of(row)
    local s = sums[key]
    assert(s, label .. ": no record for " .. key)
    seen = seen + 1
    local protocols = {}
    for p in pairs(s.protocols) do protocols[#protocols + 1] = p end
    table.sort(protocols)
    assert.same({ key, row.first, row.last, row.bytes, row.ip_bytes, row.packets,
      protocols_of(row) },
      { key, s.first, s.last, s.bytes, s.ip_bytes, s.packets, table.concat(protocols, ", ") },
      label)
  end
  local record_keys = 0
  for _ in pairs(sums) do record_keys = record_keys + 1 end
  assert.are.equal(seen, record_keys, label .. ": records of rows the report does not have")
end

--- Every capture the conservation rule is checked on: the project's fixtures, the bundled
-- sample, and ../shared's captures when CI has them beside the checkout.
local function captures()
  local list = {}
  local p = assert(io.popen("ls spec/fixtures/*.pcap examples/data/*.pcap"))
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  local shared = helper.shared_dir()
  if shared then
    p = assert(io.popen("ls " .. shared .. "/pcaps/*.pcap " .. shared .. "/pcaps/*.pcapng 2>/dev/null"))
    for line in p:lines() do list[#list + 1] = line end
    p:close()
  end
  return list
end

local SETTINGS = {
  { idle_timeout = 1 },
  { idle_timeout = 0.01, active_timeout = 0.05 },
  { max_flows = 2, active_timeout = 1 },
  { max_flows = 1, idle_timeout = 0.5 },
}

-- a UDP or TCP Ethernet frame of flow `n` (10.9.0.n:1000+n -> 10.9.1.1:53)
local function flow_frame(n, proto, payload)
  return helper.frame({ src = "10.9.0." .. n, dst = "10.9.1.1", sport = 1000 + n, dport = 53,
    proto = proto or "UDP", payload = payload or 10 })
end

-- a packet of flow n at `ms` milliseconds after 1700000000 s
local function at(ms, n, proto, payload)
  local sec = 1700000000 + ms // 1000
  return { sec = sec, usec = (ms % 1000) * 1000, data = flow_frame(n, proto, payload) }
end

local BASE = 1700000000000

local function brief(records)
  local out = {}
  for _, r in ipairs(records) do
    out[#out + 1] = table.concat({ r.source_ip, r.reason, r.packets, r.first - BASE,
      r.last - BASE }, " ")
  end
  return out
end

describe("flow lifecycle", function()
  after_each(helper.cleanup)

  it("keeps the report of a capture without limits exactly as it was, records being all 'end'",
    function()
      local sample = "examples/data/sample.pcap"
      local dir = helper.tmpdir()
      local plain = helper.run_file(sample, { dir = dir })
      local records, rows, stats = run(sample)
      local lines = {}
      for _, row in ipairs(rows) do
        lines[#lines + 1] = table.concat({ row.source_ip, row.source_port, row.destination_ip,
          row.destination_port, "[" .. protocols_of(row) .. "]", row.first, row.last, row.bytes,
          row.packets }, "; ")
      end
      table.sort(lines)
      assert.same(helper.sorted_rows(plain), lines)
      assert.are.equal(#rows, #records)
      for _, r in ipairs(records) do assert.are.equal("end", r.reason) end
      assert.are.equal(#rows, stats.rows_ended["end"])
      assert.are.equal(#rows, stats.rows_held)
      assert_conserved(records, rows, "no limits")
    end)

  it("conserves packets and bytes row by row on every capture, for every limit setting",
    function()
      local checked = 0
      for _, path in ipairs(captures()) do
        local _, unlimited = run(path, { no_records = true })
        for i, limits in ipairs(SETTINGS) do
          local records, _, stats = run(path, { limits = limits })
          local label = path .. " setting " .. i
          assert_conserved(records, unlimited, label)
          local packets = 0
          for _, r in ipairs(records) do packets = packets + r.packets end
          assert.are.equal(stats.counted, packets, label)
          assert.are.equal(#records, stats.records, label)
          if limits.max_flows then
            assert.is_true(stats.rows_peak <= limits.max_flows, label)
          end
          checked = checked + 1
        end
      end
      assert.is_true(checked >= 4 * #SETTINGS)
    end)

  it("ends a row idle for longer than idle_timeout, not one idle for exactly that long", function()
    local path = helper.tmpdir() .. "/idle.pcap"
    -- flow 1: t, t + 2 s (gap = timeout: one row); flow 2: t, t + 2.001 s (a new row)
    helper.write_pcap(path, { at(0, 1), at(0, 2), at(2000, 1), at(2001, 2) })
    local records, rows, stats = run(path, { limits = { idle_timeout = 2 } })
    assert.same({
      "10.9.0.2 idle 1 0 0",
      "10.9.0.1 end 2 0 2000",
      "10.9.0.2 end 1 2001 2001",
    }, brief(records))
    assert.are.equal(1, stats.rows_ended.idle)
    -- the row that came back is a new row: its totals start again
    assert.are.equal(2, #rows)
    for _, row in ipairs(rows) do
      if row.source_ip == "10.9.0.2" then
        assert.same({ BASE + 2001, BASE + 2001, 1 }, { row.first, row.last, row.packets })
      end
    end
  end)

  it("makes an active record once a row's packets span longer than active_timeout", function()
    local path = helper.tmpdir() .. "/active.pcap"
    helper.write_pcap(path, { at(0, 1), at(500, 1), at(1000, 1), at(1001, 1), at(2003, 1) })
    local records, rows, stats = run(path, { limits = { active_timeout = 1, idle_timeout = 60 } })
    -- 0..1000 is one period (a span of exactly 1 s); 1001 starts the next; 2003 - 1001 > 1 s
    assert.same({
      "10.9.0.1 active 3 0 1000",
      "10.9.0.1 active 1 1001 1001",
      "10.9.0.1 end 1 2003 2003",
    }, brief(records))
    assert.are.equal(2, stats.rows_ended.active)
    -- the row stays, with its totals
    assert.are.equal(1, #rows)
    assert.same({ BASE, BASE + 2003, 5 }, { rows[1].first, rows[1].last, rows[1].packets })
  end)

  it("evicts the least recently seen row when max_flows rows are held", function()
    local path = helper.tmpdir() .. "/capacity.pcap"
    -- 1, 2, then 1 again: 2 is the least recently seen when 3 arrives
    helper.write_pcap(path, { at(0, 1), at(10, 2), at(20, 1), at(30, 3), at(40, 2) })
    local records, rows, stats = run(path, { limits = { max_flows = 2 } })
    assert.same({
      "10.9.0.2 capacity 1 10 10",
      "10.9.0.1 capacity 2 0 20",
      "10.9.0.3 end 1 30 30",
      "10.9.0.2 end 1 40 40",
    }, brief(records))
    assert.same({ 2, 2, 0 }, { stats.rows_ended.capacity, stats.rows_peak, stats.rows_ended.idle })
    local held = {}
    for _, row in ipairs(rows) do held[#held + 1] = row.source_ip end
    assert.same({ "10.9.0.2", "10.9.0.3" }, held)
  end)

  it("splits nothing between protocols in the row, and counts ip_bytes per record", function()
    local path = helper.tmpdir() .. "/mixed.pcap"
    -- the same 4-tuple over TCP then UDP: one row [TCP, UDP]
    helper.write_pcap(path, { at(0, 1, "TCP", 100), at(5, 1, "UDP", 50) })
    local records = run(path, { limits = { idle_timeout = 60 } })
    assert.are.equal(1, #records)
    local r = records[1]
    assert.same({ "TCP", "UDP" }, r.protocols)
    -- IPv4 header 20 + TCP 20 + 100, IPv4 20 + UDP 8 + 50; frames add 14 each
    assert.same({ 2, 140 + 78, 140 + 78 + 28 }, { r.packets, r.ip_bytes, r.bytes })
  end)

  it("gives the same records in the same order with one parser or two", function()
    local path = helper.tmpdir() .. "/synthetic.pcap"
    helper.synthetic_capture(path, 60000, 300)
    local limits = { idle_timeout = 0.05, active_timeout = 0.2, max_flows = 100 }
    -- one parser: the keeper decodes, or the reader when the keeper has batches waiting;
    -- two: parser threads decode. Either way each packet is decoded and counted once.
    local one, _, one_stats = run(path, { limits = limits, parsers = 1 })
    local two, _, two_stats = run(path, { limits = limits, parsers = 2, interval = 0.001 })
    assert.is_true(#one > 1000)
    assert.are.equal(#one, #two)
    for i = 1, #one do
      assert.same(one[i], two[i])
    end
    local packets = 0
    for _, r in ipairs(one) do packets = packets + r.packets end
    assert.same({ 60000, 60000, packets, packets }, { one_stats.received, two_stats.received,
      one_stats.counted, two_stats.counted })
  end)

  it("stops while on_flows batches wait for the script, losing no record", function()
    local path = helper.tmpdir() .. "/synthetic.pcap"
    helper.synthetic_capture(path, 60000, 300)
    local cap = nasoone.new()
    assert(cap:set_capture_file(path))
    assert(cap:set_timeout(0.05))
    assert(cap:set_flow_limits({ max_flows = 1 })) -- about a record per packet
    local tally = count_records(cap)
    assert(cap:start())
    -- the script takes nothing: the exporter waits once 64 batches are pending
    require("system").sleep(0.5)
    local stats = assert(cap:stop())
    cap:close()
    assert.is_true(tally.records > 64 * 512, "records: " .. tally.records)
    assert.are.equal(0, stats.exports[1].dropped)
    assert.are.equal(stats.records, tally.records)
    assert.are.equal(stats.counted, tally.packets)
  end)

  it("live: stop gives on_flows every end record, however many rows are held", function()
    -- stop() joins the threads before on_flows runs, so the script cannot take batches while
    -- the last records are made: none may be dropped then (no capture is left to protect)
    if not helper.is_root() or os.execute("command -v tcpreplay >/dev/null 2>&1") ~= true then
      return pending("needs root and tcpreplay (a live capture on lo)")
    end
    local path = helper.tmpdir() .. "/many.pcap"
    local packets, flows = {}, 40000
    for n = 1, flows do
      packets[n] = { sec = 1700000000, usec = n, data = helper.frame({
        src = "10.77." .. (n // 250) .. "." .. (n % 250 + 1), dst = "10.78.0.1",
        sport = 2000, dport = 53, proto = "UDP", payload = 10 }) }
    end
    helper.write_pcap(path, packets)
    local cap = nasoone.new()
    assert(cap:set_capture_device("lo"))
    assert(cap:set_raw_filter("udp and src net 10.77.0.0/16 and dst host 10.78.0.1"))
    assert(cap:set_timeout(0.1))
    local tally = count_records(cap)
    assert(cap:start())
    assert(os.execute("tcpreplay -q --pps=10000 -i lo " .. path .. " >/dev/null 2>&1"))
    local deadline = os.time() + 20
    while cap:stats().rows_held < flows and os.time() < deadline do cap:wait(0.1) end
    local held = cap:stats().rows_held
    -- more than 64 batches of 512 end records, however many packets a slow build dropped
    assert.is_true(held > 64 * 512, "rows held before stop: " .. held)
    local stats = assert(cap:stop())
    cap:close()
    assert.are.equal(0, stats.exports[1].dropped)
    assert.are.equal(stats.records, tally.records)
    assert.are.equal(stats.counted, tally.packets)
  end)

  it("refuses bad limits with the argument at fault, and outside initial/runnable", function()
    local cap = nasoone.new()
    assert.has_error(function() cap:set_flow_limits({ idle_timeout = 0 }) end,
      "bad argument #1 to 'set_flow_limits' (idle_timeout must be a number of seconds from 0.001 to 1000000000)")
    -- the upper limit is said too: a huge value is refused with the range, not "too small"
    for _, huge in ipairs({ 1e10, math.huge }) do
      assert.has_error(function() cap:set_flow_limits({ active_timeout = huge }) end,
        "bad argument #1 to 'set_flow_limits' (active_timeout must be a number of seconds from 0.001 "
          .. "to 1000000000)")
    end
    assert.has_error(function() cap:set_flow_limits({ max_flows = 0 }) end,
      "bad argument #1 to 'set_flow_limits' (max_flows must be an integer from 1 to 1000000000)")
    assert.has_error(function() cap:set_flow_limits({ idle = 3 }) end,
      "bad argument #1 to 'set_flow_limits' (unknown flow limit option 'idle')")
    assert.has_error(function() cap:add_export("kafka", "x") end,
      "bad argument #1 to 'add_export' (export kind must be 'jsonl' or 'ipfix')")
    assert(cap:set_capture_file("examples/data/sample.pcap"))
    assert(cap:on_flows(function() end))
    assert(cap:start())
    local ok, message, code = cap:set_flow_limits({ idle_timeout = 1 })
    assert.is_nil(ok)
    assert.matches("cannot set flow limits in state", message)
    assert.are.equal("wrong_state", code)
    cap:stop()
    cap:close()
  end)
end)
