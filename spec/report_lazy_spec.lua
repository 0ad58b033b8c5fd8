--- on_report at scale: cap:on_report(fn, { rows = "lazy" | "changed" }) hands the callback a
-- report userdata over the engine's snapshot instead of a table per row. These specs hold it
-- to the tables' rows field by field, to the closing rule (valid while the callback runs), and
-- to the point of it all: the Lua heap does not grow with the rows.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local FIELDS = { "source_ip", "source_port", "destination_ip", "destination_port", "protocols",
  "first", "last", "bytes", "packets", "ip_bytes" }

--- A copy of a row table (report:rows() overwrites its table at each step).
local function copy_row(row)
  local copy = {}
  for _, field in ipairs(FIELDS) do copy[field] = row[field] end
  copy.protocols = { table.unpack(row.protocols) }
  return copy
end

local function row_key(row)
  return table.concat({ row.source_ip, row.source_port, row.destination_ip,
    row.destination_port }, "; ")
end

--- A row as the report file writes it.
local function row_text(row)
  return ("%s; [%s]; %d; %d; %d; %d"):format(row_key(row), table.concat(row.protocols, ", "),
    row.first, row.last, row.bytes, row.packets)
end

--- Runs `path` to its end with on_report(callback, options); returns the capture's stats.
local function run(path, callback, options, interval)
  local cap = nasoone.new()
  assert(cap:set_capture_file(path))
  assert(cap:set_timeout(interval or 3600))
  assert.equals(cap, cap:on_report(callback, options))
  assert(cap:start())
  assert.is_true(cap:wait(60), "the capture did not finish within 60 s")
  local stats = assert(cap:stop())
  cap:close()
  return stats
end

--- The final report's rows, copied: "tables" (today's report.rows), "index" (report[i]) or
-- "iterate" (report:rows()).
local function final_rows(path, how)
  local rows
  run(path, function(report)
    if not report.final then return end
    if how == "tables" then
      rows = report.rows
    elseif how == "index" then
      rows = {}
      for i = 1, #report do rows[i] = report[i] end
    else
      rows = {}
      for i, row in report:rows() do rows[i] = copy_row(row) end
    end
  end, how ~= "tables" and { rows = "lazy" } or nil)
  return rows
end

local SHIPPED = { "examples/data/sample" }
for _, name in ipairs({ "ppp", "pppoe-link", "chdlc", "pppoe-mpls-ethernet", "fragments", "live" }) do
  SHIPPED[#SHIPPED + 1] = "spec/fixtures/" .. name
end

--- bench/gen_capture's capture of `packets` packets over `flows` flows (headers only), made
-- once per run of this file.
local generated = {}
local function generated_capture(packets, flows)
  local key = packets .. "-" .. flows
  if not generated[key] then
    local path = ("%s/gen-%s.pcap"):format(helper.tmpdir(), key)
    assert(os.execute(("'%s/bench/gen_capture' '%s' --packets %d --flows %d --snaplen 96 "
      .. ">/dev/null"):format(helper.build_dir, path, packets, flows)),
      "bench/gen_capture failed: is it built?")
    generated[key] = path
  end
  return generated[key]
end

describe("on_report rows", function()
  teardown(helper.cleanup)

  describe("lazy", function()
    for _, name in ipairs(SHIPPED) do
      it("reads the rows of the tables, field by field, in report order: " .. name, function()
        local tables = final_rows(name .. ".pcap", "tables")
        local indexed = final_rows(name .. ".pcap", "index")
        local iterated = final_rows(name .. ".pcap", "iterate")
        assert.is_true(#tables > 0)
        assert.equals(#tables, #indexed)
        assert.equals(#tables, #iterated)
        for i, row in ipairs(tables) do
          for _, field in ipairs(FIELDS) do
            assert.same(row[field], indexed[i][field], ("row %d, %s"):format(i, field))
            assert.same(row[field], iterated[i][field], ("row %d, %s"):format(i, field))
          end
          assert.is_true(math.type(row.ip_bytes) == "integer" and row.ip_bytes > 0)
        end
        -- and the reference report says the same (it sorts as text, the report by key)
        local texts = {}
        for i, row in ipairs(iterated) do texts[i] = row_text(row) end
        table.sort(texts)
        assert.same(helper.sorted_rows(name .. ".expected.csv"), texts)
      end)
    end

    it("rows count ip_bytes: the IP header plus payload, whatever the link layer adds", function()
      local dir = helper.tmpdir()
      local packets, expected = {}, {}
      local specs = {
        { src = "192.0.2.1", dst = "198.51.100.2", sport = 1000, dport = 80, payload = 100 },
        { src = "192.0.2.1", dst = "198.51.100.2", sport = 1000, dport = 80, payload = 0, vlan = 1 },
        { src = "2001:db8::1", dst = "2001:db8::2", sport = 53, dport = 5353, proto = "UDP",
          payload = 33 },
      }
      for i, spec in ipairs(specs) do
        packets[i] = { sec = 1700000000 + i, data = helper.frame(spec) }
        local key = row_key({ source_ip = spec.src, source_port = spec.sport,
          destination_ip = spec.dst, destination_port = spec.dport })
        expected[key] = (expected[key] or 0) + #helper.ip_packet(spec)
      end
      helper.write_pcap(dir .. "/ip.pcap", packets)
      for _, how in ipairs({ "tables", "index", "iterate" }) do
        local rows = final_rows(dir .. "/ip.pcap", how)
        assert.equals(2, #rows)
        for _, row in ipairs(rows) do
          assert.equals(expected[row_key(row)], row.ip_bytes, how)
          assert.is_true(row.bytes > row.ip_bytes)
        end
      end
      assert.equals(20 + 20 + 100 + 20 + 20, expected["192.0.2.1; 1000; 198.51.100.2; 80"])
    end)

    it("rows() refills one table, protocols included, and stops after the last row", function()
      local seen, count, tables, protocols = {}, nil, {}, {}
      run("examples/data/sample.pcap", function(report)
        count = #report
        local last = 0
        for i, row in report:rows() do
          assert.equals(last + 1, i)
          last = i
          tables[row] = true
          protocols[row.protocols] = true
          seen[i] = table.concat(row.protocols, ", ")
        end
        assert.equals(#report, last)
      end, { rows = "lazy" })
      assert.equals(8, count)
      local function size(set)
        local n = 0
        for _ in pairs(set) do n = n + 1 end
        return n
      end
      assert.equals(1, size(tables))
      assert.equals(1, size(protocols))
      -- the sample's protocols in report order: a "[TCP, UDP]" row after one-protocol rows
      -- and before "[TCP]" ones, so the reused table must lose its second entry again
      assert.same({ "TCP", "UDP", "UDP", "UDP", "UDP", "TCP, UDP", "TCP", "TCP" }, seen)
    end)

    it("report[i] is nil out of range and for keys that are not row numbers; ipairs works", function()
      local checked = false
      run("examples/data/sample.pcap", function(report)
        for _, key in ipairs({ 0, -1, #report + 1, 1.5, math.huge, "1", "x", "rows_" }) do
          assert.is_nil(report[key], tostring(key))
        end
        assert.is_nil(report[true])
        assert.same(report[2], report[2.0])
        assert.are_not.equal(report[1], report[1]) -- a new table each time
        local n = 0
        for i, row in ipairs(report) do -- through __index, up to the first nil
          n = n + 1
          assert.same(report[i], row)
        end
        assert.equals(#report, n)
        checked = true
      end, { rows = "lazy" })
      assert.is_true(checked)
    end)

    it("final is false until the last report, and totals() sums every row", function()
      local path = generated_capture(400000, 20000)
      local finals, eager_final = {}, nil
      run(path, function(report) eager_final = report.final and report.rows or eager_final end)
      local sums = { rows = #eager_final, bytes = 0, packets = 0, ip_bytes = 0 }
      for _, row in ipairs(eager_final) do
        sums.bytes = sums.bytes + row.bytes
        sums.packets = sums.packets + row.packets
        sums.ip_bytes = sums.ip_bytes + row.ip_bytes
      end
      local totals
      local stats = run(path, function(report)
        finals[#finals + 1] = report.final
        totals = report:totals()
      end, { rows = "lazy" }, 0.001)
      assert.is_true(#finals >= 2, "expected intermediate reports")
      for i = 1, #finals - 1 do assert.is_false(finals[i]) end
      assert.is_true(finals[#finals])
      assert.same(sums, totals)
      assert.equals(stats.counted, totals.packets)
    end)

    it("is closed once its callback returns: any later use raises, close() does not", function()
      local kept, next_row
      run("examples/data/sample.pcap", function(report)
        kept = report
        next_row = report:rows()
      end, { rows = "lazy" })
      local message = "the report is closed: it is valid only while its on_report callback runs"
      for what, use in pairs({
        length = function() return #kept end,
        index = function() return kept[1] end,
        final = function() return kept.final end,
        rows = function() return kept:rows() end,
        totals = function() return kept:totals() end,
        iterator = function() return next_row(kept, 0) end,
      }) do
        local ok, err = pcall(use)
        assert.is_false(ok, what)
        assert.matches(message, err, 1, true)
      end
      kept:close()
      kept:close()
      assert.matches("^nasoone.report %(closed%)", tostring(kept))
    end)

    it("closes early with <close> or close() inside the callback", function()
      local after = {}
      run("examples/data/sample.pcap", function(report)
        do
          local r <close> = report
          assert.equals(8, #r)
        end
        after[1] = pcall(function() return #report end)
      end, { rows = "lazy" })
      run("examples/data/sample.pcap", function(report)
        report:close()
        after[2] = pcall(function() return report[1] end)
      end, { rows = "lazy" })
      assert.same({ false, false }, after)
    end)

    it("passes an error raised in the callback to wait, and closes the report", function()
      local cap = nasoone.new()
      local kept
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      cap:on_report(function(report)
        kept = report
        error("callback exploded")
      end, { rows = "lazy" })
      assert(cap:start())
      local ok, err = pcall(cap.wait, cap, 10)
      assert.is_false(ok)
      assert.matches("callback exploded", err)
      assert.matches("closed", tostring(kept))
      cap:stop()
      cap:close()
    end)

    it("stays valid while a nested poll or wait delivers the next report", function()
      local path = generated_capture(400000, 20000)
      local cap = nasoone.new()
      local outer, nested = 0, 0
      assert(cap:set_capture_file(path))
      assert(cap:set_timeout(0.001))
      local depth = 0
      cap:on_report(function(report)
        depth = depth + 1
        if depth == 1 then
          outer = outer + 1
          local before = #report
          cap:poll()
          cap:wait(0.05)
          assert.equals(before, #report)
          assert.equals(before, report:totals().rows)
        else
          nested = nested + 1
        end
        depth = depth - 1
      end, { rows = "lazy" })
      assert(cap:start())
      assert.is_true(cap:wait(60))
      cap:stop()
      cap:close()
      assert.is_true(outer >= 1)
      assert.is_true(nested >= 1, "no report was delivered during a callback")
    end)

    it("keeps the Lua heap flat where tables grow with the rows", function()
      local path = generated_capture(400000, 400000)
      local function heap_growth(options, body)
        collectgarbage()
        collectgarbage()
        local base = collectgarbage("count")
        local growth, rows
        run(path, function(report)
          rows = body(report)
          growth = (collectgarbage("count") - base) * 1024
        end, options)
        return growth, rows
      end
      local eager, rows = heap_growth(nil, function(report) return #report.rows end)
      local lazy = heap_growth({ rows = "lazy" }, function(report)
        for _, row in report:rows() do assert(row.packets > 0) end
        return #report
      end)
      local changed = heap_growth({ rows = "changed" }, function(report) return #report end)
      -- 16 bytes a row: a table per row cannot fit (an empty table alone is 56 bytes); the
      -- report userdata needs a few hundred bytes whatever the rows
      local bound = 16 * rows
      assert.is_true(rows > 50000, "rows: " .. rows)
      assert.is_true(eager > bound, ("tables: %d bytes for %d rows"):format(eager, rows))
      assert.is_true(lazy < bound, ("lazy: %d bytes for %d rows"):format(lazy, rows))
      assert.is_true(changed < bound, ("changed: %d bytes for %d rows"):format(changed, rows))
    end)
  end)

  describe("changed", function()
    --- Runs `path` with rows = "changed" at a short interval, applying each report's rows to a
    -- table by key. Every report must bring the table to the whole report (checked against
    -- totals(), which sums every row); with `strict`, every row handed over must differ from
    -- what the table held. Returns the table's rows, sorted as text, and the reports' sizes.
    local function rebuild(path, strict, nested)
      local cap = nasoone.new()
      local held, sizes, depth, depth_seen = {}, {}, 0, 0
      assert(cap:set_capture_file(path))
      assert(cap:set_timeout(0.001))
      cap:on_report(function(report)
        depth = depth + 1
        depth_seen = math.max(depth_seen, depth)
        for _, row in report:rows() do
          local key = row_key(row)
          if strict then
            assert.are_not.same(held[key], copy_row(row), "an unchanged row was handed over")
          end
          held[key] = copy_row(row)
        end
        local sums = { rows = 0, bytes = 0, packets = 0, ip_bytes = 0 }
        for _, row in pairs(held) do
          sums.rows = sums.rows + 1
          sums.bytes = sums.bytes + row.bytes
          sums.packets = sums.packets + row.packets
          sums.ip_bytes = sums.ip_bytes + row.ip_bytes
        end
        assert.same(report:totals(), sums)
        sizes[#sizes + 1] = { #report, report:totals().rows, report.final }
        -- a report delivered in here is compared with the report before this one, whose
        -- callback had returned: it hands over this one's changes again, and nothing is lost
        if nested and depth == 1 then cap:wait(0.05) end
        depth = depth - 1
      end, { rows = "changed" })
      assert(cap:start())
      assert.is_true(cap:wait(60))
      cap:stop()
      cap:close()
      local texts = {}
      for _, row in pairs(held) do texts[#texts + 1] = row_text(row) end
      table.sort(texts)
      return texts, sizes, depth_seen
    end

    it("hands every row at first, then only the rows that changed since", function()
      local path = generated_capture(400000, 20000)
      local texts, sizes = rebuild(path, true)
      local output = helper.run_file(path)
      assert.same(helper.sorted_rows(output), texts)
      assert.is_true(#sizes >= 2, "expected intermediate reports")
      assert.equals(sizes[1][2], sizes[1][1]) -- the first report: every row
      local partial = false
      for _, size in ipairs(sizes) do partial = partial or (size[1] < size[2]) end
      assert.is_true(partial, "no report left out an unchanged row")
      assert.is_true(sizes[#sizes][3])
    end)

    it("gives the rows of the tables, field by field, in report order", function()
      local tables = final_rows("examples/data/sample.pcap", "tables")
      local rows
      run("examples/data/sample.pcap", function(report)
        rows = {}
        for i = 1, #report do rows[i] = report[i] end
      end, { rows = "changed" })
      assert.same(tables, rows)
    end)

    it("still rebuilds the report when a callback polls (a nested report)", function()
      local path = generated_capture(400000, 20000)
      local texts, _, depth = rebuild(path, false, true)
      assert.same(helper.sorted_rows(helper.run_file(path)), texts)
      assert.equals(2, depth, "no report was delivered during a callback")
    end)
  end)

  describe("options", function()
    it("rows = 'tables' is today's report", function()
      local report
      run("examples/data/sample.pcap", function(r) report = r end, { rows = "tables" })
      assert.equals("table", type(report))
      assert.equals(8, #report.rows)
      assert.is_true(report.final)
    end)

    it("raise for an unknown option or mode", function()
      local cap = nasoone.new()
      assert.has_error(function() cap:on_report(print, { row = "lazy" }) end,
        "bad argument #2 to 'on_report' (unknown on_report option 'row')")
      assert.has_error(function() cap:on_report(print, { rows = "all" }) end,
        "bad argument #2 to 'on_report' (option rows must be 'tables', 'lazy' or 'changed')")
      assert.has_error(function() cap:on_report(print, "lazy") end)
    end)
  end)
end)
