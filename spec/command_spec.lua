--- The nasoone command (bin/nasoone) run as a process, without a terminal: reports equal the
-- reference reports, every option reaches the engine (it changes the report, the stats the
-- summary prints, or what the kernel shows of the capture), bad usage exits 2 naming the
-- option, failures exit 1 with the module's own message, signals stop cleanly, view and devices
-- print what they should. The live tests need root (else pending): loopback with two free ports
-- chosen at random, and a veth pair made here. command_tty_spec runs it in a terminal (tmux).
local helper = require("spec.helper")
local cmd = require("spec.command_helper")
local nasoone = require("nasoone")

local SAMPLE = "examples/data/sample.pcap"
local SAMPLE_EXPECTED = "examples/data/sample.expected.csv"

local function sh(command)
  return os.execute(command .. " >/dev/null 2>&1") == true
end

--- The rows of a reference report (header dropped), sorted.
local function expected_rows(path)
  return helper.sorted_rows(path)
end

--- Fields of a report row: source ip, source port, destination ip, destination port, protocols.
local function fields(row)
  local s, sp, d, dp, p = row:match("^(.-); (%d+); (.-); (%d+); %[(.-)%];")
  return { source = s, sport = tonumber(sp), destination = d, dport = tonumber(dp), protocols = p }
end

local function select_rows(rows, keep)
  local out = {}
  for _, row in ipairs(rows) do
    if keep(fields(row)) then out[#out + 1] = row end
  end
  return out
end

--- The module's own failure message for the calls fn makes on a new capture.
local function module_message(fn)
  local cap = nasoone.new()
  local ok, message = fn(cap)
  cap:close()
  assert(ok == nil, "the module did not fail")
  return message
end

--- The reason in the module's raise for the calls fn makes on a new capture: "bad argument #2 to
-- 'set_flow_limits' (idle_timeout must be ...)" gives what is in the parentheses.
local function module_misuse(fn)
  local cap = nasoone.new()
  local ok, message = pcall(fn, cap)
  cap:close()
  assert(not ok, "the module did not raise")
  return (tostring(message):match("%((.*)%)$"))
end

describe("the nasoone command", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(helper.cleanup)

  --- `nasoone capture -q ARGS -o OUTPUT`: returns the report's path, status, stderr. Without
  -- `output`, a new name in dir each call: the command refuses an output that exists.
  local outputs = 0
  local function capture(args, output)
    outputs = outputs + 1
    output = output or ("%s/report%d.csv"):format(dir, outputs)
    local all = { "capture", "-q", "-o", output }
    for _, a in ipairs(args) do all[#all + 1] = a end
    local status, _, stderr = cmd.run(all)
    return output, status, stderr
  end

  describe("capture of a file", function()
    local captures = { SAMPLE }
    local listing = assert(io.popen("ls spec/fixtures/*.pcap"))
    for path in listing:lines() do captures[#captures + 1] = path end
    listing:close()
    for _, path in ipairs(captures) do
      it("gives the reference report of " .. path, function()
        local output, status, stderr = capture({ "-r", path })
        assert.equals(0, status, stderr)
        assert.equals("", stderr)
        assert.same(expected_rows((path:gsub("%.pcap$", ".expected.csv"))), helper.sorted_rows(output))
      end)
    end

    local shared = helper.shared_dir()
    it("gives the reference report of every capture in ../shared/pcaps", function()
      if not shared then return pending("../shared/pcaps is not beside this checkout") end
      local p = assert(io.popen("ls " .. shared .. "/pcaps/*.pcap " .. shared .. "/pcaps/*.pcapng"))
      local count = 0
      for path in p:lines() do
        count = count + 1
        local output = dir .. "/" .. count .. ".csv"
        local _, status, stderr = capture({ "-r", path, "--parsers", "2" }, output)
        -- a capture cut in the middle of a record is reported up to the cut, and exits 1
        assert(status == 0 or (status == 1 and stderr:find("truncated", 1, true)), path .. ": " .. stderr)
        local expected = path:gsub("%.pcapn?g?$", ".expected.csv")
        local compare = io.popen(("sh %s/tools/compare.sh %s %s 2>&1"):format(cmd.quote(shared),
          cmd.quote(expected), cmd.quote(output)))
        local diff = compare:read("a")
        assert(compare:close(), "compare.sh " .. expected .. " " .. output .. ":\n" .. diff)
      end
      p:close()
      assert.is_true(count > 0)
    end)

    it("writes the report of the sample byte for byte as examples/data/sample.expected.csv", function()
      -- the reference is in the order nasoone writes, so `diff` with a fresh report shows nothing
      local output, status, stderr = capture({ "-r", SAMPLE })
      assert.equals(0, status, stderr)
      assert.equals(helper.read_file(SAMPLE_EXPECTED), helper.read_file(output))
      assert.is_true(sh(("diff %s %s"):format(cmd.quote(SAMPLE_EXPECTED), cmd.quote(output))))
    end)

    it("prints a summary on stderr, nothing on stdout", function()
      local status, stdout, stderr = cmd.run({ "capture", "-r", SAMPLE, "-o", dir .. "/r.csv" })
      assert.equals(0, status)
      assert.equals("", stdout)
      assert.equals("sample.pcap: 36 packets in 0.0 s, 33 counted in 8 rows, 3 skipped\n"
        .. "report: " .. dir .. "/r.csv (1 rewrite)\n", (stderr:gsub("in %d+%.%d s", "in 0.0 s")))
    end)

    it("writes a fresh nasoone_<date>_<time>.csv in the current folder without -o", function()
      local status, _, stderr = cmd.run({ "capture", "-r", cmd.root .. "/" .. SAMPLE }, { dir = dir })
      assert.equals(0, status, stderr)
      local name = stderr:match("report: (nasoone_%d%d%d%d%-%d%d%-%d%d_%d%d%-%d%d%-%d%d%.csv) ")
      assert.is_not_nil(name, stderr)
      assert.same(expected_rows(SAMPLE_EXPECTED), helper.sorted_rows(dir .. "/" .. name))
      -- and a second one in the same second takes another name
      status, _, stderr = cmd.run({ "capture", "-r", cmd.root .. "/" .. SAMPLE }, { dir = dir })
      assert.equals(0, status, stderr)
      assert.is_not_nil(stderr:match("report: (nasoone_[%d_-]+%.csv) "))
    end)

    it("ends with status 1 and the module's error on a capture cut in the middle", function()
      local data = helper.read_file(SAMPLE)
      helper.write_file(dir .. "/cut.pcap", data:sub(1, #data - 10))
      local output, status, stderr = capture({ "-r", dir .. "/cut.pcap" })
      assert.equals(1, status)
      assert.matches("^nasoone: reading .*cut%.pcap: truncated dump file", stderr)
      assert.is_true(#helper.sorted_rows(output) > 0) -- everything before the cut is reported
    end)
  end)

  describe("options reach the engine", function()
    local synthetic, all_rows
    before_each(function()
      synthetic = dir .. "/synthetic.pcap"
      -- flow i: source port 1024 + i, UDP when i % 5 == 0, VLAN-tagged when i % 11 == 0,
      -- destination port 53 when i % 3 == 0 (else 443), destination 192.168.(i % 200).1 for IPv4
      all_rows = helper.synthetic_capture(synthetic, 3000, 300)
    end)

    local function filtered(args)
      local all = { "-r", synthetic }
      for _, a in ipairs(args) do all[#all + 1] = a end
      local output, status, stderr = capture(all)
      assert.equals(0, status, stderr)
      return helper.sorted_rows(output)
    end

    it("-f: a BPF filter (without VLAN: tagged frames are left out)", function()
      local expected = select_rows(all_rows, function(r)
        return r.protocols == "UDP" and (r.sport - 1024) % 11 ~= 0
      end)
      assert.is_true(#expected > 10)
      assert.same(expected, filtered({ "-f", "udp" }))
    end)

    it("--udp and --tcp: the builder's filter, VLAN-tagged frames included", function()
      assert.same(select_rows(all_rows, function(r) return r.protocols == "UDP" end), filtered({ "--udp" }))
      assert.same(select_rows(all_rows, function(r) return r.protocols == "TCP" end), filtered({ "--tcp" }))
    end)

    it("--host, --src-host, --dst-host", function()
      local expected = select_rows(all_rows, function(r)
        return r.source == "192.168.5.1" or r.destination == "192.168.5.1"
      end)
      assert.is_true(#expected > 0)
      assert.same(expected, filtered({ "--host", "192.168.5.1" }))
      assert.same(select_rows(all_rows, function(r) return r.source == "10.0.0.6" or r.source == "10.0.0.7" end),
        filtered({ "--src-host", "10.0.0.6", "--src-host", "10.0.0.7" }))
      local v6 = select_rows(all_rows, function(r) return r.destination == "2001:db8:ffff::1" end)
      assert.is_true(#v6 > 0)
      assert.same(v6, filtered({ "--dst-host", "2001:db8:ffff::1" }))
    end)

    it("--port, --src-port, --dst-port, and kinds and-ed", function()
      assert.same(select_rows(all_rows, function(r) return r.dport == 53 or r.sport == 53 end),
        filtered({ "--port", "53" }))
      assert.same(select_rows(all_rows, function(r) return r.sport == 1030 end), filtered({ "--src-port", "1030" }))
      assert.same(select_rows(all_rows, function(r) return r.dport == 443 end), filtered({ "--dst-port", "443" }))
      assert.same(select_rows(all_rows, function(r) return r.dport == 53 and r.protocols == "UDP" end),
        filtered({ "--dst-port", "53", "--udp" }))
    end)

    it("--print-filter prints the BPF, for -r FILE as compiled for its link type", function()
      local status, stdout = cmd.run({ "capture", "--host", "192.0.2.7", "--port", "443", "--tcp", "--print-filter" })
      assert.equals(0, status)
      local e = "(host 192.0.2.7) and (port 443) and tcp"
      local wrapped = ("(%s) or (vlan and ((%s) or (vlan and ((%s) or (vlan and ((%s)))))))"):format(e, e, e, e)
      assert.equals(wrapped .. "\n", stdout)
      assert.equals(tostring(nasoone.filter():add_host("192.0.2.7"):add_port(443):tcp_only()) .. "\n", stdout)
      -- PPP has no VLAN tags: set_filter leaves them out
      status, stdout = cmd.run({ "capture", "-r", "spec/fixtures/ppp.pcap", "--host", "192.0.2.7", "--port",
        "443", "--tcp", "--print-filter" })
      assert.equals(0, status)
      assert.equals(e .. "\n", stdout)
      status, stdout = cmd.run({ "capture", "-f", "tcp port 80", "--print-filter" })
      assert.equals(0, status)
      assert.equals("tcp port 80\n", stdout)
    end)

    it("--fragments attribute", function()
      local output, status = capture({ "-r", "spec/fixtures/fragments.pcap", "--fragments", "attribute" })
      assert.equals(0, status)
      assert.same({
        "10.1.2.3; 7000; 203.0.113.9; 7001; [UDP]; 1700000000137; 1700000002959; 3154; 4",
        "2001:db8:1::10; 53; 2001:db8:2::20; 40053; [UDP]; 1700000001548; 1700000001685; 1632; 2",
      }, helper.sorted_rows(output))
      output, status = capture({ "-r", "spec/fixtures/fragments.pcap", "--fragments", "skip" },
        dir .. "/skip.csv")
      assert.equals(0, status)
      assert.same(expected_rows("spec/fixtures/fragments.expected.csv"), helper.sorted_rows(output))
    end)

    it("--metrics FILE: the final counters in Prometheus text, as promtool reads them", function()
      local metrics = dir .. "/nasoone.prom"
      local output, status, stderr = capture({ "-r", SAMPLE, "--metrics", metrics })
      assert.equals(0, status, stderr)
      local text = helper.read_file(metrics)
      assert.matches("\nnasoone_packets_received_total 36\n", text, 1, true)
      assert.matches("\nnasoone_packets_counted_total 33\n", text, 1, true)
      assert.matches('\nnasoone_state{state="stopped"} 1\n', text, 1, true)
      assert.equals(#helper.sorted_rows(output), tonumber(text:match("\nnasoone_report_rows (%d+)\n")))
      assert.is_false(helper.exists(metrics .. ".tmp"))
      if os.execute("command -v promtool >/dev/null") then
        assert.is_true(os.execute(("promtool check metrics < '%s'"):format(metrics)))
      end
    end)

    it("-c: a file read up to that many packets, the report complete, exit 0", function()
      local output, status, stderr = capture({ "-r", SAMPLE, "-c", "3" })
      assert.equals(0, status, stderr)
      local packets = 0
      for _, row in ipairs(helper.sorted_rows(output)) do packets = packets + tonumber(row:match("(%d+)$")) end
      assert.equals(3, packets)
      -- the first three packets of the sample: the rows they make, as the whole file has them
      assert.same({ "192.168.1.1; 53; 192.168.1.20; 53673; [UDP]; 1672060821025; 1672060821025; 89; 1",
        "192.168.1.20; 53673; 192.168.1.1; 53; [UDP]; 1672060821010; 1672060821010; 73; 1",
        "192.168.1.20; 53674; 140.82.112.22; 443; [TCP]; 1672060821030; 1672060821030; 54; 1" },
        helper.sorted_rows(output))
    end)

    it("--format jsonl (and -o *.jsonl): the JSON-lines report the module writes", function()
      -- the module's own JSON-lines report of the sample, written here
      local reference = helper.run_file(SAMPLE, { dir = dir, format = "jsonl" })
      local expected = helper.read_file(reference)
      assert.equals(8, select(2, expected:gsub("\n", "")))
      assert.matches('^{"source_ip":', expected)
      for _, args in ipairs({ { "--format", "jsonl" }, {} }) do
        local output = dir .. "/r" .. #args .. ".jsonl"
        local all = { "-r", SAMPLE }
        for _, a in ipairs(args) do all[#all + 1] = a end
        local _, status, stderr = capture(all, output)
        assert.equals(0, status, stderr)
        assert.equals(expected, helper.read_file(output))
      end
      -- --format wins over the name
      local _, status = capture({ "-r", SAMPLE, "--format", "csv" }, dir .. "/csv.jsonl")
      assert.equals(0, status)
      assert.same(expected_rows(SAMPLE_EXPECTED), helper.sorted_rows(dir .. "/csv.jsonl"))
    end)

    describe("on a capture that takes a second to read", function()
      local slow, filter, slow_rows
      before_each(function()
        slow, filter, slow_rows = cmd.slow_capture(dir, 2 ^ 19 // 1, 800)
      end)

      it("-t: the report is rewritten every interval while it runs", function()
        local status, _, stderr = cmd.run({ "capture", "-r", slow, "-f", filter, "-t", "0.05", "-o", dir .. "/a.csv" })
        assert.equals(0, status, stderr)
        local rewrites = tonumber(stderr:match("%((%d+) rewrites%)"))
        assert.is_true(rewrites >= 5, stderr)
        status, _, stderr = cmd.run({ "capture", "-r", slow, "-f", filter, "-t", "1000", "-o", dir .. "/b.csv" })
        assert.equals(0, status, stderr)
        assert.matches("%(1 rewrite%)", stderr)
        assert.equals(helper.read_file(dir .. "/a.csv"), helper.read_file(dir .. "/b.csv"))
        local _, packets = cmd.report_rows(dir .. "/b.csv")
        assert.equals(2 ^ 19, packets)
      end)

      it("--parsers: the capture runs that many parser threads", function()
        local function threads(parsers)
          local output = dir .. "/p" .. parsers .. ".csv"
          local process = cmd.spawn({ "capture", "-q", "-r", slow, "-f", filter, "--parsers", tostring(parsers),
            "-o", output, "-t", "0.05" }, dir)
          -- once the report has rows every thread runs: the reader is started last (the writer
          -- first, and it creates the report before the parsers exist)
          assert.is_truthy(cmd.eventually(function()
            return helper.exists(output) and #helper.report_lines(output) > 1
          end))
          local status = helper.read_file("/proc/" .. process.pid .. "/status")
          process:signal("TERM")
          assert.equals(143, process:wait())
          return tonumber(status:match("Threads:%s*(%d+)"))
        end
        assert.equals(4, threads(5) - threads(1))
      end)

      it("SIGTERM and SIGINT stop it with the report complete up to then (143, 130)", function()
        for signal, code in pairs({ TERM = 143, INT = 130 }) do
          local output = dir .. "/" .. signal .. ".csv"
          local process = cmd.spawn({ "capture", "-r", slow, "-f", filter, "-o", output, "--status-interval",
            "0.1" }, dir)
          -- stopped once it has read some
          assert.is_truthy(cmd.eventually(function() return process:stderr():find("packets/s") end))
          process:signal(signal)
          assert.equals(code, process:wait())
          local stderr = process:stderr()
          local counted = tonumber(stderr:match("(%d+) counted"))
          local _, packets = cmd.report_rows(output)
          assert.is_true(counted > 0 and counted < 2 ^ 19, stderr)
          assert.equals(counted, packets)
          assert.is_true(cmd.is_prefix_report(output, slow_rows))
          assert.matches("stopped by " .. (signal == "INT" and "Ctrl%-C" or "SIGTERM"), stderr)
        end
      end)

      it("plain status lines when stderr is not a terminal, every --status-interval", function()
        local status, _, stderr = cmd.run({ "capture", "-r", slow, "-f", filter, "-o", dir .. "/s.csv",
          "--status-interval", "0.2" })
        assert.equals(0, status)
        assert.is_nil(stderr:find("[\r\27]"))
        local percents = {}
        for line in stderr:gmatch("slow%.pcap: (%d+%.%d)%%, ") do percents[#percents + 1] = tonumber(line) end
        assert.is_true(#percents >= 3, stderr)
        -- the file read advances at every line until it is all read (then the last packets
        -- may still be counted for a moment: 100.0% again)
        for i = 2, #percents do
          assert.is_true(percents[i] > percents[i - 1] or percents[i] == 100, stderr)
        end
        assert.matches("ETA %d+:%d%d", stderr)
      end)

      it("-q: nothing on stderr", function()
        local status, stdout, stderr = cmd.run({ "capture", "-q", "-r", slow, "-f", filter, "-o", dir .. "/q.csv",
          "--status-interval", "0.1" })
        assert.equals(0, status)
        assert.equals("", stdout .. stderr)
      end)
    end)

    describe("flow lifecycle and exports", function()
      --- One UDP flow 10.9.0.1:5000 -> 10.9.0.2:53 (and others as `extra` says) at the given times.
      local function timed_capture(times, extra)
        local packets = {}
        for i, t in ipairs(times) do
          local data = helper.frame({ src = "10.9.0.1", dst = "10.9.0.2", sport = 5000, dport = 53, proto = "UDP",
            payload = 10 })
          packets[i] = { sec = 1700000000 + t, usec = 0, data = data }
        end
        for _, e in ipairs(extra or {}) do packets[#packets + 1] = e end
        table.sort(packets, function(a, b) return a.sec < b.sec end)
        helper.write_pcap(dir .. "/timed.pcap", packets)
        return dir .. "/timed.pcap"
      end

      local function records(stderr)
        local n, idle, active, capacity, ending = stderr:match(
          "flow records: (%d+) %(idle (%d+), active (%d+), capacity (%d+), end (%d+)%)")
        return { tonumber(n), tonumber(idle), tonumber(active), tonumber(capacity), tonumber(ending) }
      end

      it("--idle-timeout: a row idle longer leaves, and comes back as a new row", function()
        local path = timed_capture({ 0, 1, 12 })
        local status, _, stderr = cmd.run({ "capture", "-r", path, "-o", dir .. "/i.csv", "--idle-timeout", "5" })
        assert.equals(0, status, stderr)
        assert.same({ 2, 1, 0, 0, 1 }, records(stderr))
        local rows = helper.sorted_rows(dir .. "/i.csv")
        assert.equals(1, #rows)
        assert.matches("; 1700000012000; 1700000012000; %d+; 1$", rows[1])
      end)

      it("--active-timeout: a long row gives records and stays", function()
        local times = {}
        for t = 0, 10 do times[#times + 1] = t end
        local status, _, stderr = cmd.run({ "capture", "-r", timed_capture(times), "-o", dir .. "/a.csv",
          "--active-timeout", "3" })
        assert.equals(0, status, stderr)
        -- records [0..3], [4..7], then [8..10] at the end
        assert.same({ 3, 0, 2, 0, 1 }, records(stderr))
        assert.matches("; 1700000000000; 1700000010000; %d+; 11$", helper.sorted_rows(dir .. "/a.csv")[1])
      end)

      it("--max-flows: the least recently seen row leaves", function()
        local extra = {}
        for i = 1, 2 do
          extra[i] = { sec = 1700000000 + i, data = helper.frame({ src = "10.9.1." .. i, dst = "10.9.0.2",
            sport = 6000, dport = 53, proto = "UDP" }) }
        end
        local status, _, stderr = cmd.run({ "capture", "-r", timed_capture({ 0 }, extra), "-o", dir .. "/m.csv",
          "--max-flows", "2" })
        assert.equals(0, status, stderr)
        assert.same({ 3, 0, 0, 1, 2 }, records(stderr))
        local rows = helper.sorted_rows(dir .. "/m.csv")
        assert.equals(2, #rows)
        assert.matches("^10%.9%.1%.1; ", rows[1])
        assert.matches("^10%.9%.1%.2; ", rows[2])
      end)

      it("--jsonl and --rotate: flow records in files per period, adding up to the report", function()
        local times = {}
        for t = 0, 250, 10 do times[#times + 1] = t end
        local pattern = dir .. "/flows-%H%M.jsonl"
        local status, _, stderr = cmd.run({ "capture", "-r", timed_capture(times), "-o", dir .. "/j.csv",
          "--active-timeout", "30", "--jsonl", pattern, "--rotate", "60" })
        assert.equals(0, status, stderr)
        local files = {}
        local p = io.popen("ls " .. dir .. "/flows-*.jsonl")
        for f in p:lines() do files[#files + 1] = f end
        p:close()
        -- 1700000000 is 22:13:20 UTC. Records are made at 40, 80, ... 240 s (active: a packet
        -- more than 30 s after its record's first) and at the end (250 s), and filed by the
        -- minute they were made in: 22:14:00, 22:14:40 | 22:15:20 | 22:16:00, 22:16:40 |
        -- 22:17:20, 22:17:30
        assert.same({ "flows-2214.jsonl", "flows-2215.jsonl", "flows-2216.jsonl", "flows-2217.jsonl" }, (function()
          local names = {}
          for i, f in ipairs(files) do names[i] = f:match("[^/]+$") end
          return names
        end)())
        local packets, lines = 0, 0
        for _, f in ipairs(files) do
          for line in io.lines(f) do
            lines = lines + 1
            packets = packets + tonumber(line:match('"packets":(%d+)'))
          end
        end
        assert.equals(#times, packets)
        assert.equals(records(stderr)[1], lines)
        assert.matches("jsonl " .. pattern:gsub("%p", "%%%0") .. ": " .. lines .. " records sent, 0 dropped", stderr)
      end)

      it("--ipfix with --ipfix-domain and --ipfix-mtu: what ipfixDump reads", function()
        local target = dir .. "/flows.ipfix"
        local status, _, stderr = cmd.run({ "capture", "-r", SAMPLE, "-o", dir .. "/x.csv", "--ipfix",
          "file:" .. target, "--ipfix-domain", "7", "--ipfix-mtu", "256" })
        assert.equals(0, status, stderr)
        assert.matches("ipfix file:" .. target:gsub("%p", "%%%0") .. ": 8 records sent, 0 dropped", stderr)
        if not sh("command -v ipfixDump") then return pending("ipfixDump (libfixbuf-tools) is not installed") end
        local p = io.popen("ipfixDump --in " .. cmd.quote(target) .. " 2>&1")
        local dump = p:read("a")
        p:close()
        local messages = 0
        for domain in dump:gmatch("observation domain id: (%d+)") do
          messages = messages + 1
          assert.equals("7", domain)
        end
        assert.is_true(messages > 1, dump) -- 8 records do not fit in one 256-byte message
        for length in dump:gmatch("message length: (%d+)") do assert.is_true(tonumber(length) <= 256) end
      end)

      it("--ipfix file:PATH never writes over a file: the input, a FIFO; exit 1 at once", function()
        local input = dir .. "/in.pcap"
        assert(sh(("cp %s %s && mkfifo %s"):format(cmd.quote(SAMPLE), cmd.quote(input),
          cmd.quote(dir .. "/fifo"))))
        for _, target in ipairs({ input, dir .. "/fifo" }) do
          local status, _, stderr = cmd.run({ "capture", "-r", input, "-o", dir .. "/r.csv",
            "--ipfix", "file:" .. target })
          assert.equals(1, status, stderr)
          assert.equals(("nasoone: IPFIX file %s already exists: an export never writes over a file\n")
            :format(target), stderr)
        end
        assert.equals(helper.read_file(SAMPLE), helper.read_file(input))
        assert.is_false(helper.exists(dir .. "/r.csv"))
      end)

      it("--ipfix to a host that does not resolve: a failure (exit 1), not bad usage", function()
        local status, _, stderr = cmd.run({ "capture", "-r", SAMPLE, "-o", dir .. "/r.csv",
          "--ipfix", "udp://nonexistent.invalid:4739" })
        assert.equals(1, status, stderr)
        assert.matches("^nasoone: cannot resolve IPFIX collector nonexistent.invalid", stderr)
      end)

      it("--ipfix-template-resend reaches the module's check", function()
        local status, _, stderr = cmd.run({ "capture", "-r", SAMPLE, "-o", dir .. "/x.csv", "--ipfix",
          "udp://127.0.0.1:4739", "--ipfix-template-resend", "0" })
        assert.equals(2, status)
        assert.matches("option '%-%-ipfix%-template%-resend': template_resend must be an integer from 1 to 86400",
          stderr)
      end)
    end)
  end)

  describe("bad usage: exit status 2 and a message naming the option", function()
    local cases = {
      { { "capture", "--max-flows" }, "nasoone capture: option '--max-flows' requires an argument" },
      { { "capture", "-r", SAMPLE, "--max-flows", "0" },
        "nasoone capture: option '--max-flows': max_flows must be an integer from 1 to 1000000000" },
      { { "capture", "-r", SAMPLE, "--idle-timeout", "soon" },
        "nasoone capture: option '--idle-timeout': 'soon' is not a number" },
      { { "capture", "-r", SAMPLE, "--idle-timeout", "0" },
        "nasoone capture: option '--idle-timeout': idle_timeout must be a number of seconds from 0.001 to 1000000000" },
      { { "capture", "-r", SAMPLE, "--active-timeout", "0" },
        "nasoone capture: option '--active-timeout': active_timeout must be a number of seconds from 0.001 to "
          .. "1000000000" },
      { { "capture", "--bogus" }, "nasoone capture: unknown option '--bogus'" },
      { { "capture", "-r", SAMPLE, "-i", "lo" },
        "nasoone capture: option '-i' can not be used together with option '-r'" },
      { { "capture", "-r", SAMPLE, "--host", "example.com" },
        "nasoone capture: option '--host': \"example.com\" is not an IPv4 or IPv6 address" },
      { { "capture", "-r", SAMPLE, "--dst-host", "300.1.1.1" },
        "nasoone capture: option '--dst-host': \"300.1.1.1\" is not an IPv4 or IPv6 address" },
      { { "capture", "-r", SAMPLE, "--src-port", "65536" },
        "nasoone capture: option '--src-port': 65536 is not a port number (0-65535)" },
      { { "capture", "-r", SAMPLE, "-t", "0" },
        "nasoone capture: option '--interval': the report interval must be > 0 and at most 4294967 seconds" },
      { { "capture", "-r", SAMPLE, "--parsers", "65" },
        "nasoone capture: option '--parsers': the parser count must be from 1 to 64" },
      { { "capture", "-r", SAMPLE, "--fragments", "reassemble" },
        "nasoone capture: argument for option '--fragments' must be one of 'skip', 'attribute'" },
      { { "capture", "-r", SAMPLE, "-c", "0" }, "nasoone capture: option '--count': must be 1 or more, not '0'" },
      { { "capture", "-r", SAMPLE, "--duration", "0" },
        "nasoone capture: option '--duration': must be a number of seconds > 0, not '0'" },
      { { "capture", "-r", SAMPLE, "--columns", "wide" },
        "nasoone capture: argument for option '--columns' must be one of 'seed', 'extended'" },
      { { "capture", "-r", SAMPLE, "--format", "xml" },
        "nasoone capture: argument for option '--format' must be one of 'csv', 'jsonl'" },
      { { "capture", "-r", SAMPLE, "-f", "tcp", "--udp" },
        "nasoone capture: option '--udp' cannot be combined with -f" },
      { { "capture", "-r", SAMPLE, "--tcp", "--udp" },
        "nasoone capture: option '--udp' can not be used together with option '--tcp'" },
      { { "capture", "-r", SAMPLE, "--host", "192.0.2.1", "--dst-host", "192.0.2.2" },
        "nasoone capture: option '--dst-host' cannot be combined with '--host'" },
      { { "capture", "-r", SAMPLE, "--port", "53", "--src-port", "53" },
        "nasoone capture: option '--src-port' cannot be combined with '--port'" },
      { { "capture", "-r", SAMPLE, "--snaplen", "96" },
        "nasoone capture: option '--snaplen' is for live captures (-i)" },
      { { "capture", "-r", SAMPLE, "--immediate" }, "nasoone capture: option '--immediate' is for live captures (-i)" },
      { { "capture", "-i", "lo", "--pcap-timeout", "61" },
        "nasoone capture: option '--pcap-timeout': option timeout must be a number of seconds from 0 to 60" },
      { { "capture", "-i", "lo", "--buffer-size", "12Q" },
        "nasoone capture: option '--buffer-size': '12Q' is not a size in bytes" },
      { { "capture", "-i", "lo", "--timestamp-precision", "pico" },
        "nasoone capture: argument for option '--timestamp-precision' must be one of 'micro', 'nano'" },
      { { "capture", "-r", SAMPLE, "--rotate", "60" }, "nasoone capture: option '--rotate' needs --jsonl" },
      { { "capture", "-r", SAMPLE, "--jsonl", "/tmp/f-%H.jsonl", "--rotate", "0" },
        "nasoone capture: option '--rotate': rotate must be an integer from 1 to 31622400" },
      { { "capture", "-r", SAMPLE, "--ipfix-domain", "1" }, "nasoone capture: option '--ipfix-domain' needs --ipfix" },
      { { "capture", "-r", SAMPLE, "--ipfix", "udp://127.0.0.1:4739", "--ipfix-domain", "4294967296" },
        "nasoone capture: option '--ipfix-domain': domain must be an integer from 0 to 4294967295" },
      { { "capture", "-r", SAMPLE, "--status-interval", "0" }, "nasoone capture: option '--status-interval'" },
      { { "view" }, "nasoone view: missing argument 'report'" },
      { { "view", "r.csv", "--sort", "size" }, "nasoone view: argument for option '--sort' must be one of 'source'" },
      { { "view", "r.csv", "--top", "0" }, "nasoone view: option '--top': '0' is not a number of rows" },
      { { "view", "r.csv", "--ip", "192.0.2" },
        "nasoone view: option '--ip': '192.0.2' is not an IPv4 or IPv6 address" },
      { { "devices", "--bogus" }, "nasoone devices: unknown option '--bogus'" },
      { {}, "nasoone: a command is required" },
      { { "frobnicate" }, "nasoone: unknown command 'frobnicate'" },
    }
    -- negative numbers reach the value's check (argparse took them for options), and a
    -- --jsonl name that cannot rotate is bad usage of --rotate: the whole message, exactly
    local idle = module_misuse(function(cap) return cap:set_flow_limits { idle_timeout = -3 } end)
    local rotate = module_message(function(cap) return cap:add_export("jsonl", "x.jsonl", { rotate = 3600 }) end)
    for _, case in ipairs({
      { { "capture", "-r", SAMPLE, "--idle-timeout", "-3" }, "nasoone capture: option '--idle-timeout': " .. idle },
      { { "capture", "-r", SAMPLE, "--max-flows", "-1" },
        "nasoone capture: option '--max-flows': max_flows must be an integer from 1 to 1000000000" },
      { { "capture", "-r", SAMPLE, "--port", "-1" },
        "nasoone capture: option '--port': -1 is not a port number (0-65535)" },
      { { "capture", "-r", SAMPLE, "-t", "-0.5" },
        "nasoone capture: option '--interval': the report interval must be > 0 and at most 4294967 seconds" },
      { { "capture", "-r", SAMPLE, "--jsonl", "x.jsonl", "--rotate", "-60" },
        "nasoone capture: option '--rotate': rotate must be an integer from 1 to 31622400" },
      { { "view", "r.csv", "--top", "-1" }, "nasoone view: option '--top': '-1' is not a number of rows (1 or more)" },
      { { "view", "r.csv", "-n", "-1" }, "nasoone view: option '--top': '-1' is not a number of rows (1 or more)" },
      { { "capture", "-r", SAMPLE, "--jsonl", "x.jsonl", "--rotate", "3600" },
        "nasoone capture: option '--rotate': " .. rotate:gsub("^nasoone: ", "") },
    }) do
      cases[#cases + 1] = { case[1], case[2] .. "\nTry '" .. case[2]:match("^(nasoone %a*):") .. " --help'.\n" }
    end
    -- ... and a negative number after a flag or in place of the report stays an unknown option
    cases[#cases + 1] = { { "capture", "-r", SAMPLE, "--tcp", "-3" }, "nasoone capture: unknown option '-3'" }
    cases[#cases + 1] = { { "view", "-3" }, "nasoone view: unknown option '-3'" }
    for _, case in ipairs(cases) do
      it(table.concat(case[1], " "), function()
        local status, stdout, stderr = cmd.run(case[1])
        assert.equals(2, status, stderr)
        assert.equals("", stdout)
        assert.equals(1, stderr:find(case[2], 1, true), "expected:\n" .. case[2] .. "\ngot:\n" .. stderr)
        local who = case[2]:match("^(nasoone %a*):") or "nasoone"
        assert.matches("\nTry '" .. who .. " %-%-help'%.\n$", stderr)
      end)
    end
  end)

  describe("failures: exit status 1 and the module's message", function()
    local function fails_with(args, message)
      local status, stdout, stderr = cmd.run(args)
      assert.equals(1, status, stderr)
      assert.equals("", stdout)
      assert.equals(message .. "\n", stderr)
    end

    it("a missing capture file", function()
      local missing = dir .. "/missing.pcap"
      fails_with({ "capture", "-r", missing }, module_message(function(cap) return cap:set_capture_file(missing) end))
    end)

    it("a file that is not a capture", function()
      fails_with({ "capture", "-r", SAMPLE_EXPECTED },
        module_message(function(cap) return cap:set_capture_file(SAMPLE_EXPECTED) end))
    end)

    it("an output that exists", function()
      helper.write_file(dir .. "/r.csv", "keep me\n")
      fails_with({ "capture", "-r", SAMPLE, "-o", dir .. "/r.csv" }, module_message(function(cap)
        assert(cap:set_capture_file(SAMPLE))
        return cap:set_output(dir .. "/r.csv")
      end))
      assert.equals("keep me\n", helper.read_file(dir .. "/r.csv"))
    end)

    it("an output folder that does not exist", function()
      local output = dir .. "/no/r.csv"
      fails_with({ "capture", "-r", SAMPLE, "-o", output }, module_message(function(cap)
        assert(cap:set_capture_file(SAMPLE))
        return cap:set_output(output)
      end))
    end)

    it("a bad filter", function()
      fails_with({ "capture", "-r", SAMPLE, "-f", "tcp and" }, module_message(function(cap)
        assert(cap:set_capture_file(SAMPLE))
        return cap:set_raw_filter("tcp and")
      end))
    end)

    it("a JSON-lines export in a folder that does not exist, with --rotate (not the rotation's fault)", function()
      local pattern = dir .. "/missing/flows-%H.jsonl"
      fails_with({ "capture", "-r", SAMPLE, "-o", dir .. "/r.csv", "--jsonl", pattern, "--rotate", "60" },
        module_message(function(cap)
          assert(cap:set_capture_file(SAMPLE))
          return cap:add_export("jsonl", pattern, { rotate = 60 })
        end))
    end)

    it("without argparse (a module-only install): the command says what to install", function()
      local io_dir = helper.tmpdir()
      local status = helper.shell_output(("cd / && env LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s %s --version "
        .. ">%s/out 2>%s/err </dev/null; echo $?"):format(cmd.quote(cmd.root .. "/lua/?.lua"),
        cmd.quote(cmd.build .. "/?.so"), cmd.quote(helper.lua_interpreter:find("/", 1, true)
          and helper.absolute(helper.lua_interpreter) or helper.lua_interpreter),
        cmd.quote(cmd.root .. "/bin/nasoone"), io_dir, io_dir))
      assert.equals(1, tonumber(status))
      assert.equals("", helper.read_file(io_dir .. "/out"))
      assert.equals("nasoone: the nasoone command needs argparse (the nasoone module does not): apt-get install "
        .. "lua-argparse, or luarocks install argparse (with the same --tree as nasoone)\n",
        helper.read_file(io_dir .. "/err"))
    end)

    it("a device that does not exist", function()
      fails_with({ "capture", "-i", "nasoone-none0" },
        module_message(function(cap) return cap:set_capture_device("nasoone-none0") end))
    end)

    it("view: a missing report, and a file that is not a report", function()
      fails_with({ "view", dir .. "/missing.csv" }, "nasoone: " .. dir .. "/missing.csv: No such file or directory")
      local status, _, stderr = cmd.run({ "view", SAMPLE })
      assert.equals(1, status)
      assert.equals("nasoone: " .. SAMPLE .. " is not a nasoone report: its first line is neither the CSV header "
        .. "(" .. helper.header .. ") nor a JSON-lines row\n", stderr)
      helper.write_file(dir .. "/bad.csv", helper.header .. "\n1.2.3.4; 1; 5.6.7.8; 2; [TCP]; 1; 2; 3; 4\noops\n")
      fails_with({ "view", dir .. "/bad.csv" }, "nasoone: " .. dir .. "/bad.csv:3: not a CSV report row: oops")
      helper.write_file(dir .. "/bad.jsonl", '{"source_ip":"1.2.3.4"}\n')
      fails_with({ "view", dir .. "/bad.jsonl" },
        "nasoone: " .. dir .. "/bad.jsonl:1: not a JSON-lines report row: {\"source_ip\":\"1.2.3.4\"}")
    end)
  end)

  describe("view", function()
    local TABLE = {
      "%s: 8 rows, 2022-12-26 13:20:21.010 to 13:20:21.940",
      "source                     destination                protocols  first         last          bytes  packets",
      "140.82.112.22:443          192.168.1.20:53674         TCP        13:20:21.050  13:20:21.410   7540       10",
      "192.168.1.1:53             192.168.1.20:53673         UDP        13:20:21.025  13:20:21.025     89        1",
      "192.168.1.2:5353           224.0.0.251:5353           UDP        13:20:21.910  13:20:21.910     84        1",
      "192.168.1.20:7000          192.168.1.1:7001           UDP        13:20:21.940  13:20:21.940   1042        1",
      "192.168.1.20:53673         192.168.1.1:53             UDP        13:20:21.010  13:20:21.010     73        1",
      "192.168.1.20:53674         140.82.112.22:443          TCP, UDP   13:20:21.030  13:20:21.600   2299       11",
      "[2001:db8:10::20]:40000    [2606:4700::6810:84e5]:80  TCP        13:20:21.700  13:20:21.730    568        4",
      "[2606:4700::6810:84e5]:80  [2001:db8:10::20]:40000    TCP        13:20:21.705  13:20:21.735   3912        4",
      "-----------------------------------------------------------------------------------------------------------",
      "total                      8 rows                     TCP, UDP   13:20:21.010  13:20:21.940  15607       33",
    }

    local function view(args)
      local status, stdout, stderr = cmd.run(args)
      assert.equals(0, status, stderr)
      local lines = {}
      for line in stdout:gmatch("(.-)\n") do lines[#lines + 1] = line end
      return lines
    end

    it("prints every row and the totals, piped (CSV and JSON lines)", function()
      local csv = SAMPLE_EXPECTED
      local expected = { TABLE[1]:format(csv) }
      table.move(TABLE, 2, #TABLE, 2, expected)
      assert.same(expected, view({ "view", csv }))
      local _, status = capture({ "-r", SAMPLE }, dir .. "/r.jsonl")
      assert.equals(0, status)
      local lines = view({ "view", dir .. "/r.jsonl" })
      assert.equals(dir .. "/r.jsonl: 8 rows, 2022-12-26 13:20:21.010 to 13:20:21.940", lines[1])
      -- the same table, with the ip bytes and TCP flags the JSON rows carry
      assert.equals(TABLE[2] .. "  ip bytes  tcp flags", lines[2])
      assert.equals(TABLE[3] .. "      7400  ...AP...", lines[3])
      assert.equals(TABLE[4] .. "        75  -", lines[4])
      assert.equals(TABLE[12] .. "     15113", lines[12])
    end)

    it("--sort, --desc, --top, --ip", function()
      local function order(args)
        local out = {}
        for i, line in ipairs(view(args)) do
          if i > 2 and not line:find("^%-") and not line:find("^total") then out[#out + 1] = line:match("^(%S+)") end
        end
        return out
      end
      local csv = SAMPLE_EXPECTED
      -- by first time: 21.010, 21.025, 21.030, 21.050, 21.700, 21.705, 21.910, 21.940
      assert.same({ "192.168.1.20:53673", "192.168.1.1:53", "192.168.1.20:53674", "140.82.112.22:443",
        "[2001:db8:10::20]:40000", "[2606:4700::6810:84e5]:80", "192.168.1.2:5353", "192.168.1.20:7000" },
        order({ "view", csv, "--sort", "first" }))
      -- without --sort: the report's order (the reference file's own); --desc alone reverses it
      local report_order = { "140.82.112.22:443", "192.168.1.1:53", "192.168.1.2:5353", "192.168.1.20:7000",
        "192.168.1.20:53673", "192.168.1.20:53674", "[2001:db8:10::20]:40000", "[2606:4700::6810:84e5]:80" }
      assert.same(report_order, order({ "view", csv }))
      local reversed = {}
      for i = #report_order, 1, -1 do reversed[#reversed + 1] = report_order[i] end
      assert.same(reversed, order({ "view", csv, "--desc" }))
      -- rows equal in the sorted column keep the report's order (four of 1 packet, two of 4)
      assert.same({ "192.168.1.1:53", "192.168.1.2:5353", "192.168.1.20:7000", "192.168.1.20:53673",
        "[2001:db8:10::20]:40000", "[2606:4700::6810:84e5]:80", "140.82.112.22:443", "192.168.1.20:53674" },
        order({ "view", csv, "--sort", "packets" }))
      assert.same({ "140.82.112.22:443", "[2606:4700::6810:84e5]:80", "192.168.1.20:53674" },
        order({ "view", csv, "--sort", "bytes", "--desc", "--top", "3" }))
      -- --top alone: the largest by bytes
      assert.same({ "140.82.112.22:443", "[2606:4700::6810:84e5]:80" }, order({ "view", csv, "--top", "2" }))
      -- addresses in numeric order, IPv4 first; ports numerically
      assert.same({ "140.82.112.22:443", "192.168.1.1:53", "192.168.1.2:5353", "192.168.1.20:7000",
        "192.168.1.20:53673", "192.168.1.20:53674", "[2001:db8:10::20]:40000", "[2606:4700::6810:84e5]:80" },
        order({ "view", csv, "--sort", "source" }))
      assert.same({ "[2606:4700::6810:84e5]:80", "[2001:db8:10::20]:40000", "192.168.1.20:53674",
        "192.168.1.20:53673", "192.168.1.20:7000", "192.168.1.2:5353", "192.168.1.1:53", "140.82.112.22:443" },
        order({ "view", csv, "--sort", "source", "--desc" }))
      -- --ip matches either end, however the address is written; totals are of those rows
      local lines = view({ "view", csv, "--ip", "2001:DB8:10:0:0::20" })
      assert.equals(csv .. ": 8 rows, 2 from or to 2001:DB8:10:0:0::20, 2022-12-26 13:20:21.700 to 13:20:21.735",
        lines[1])
      assert.equals("total                      2 rows                     TCP        13:20:21.700  13:20:21.735"
        .. "   4480        8", lines[#lines])
      assert.same({ "192.168.1.20:53673", "192.168.1.1:53", "192.168.1.20:7000" },
        order({ "view", csv, "--ip", "192.168.1.1", "--sort", "first" }))
    end)

    it("--follow says when the report was rewritten (its time, not the redraw's)", function()
      local path = dir .. "/r.csv"
      helper.write_file(path, helper.read_file(SAMPLE_EXPECTED))
      assert.is_true(sh(("TZ=UTC touch -d '2001-02-03 04:05:06' %s"):format(cmd.quote(path))))
      local process = cmd.spawn({ "view", path, "--follow" }, dir)
      local first = "\nfollowing " .. path .. " (updated 2001-02-03 04:05:06)\n"
      assert.is_truthy(cmd.eventually(function() return process:stdout():find(first, 1, true) end, 10),
        process:stdout())
      -- rewritten as a capture does: a new file renamed over the report
      helper.write_file(dir .. "/next.csv", helper.header .. "\n")
      assert.is_true(sh(("TZ=UTC touch -d '2001-02-03 05:06:07' %s && mv %s %s"):format(
        cmd.quote(dir .. "/next.csv"), cmd.quote(dir .. "/next.csv"), cmd.quote(path))))
      local second = "\nfollowing " .. path .. " (updated 2001-02-03 05:06:07)\n"
      assert.is_truthy(cmd.eventually(function() return process:stdout():find(second, 1, true) end, 10),
        process:stdout())
      process:signal("TERM")
      assert.equals(143, process:wait(10))
      assert.equals("", process:stderr())
    end)

    it("an empty report", function()
      helper.write_file(dir .. "/empty.csv", helper.header .. "\n")
      assert.same({ dir .. "/empty.csv: 0 rows", "source  destination  protocols  first  last  bytes  packets",
        string.rep("-", 59), "total   0 rows                                   0        0" },
        view({ "view", dir .. "/empty.csv" }))
    end)
  end)

  describe("help", function()
    it("--version: nasoone's and libpcap's", function()
      local status, stdout, stderr = cmd.run({ "--version" })
      assert.equals(0, status, stderr)
      assert.equals(("nasoone %s (%s)\n"):format(nasoone.version, nasoone.pcap_version), stdout)
    end)

    -- every option, as `nasoone capture --help` must list it
    local CAPTURE_OPTIONS = { "--read", "--interface", "--output", "--format", "--interval", "--filter", "--host",
      "--src-host", "--dst-host", "--port", "--src-port", "--dst-port", "--tcp", "--udp", "--print-filter",
      "--parsers", "--fragments", "--snaplen", "--no-promiscuous", "--buffer-size", "--immediate",
      "--timestamp-precision", "--pcap-timeout", "--idle-timeout", "--active-timeout", "--max-flows", "--jsonl",
      "--rotate", "--ipfix", "--ipfix-domain", "--ipfix-mtu", "--ipfix-template-resend", "--quiet",
      "--status-interval" }
    local cases = {
      { {}, "Usage: nasoone ", { "capture", "devices", "view", "Exit status:" } },
      { { "capture" }, "Usage: nasoone capture ", CAPTURE_OPTIONS },
      { { "view" }, "Usage: nasoone view ", { "--sort", "--desc", "--ip", "--top", "--follow", "CSV or JSON lines" } },
      { { "devices" }, "Usage: nasoone devices ", { "--all", "default" } },
    }
    for _, case in ipairs(cases) do
      local name = table.concat({ "nasoone", table.unpack(case[1]) }, " ")
      it(name .. " --help: usage, every option and examples, exit 0", function()
        local args = table.move(case[1], 1, #case[1], 1, {})
        args[#args + 1] = "--help"
        local status, stdout, stderr = cmd.run(args)
        assert.equals(0, status, stderr)
        assert.equals("", stderr)
        assert.equals(1, stdout:find(case[2], 1, true), stdout)
        for _, word in ipairs(case[3]) do assert.is_truthy(stdout:find(word, 1, true), word) end
        assert.matches("\nExamples:\n  nasoone ", stdout)
      end)
    end
  end)

  describe("devices", function()
    it("lists the interfaces with their addresses, the default one marked", function()
      local status, stdout, stderr = cmd.run({ "devices" })
      local devices = nasoone.devices()
      if #devices == 0 then
        assert.equals(1, status)
        return
      end
      assert.equals(0, status, stderr)
      local lines = {}
      for line in stdout:gmatch("(.-)\n") do lines[#lines + 1] = line end
      assert.matches("^%s+NAME%s+STATE%s+ADDRESSES%s+DESCRIPTION$", lines[1])
      assert.equals(#devices + 2, #lines)
      local default = nasoone.default_device()
      for i, device in ipairs(devices) do
        local mark, name = lines[i + 1]:match("^(.)%s+(%S+)")
        assert.equals(device.name, name)
        assert.equals(device.name == default and "*" or " ", mark)
        if name == "lo" then assert.matches("up,running,loopback%s+127%.0%.0%.1/8", lines[i + 1]) end
      end
      local status_all, all = cmd.run({ "devices", "--all" })
      assert.equals(0, status_all)
      assert.is_true(select(2, all:gsub("\n", "")) >= #lines)
    end)
  end)

  describe("the service unit (examples/nasoone.service)", function()
    local unit = helper.read_file("examples/nasoone.service")
    --- The unit with ExecStart's command at this checkout's bin/nasoone.
    local function here()
      return (unit:gsub("/usr/local/bin/nasoone", helper.absolute("bin/nasoone")))
    end

    it("passes systemd-analyze verify", function()
      if not os.execute("command -v systemd-analyze >/dev/null") then
        return pending("needs systemd-analyze (apt-get install -y systemd)")
      end
      helper.write_file(dir .. "/nasoone.service", here())
      local p = assert(io.popen(("systemd-analyze verify '%s/nasoone.service' 2>&1"):format(dir)))
      local said = p:read("a")
      local ok = p:close()
      assert.is_true(ok, said)
      assert.equals("", said)
    end)

    it("runs a capture point with no root: its command line works, its sandbox holds", function()
      -- the ExecStart line, systemd's %% unescaped, on a file instead of eth0, writing here
      local exec = assert(unit:match("\nExecStart=(.-[^\\])\n"), "no ExecStart"):gsub("\\\n%s*", "")
      exec = exec:gsub("%%%%", "%%"):gsub("/var/lib/nasoone", dir)
      local args = {}
      for word in exec:gmatch("%S+") do args[#args + 1] = word end
      assert.equals("/usr/local/bin/nasoone", table.remove(args, 1))
      for i, word in ipairs(args) do if word == "-i" then args[i], args[i + 1] = "-r", helper.absolute(SAMPLE) end end
      local status, _, stderr = cmd.run(args, { dir = dir })
      assert.equals(0, status, stderr)
      local listing = helper.shell_output(("ls '%s'"):format(dir))
      assert.matches("nasoone_[%d-]+_[%d-]+%.csv", listing)
      assert.matches("flows%-%d+%-%d+%.jsonl", listing)
      assert.matches("nasoone_packets_received_total 36\n", helper.read_file(dir .. "/nasoone.prom"), 1, true)
      -- no root, only the two capabilities, nothing to gain
      assert.matches("\nDynamicUser=yes\n", unit)
      assert.matches("\nAmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN\n", unit)
      assert.matches("\nCapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN\n", unit)
      assert.matches("\nNoNewPrivileges=yes\n", unit)
      assert.matches("\nProtectSystem=strict\n", unit)
      assert.is_nil(unit:match("\nUser=root"))
    end)
  end)

  describe("live #live", function()
    local usable, why = true, nil
    if not helper.is_root() then
      usable, why = false, "live captures need root"
    end

    it("capture -i lo with a filter counts exactly the datagrams sent", function()
      if not usable then return pending(why) end
      local from, to = helper.free_udp_ports()
      local output = dir .. "/lo.csv"
      local process = cmd.spawn({ "capture", "-i", "lo", "--udp", "--src-host", "127.0.0.1", "--dst-host",
        "127.0.0.1", "--src-port", tostring(from), "--dst-port", tostring(to), "-o", output, "-t", "0.05",
        "--immediate", "--status-interval", "0.1" }, dir)
      assert.is_truthy(cmd.eventually(function() return helper.exists(output) end))
      assert(sh(("%s/tests/udp_sender 127.0.0.1 %d %d 25 100"):format(cmd.build, from, to)), "udp_sender failed")
      assert.is_truthy(cmd.eventually(function() return process:stderr():find("lo: 25 packets") end, 5),
        process:stderr())
      process:signal("INT")
      assert.equals(130, process:wait())
      local rows = helper.sorted_rows(output)
      assert.equals(1, #rows)
      assert.matches(("^127%%.0%%.0%%.1; %d; 127%%.0%%.0%%.1; %d; %%[UDP%%]; %%d+; %%d+; 3550; 25$"):format(from, to),
        rows[1])
      local stderr = process:stderr()
      assert.matches("\nlo: 25 packets in [%d.]+ s %(stopped by Ctrl%-C%), 25 counted in 1 row, 0 skipped\n", stderr)
      assert.matches("dropped: 0 by the kernel, 0 by the interface, 0 by nasoone", stderr)
    end)

    it("-c 1000 on lo stops after exactly 1000 packets, --duration 2 after 2 s: exit 0", function()
      if not usable then return pending(why) end
      local from, to = helper.free_udp_ports()
      local filter = { "--udp", "--src-host", "127.0.0.1", "--src-port", tostring(from), "--dst-port", tostring(to) }
      local output = dir .. "/count.csv"
      local args = { "capture", "-i", "lo", "-o", output, "-t", "0.05", "--immediate", "-c", "1000" }
      for _, a in ipairs(filter) do args[#args + 1] = a end
      local process = cmd.spawn(args, dir)
      assert.is_truthy(cmd.eventually(function() return helper.exists(output) end))
      -- more than the count: a packet dropped on the way (a loaded machine) is not one of them
      assert(sh(("%s/tests/udp_sender 127.0.0.1 %d %d 3000 20"):format(cmd.build, from, to)), "udp_sender failed")
      assert.equals(0, process:wait())
      local rows = helper.sorted_rows(output)
      assert.equals(1, #rows)
      assert.matches("; 1000$", rows[1])
      assert.matches("\nlo: 1000 packets in [%d.]+ s, 1000 counted in 1 row", "\n" .. process:stderr())

      output = dir .. "/duration.csv"
      args = { "capture", "-i", "lo", "-o", output, "-t", "0.05", "--immediate", "--duration", "2" }
      for _, a in ipairs(filter) do args[#args + 1] = a end
      local started = cmd.now()
      process = cmd.spawn(args, dir)
      assert.is_truthy(cmd.eventually(function() return helper.exists(output) end))
      assert(sh(("%s/tests/udp_sender 127.0.0.1 %d %d 10 20"):format(cmd.build, from, to)), "udp_sender failed")
      assert.equals(0, process:wait())
      local took = cmd.now() - started
      -- 2 s, then the final report (an interval at most), and the interpreter's start and exit:
      -- generous, a loaded machine starts late; what matters is that it stops by itself
      assert.is_true(took >= 2 and took < 10, ("stopped after %.3f s"):format(took))
      assert.matches("; 10$", helper.sorted_rows(output)[1])
      assert.matches("\nlo: 10 packets in [%d.]+ s %(stopped by %-%-duration%), 10 counted in 1 row",
        "\n" .. process:stderr())
    end)

    it("--user nobody: the device opened as root, then no root and no capability, the report whole", function()
      if not usable then return pending(why) end
      local group = os.execute("getent group nogroup >/dev/null") and "nogroup" or "nobody"
      -- the report's folder must take nobody's files, and nobody must reach it (a spec folder is
      -- root's alone)
      local p = assert(io.popen("mktemp -d /tmp/nasoone-user.XXXXXX"))
      local shared = p:read("l")
      p:close()
      assert(sh(("chmod 1777 '%s'"):format(shared)))
      finally(function() sh(("rm -rf '%s'"):format(shared)) end)
      local from, to = helper.free_udp_ports()
      local output = shared .. "/lo.csv"
      local process = cmd.spawn({ "capture", "-i", "lo", "--user", "nobody", "--group", group, "--udp",
        "--src-port", tostring(from), "--dst-port", tostring(to), "-o", output, "-t", "0.05", "--immediate" }, dir)
      assert.is_truthy(cmd.eventually(function() return helper.exists(output) end), process:stderr())
      -- every thread: nobody's ids, no capability, no way to gain one
      local tasks = assert(io.popen("ls /proc/" .. process.pid .. "/task"))
      local threads = 0
      for task in tasks:lines() do
        local status = helper.read_file(("/proc/%d/task/%s/status"):format(process.pid, task))
        assert.matches("\nUid:\t65534\t65534\t65534\t65534\n", status)
        for _, set in ipairs({ "CapInh", "CapPrm", "CapEff", "CapAmb" }) do
          assert.matches("\n" .. set .. ":\t0000000000000000\n", status)
        end
        assert.matches("\nNoNewPrivs:\t1\n", status)
        threads = threads + 1
      end
      tasks:close()
      assert.is_true(threads >= 3, "the capture's threads") -- the reader, a parser, the writer
      assert(sh(("%s/tests/udp_sender 127.0.0.1 %d %d 25 100"):format(cmd.build, from, to)), "udp_sender failed")
      assert.is_truthy(cmd.eventually(function()
        return #helper.sorted_rows(output) == 1 and helper.sorted_rows(output)[1]:find("; 25$")
      end, 5))
      process:signal("INT")
      assert.equals(130, process:wait())
      assert.matches("; 3550; 25$", helper.sorted_rows(output)[1])
      assert.matches("\nlo: 25 packets in [%d.]+ s %(stopped by Ctrl%-C%), 25 counted in 1 row",
        "\n" .. process:stderr())
      -- a user that does not exist: nothing is captured
      local status, _, stderr = cmd.run({ "capture", "-i", "lo", "--user", "no-such-user-here", "-o", dir .. "/x.csv" })
      assert.equals(1, status)
      assert.matches("nasoone: no user no-such-user-here", stderr, 1, true)
    end)

    it("captures on the default device without -i", function()
      if not usable then return pending(why) end
      local default = nasoone.default_device()
      if not default then return pending("this machine has no default device") end
      local output = dir .. "/default.csv"
      local process = cmd.spawn({ "capture", "-o", output, "-f", "udp port 9" }, dir)
      assert.is_truthy(cmd.eventually(function() return helper.exists(output) end))
      process:signal("TERM")
      assert.equals(143, process:wait())
      -- (after the warning that it runs as root)
      assert.matches("\n" .. default:gsub("%p", "%%%0") .. ": %d+ packets", "\n" .. process:stderr())
    end)

    describe("on a veth pair made here", function()
      local tag = tostring(math.random(10000, 99999))
      local here, peer = "ncli" .. tag .. "a", "ncli" .. tag .. "b"
      local made = false
      setup(function()
        if not usable then return end
        made = sh("ip link add " .. here .. " type veth peer name " .. peer)
          and sh("sysctl -qw net.ipv6.conf." .. here .. ".disable_ipv6=1")
          and sh("sysctl -qw net.ipv6.conf." .. peer .. ".disable_ipv6=1")
          and sh("ip link set " .. here .. " up") and sh("ip link set " .. peer .. " up")
        if not made then usable, why = false, "could not make a veth pair" end
        if usable and not sh("command -v tcpreplay") then usable, why = false, "tcpreplay is not installed" end
      end)
      teardown(function() if made then sh("ip link del " .. here) end end)

      --- Sends `count` UDP frames from the peer end (they arrive on `here`).
      local function send(count)
        local packets = {}
        for i = 1, count do
          packets[i] = { sec = 1700000000, usec = i, data = helper.frame({ src = "10.214.0.2", dst = "10.214.0.1",
            sport = 7000, dport = 7001, proto = "UDP", payload = 20 }) }
        end
        helper.write_pcap(dir .. "/send.pcap", packets)
        assert(sh(("tcpreplay -q --topspeed -i %s %s"):format(peer, cmd.quote(dir .. "/send.pcap"))))
      end

      local starts = 0
      --- `nasoone capture -i here ARGS` in the background, into a new report each call.
      local function start(args)
        starts = starts + 1
        local output = ("%s/veth%d.csv"):format(dir, starts)
        local all = { "capture", "-i", here, "-o", output, "-t", "0.05", "--status-interval", "0.1" }
        for _, a in ipairs(args) do all[#all + 1] = a end
        local process = cmd.spawn(all, dir)
        assert.is_truthy(cmd.eventually(function() return helper.exists(output) end))
        return process, output
      end

      local function promiscuity()
        local p = io.popen("ip -d link show " .. here)
        local text = p:read("a")
        p:close()
        return tonumber(text:match("promiscuity (%d+)"))
      end

      it("--no-promiscuous: the interface is promiscuous only without it", function()
        if not usable then return pending(why) end
        assert.equals(0, promiscuity())
        for _, case in ipairs({ { {}, 1 }, { { "--no-promiscuous" }, 0 } }) do
          local process = start(case[1])
          assert.equals(case[2], promiscuity())
          process:signal("TERM")
          assert.equals(143, process:wait())
        end
      end)

      it("--buffer-size: the kernel ring nasoone maps has that size", function()
        if not usable then return pending(why) end
        local process = start({ "--buffer-size", "3M" })
        local maps = helper.read_file("/proc/" .. process.pid .. "/maps")
        process:signal("TERM")
        assert.equals(143, process:wait())
        local sizes = {}
        for line in maps:gmatch("[^\n]+") do
          local from, to = line:match("^(%x+)%-(%x+) .* socket:%[%d+%]$")
          if from then sizes[#sizes + 1] = tonumber(to, 16) - tonumber(from, 16) end
        end
        assert.same({ 3 * 1024 * 1024 }, sizes)
      end)

      it("--snaplen: frames cut before their ports are skipped as truncated", function()
        if not usable then return pending(why) end
        local process = start({ "--snaplen", "30", "--immediate" })
        send(5)
        assert.is_truthy(cmd.eventually(function() return process:stderr():find(": 5 packets") end, 5))
        process:signal("TERM")
        assert.equals(143, process:wait())
        assert.matches(": 5 packets in [%d.]+ s %(stopped by SIGTERM%), 0 counted in 0 rows, 5 skipped",
          process:stderr())
      end)

      it("--pcap-timeout holds packets in the kernel's block, --immediate hands them over at once", function()
        if not usable then return pending(why) end
        local process = start({ "--pcap-timeout", "10" })
        send(5)
        cmd.sleep(1.5)
        local held = process:stderr()
        process:signal("TERM")
        assert.equals(143, process:wait())
        assert.is_nil(held:find(": [1-9]%d* packets"), held)
        process = start({ "--pcap-timeout", "10", "--immediate", "--timestamp-precision", "nano" })
        send(5)
        assert.is_truthy(cmd.eventually(function() return process:stderr():find(": 5 packets") end, 1.5),
          process:stderr())
        process:signal("TERM")
        assert.equals(143, process:wait())
        assert.matches(": 5 packets in [%d.]+ s %(stopped by SIGTERM%), 5 counted in 1 row", process:stderr())
      end)
    end)
  end)
end)
