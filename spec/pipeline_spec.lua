--- The threaded pipeline: exact reports whatever the parser count, pause/resume and stop losing
-- nothing, interval rewrites, several captures at once. Run under TSan in CI.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local PACKETS, FLOWS = 60000, 2000

--- Sum of the packets column of a report.
local function report_packets(path)
  local total = 0
  for _, row in ipairs(helper.sorted_rows(path)) do
    total = total + tonumber(row:match("(%d+)$"))
  end
  return total
end

describe("pipeline", function()
  local dir, capture_path, expected
  setup(function()
    dir = helper.tmpdir()
    capture_path = dir .. "/synthetic.pcap"
    expected = helper.synthetic_capture(capture_path, PACKETS, FLOWS)
  end)
  teardown(helper.cleanup)

  for _, parsers in ipairs({ 1, 2, 4 }) do
    it(("gives the exact report with %d parser(s)"):format(parsers), function()
      local output, stats = helper.run_file(capture_path, { parsers = parsers, interval = 0.02 })
      assert.same(expected, helper.sorted_rows(output))
      assert.equals(PACKETS, stats.received)
      assert.equals(PACKETS - PACKETS // 97, stats.counted)
      assert.equals(PACKETS // 97, stats.skipped.not_ip)
      assert.equals(#expected, stats.flows)
    end)
  end

  it("writes rows in key order: IPv4 before IPv6, addresses numerically", function()
    local output = helper.run_file(capture_path)
    local lines = helper.report_lines(output)
    local function key(line)
      local src, sport, dst, dport = line:match("^([^;]+); (%d+); ([^;]+); (%d+);")
      local function addr(a)
        if a:find(":", 1, true) then -- expand to 8 fixed-width groups
          local head, tail = a:match("^(.-)::(.*)$")
          local groups = {}
          for g in (head or a):gmatch("%x+") do groups[#groups + 1] = g end
          local rest = {}
          for g in (tail or ""):gmatch("%x+") do rest[#rest + 1] = g end
          while #groups + #rest < 8 do groups[#groups + 1] = "0" end
          for _, g in ipairs(rest) do groups[#groups + 1] = g end
          for i, g in ipairs(groups) do groups[i] = string.format("%04x", tonumber(g, 16)) end
          return "6" .. table.concat(groups, ":")
        end
        local b = {}
        for n in a:gmatch("%d+") do b[#b + 1] = string.format("%03d", tonumber(n)) end
        return "4" .. table.concat(b, ".")
      end
      return { addr(src), tonumber(sport), addr(dst), tonumber(dport) }
    end
    for i = 3, #lines do
      local a, b = key(lines[i - 1]), key(lines[i])
      local ordered = a[1] < b[1] or (a[1] == b[1] and (a[2] < b[2] or (a[2] == b[2] and
        (a[3] < b[3] or (a[3] == b[3] and a[4] < b[4])))))
      assert.is_true(ordered, lines[i - 1] .. "  !<  " .. lines[i])
    end
  end)

  it("says how much CPU each kind of thread used, once the run is over", function()
    local _, stats = helper.run_file(capture_path, { parsers = 2 })
    for _, role in ipairs({ "reader", "parsers", "writer" }) do
      assert.equals("float", math.type(stats.cpu[role]), role)
      assert.is_true(stats.cpu[role] > 0 and stats.cpu[role] < 60, role .. ": " .. stats.cpu[role])
    end
    -- no keeper nor exporter without flow limits, exports or on_flows
    assert.equals(0, stats.cpu.keeper)
    assert.equals(0, stats.cpu.exporter)
    local cap = nasoone.new()
    assert(cap:set_capture_file(capture_path))
    assert(cap:set_flow_limits({ idle_timeout = 1 }))
    assert(cap:on_flows(function() end))
    assert(cap:start())
    while not cap:wait(10) do end
    local lifecycle = assert(cap:stop())
    cap:close()
    assert.is_true(lifecycle.cpu.keeper > 0 and lifecycle.cpu.exporter > 0)
  end)

  -- The reader reads classic pcap files in blocks sized by the records' mean size so far: a
  -- change of size (the last block then holds far more records than a batch) and a frame
  -- larger than a block must lose nothing, and a file cut in its last record says so.
  it("reads every record when the frames' sizes change along the file", function()
    local function frame(sport, size)
      -- beyond 1400 bytes, a trailer after the datagram makes the frame that long
      local data = helper.frame({ src = "10.0.0.1", dst = "10.0.0.2", sport = sport, dport = 80,
        proto = "UDP", payload = math.min(size, 1400) })
      return data .. string.rep("\0", math.max(0, size - #data))
    end
    -- ending with many small frames after large ones: the last block read holds thousands
    local parts = { { 1, 60000 }, { 5000, 10 }, { 3, 200000 }, { 2000, 1400 }, { 7000, 0 } }
    local packets, counts = {}, {}
    for i, part in ipairs(parts) do
      local data = frame(1000 + i, part[2])
      for _ = 1, part[1] do packets[#packets + 1] = { sec = 1700000000 + #packets, data = data } end
      counts[1000 + i] = part[1]
    end
    local path = dir .. "/sizes.pcap"
    helper.write_pcap(path, packets)
    for _, parsers in ipairs({ 1, 2 }) do
      local output, stats = helper.run_file(path, { parsers = parsers })
      assert.equals(#packets, stats.counted)
      assert.is_nil(stats.error)
      local rows = helper.sorted_rows(output)
      assert.equals(#parts, #rows)
      for _, row in ipairs(rows) do
        local sport, count = row:match("^10%.0%.0%.1; (%d+);.*; (%d+)$")
        assert.equals(counts[tonumber(sport)], tonumber(count), row)
      end
      -- the same file cut in its last record: everything before it, and libpcap's words
      local bytes = helper.read_file(path)
      local cut = dir .. "/sizes-cut.pcap"
      helper.write_file(cut, bytes:sub(1, #bytes - 10))
      local _, cut_stats = helper.run_file(cut, { parsers = parsers })
      assert.equals(#packets - 1, cut_stats.counted)
      assert.equals(("nasoone: reading %s: truncated dump file; tried to read %d captured bytes, "
        .. "only got %d"):format(cut, #frame(0, 0), #frame(0, 0) - 10), cut_stats.error)
      assert.is_true(cut_stats.file_truncated)
    end
  end)

  it("gives identical bytes on two runs", function()
    local a = helper.run_file(capture_path, { parsers = 3 })
    local b = helper.run_file(capture_path, { parsers = 1 })
    assert.equals(helper.read_file(a), helper.read_file(b))
  end)

  it("loses nothing across pause and resume on a file", function()
    local output = dir .. "/paused.csv"
    local cap = nasoone.new()
    assert(cap:set_capture_file(capture_path))
    assert(cap:set_output(output))
    assert(cap:set_timeout(0.01))
    assert(cap:start())
    local pauses = 0
    while cap:state() == "running" and pauses < 20 do
      if cap:pause() then
        pauses = pauses + 1
        local before = cap:total_packets()
        os.execute("sleep 0.02")
        -- paused: the reader does not advance (at most the dispatch call in flight ends)
        assert.is_true(cap:total_packets() - before <= 4096)
        assert(cap:resume())
      end
    end
    assert.is_true(pauses > 0, "never paused: the file ended first") -- 60,000 packets: it cannot
    assert.is_true(cap:wait(30))
    local stats = assert(cap:stop())
    assert.equals(PACKETS, stats.received)
    assert.same(expected, helper.sorted_rows(output))
  end)

  it("keeps every packet read before stop in the final report", function()
    local output = dir .. "/stopped.csv"
    local cap = nasoone.new()
    assert(cap:set_capture_file(capture_path))
    assert(cap:set_output(output))
    assert(cap:set_parsers(2))
    assert(cap:start())
    while cap:total_packets() == 0 and cap:state() == "running" do end
    local stats = assert(cap:stop())
    assert.is_true(stats.received > 0)
    assert.equals(stats.received, stats.counted + stats.skipped_total)
    assert.equals(stats.counted, report_packets(output))
  end)

  -- one parser owns the report's rows and lends them to the writer; several hand deltas over
  for _, parsers in ipairs({ 1, 2 }) do
    it("rewrites the report while running and delivers intermediate on_report calls, parsers "
      .. parsers, function()
      local output = dir .. "/intervals-" .. parsers .. ".csv"
      local reports = {}
      local cap = nasoone.new()
      assert(cap:set_capture_file(capture_path))
      assert(cap:set_output(output))
      assert(cap:set_parsers(parsers))
      assert(cap:set_timeout(0.01))
      cap:on_report(function(r) reports[#reports + 1] = r end)
      assert(cap:start())
      -- slow the reading down with pauses so several intervals pass mid-file
      while cap:state() == "running" do
        if cap:pause() then
          os.execute("sleep 0.03")
          cap:poll()
          cap:resume()
        end
      end
      assert.is_true(cap:wait(30))
      local stats = assert(cap:stop())
      assert.is_true(stats.reports_written >= 2, "reports written: " .. stats.reports_written)
      assert.is_true(reports[#reports].final)
      assert.equals(#expected, #reports[#reports].rows)
      -- the report only grows: packets are cumulative
      local previous = 0
      for _, r in ipairs(reports) do
        local total = 0
        for _, row in ipairs(r.rows) do total = total + row.packets end
        assert.is_true(total >= previous)
        previous = total
      end
      assert.equals(stats.counted, previous)
      -- every row of the final report is exact, and stats count them all
      assert.same(expected, helper.sorted_rows(output))
      assert.equals(#expected, stats.flows)
    end)
  end

  it("runs several captures at once without sharing state", function()
    local caps, outputs = {}, {}
    for i = 1, 3 do
      outputs[i] = dir .. "/parallel" .. i .. ".csv"
      caps[i] = nasoone.new()
      assert(caps[i]:set_capture_file(capture_path))
      assert(caps[i]:set_output(outputs[i]))
      assert(caps[i]:set_parsers(2))
      assert(caps[i]:start())
    end
    for i = 1, 3 do
      assert.is_true(caps[i]:wait(60))
      assert.equals(PACKETS, caps[i]:stop().received)
      assert.same(expected, helper.sorted_rows(outputs[i]))
    end
  end)
end)
