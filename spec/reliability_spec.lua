--- Nothing silent, nothing stuck: report intervals shorter than a rewrite, wait() that cannot
-- hang or ignore Ctrl-C, write failures that reach the caller, output paths checked when set,
-- messages that keep their reason, hostile capture records, and the report's temporary files.
--
-- Several cases run a script in a child interpreter (the one ctest gives: lua_host in the
-- sanitized builds), so that a hang, a signal or a resource limit stays in the child. Large
-- captures come from bench's generator with --snaplen, so reading them takes far longer than
-- the checks made while they run (about 100 bytes a packet on disk).
local helper = require("spec.helper")
local nasoone = require("nasoone")

local function sh(command)
  return os.execute(command) == true
end

local capture_output = helper.shell_output
local absolute = helper.absolute
local build_dir = absolute(helper.build_dir)
local generator = build_dir .. "/bench/gen_capture"
local is_root = capture_output("id -u") == "0\n"

--- A capture of `packets` packets over `flows` flows from bench/gen_capture, headers only;
-- made once for the whole file.
local captures_dir = helper.tmpdir()
local function generated_capture(_, packets, flows)
  local path = ("%s/gen-%d-%d.pcap"):format(captures_dir, packets, flows)
  if not helper.exists(path) then
    assert(sh(("'%s' '%s' --packets %d --flows %d --snaplen 96 >/dev/null"):format(generator, path,
      packets, flows)), "bench/gen_capture failed: is it built?")
  end
  return path
end

--- Writes a child script that loads only the build under test, with `prelude` values as
-- globals (strings and numbers, formatted with %q).
--- A capture of a generated file writing `output` every 10 ms, started and paused: the report
-- exists, and what is done to it now meets the next rewrite once the capture is resumed.
local function paused_rewriting(output)
  local cap = nasoone.new()
  assert(cap:set_capture_file(generated_capture(nil, 2000000, 1000)))
  assert(cap:set_output(output))
  assert(cap:set_timeout(0.01))
  assert(cap:start())
  assert.equals(cap, cap:pause())
  return cap
end

local function child_script(dir, body, globals)
  local lines = {
    ("package.path = %q"):format(absolute("lua") .. "/?.lua"),
    ("package.cpath = %q"):format(build_dir .. "/?.so"),
    "local nasoone = require('nasoone')",
  }
  for name, value in pairs(globals or {}) do
    lines[#lines + 1] = ("local %s = %q"):format(name, value)
  end
  lines[#lines + 1] = body
  local path = dir .. "/child.lua"
  helper.write_file(path, table.concat(lines, "\n") .. "\n")
  return path
end

--- Runs a child script; returns its stdout, stderr and exit code. `shell_prefix` runs before
-- the interpreter in the same shell (ulimit, trap); `seconds` bounds it (killed after that).
local function run_child(dir, script, opts)
  opts = opts or {}
  local err_path = dir .. "/child.err"
  local command = ("%s timeout -s KILL %d %s '%s' 2>'%s'"):format(opts.shell_prefix or "",
    opts.seconds or 60, helper.lua_interpreter, script, err_path)
  local p = assert(io.popen(command))
  local out = p:read("a")
  local _, _, code = p:close()
  return out, helper.read_file(err_path), code
end

--- `text` as a Lua pattern that matches only itself.
local function literal(text)
  return (text:gsub("%p", "%%%0"))
end

local function monotonic()
  return tonumber(capture_output("date +%s.%N"))
end

local function listing(dir)
  return capture_output("ls -A '" .. dir .. "'")
end

local function report_packets(path)
  local total = 0
  for i, line in ipairs(helper.report_lines(path)) do
    if i > 1 then total = total + tonumber(line:match("(%d+)$")) end
  end
  return total
end

--- A fresh tmpfs of `size` (a full disk on demand), unmounted when the test ends; nil as
-- another user than root.
local function small_tmpfs(size)
  local folder = helper.tmpdir()
  if not sh(("mount -t tmpfs -o size=%s nasoone-spec '%s' 2>/dev/null"):format(size, folder)) then
    return nil
  end
  finally(function() sh("umount '" .. folder .. "'") end)
  return folder
end

local function check_whole_report(path)
  local text = helper.read_file(path)
  assert.equals(helper.header .. "\n", text:sub(1, #helper.header + 1))
  assert.equals("\n", text:sub(-1))
  for i, line in ipairs(helper.report_lines(path)) do
    if i > 1 then
      assert.matches("^[%x%.:]+; %d+; [%x%.:]+; %d+; %[[%u, ]+%]; %d+; %d+; %d+; %d+$", line)
    end
  end
end

describe("reliability", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  teardown(helper.cleanup)

  describe("a report interval shorter than one rewrite", function()
    it("does not starve the pipeline: 1 ms finishes about as fast as 60 s", function()
      -- 90k rows: each rewrite takes longer than the interval. Before, the writer merged one
      -- parsers' delta per rewrite from then on: 20 s a million packets instead of 0.2 s.
      local capture = generated_capture(dir, 2000000, 100000)
      local seconds, stats = {}, {}
      for _, interval in ipairs({ 60, 0.001 }) do
        local started = monotonic()
        local output
        output, stats[interval] = helper.run_file(capture, { interval = interval, dir = helper.tmpdir() })
        seconds[interval] = monotonic() - started
        assert.equals(2000000, report_packets(output))
      end
      assert.equals(stats[60].counted, stats[0.001].counted)
      assert.equals(stats[60].flows, stats[0.001].flows)
      assert.is_true(stats[0.001].reports_written >= 2)
      -- generous: this guards against starvation (100x), the benchmark measures speed
      assert.is_true(seconds[0.001] < 5 * seconds[60] + 2,
        ("interval 1 ms took %.2f s, 60 s took %.2f s"):format(seconds[0.001], seconds[60]))
    end)
  end)

  describe("one parser whose table outgrows the cache", function()
    it("hands its table to the writer and goes on with deltas: the report two parsers make", function()
      -- 360,691 rows: past the 262,144 the only parser keeps in a table of its own (parser.c),
      -- so it lends that table for reports, then gives it for good and hands deltas over
      local capture = generated_capture(dir, 1000000, 20000000)
      local outputs, stats = {}, {}
      for _, parsers in ipairs({ 1, 2 }) do
        outputs[parsers], stats[parsers] = helper.run_file(capture,
          { parsers = parsers, interval = 0.02, dir = helper.tmpdir() })
      end
      assert.equals(1000000, stats[1].counted)
      assert.equals(360691, stats[1].flows)
      assert.equals(360691, stats[2].flows)
      assert.is_true(stats[1].reports_written >= 2, "reports: " .. stats[1].reports_written)
      -- the same bytes: both sort the rows the same way
      local report = helper.read_file(outputs[1])
      assert.equals(360692, select(2, report:gsub("\n", "")))
      assert.is_true(report == helper.read_file(outputs[2]), "the two reports differ")
    end)
  end)

  describe("wait", function()
    it("returns at the end even when on_report called poll or wait(t)", function()
      local capture = generated_capture(dir, 200000, 20000)
      local script = child_script(dir, [[
        local cap = nasoone.new()
        assert(cap:set_capture_file(capture))
        assert(cap:set_timeout(0.001))
        local calls = 0
        cap:on_report(function()
          calls = calls + 1
          cap:poll()     -- each takes the event the outer wait() would have slept on
          cap:wait(0.001)
        end)
        assert(cap:start())
        local ok, err = cap:wait()
        print(tostring(ok), tostring(err), cap:state(), calls > 0)
        cap:stop()
      ]], { capture = capture })
      local out, err, code = run_child(dir, script, { seconds = 30 })
      assert.equals(0, code, err)
      assert.equals("true\tnil\tfinished\ttrue\n", out)
    end)

    it("with a timeout, returns as soon as a callback paused the capture", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(generated_capture(dir, 2000000, 1000)))
      assert(cap:set_timeout(0.01))
      local paused = false
      cap:on_report(function()
        if not paused then paused = cap:pause() ~= nil end
      end)
      assert(cap:start())
      local started = monotonic()
      assert.is_false(cap:wait(5))
      local waited = monotonic() - started
      assert.is_true(paused, "the first report came after the end of the file")
      assert.equals("paused", cap:state())
      assert.is_true(waited < 2.5, ("wait(5) took %.2f s"):format(waited))
      assert(cap:resume())
      assert.is_true(cap:wait(60))
      assert.equals(2000000, assert(cap:stop()).counted)
    end)

    it("lets Ctrl-C interrupt a wait without a timeout, and the report is written", function()
      local capture = generated_capture(dir, 2000000, 1000)
      local output = dir .. "/report.csv"
      local script = child_script(dir, [[
        local cap = nasoone.new()
        assert(cap:set_capture_file(capture))
        assert(cap:set_output(output))
        assert(cap:set_timeout(60)) -- no report before the end: nothing else wakes wait()
        assert(cap:start())
        assert(cap:wait(0.05) == false) -- some packets read, far from all
        print("waiting") io.stdout:flush()
        cap:wait()
        print("finished")
      ]], { capture = capture, output = output })
      -- --foreground: timeout passes the signal to the interpreter alone, once (otherwise it
      -- also signals its process group, and a second SIGINT kills, as in lua5.4)
      local p = assert(io.popen(("echo $$; exec timeout --foreground -s KILL 60 %s '%s' 2>'%s/child.err'")
        :format(helper.lua_interpreter, script, dir)))
      local pid = p:read("l")
      assert.equals("waiting", p:read("l"))
      assert(sh("kill -INT " .. pid))
      local rest = p:read("a")
      local _, _, code = p:close()
      assert.equals("", rest) -- never "finished": the file is far from read
      assert.equals(1, code)
      assert.matches("interrupted!", helper.read_file(dir .. "/child.err"))
      -- the capture was collected on the way out: a whole final report of what was read, and
      -- not all of it (before, the interrupt took effect only once the whole file was read)
      check_whole_report(output)
      local packets = report_packets(output)
      assert.is_true(packets > 0 and packets < 2000000, packets .. " packets reported")
    end)

    it("lets Ctrl-C interrupt a wait on a live capture with no traffic", function()
      if not is_root then return pending("a live capture needs root") end
      local output = dir .. "/report.csv"
      local script = child_script(dir, [[
        local cap = nasoone.new()
        assert(cap:set_capture_device("lo"))
        assert(cap:set_raw_filter("udp and dst port 9 and src port 9 and host 127.0.0.254"))
        assert(cap:set_output(output))
        assert(cap:start())
        print("waiting") io.stdout:flush()
        cap:wait()
        print("finished")
      ]], { output = output })
      local p = assert(io.popen(("echo $$; exec timeout --foreground -s KILL 10 %s '%s' 2>'%s/child.err'")
        :format(helper.lua_interpreter, script, dir)))
      local pid = p:read("l")
      assert.equals("waiting", p:read("l"))
      local sent = monotonic()
      assert(sh("kill -INT " .. pid))
      local rest = p:read("a")
      local _, _, code = p:close()
      assert.equals("", rest)
      assert.equals(1, code, helper.read_file(dir .. "/child.err")) -- 137: the guard killed it
      assert.is_true(monotonic() - sent < 5)
      assert.matches("interrupted!", helper.read_file(dir .. "/child.err"))
      assert.same({ helper.header }, helper.report_lines(output))
    end)
  end)

  describe("a report that cannot be written", function()
    local function final_failure_child(output, capture)
      return child_script(dir, [[
        local cap = nasoone.new()
        assert(cap:set_capture_file(capture))
        assert(cap:set_output(output))
        assert(cap:set_timeout(0.01))
        assert(cap:start())
        local ok, err = cap:wait(60)
        print(tostring(ok)) print(tostring(err))
        local stats, stop_err = cap:stop()
        print(tostring(stats)) print(tostring(stop_err))
        local s = cap:stats()
        print(tostring(s.report_current)) print(tostring(s.error)) print(tostring(s.write_error))
        print(s.received)
      ]], { capture = capture, output = output })
    end

    local function check_final_failure(out, output, reason)
      local lines = {}
      for line in out:gmatch("[^\n]+") do lines[#lines + 1] = line end
      local message = "nasoone: the final report was not written (cannot write the report "
        .. output .. ": " .. reason .. ")"
      assert.same({ "true", message, "nil", message, "false", message,
        "nasoone: cannot write the report " .. output .. ": " .. reason, "5000" }, lines)
      assert.same({ helper.header }, helper.report_lines(output)) -- the last complete one
      assert.equals("report.csv\n", listing(output:match("^(.*)/"))) -- no temporary left
    end

    it("is an error from wait and stop when the final one fails (file size limit)", function()
      local capture = dir .. "/big.pcap"
      helper.synthetic_capture(capture, 5000, 1000) -- a report of ~90 KB
      local folder = helper.tmpdir()
      local output = folder .. "/report.csv"
      -- 8 blocks of 512 bytes: the header fits, no report does; write() fails with EFBIG
      local out, err, code = run_child(dir, final_failure_child(output, capture),
        { shell_prefix = "ulimit -f 8; trap '' XFSZ;" })
      assert.equals(0, code, err)
      check_final_failure(out, output, "File too large")
    end)

    it("is an error from wait and stop on a full disk (16 KiB tmpfs)", function()
      local folder = small_tmpfs("16k")
      if not folder then
        return pending("mounting a tmpfs needs root: the full-disk case is not run here")
      end
      local capture = dir .. "/big.pcap"
      helper.synthetic_capture(capture, 5000, 1000)
      local output = folder .. "/report.csv"
      local out, err, code = run_child(dir, final_failure_child(output, capture))
      assert.equals(0, code, err)
      check_final_failure(out, output, "No space left on device")
    end)

    it("is an error from wait and stop when the output folder was removed", function()
      local folder = helper.tmpdir()
      local cap = nasoone.new()
      assert(cap:set_capture_file(generated_capture(dir, 2000000, 1000)))
      assert(cap:set_output(folder .. "/report.csv"))
      assert(cap:start())
      assert.equals(cap, cap:pause())
      assert(sh("rm -rf '" .. folder .. "'"))
      assert(cap:resume())
      local ok, err = cap:wait(60)
      local message = "nasoone: the final report was not written (cannot create a temporary "
        .. "file beside " .. folder .. "/report.csv: No such file or directory)"
      assert.same({ true, message }, { ok, err })
      assert.same({ nil, message, "report_not_written" }, { cap:stop() })
      assert.equals("stopped", cap:state())
      assert.is_false(cap:stats().report_current)
    end)

    it("says the file is not current while rewrites fail, and recovers", function()
      local folder = small_tmpfs("256k")
      if not folder then
        return pending("mounting a tmpfs needs root: the full-disk case is not run here")
      end
      local output = folder .. "/report.csv"
      local cap = nasoone.new()
      assert(cap:set_capture_file(generated_capture(dir, 2000000, 500))) -- at most 500 rows
      assert(cap:set_output(output))
      assert(cap:set_timeout(0.02))
      -- fill the disk but the page the header needs: every rewrite fails, and says so
      sh("dd if=/dev/zero of='" .. folder .. "/filler' bs=4k 2>/dev/null")
      assert(sh("truncate -s -4096 '" .. folder .. "/filler'"))
      assert(cap:start())
      assert.is_false(cap:wait(0.02)) -- some packets read: a report to write
      assert.equals(cap, cap:pause())
      local stats
      for _ = 1, 100 do -- up to 5 s
        cap:wait(0.05)
        stats = cap:stats()
        if stats.write_error then break end
      end
      assert.matches(": No space left on device$", stats.write_error)
      assert.is_false(stats.report_current)
      assert.is_nil(stats.error) -- nothing lost yet: a later rewrite brings it all
      os.remove(folder .. "/filler")
      for _ = 1, 100 do
        cap:wait(0.05)
        stats = cap:stats()
        if stats.report_current then break end
      end
      assert.is_true(stats.report_current)
      assert.is_nil(stats.write_error)
      assert(cap:resume())
      assert.same({ true }, { cap:wait(60) })
      stats = assert(cap:stop())
      assert.is_true(stats.report_current)
      assert.equals(2000000, report_packets(output))
      assert.equals("report.csv\n", listing(folder))
    end)
  end)

  describe("set_output", function()
    local function expect_failure(pattern, ok, message)
      assert.is_nil(ok)
      assert.matches(pattern, message)
    end

    it("refuses what could only fail later, at once", function()
      local cap = nasoone.new()
      expect_failure("^nasoone: the output path is empty$", cap:set_output(""))
      expect_failure("^nasoone: cannot create output file /proc/nasoone%-spec%.csv: ",
        cap:set_output("/proc/nasoone-spec.csv"))
      expect_failure("^nasoone: output " .. literal(dir) .. "/ names a folder, not a file$",
        cap:set_output(dir .. "/"))
      expect_failure("^nasoone: output folder " .. literal(dir) .. "/file%.csv is not a folder$",
        (function()
          helper.write_file(dir .. "/file.csv", "")
          return cap:set_output(dir .. "/file.csv/report.csv")
        end)())
      expect_failure("^nasoone: cannot use output file .*: File name too long$",
        cap:set_output(dir .. "/" .. ("n"):rep(256)))
      assert.equals("file.csv\n", listing(dir)) -- the checks leave nothing behind
    end)

    it("refuses a folder it may not write to", function()
      if is_root then return pending("root writes anywhere: run as another user to check") end
      sh("mkdir '" .. dir .. "/ro' && chmod 555 '" .. dir .. "/ro'")
      expect_failure("^nasoone: cannot create output file .*/ro/r%.csv: Permission denied$",
        nasoone.new():set_output(dir .. "/ro/r.csv"))
    end)

    it("takes the longest file name there is, and writes it", function()
      local name = ("n"):rep(251) .. ".csv" -- 255 bytes: the temporary name cannot be longer
      local capture = dir .. "/big.pcap"
      local expected = helper.synthetic_capture(capture, 3000, 200)
      local folder = helper.tmpdir()
      local cap = nasoone.new()
      assert(cap:set_capture_file(capture))
      assert(cap:set_output(folder .. "/" .. name))
      assert(cap:set_timeout(0.001))
      assert(cap:start())
      assert.same({ true }, { cap:wait(60) })
      local stats = assert(cap:stop())
      assert.is_true(stats.report_current)
      assert.is_nil(stats.write_error)
      assert.same(expected, helper.sorted_rows(folder .. "/" .. name))
      assert.equals(name .. "\n", listing(folder))
    end)
  end)

  describe("error messages", function()
    it("keep the reason after an over-long path or filter", function()
      local long_folder = dir .. "/" .. ("d"):rep(300)
      local ok, message = nasoone.new():set_capture_file(long_folder .. "/x.pcap")
      assert.is_nil(ok)
      assert.matches("^nasoone: cannot open capture file " .. literal(dir)
        .. "/d+/x%.pcap: File name too long$",
        message)
      ok, message = nasoone.new():set_output(dir .. ("/" .. ("o"):rep(200)):rep(30) .. "/r.csv")
      assert.is_nil(ok)
      assert.matches("^nasoone: cannot use output file /.* %.%.%. .*/r%.csv: File name too long$",
        message)
      assert.is_true(#message < 1024)
      local cap = nasoone.new()
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      ok, message = cap:set_raw_filter(("host 10.0.0.1 or "):rep(300) .. "port fifty")
      assert.is_nil(ok)
      assert.matches("^nasoone: bad filter 'host 10%.0%.0%.1 or .* %.%.%. .*port fifty': .*fifty",
        message)
    end)
  end)

  describe("capture records with impossible fields", function()
    local function udp(sport)
      return helper.frame({ src = "10.0.0.1", dst = "10.0.0.2", sport = sport, dport = 53,
        proto = "UDP", payload = 10 })
    end

    it("pcap: length below the captured length, fractions of a second out of range", function()
      local frame = udp(1000) -- 52 bytes
      helper.write_pcap(dir .. "/odd.pcap", {
        { sec = 1700000000, usec = 5, data = frame, len = 20 }, -- len < caplen
        { sec = 1700000001, usec = 0xffffffff, data = udp(1001) },
        { sec = 1700000002, usec = 1000000, data = udp(1002) },
        { sec = 0x80000005, usec = 7000, data = udp(1003) }, -- 2038-01-19: unsigned seconds
      })
      local output, stats = helper.run_file(dir .. "/odd.pcap")
      assert.same({
        "10.0.0.1; 1000; 10.0.0.2; 53; [UDP]; 1700000000000; 1700000000000; 20; 1", -- len
        -- as libpcap gives them and the oracle adds them (rule 9): -1 us, and +1 s
        "10.0.0.1; 1001; 10.0.0.2; 53; [UDP]; 1700000000999; 1700000000999; 52; 1",
        "10.0.0.1; 1002; 10.0.0.2; 53; [UDP]; 1700000003000; 1700000003000; 52; 1",
        "10.0.0.1; 1003; 10.0.0.2; 53; [UDP]; 2147483653007; 2147483653007; 52; 1",
      }, helper.sorted_rows(output))
      assert.same({ wire_length_below_captured = 1, time_fraction_out_of_range = 2,
        time_out_of_range = 0 }, stats.anomalies)
      assert.equals(4, stats.counted)
    end)

    it("pcapng: times past 2106 stay there, times before 1970 are skipped", function()
      -- one section, interface 0 plain, interface 1 with if_tsoffset = -2,000,000,000 s
      local function block(kind, body)
        body = body .. string.rep("\0", (4 - #body % 4) % 4)
        return string.pack("<I4I4", kind, #body + 12) .. body .. string.pack("<I4", #body + 12)
      end
      local function packet(interface, micros, data)
        return block(6, string.pack("<I4I4I4I4I4", interface, micros >> 32, micros & 0xffffffff,
          #data, #data) .. data)
      end
      local offset_option = string.pack("<I2I2i8I2I2", 14, 8, -2000000000, 0, 0)
      helper.write_file(dir .. "/odd.pcapng", table.concat({
        block(0x0A0D0D0A, string.pack("<I4I2I2i8", 0x1A2B3C4D, 1, 0, -1)),
        block(1, string.pack("<I2I2I4", 1, 0, 262144)),
        block(1, string.pack("<I2I2I4", 1, 0, 262144) .. offset_option),
        packet(0, 7258118400 * 1000000 + 123456, udp(2000)), -- 2200-01-01
        packet(1, 1000000 * 1000000 + 5000, udp(2001)),      -- 1906: before the epoch
        packet(1, 3000000000 * 1000000, udp(2002)),          -- 2001-09-09
      }))
      local output, stats = helper.run_file(dir .. "/odd.pcapng")
      assert.same({
        "10.0.0.1; 2000; 10.0.0.2; 53; [UDP]; 7258118400123; 7258118400123; 52; 1",
        "10.0.0.1; 2002; 10.0.0.2; 53; [UDP]; 1000000000000; 1000000000000; 52; 1",
      }, helper.sorted_rows(output))
      assert.same({ wire_length_below_captured = 0, time_fraction_out_of_range = 0,
        time_out_of_range = 1 }, stats.anomalies)
      assert.equals(1, stats.skipped.invalid)
      assert.equals(3, stats.received)
    end)
  end)

  describe("temporary files", function()
    it("kill -9 while reports are rewritten leaves the report and nothing else", function()
      local capture = generated_capture(dir, 2000000, 100000)
      for trial = 1, 6 do
        local folder = helper.tmpdir()
        local output = folder .. "/report.csv"
        local script = child_script(dir, [[
          local cap = nasoone.new()
          assert(cap:set_capture_file(capture))
          assert(cap:set_output(output))
          assert(cap:set_timeout(0.001))
          assert(cap:start())
          print("started") io.stdout:flush()
          cap:wait(60)
        ]], { capture = capture, output = output })
        local p = assert(io.popen(("echo $$; exec %s '%s' 2>/dev/null"):format(
          helper.lua_interpreter, script)))
        local pid = p:read("l")
        assert.equals("started", p:read("l"))
        sh(("sleep 0.%d; kill -9 %s"):format(trial, pid))
        p:read("a")
        p:close()
        -- A kill in the instant between naming a new report and renaming it over the old one
        -- leaves that name too (Linux cannot rename an unnamed file over another, report.c):
        -- a whole report under the hidden temporary pattern. Nothing else, ever.
        local others = {}
        for entry in listing(folder):gmatch("[^\n]+") do
          if entry ~= "report.csv" then others[#others + 1] = entry end
        end
        assert.is_true(#others <= 1, table.concat(others, " "))
        if others[1] then
          assert.matches("^%.report%.csv%.%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%x%.tmp$", others[1])
          check_whole_report(folder .. "/" .. others[1])
        end
        check_whole_report(output)
      end
    end)

    it("removes the leftovers of a crashed run of the same report at start, nothing else", function()
      local folder = helper.tmpdir()
      local keep = {
        ".report.csv.0123.tmp",                -- not a name nasoone makes
        ".other.csv.0123456789abcdef.tmp",     -- another report's
        ".report.csv.0123456789abcdef.tmp.x",
        ".report.csv.fedcba9876543210.tmp",    -- a symbolic link: never followed or removed
      }
      for i = 1, 3 do helper.write_file(folder .. "/" .. keep[i], "not ours") end
      helper.write_file(dir .. "/target", "kept")
      assert(sh(("ln -s '%s/target' '%s/%s'"):format(dir, folder, keep[4])))
      helper.write_file(folder .. "/.report.csv.0123456789abcdef.tmp", "a half report")
      helper.write_file(folder .. "/.report.csv.a1b2c3d4e5f60789.tmp", "another")
      local output = helper.run_file("examples/data/sample.pcap", { dir = folder })
      assert.same(helper.sorted_rows("examples/data/sample.expected.csv"),
        helper.sorted_rows(output))
      table.sort(keep)
      assert.equals(table.concat(keep, "\n") .. "\nreport.csv\n", listing(folder))
      assert.equals("kept", helper.read_file(dir .. "/target"))
    end)

    it("cannot be blocked by files planted at names guessed in advance", function()
      -- what blocked every rewrite before: .NAME.PID.N.tmp for the first 200 N of this process
      local folder = helper.tmpdir()
      local output = folder .. "/report.csv"
      local capture = dir .. "/big.pcap"
      local expected = helper.synthetic_capture(capture, 3000, 200)
      local script = child_script(dir, [[
        local pid = io.open("/proc/self/stat"):read("n")
        for n = 0, 199 do
          io.open(("%s/.report.csv.%d.%d.tmp"):format(folder, pid, n), "w"):close()
        end
        local cap = nasoone.new()
        assert(cap:set_capture_file(capture))
        assert(cap:set_output(output))
        assert(cap:set_timeout(0.001))
        assert(cap:start())
        print(cap:wait(60))
        local stats = assert(cap:stop())
        print(stats.report_current, stats.reports_written > 0)
      ]], { capture = capture, output = output, folder = folder })
      local out, err, code = run_child(dir, script)
      assert.equals(0, code, err)
      assert.equals("true\ntrue\ttrue\n", out)
      assert.same(expected, helper.sorted_rows(output))
      assert.equals(201, #capture_output("ls -A '" .. folder .. "'"):gsub("[^\n]", ""))
    end)

    it("each rewrite keeps the mode the report has", function()
      local output = dir .. "/report.csv"
      local cap = paused_rewriting(output)
      assert(sh("chmod 600 '" .. output .. "'"))
      assert(cap:resume())
      assert.is_true(cap:wait(60))
      assert(cap:stop())
      assert.equals("600\n", capture_output("stat -c %a '" .. output .. "'"))
      assert.equals(2000000, report_packets(output))
    end)
  end)

  describe("the report's folder and name after start", function()
    it("rewrites go to the folder of the start, even when its path now leads elsewhere", function()
      local folder = dir .. "/out"
      assert(sh("mkdir '" .. folder .. "' '" .. dir .. "/other'"))
      helper.write_file(dir .. "/other/report.csv", "unrelated")
      local cap = paused_rewriting(folder .. "/report.csv")
      -- the folder is moved away and a link to another folder takes its path
      assert(sh(("mv '%s' '%s.old' && ln -s other '%s'"):format(folder, folder, folder)))
      assert(cap:resume())
      assert.same({ true }, { cap:wait(60) })
      assert(cap:stop())
      assert.equals("unrelated", helper.read_file(dir .. "/other/report.csv"))
      assert.equals(2000000, report_packets(folder .. ".old/report.csv"))
    end)

    it("never follows a link planted at the report, never copies set-ID bits", function()
      local output = dir .. "/report.csv"
      helper.write_file(dir .. "/program", "#!/bin/sh\n")
      assert(sh("chmod 4755 '" .. dir .. "/program'"))
      local cap = paused_rewriting(output)
      assert(sh(("rm '%s' && ln -s program '%s'"):format(output, output)))
      assert(cap:resume())
      assert.same({ true }, { cap:wait(60) })
      assert(cap:stop())
      -- the link is replaced by a report that took nothing from the program
      assert.equals("regular file 4755 #!/bin/sh\n", capture_output(("stat -c '%%F' '%s'; "
        .. "stat -c %%a '%s/program'; cat '%s/program'"):format(output, dir, dir))
        :gsub("\n", " ", 2))
      assert.is_nil(capture_output("stat -c %a '" .. output .. "'"):match("^[2467]%d%d%d"))
      -- and a report made set-ID while the capture runs loses those bits at the next rewrite
      local output2 = dir .. "/report2.csv"
      local cap2 = paused_rewriting(output2)
      assert(sh("chmod 6750 '" .. output2 .. "'"))
      assert(cap2:resume())
      assert.same({ true }, { cap2:wait(60) })
      assert(cap2:stop())
      assert.equals("750\n", capture_output("stat -c %a '" .. output2 .. "'"))
    end)

    it("is never an empty file: set_output and start create nothing at the report's name",
      function()
        if not sh("command -v strace >/dev/null") then return pending("needs strace") end
        local output = dir .. "/report.csv"
        local script = child_script(dir, [[
          local cap = nasoone.new()
          assert(cap:set_capture_file("examples/data/sample.pcap"))
          assert(cap:set_output(output))
          assert(cap:start())
          assert(cap:wait(60))
          assert(cap:stop())
        ]], { output = output })
        local trace = dir .. "/trace"
        local _, err, code = run_child(dir, script, {
          -- LeakSanitizer cannot run under ptrace: the ASan build's leak check is off here only
          shell_prefix = ("ASAN_OPTIONS=\"$ASAN_OPTIONS:detect_leaks=0\" strace -f -o '%s' "
            .. "-e trace=open,openat,creat,linkat,renameat,renameat2 "):format(trace) })
        assert.equals(0, code, err)
        local opened, linked = {}, 0
        for line in helper.read_file(trace):gmatch("[^\n]+") do
          if line:find('"' .. output .. '"', 1, true) and line:find("O_CREAT", 1, true) then
            opened[#opened + 1] = line
          end
          if line:find("linkat(", 1, true) and line:find('"report.csv"', 1, true) then
            linked = linked + 1
          end
        end
        assert.same({}, opened) -- never created empty at its name, then filled
        assert.equals(1, linked) -- the first report appears whole
        assert.same(helper.sorted_rows("examples/data/sample.expected.csv"),
          helper.sorted_rows(output))
      end)
  end)

  describe("on_report and on_flows", function()
    it("the final report is seen once, even when its write is retried", function()
      local folder = helper.tmpdir()
      local cap = nasoone.new()
      assert(cap:set_capture_file(generated_capture(dir, 2000000, 1000)))
      assert(cap:set_output(folder .. "/report.csv"))
      local finals = 0
      assert(cap:on_report(function(report) if report.final then finals = finals + 1 end end))
      assert(cap:start())
      assert.equals(cap, cap:pause())
      assert(sh("rm -rf '" .. folder .. "'")) -- the final write fails three times
      assert(cap:resume())
      local ok, err = cap:wait(60)
      assert.is_true(ok)
      assert.matches("the final report was not written", err)
      cap:stop()
      cap:close()
      assert.equals(1, finals)
    end)

    it("wait(t) returns about t later, whatever the on_flows callback costs", function()
      local cap = nasoone.new()
      assert(cap:set_capture_file(generated_capture(dir, 200000, 20000)))
      assert(cap:set_flow_limits { idle_timeout = 3600 }) -- 20,000 records at the end: 40 batches
      local batches = 0
      assert(cap:on_flows(function()
        batches = batches + 1
        sh("sleep 0.1")
      end))
      assert(cap:start())
      local started = os.time()
      repeat local over = cap:wait(0.5) until over or batches > 0
      local before = batches
      local clock = io.popen("date +%s.%N"):read("n")
      cap:wait(0.5)
      local took = io.popen("date +%s.%N"):read("n") - clock
      -- one batch at least, then the deadline: never the 40 x 0.1 s of the whole queue
      assert.is_true(batches > before)
      assert.is_true(took < 2.5, ("wait(0.5) took %.2f s for %d batches"):format(took,
        batches - before))
      -- poll runs what was pending when called, not what keeps arriving
      assert.is_true(os.time() - started < 60)
      assert(cap:stop())
      cap:close()
    end)
  end)

  describe("string arguments", function()
    it("a NUL byte inside a path or filter is misuse, never a shorter name", function()
      local cap = nasoone.new()
      assert.has_error(function() cap:set_output(dir .. "/a\0b") end,
        "bad argument #1 to 'set_output' (a string with a NUL byte inside)")
      assert.has_error(function() cap:set_capture_file("examples/data/sample.pcap\0x") end,
        "bad argument #1 to 'set_capture_file' (a string with a NUL byte inside)")
      assert.has_error(function() cap:add_export("jsonl", dir .. "/f\0.jsonl") end,
        "bad argument #2 to 'add_export' (a string with a NUL byte inside)")
      assert.is_false(helper.exists(dir .. "/a"))
      assert(cap:set_capture_file("examples/data/sample.pcap"))
      assert.has_error(function() cap:set_raw_filter("tcp\0 or udp") end,
        "bad argument #1 to 'set_raw_filter' (a string with a NUL byte inside)")
      assert.has_error(function() cap:set_filter(42) end,
        "bad argument #1 to 'set_filter' (filter or string expected, got number)")
      assert.has_error(function() cap:set_filter({}) end,
        "bad argument #1 to 'set_filter' (filter or string expected, got table)")
      assert.equals(cap, cap:set_filter("tcp"))
      cap:close()
    end)
  end)

  describe("a start whose threads cannot all be made", function()
    it("winds down the threads already made: start fails cleanly, nothing hangs", function()
      if helper.lua_interpreter ~= "lua5.4" then
        return pending("a sanitizer's runtime needs more address space than this test leaves")
      end
      -- every thread's stack is 1 GB (RLIMIT_STACK), the address space a few GB: the n-th
      -- pthread_create fails, n depending on the limit; each shape, each limit
      local script = child_script(dir, [[
        local cap = nasoone.new()
        assert(cap:set_capture_file("examples/data/sample.pcap"))
        assert(cap:set_output(output))
        if shape == "lifecycle" then assert(cap:set_flow_limits { idle_timeout = 1 }) end
        local ok, message, code = cap:start()
        if ok then
          assert(cap:wait(30))
          assert(cap:stop())
          print("ran")
        else
          print(message, code, cap:state(), cap:wait(1))
        end
      ]], { output = dir .. "/report.csv", shape = "" })
      local failures = 0
      for _, shape in ipairs({ "default", "lifecycle" }) do
        helper.write_file(script, helper.read_file(script):gsub('local shape = "[a-z]*"',
          ('local shape = "%s"'):format(shape)))
        for gigabytes = 1, 9 do
          os.remove(dir .. "/report.csv")
          local out, err, code = run_child(dir, script, { seconds = 30, shell_prefix =
            ("ulimit -s 1000000; ulimit -v %d;"):format(gigabytes * 1000000 + 300000) })
          assert.equals(0, code, shape .. " " .. gigabytes .. ": " .. err)
          if out ~= "ran\n" then
            failures = failures + 1
            assert.equals("nasoone: cannot start threads: Resource temporarily unavailable\t"
              .. "out_of_memory\tstopped\ttrue\n", out, shape .. " " .. gigabytes)
          end
        end
      end
      assert.is_true(failures > 0, "no limit made a thread fail: the test tests nothing")
    end)
  end)
end)
