--- Exports of flow records to the collectors people run: IPFIX to a real nfcapd (Debian nfdump)
-- read back with nfdump, IPFIX files decoded by ipfixDump (libfixbuf-tools), and the JSON-lines
-- flow log (lua-cjson reads every line). Without those tools the cases that need them say
-- pending; CI installs them.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local function sh(command)
  return os.execute(command .. " >/dev/null 2>&1") == true
end

local function have(tool) return sh("command -v " .. tool) end

local text_of = helper.text_of

local function key_of(row)
  return table.concat({ row.source_ip, row.source_port, row.destination_ip, row.destination_port },
    ",")
end

local PROTOCOL_NUMBER = { TCP = 6, UDP = 17 }

--- The captures exported: ../shared's when CI has them, and the project's fixtures.
local function captures()
  local list = {}
  local shared = helper.shared_dir()
  local pattern = "spec/fixtures/*.pcap examples/data/*.pcap"
  if shared then pattern = pattern .. " " .. shared .. "/pcaps/*.pcap" end
  local p = assert(io.popen("ls " .. pattern))
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

--- Runs a capture with limits and exports; returns the records on_flows saw, the final
-- report's rows and the stats.
local function run(path, limits, exports)
  local cap = nasoone.new()
  assert(cap:set_capture_file(path))
  assert(cap:set_timeout(0.05))
  if limits then assert(cap:set_flow_limits(limits)) end
  for _, e in ipairs(exports) do assert(cap:add_export(e[1], e[2], e[3])) end
  local records, rows = {}, nil
  assert(cap:on_flows(function(batch)
    for _, r in ipairs(batch) do records[#records + 1] = r end
  end))
  assert(cap:on_report(function(report) rows = report.rows end))
  assert(cap:start())
  assert(cap:wait(120), "capture did not finish within 120 s")
  local stats = assert(cap:stop())
  cap:close()
  return records, rows, stats
end

--- Starts nfcapd on 127.0.0.1, a free random port (or `fixed_port`), its own folder (or
-- `dir`, of an earlier nfcapd). Returns port, pid, folder.
local function start_nfcapd(fixed_port, dir, default_buffer)
  if not dir then
    dir = helper.tmpdir() .. "/flows" -- the log beside it: nfdump -R reads all of it
    assert(sh("mkdir '" .. dir .. "'"))
  end
  for _ = 1, fixed_port and 1 or 10 do
    local port = fixed_port or (helper.free_udp_ports())
    local log = dir .. ".log"
    -- an earlier nfcapd's log goes first: its "Startup" must not be read as this one's (the
    -- shell truncates the file in the child, which can run after the pid is echoed)
    os.remove(log)
    -- -B: a burst of records must fit its socket buffer (unless its default is what is tested)
    local p = assert(io.popen(("nfcapd -b 127.0.0.1 -p %d -w '%s' -t 3600 %s >'%s' 2>&1 & echo $!")
      :format(port, dir, default_buffer and "" or "-B 8388608", log)))
    local pid = p:read("l")
    p:close()
    for _ = 1, 100 do -- 10 s: a loaded machine starts it late
      local text = text_of(log)
      if text:find("Startup nfcapd", 1, true) or not sh("kill -0 " .. pid) then break end
      sh("sleep 0.1")
    end
    if sh("kill -0 " .. pid) and (text_of(log)):find("Startup nfcapd", 1, true) then
      return port, pid, dir
    end
  end
  error("nfcapd did not start: " .. text_of(dir .. ".log"))
end

--- Stops nfcapd (SIGTERM makes it write its file).
local function stop_nfcapd(pid)
  sh("sleep 0.5") -- what is queued on its socket is read first
  sh("kill -TERM " .. pid .. "; while kill -0 " .. pid .. "; do sleep 0.05; done")
end

--- Stops nfcapd and reads what it stored with nfdump: one line per IPFIX data record,
-- "protocol,source,sport,destination,dport,packets,ip_bytes,first,last" (%tsr and %td in
-- s.mmm: nfdump 1.7.1's %ter prints the end's milliseconds wrong; -6: IPv6 addresses whole,
-- not shortened with "..").
local function read_flows(dir)
  local p = assert(io.popen(("nfdump -R '%s' -q -N -6 -o 'fmt:%%pr,%%sa,%%sp,%%da,%%dp,%%pkt,%%byt,%%tsr,%%td'")
    :format(dir)))
  local lines = {}
  for line in p:lines() do
    local f = {}
    for field in line:gmatch("[^,]+") do f[#f + 1] = field:gsub("%s", "") end
    if #f == 9 then
      local function ms(text)
        local s, m = text:match("^(%d+)%.(%d%d%d)$")
        return tonumber(s) * 1000 + tonumber(m)
      end
      local first = ms(f[8])
      lines[#lines + 1] = table.concat({ f[1], f[2], f[3], f[4], f[5], f[6], f[7], first,
        first + ms(f[9]) }, ",")
    end
  end
  assert(p:close(), "nfdump failed")
  return lines
end

--- The TCP flags nfcapd stored (tcpControlBits, shown by nfdump as CWR ECE URG ACK PSH RST SYN
-- FIN letters or dots), OR-ed by 4-tuple over its TCP data records.
local function read_tcp_flags(dir)
  local p = assert(io.popen(("nfdump -R '%s' -q -N -6 -o 'fmt:%%pr|%%sa|%%sp|%%da|%%dp|%%flg'"):format(dir)))
  local flags, bits = {}, { 128, 64, 32, 16, 8, 4, 2, 1 }
  for line in p:lines() do
    local f = {}
    for field in line:gmatch("[^|]+") do f[#f + 1] = field:gsub("%s", "") end
    if f[1] == "6" and #f == 6 then
      local key, value = table.concat({ f[2], f[3], f[4], f[5] }, ","), 0
      for i = 1, 8 do if f[6]:sub(i, i) ~= "." then value = value | bits[i] end end
      flags[key] = (flags[key] or 0) | value
    end
  end
  assert(p:close(), "nfdump failed")
  return flags
end

local function stop_and_read(pid, dir)
  stop_nfcapd(pid)
  local log = text_of(dir .. ".log")
  assert(log:find("Sequence Errors: 0,", 1, true), "nfcapd saw lost or reordered messages:\n" .. log)
  return read_flows(dir)
end

--- What a collector must show for these records: a line per single-protocol record, and for
-- records of both protocols (IPFIX has no protocol set: one data record per protocol) their
-- sums by 4-tuple, compared with the collector's lines summed the same way.
local function expected_lines(records)
  local lines, mixed = {}, {}
  for _, r in ipairs(records) do
    if #r.protocols == 1 then
      lines[#lines + 1] = table.concat({ PROTOCOL_NUMBER[r.protocols[1]], key_of(r), r.packets,
        r.ip_bytes, r.first, r.last }, ",")
    else
      mixed[key_of(r)] = true
    end
  end
  return lines, mixed
end

local function split_mixed(lines, mixed)
  local plain, sums = {}, {}
  for _, line in ipairs(lines) do
    local proto, a, ap, b, bp, packets, bytes =
      line:match("^(%d+),([^,]+),(%d+),([^,]+),(%d+),(%d+),(%d+),%d+,%d+$")
    local key = table.concat({ a, ap, b, bp }, ",")
    if mixed[key] and proto then
      local s = sums[key] or { packets = 0, bytes = 0 }
      sums[key] = s
      s.packets, s.bytes = s.packets + tonumber(packets), s.bytes + tonumber(bytes)
    else
      plain[#plain + 1] = line
    end
  end
  table.sort(plain)
  return plain, sums
end

describe("exports", function()
  after_each(helper.cleanup)

  it("IPFIX: nfcapd + nfdump see exactly the records, and the records the report's numbers",
    function()
      if not (have("nfcapd") and have("nfdump") and have("ipfixDump")) then
        return pending("needs nfcapd, nfdump (apt-get install -y nfdump) and ipfixDump "
          .. "(apt-get install -y libfixbuf-tools)")
      end
      local port, pid, nfcapd_dir = start_nfcapd()
      local dir = helper.tmpdir()
      local all_records, files, counted = {}, {}, 0
      for i, path in ipairs(captures()) do
        local file = ("%s/export-%d.ipfix"):format(dir, i)
        local records, _, stats = run(path, { idle_timeout = 0.5, active_timeout = 2 }, {
          -- a domain per run: to nfcapd each run is an exporter with its own sequence numbers
          { "ipfix", "udp://127.0.0.1:" .. port, { domain = i } },
          { "ipfix", "file:" .. file },
        })
        assert.same({ #records, 0, 0 }, { stats.exports[1].sent, stats.exports[1].dropped,
          stats.exports[1].errors }, path)
        assert.same({ #records, 0 }, { stats.exports[2].sent, stats.exports[2].dropped }, path)
        local packets = 0
        for _, r in ipairs(records) do
          all_records[#all_records + 1] = r
          packets = packets + r.packets
        end
        assert.equals(stats.counted, packets, path)
        -- and the frame bytes of the records are the report's (without limits) for each row
        local _, unlimited = run(path, nil, {})
        local bytes = {}
        for _, r in ipairs(records) do bytes[key_of(r)] = (bytes[key_of(r)] or 0) + r.bytes end
        for _, row in ipairs(unlimited) do
          assert.equals(row.bytes, bytes[key_of(row)], path .. " " .. key_of(row))
          bytes[key_of(row)] = nil
        end
        assert.same({}, bytes, path)
        counted = counted + stats.counted
        files[#files + 1] = { file = file, records = #records }
      end
      local seen = stop_and_read(pid, nfcapd_dir)
      -- tcpControlBits: the records' TCP flags, OR-ed by 4-tuple as nfdump shows them
      local want_flags = {}
      for _, r in ipairs(all_records) do
        if r.protocols[1] == "TCP" then want_flags[key_of(r)] = (want_flags[key_of(r)] or 0) | r.tcp_flags end
      end
      assert.same(want_flags, read_tcp_flags(nfcapd_dir))
      local expected, mixed = expected_lines(all_records)
      table.sort(expected)
      local plain, sums = split_mixed(seen, mixed)
      assert.same(expected, plain)
      for key in pairs(mixed) do
        local want = { packets = 0, bytes = 0 }
        for _, r in ipairs(all_records) do
          if key_of(r) == key then
            want.packets, want.bytes = want.packets + r.packets, want.bytes + r.ip_bytes
          end
        end
        assert.same(want, sums[key], key)
      end
      local collected = 0
      for _, line in ipairs(seen) do
        collected = collected + tonumber(line:match("^[^,]+,[^,]+,[^,]+,[^,]+,[^,]+,(%d+)"))
      end
      assert.equals(counted, collected)
      -- every message of every file decodes, with one data record per record and protocol
      for _, f in ipairs(files) do
        local err = f.file .. ".err"
        assert(sh(("ipfixDump --in '%s' --out '%s.txt' 2>'%s'"):format(f.file, f.file, err)))
        assert.equals("", helper.read_file(err), f.file)
        local text = helper.read_file(f.file .. ".txt")
        local data = tonumber(text:match("File Stats: %d+ Messages, (%d+) Data Records"))
        assert.is_true(data ~= nil and data >= f.records, f.file)
      end
    end)

  it("IPFIX with no collector: the report loses nothing, stats count the dropped records",
    function()
      local sample = "examples/data/sample.pcap"
      local _, unlimited_rows = run(sample, nil, {})
      -- port 9 (discard) on loopback: nothing listens there, the kernel refuses each datagram
      local records, rows, stats = run(sample, nil, { { "ipfix", "udp://127.0.0.1:9" } })
      assert.same(unlimited_rows, rows)
      assert.equals(#rows, #records)
      local e = stats.exports[1]
      assert.same({ "ipfix", "udp://127.0.0.1:9", 0, #records }, { e.kind, e.target, e.sent,
        e.dropped })
      assert.is_true(e.errors > 0)
      assert.matches("Connection refused", e.error)
    end)

  it("JSON lines: one complete file per rotation period, never a half file, summing to the report",
    function()
      local ok, cjson = pcall(require, "cjson")
      if not ok then return pending("needs lua-cjson (apt-get install -y lua-cjson)") end
      local dir = helper.tmpdir()
      local capture = dir .. "/periods.pcap"
      -- flow n (10.9.0.n) sends 3 packets at n s, n s + 50 ms, n s + 100 ms, for n = 0..9; with
      -- idle_timeout 0.5 each row ends when the next flow's first packet moves the clock on, so
      -- records are made at 1, 2, ... 9 s and at the end (9.1 s): with rotate = 2, five periods
      local packets = {}
      for n = 0, 9 do
        for _, ms in ipairs({ 0, 50, 100 }) do
          packets[#packets + 1] = { sec = 1700000000 + n, usec = ms * 1000, data = helper.frame({
            src = "10.9.0." .. (n + 1), dst = "10.9.1.1", sport = 1000 + n, dport = 53,
            proto = n % 2 == 0 and "UDP" or "TCP", payload = 10 * n }) }
        end
      end
      helper.write_pcap(capture, packets)
      local logs = dir .. "/logs"
      assert(sh("mkdir '" .. logs .. "'"))
      local seen_partial = {}
      local function look() -- what a log shipper polling the folder would read
        local p = assert(io.popen("ls -A '" .. logs .. "'"))
        for name in p:lines() do
          if not name:match("^%.") then
            local text = text_of(logs .. "/" .. name)
            if text:sub(-1) ~= "\n" then seen_partial[#seen_partial + 1] = name end
            for line in text:gmatch("[^\n]+") do cjson.decode(line) end
          end
        end
        p:close()
      end
      local cap = nasoone.new()
      assert(cap:set_capture_file(capture))
      assert(cap:set_timeout(0.01))
      assert(cap:set_flow_limits({ idle_timeout = 0.5 }))
      assert(cap:add_export("jsonl", logs .. "/flows-%Y%m%d-%H%M%S.jsonl", { rotate = 2 }))
      local records = {}
      assert(cap:on_flows(function(batch)
        look()
        for _, r in ipairs(batch) do records[#records + 1] = r end
      end))
      assert(cap:start())
      repeat look() until cap:wait(0.001)
      local stats = assert(cap:stop())
      look()
      assert.same({}, seen_partial)
      local names = {}
      local p = assert(io.popen("ls -A '" .. logs .. "'"))
      for name in p:lines() do names[#names + 1] = name end
      p:close()
      local expected_names = {}
      for period = 0, 8, 2 do
        expected_names[#expected_names + 1] = os.date("!flows-%Y%m%d-%H%M%S.jsonl", 1700000000 + period)
      end
      assert.same(expected_names, names) -- no temporary left either
      -- the files hold exactly the records on_flows gave, field for field
      local from_files = {}
      for _, name in ipairs(names) do
        for line in text_of(logs .. "/" .. name):gmatch("[^\n]+") do
          local r = cjson.decode(line)
          from_files[#from_files + 1] = table.concat({ r.source_ip, math.tointeger(r.source_port),
            r.destination_ip, math.tointeger(r.destination_port), table.concat(r.protocols, ","),
            math.tointeger(r.first), math.tointeger(r.last), math.tointeger(r.bytes),
            math.tointeger(r.ip_bytes), math.tointeger(r.packets), r.reason }, ";")
        end
      end
      local given = {}
      for _, r in ipairs(records) do
        given[#given + 1] = table.concat({ r.source_ip, r.source_port, r.destination_ip,
          r.destination_port, table.concat(r.protocols, ","), r.first, r.last, r.bytes,
          r.ip_bytes, r.packets, r.reason }, ";")
      end
      assert.same(given, from_files)
      assert.equals(10, #records)
      assert.same({ 10, 0, 0 }, { stats.exports[1].sent, stats.exports[1].dropped,
        stats.exports[1].errors })
      -- and they sum to the report the capture gives without limits, row by row
      local _, unlimited = run(capture, nil, {})
      local sums = {}
      for _, r in ipairs(records) do
        local sum = sums[key_of(r)] or { 0, 0, 0 }
        sums[key_of(r)] = { sum[1] + r.packets, sum[2] + r.bytes, sum[3] + r.ip_bytes }
      end
      assert.equals(10, #unlimited)
      for _, row in ipairs(unlimited) do
        assert.same({ row.packets, row.bytes, row.ip_bytes }, sums[key_of(row)])
      end
    end)

  it("JSON lines: the report itself as JSON lines, the same rows as the CSV", function()
    local ok, cjson = pcall(require, "cjson")
    if not ok then return pending("needs lua-cjson (apt-get install -y lua-cjson)") end
    local dir = helper.tmpdir()
    local sample = "examples/data/sample.pcap"
    local csv = helper.run_file(sample, { dir = dir })
    local path = dir .. "/report.jsonl"
    local cap = nasoone.new()
    assert(cap:set_capture_file(sample))
    assert(cap:set_output(path, { format = "jsonl" }))
    assert(cap:start())
    assert(cap:wait(60))
    assert(cap:stop())
    local rows = {}
    for line in text_of(path):gmatch("([^\n]*)\n") do
      local r = cjson.decode(line)
      rows[#rows + 1] = table.concat({ r.source_ip, math.tointeger(r.source_port), r.destination_ip,
        math.tointeger(r.destination_port), "[" .. table.concat(r.protocols, ", ") .. "]", math.tointeger(r.first),
        math.tointeger(r.last), math.tointeger(r.bytes), math.tointeger(r.packets) }, "; ")
      assert.is_true(r.ip_bytes > 0 and r.ip_bytes < r.bytes)
    end
    table.sort(rows)
    assert.same(helper.sorted_rows(csv), rows)
    assert.has_error(function() cap:set_output(path, { format = "xml" }) end,
      "bad argument #2 to 'set_output' (option format must be 'csv' or 'jsonl')")
  end)

  it("the extended CSV: the seed's columns byte for byte, then ip bytes and the TCP flags", function()
    local dir = helper.tmpdir()
    local captures_read = 0
    for _, path in ipairs(captures()) do
      local seed = helper.run_file(path, { dir = dir .. "/" })
      local jsonl = helper.run_file(path, { dir = dir .. "/", format = "jsonl" })
      local extended = dir .. "/extended.csv"
      os.remove(extended)
      local rows = {}
      local cap = nasoone.new()
      assert(cap:set_capture_file(path))
      assert(cap:set_output(extended, { columns = "extended" }))
      assert(cap:on_report(function(report) rows = report.rows end))
      assert(cap:start())
      assert(cap:wait(60))
      assert(cap:stop())
      cap:close()
      local lines = {}
      for line in text_of(extended):gmatch("([^\n]*)\n") do lines[#lines + 1] = line end
      assert.equals(nasoone.report_header .. "; ip bytes; tcp flags", lines[1])
      local seed_lines = {}
      for line in text_of(seed):gmatch("([^\n]*)\n") do seed_lines[#seed_lines + 1] = line end
      assert.equals(#seed_lines, #lines, path)
      local letters = { "C", "E", "U", "A", "P", "R", "S", "F" }
      for i = 2, #lines do
        local row = rows[i - 1]
        local flags = "-"
        if row.protocols[1] == "TCP" then
          local text = {}
          for bit = 1, 8 do text[bit] = row.tcp_flags & (0x80 >> (bit - 1)) ~= 0 and letters[bit] or "." end
          flags = table.concat(text)
        end
        assert.equals(seed_lines[i] .. "; " .. row.ip_bytes .. "; " .. flags, lines[i], path)
      end
      -- the JSON-lines report says the same ip bytes and flags
      local n = 0
      for line in text_of(jsonl):gmatch("([^\n]*)\n") do
        n = n + 1
        assert.matches('"ip_bytes":' .. rows[n].ip_bytes .. ",", line, 1, true)
        if rows[n].protocols[1] == "TCP" then
          assert.matches('"tcp_flags":' .. rows[n].tcp_flags .. "}", line, 1, true)
        else
          assert.is_nil(line:find("tcp_flags", 1, true))
        end
      end
      os.remove(seed)
      os.remove(jsonl)
      captures_read = captures_read + 1
    end
    assert.is_true(captures_read > 0)
    local cap = nasoone.new()
    assert.has_error(function() cap:set_output(dir .. "/x.csv", { columns = "wide" }) end,
      "bad argument #2 to 'set_output' (option columns must be 'seed' or 'extended')")
    assert.has_error(function() cap:set_output(dir .. "/x.jsonl", { format = "jsonl", columns = "extended" }) end,
      "bad argument #2 to 'set_output' (option columns is the CSV's (JSON lines have every field))")
    cap:close()
  end)

  it("JSON lines: a folder that went away is said by wait and stats; the report loses nothing",
    function()
      local dir = helper.tmpdir()
      local logs = dir .. "/logs"
      assert(sh("mkdir '" .. logs .. "'"))
      local cap = nasoone.new()
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      assert(cap:set_output(dir .. "/report.csv"))
      assert(cap:add_export("jsonl", logs .. "/flows.jsonl"))
      assert(sh("rmdir '" .. logs .. "'"))
      assert(cap:start())
      local over, why = cap:wait(60)
      assert.is_true(over)
      assert.matches("^nasoone: .*" .. logs:gsub("%p", "%%%0") .. ".*No such file or directory", why)
      local stats = assert(cap:stop())
      local e = stats.exports[1]
      assert.same({ 0, stats.records }, { e.sent, e.dropped })
      assert.is_true(e.errors > 0)
      assert.same(helper.sorted_rows(helper.run_file("examples/data/sample.pcap")),
        helper.sorted_rows(dir .. "/report.csv"))
    end)

  it("examples/flows.lua writes its hourly flow log from a capture file", function()
    local dir = helper.tmpdir()
    local cwd = assert(io.popen("pwd")):read("l")
    local build = helper.build_dir:sub(1, 1) == "/" and helper.build_dir or cwd .. "/" .. helper.build_dir
    local paths = ("LUA_PATH_5_4='%s/lua/?.lua' LUA_CPATH_5_4='%s/?.so'"):format(cwd, build)
    local p = assert(io.popen(("%s %s examples/flows.lua examples/data/sample.pcap '%s' 2>'%s/err'")
      :format(paths, helper.lua_interpreter, dir, dir)))
    p:read("a")
    assert.is_true(p:close())
    local err = text_of(dir .. "/err")
    assert.matches("held 8 %(peak 8%), 8 records, 33 packets counted, jsonl sent 8 dropped 0", err)
    assert.matches("8 records of 33 packets\n$", err)
    -- the sample's packets are from 2022-12-26 13:20 UTC: one hourly file
    local lines = 0
    for _ in text_of(dir .. "/flows-20221226-1300.jsonl"):gmatch("[^\n]+") do lines = lines + 1 end
    assert.equals(8, lines)
  end)

  describe("never over a file that exists", function()
    local function refused(cap, target, what)
      local ok, message, code = cap:add_export("ipfix", "file:" .. target)
      assert.is_nil(ok, what)
      assert.equals(("nasoone: IPFIX file %s already exists: an export never writes over a file")
        :format(target), message)
      assert.equals("exists", code)
    end

    it("refuses a file, the capture's own input, a link, a FIFO and a device; creates nothing "
      .. "before start", function()
      local dir = helper.tmpdir()
      local input = dir .. "/in.pcap"
      assert(sh(("cp examples/data/sample.pcap '%s'"):format(input)))
      local before = helper.read_file(input)
      helper.write_file(dir .. "/target", "kept")
      assert(sh(("ln -s '%s/target' '%s/link.ipfix' && ln -s '%s/nowhere' '%s/dangling.ipfix' "
        .. "&& mkfifo '%s/fifo.ipfix'"):format(dir, dir, dir, dir, dir)))
      local cap = nasoone.new()
      assert(cap:set_capture_file(input))
      refused(cap, input, "the input")
      refused(cap, dir .. "/link.ipfix", "a link")
      refused(cap, dir .. "/dangling.ipfix", "a dangling link")
      refused(cap, dir .. "/fifo.ipfix", "a FIFO") -- at once: a FIFO is never opened
      refused(cap, "/dev/full", "a device")
      assert.equals(before, helper.read_file(input))
      assert.equals("kept", helper.read_file(dir .. "/target"))
      assert.is_false(helper.exists(dir .. "/nowhere"))
      -- accepted, never started: nothing is created
      assert(cap:add_export("ipfix", "file:" .. dir .. "/never.ipfix"))
      cap:close()
      assert.is_false(helper.exists(dir .. "/never.ipfix"))
    end)

    it("a file that appeared before start: start fails, touches it, and leaves no report", function()
      local dir = helper.tmpdir()
      local cap = nasoone.new()
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      assert(cap:set_output(dir .. "/report.csv"))
      assert(cap:add_export("ipfix", "file:" .. dir .. "/flows.ipfix"))
      helper.write_file(dir .. "/flows.ipfix", "theirs")
      local ok, message, code = cap:start()
      assert.is_nil(ok)
      assert.equals(("nasoone: IPFIX file %s/flows.ipfix already exists: an export never writes "
        .. "over a file"):format(dir), message)
      assert.equals("exists", code)
      assert.equals("theirs", helper.read_file(dir .. "/flows.ipfix"))
      assert.is_false(helper.exists(dir .. "/report.csv"))
      cap:close()
    end)
  end)

  it("IPFIX: a collector that restarts is sent the templates first, and stores every record "
    .. "counted sent", function()
    if not (have("nfcapd") and have("nfdump")) then
      return pending("needs nfcapd and nfdump (apt-get install -y nfdump)")
    end
    local sender = helper.build_dir .. "/tests/ipfix_send"
    assert.is_true(helper.exists(sender), sender .. " is not built")
    local port, pid, flows_dir = start_nfcapd()
    local dir = helper.tmpdir()
    -- 8000 records, 20 every 20 ms: about 8 s (nfcapd takes a second or two to stop and to
    -- start); the templates go once, at the start, and the scheduled resend is an hour away:
    -- only the refusals can bring them back
    local COUNT = 8000
    local p = assert(io.popen(("'%s' --count %d --batch 20 --pace 20 --quiet --template-resend "
      .. "3600 udp://127.0.0.1:%d 2>'%s/sender.err' & echo $!"):format(sender, COUNT, port, dir)))
    local sender_pid = p:read("l")
    p:close()
    sh("sleep 0.6")
    stop_nfcapd(pid) -- down: its records are refused
    sh("sleep 0.6")
    local flows_after = helper.tmpdir() .. "/flows"
    assert(sh("mkdir '" .. flows_after .. "'"))
    local _, pid2 = start_nfcapd(port, flows_after) -- back, knowing no templates
    assert.is_true(sh("kill -0 " .. sender_pid), "the sender ended before the collector was back")
    sh("while kill -0 " .. sender_pid .. " 2>/dev/null; do sleep 0.05; done")
    local seen_after = stop_and_read(pid2, flows_after)
    local seen_before = read_flows(flows_dir) -- what the first one stored
    local err = helper.read_file(dir .. "/sender.err")
    local sent, dropped = err:match("sent (%d+), dropped (%d+)")
    sent, dropped = tonumber(sent), tonumber(dropped)
    assert.is_not_nil(sent, err)
    assert.equals(COUNT, sent + dropped)
    assert.is_true(dropped > 0, "the collector was never down: " .. err)
    -- ipfix_send's records are numbered by their IPv4 source (10.A.B.C is record A*65536+B*256+C;
    -- every 4th record is IPv6), and go out 20 to a batch, in order
    local function stored(lines)
      local records, count = {}, 0
      for _, line in ipairs(lines) do
        local a, b, c = line:match("^%d+,10%.(%d+)%.(%d+)%.(%d+),")
        if a then
          local index = tonumber(a) * 65536 + tonumber(b) * 256 + tonumber(c)
          if not records[index] then count = count + 1 end
          records[index] = true
        end
      end
      return records, count
    end
    local _, before_count = stored(seen_before)
    local after, after_count = stored(seen_after)
    -- the restarted collector stored records, so it had the templates; from the first batch it
    -- stored on, it has every record of every later batch: nothing counted sent was lost
    local first_batch
    for index in pairs(after) do
      if not first_batch or index // 20 < first_batch then first_batch = index // 20 end
    end
    assert.is_not_nil(first_batch, "the restarted nfcapd stored nothing: no templates reached it")
    assert.is_true(first_batch <= COUNT // 20 - 10, "too few batches after the restart to tell")
    for index = (first_batch + 1) * 20, COUNT - 1 do
      if index % 4 ~= 3 then assert.is_true(after[index], "record " .. index .. " lost") end
    end
    -- and the collectors never stored what was counted dropped: at most what was sent (a
    -- collector that is shutting down can still take datagrams it will never read)
    assert.is_true(before_count + after_count <= sent)
  end)

  describe("JSON lines: a crashed run's open file", function()
    local WHOLE = '{"source_ip":"192.0.2.1","source_port":1,"destination_ip":"192.0.2.2",'
      .. '"destination_port":2,"protocols":["UDP"],"first":1,"last":1,"bytes":60,'
      .. '"ip_bytes":46,"packets":1,"reason":"idle"}\n'

    it("is published at the next start, its cut last line removed", function()
      local dir = helper.tmpdir()
      -- what kill -9 leaves: the open period's file under its temporary name, cut mid-line
      local leftover = dir .. "/.flows-20221226.jsonl.0123456789abcdef.flows.tmp"
      helper.write_file(leftover, WHOLE .. WHOLE .. WHOLE .. '{"source_ip":"192.0')
      helper.write_file(dir .. "/.other.jsonl.0123456789abcdef.flows.tmp", WHOLE) -- not ours
      local cap = nasoone.new()
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      assert(cap:add_export("jsonl", dir .. "/flows-%Y%m%d.jsonl"))
      assert(cap:start())
      assert(cap:wait(60))
      local stats = assert(cap:stop())
      cap:close()
      assert.equals(1, stats.exports[1].recovered)
      assert.equals(WHOLE .. WHOLE .. WHOLE, helper.read_file(dir .. "/flows-20221226.jsonl"))
      -- this run's records, for the same day, under the next free name
      local lines = 0
      for _ in helper.read_file(dir .. "/flows-20221226.1.jsonl"):gmatch("[^\n]+") do
        lines = lines + 1
      end
      assert.equals(8, lines)
      assert.is_false(helper.exists(leftover))
      assert.is_true(helper.exists(dir .. "/.other.jsonl.0123456789abcdef.flows.tmp"))
    end)

    it("kill -9 in the middle of a run: the next start publishes every whole line it wrote",
      function()
        local ok, cjson = pcall(require, "cjson")
        if not ok then return pending("needs lua-cjson (apt-get install -y lua-cjson)") end
        local dir = helper.tmpdir()
        local capture = dir .. "/many.pcap"
        helper.synthetic_capture(capture, 60000, 6000)
        -- records all along (max_flows), on_flows slow: the run lasts seconds, the flow log's
        -- open file grows meanwhile
        local script = dir .. "/child.lua"
        helper.write_file(script, ([[
          package.path = %q
          package.cpath = %q
          local nasoone = require("nasoone")
          local cap = nasoone.new()
          assert(cap:set_capture_file(%q))
          assert(cap:set_flow_limits { max_flows = 50 })
          assert(cap:add_export("jsonl", %q))
          assert(cap:on_flows(function() os.execute("sleep 0.2") end))
          assert(cap:start())
          cap:wait()
        ]]):format(helper.absolute("lua") .. "/?.lua", helper.build_dir .. "/?.so", capture,
          dir .. "/flows.jsonl"))
        local p = assert(io.popen(("echo $$; exec %s '%s' 2>/dev/null"):format(
          helper.lua_interpreter, script)))
        local pid = p:read("l")
        local leftover
        for _ = 1, 300 do -- up to 30 s for the first flush of the open file
          local ls = io.popen("ls -A '" .. dir .. "'")
          for name in ls:lines() do
            if name:match("^%.flows%.jsonl%.%x+%.flows%.tmp$") then leftover = name end
          end
          ls:close()
          if leftover and #helper.read_file(dir .. "/" .. leftover) > 0 then break end
          sh("sleep 0.1")
        end
        sh("kill -9 " .. pid)
        p:close()
        assert.is_not_nil(leftover, "the flow log never opened its file")
        local written = helper.read_file(dir .. "/" .. leftover)
        local whole = select(2, written:gsub("\n", "\n"))
        assert.is_true(whole > 0)
        assert.is_false(helper.exists(dir .. "/flows.jsonl")) -- the run never completed it
        -- the next run of the same export
        local cap = nasoone.new()
        assert(cap:set_capture_file("examples/data/sample.pcap"))
        assert(cap:add_export("jsonl", dir .. "/flows.jsonl"))
        assert(cap:start())
        assert(cap:wait(60))
        local stats = assert(cap:stop())
        cap:close()
        assert.equals(1, stats.exports[1].recovered)
        local lines = 0
        for line in helper.read_file(dir .. "/flows.jsonl"):gmatch("[^\n]+") do
          local record = cjson.decode(line)
          assert.is_string(record.reason)
          lines = lines + 1
        end
        assert.equals(whole, lines) -- every whole line, and only whole lines
        assert.is_false(helper.exists(dir .. "/" .. leftover))
        assert.is_true(helper.exists(dir .. "/flows.1.jsonl")) -- this run's records
      end)

    it("is left alone while a running capture holds it, and a report's start never removes it",
      function()
        if not have("flock") then return pending("needs flock (util-linux)") end
        local dir = helper.tmpdir()
        -- a running capture's open flow log, named like the report below
        local running = dir .. "/.report.csv.0123456789abcdef.flows.tmp"
        local report_temp = dir .. "/.report.csv.fedcba9876543210.tmp"
        helper.write_file(running, WHOLE)
        helper.write_file(report_temp, "a report being renamed")
        local p = assert(io.popen(("flock '%s' flock '%s' sleep 30 >/dev/null 2>&1 & echo $!")
          :format(running, report_temp)))
        local holder = p:read("l")
        p:close()
        sh("sleep 0.3") -- both locks taken
        -- a capture whose report has that name: its start removes its own kind's leftovers only
        local cap = nasoone.new()
        assert(cap:set_capture_file("examples/data/sample.pcap"))
        assert(cap:set_output(dir .. "/report.csv"))
        assert(cap:start())
        assert(cap:wait(60))
        assert(cap:stop())
        cap:close()
        -- a capture whose flow log has that name: a locked file is a running capture's
        local cap2 = nasoone.new()
        assert(cap2:set_capture_file("examples/data/sample.pcap"))
        assert(cap2:add_export("jsonl", dir .. "/report.csv"))
        assert(cap2:set_output(dir .. "/other.csv"))
        assert(cap2:start())
        assert(cap2:wait(60))
        local stats = assert(cap2:stop())
        cap2:close()
        sh("pkill -P " .. holder .. "; kill " .. holder .. " 2>/dev/null")
        assert.equals(0, stats.exports[1].recovered)
        assert.equals(WHOLE, helper.read_file(running))
        assert.equals("a report being renamed", helper.read_file(report_temp))
      end)
  end)

  it("stats: no export has sent more records than stats.records, at any moment", function()
    local dir = helper.tmpdir()
    local cap = nasoone.new()
    assert(cap:set_capture_file("examples/data/sample.pcap"))
    assert(cap:set_flow_limits { max_flows = 1 }) -- a record at almost every packet
    assert(cap:add_export("jsonl", dir .. "/flows.jsonl"))
    assert(cap:on_flows(function() end))
    assert(cap:start())
    local looks = 0
    repeat
      local s = cap:stats()
      for _, e in ipairs(s.exports) do
        assert.is_true(e.sent + e.dropped <= s.records, ("%s: %d + %d > %d"):format(e.kind,
          e.sent, e.dropped, s.records))
      end
      looks = looks + 1
    until cap:wait(0.0001)
    local s = assert(cap:stop())
    cap:close()
    assert.same({ s.records, s.records }, { s.exports[1].sent, s.exports[2].sent })
    assert.is_true(looks > 0)
  end)

  it("refuses a bad IPFIX target and bad options with a clear message", function()
    local cap = nasoone.new()
    local ok, message, code = cap:add_export("ipfix", "udp://localhost")
    assert.is_nil(ok)
    assert.matches("bad IPFIX target udp://localhost", message)
    assert.equals("invalid_argument", code)
    assert.has_error(function() cap:add_export("ipfix", "udp://127.0.0.1:4739", { rotate = 5 }) end,
      "bad argument #3 to 'add_export' (unknown ipfix export option 'rotate')")
    assert.has_error(function() cap:add_export("ipfix", "udp://127.0.0.1:4739", { mtu = 64 }) end,
      "bad argument #3 to 'add_export' (mtu must be an integer from 256 to 65535)")
    cap:close()
  end)
end)

describe("a file capture's IPFIX export", function()
  after_each(helper.cleanup)

  it("reaches nfcapd and nfacctd with their default settings whole: it is paced", function()
    if not (have("nfcapd") and have("nfdump") and have("nfacctd")) then
      return pending("needs nfcapd, nfdump and nfacctd (apt-get install -y nfdump pmacct)")
    end
    local dir = helper.tmpdir()
    -- 40,000 flows: unpaced, about 1,600 datagrams at once, beyond a default socket buffer
    local capture = dir .. "/many-flows.pcap"
    assert(sh(("'%s/bench/gen_capture' '%s' --packets 120000 --flows 40000 --snaplen 96 >/dev/null")
      :format(helper.absolute(helper.build_dir), capture)))
    local port, pid, flows = start_nfcapd(nil, nil, true)
    local acct_port = helper.free_udp_ports()
    helper.write_file(dir .. "/nfacctd.conf", table.concat({ "daemonize: false", "nfacctd_ip: 127.0.0.1",
      "nfacctd_port: " .. acct_port, "plugins: print", "print_output: csv",
      "print_output_file: " .. dir .. "/acct.csv", "print_output_file_append: true",
      "print_refresh_time: 1", "aggregate: src_host, dst_host, src_port, dst_port, proto", "" }, "\n"))
    local p = assert(io.popen(("nfacctd -f '%s/nfacctd.conf' >'%s/nfacctd.log' 2>&1 & echo $!"):format(dir, dir)))
    local acct_pid = p:read("l")
    p:close()
    local up
    for _ = 1, 100 do -- 10 s: a loaded machine starts it late
      up = text_of(dir .. "/nfacctd.log"):find("waiting for NetFlow/IPFIX data", 1, true)
      if up then break end
      sh("sleep 0.1")
    end
    assert(up, "nfacctd did not start: " .. text_of(dir .. "/nfacctd.log"))
    local _, _, stats = run(capture, nil, {
      { "ipfix", ("udp://127.0.0.1:%d"):format(port) },
      { "ipfix", ("udp://127.0.0.1:%d"):format(acct_port) },
    })
    assert.is_nil(stats.error)
    assert.equals(0, stats.exports[1].dropped)
    assert.equals(stats.records, stats.exports[1].sent)
    -- nfcapd: every record, no sequence error
    local lines = stop_and_read(pid, flows)
    assert.equals(stats.records, #lines)
    local packets = 0
    for _, line in ipairs(lines) do packets = packets + tonumber(line:match("^[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,(%d+)")) end
    assert.equals(stats.counted, packets)
    -- nfacctd: its print plugin's last refresh, then the sum of its PACKETS column
    sh("sleep 1.5; kill -INT " .. acct_pid .. "; while kill -0 " .. acct_pid .. "; do sleep 0.05; done")
    local column, acct_packets = nil, 0
    for line in io.lines(dir .. "/acct.csv") do
      local fields = {}
      for field in line:gmatch("[^,]+") do fields[#fields + 1] = field end
      if line:find("PACKETS", 1, true) then
        for i, name in ipairs(fields) do if name == "PACKETS" then column = i end end
      elseif column then
        acct_packets = acct_packets + tonumber(fields[column])
      end
    end
    assert.equals(stats.counted, acct_packets)
  end)
end)

describe("IPFIX against the flow tools (bench/peers.sh)", function()
  --- Runs bench/peers.sh MODE on spec/fixtures/protocols.pcap; returns its output.
  local function peers(mode)
    local p = assert(io.popen(("NASOONE_LUA='%s' BENCH_BUILD_DIR='%s' PEERS_SHOW=20 bash bench/peers.sh %s "
      .. "spec/fixtures/protocols.pcap 2>&1"):format(helper.lua_interpreter, helper.absolute(helper.build_dir), mode)))
    local out = p:read("a")
    p:close()
    return out
  end

  --- The keys bench/peers.sh says differ.
  local function differing(out)
    local keys = {}
    for key in out:gmatch("\n    ([^:]+):") do keys[#keys + 1] = key end
    table.sort(keys)
    return keys
  end

  it("5-tuple: every key of protocols.pcap agrees with nfpcapd, flags included, but by a documented rule", function()
    if not (have("nfcapd") and have("nfdump") and have("nfpcapd")) then
      return pending("needs nfcapd, nfdump and nfpcapd (apt-get install -y nfdump)")
    end
    local out = peers("5-tuple")
    assert.matches("protocols.pcap: 7 of 16 keys differ", out, 1, true)
    -- report.md: nfpcapd keys SCTP and UDP-Lite without ports, and decapsulates GRE
    assert.are.same({
      "10.1.2.3 0 > 198.51.100.7 0 GRE", "10.1.2.3 0 > 198.51.100.7 0 SCTP",
      "10.1.2.3 0 > 198.51.100.7 0 UDP-L", "10.1.2.3 5000 > 198.51.100.7 38412 SCTP",
      "10.1.2.3 6000 > 198.51.100.7 6001 UDP-L", "198.51.100.7 0 > 10.1.2.3 0 SCTP",
      "198.51.100.7 38412 > 10.1.2.3 5000 SCTP" }, differing(out))
  end)

  it("biflow: every pair of protocols.pcap agrees with softflowd -b, but by a documented rule", function()
    if not (have("nfcapd") and have("nfdump") and have("softflowd")) then
      return pending("needs nfcapd, nfdump and softflowd (apt-get install -y nfdump softflowd)")
    end
    local out = peers("biflow")
    assert.matches("protocols.pcap: 4 of 10 keys differ", out, 1, true)
    -- report.md: softflowd keys SCTP and UDP-Lite without ports
    assert.are.same({
      "10.1.2.3 0 <> 198.51.100.7 0 SCTP", "10.1.2.3 0 <> 198.51.100.7 0 UDP-L",
      "10.1.2.3 5000 <> 198.51.100.7 38412 SCTP", "10.1.2.3 6000 <> 198.51.100.7 6001 UDP-L" },
      differing(out))
  end)
end)
