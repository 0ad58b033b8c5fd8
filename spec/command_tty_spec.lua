--- The nasoone command in a real terminal: tmux (Debian tmux) runs it in a pane whose screen
-- the tests read with capture-pane and whose keys they type with send-keys. The progress line
-- shows and advances on a capture that takes seconds to read, p/r/q pause, resume and stop,
-- Ctrl-C leaves a complete report, and the terminal's settings (`stty -g`, taken by the pane's
-- shell before and after the command) are the same afterwards, after an error too; view sizes
-- its table to the terminal and --follow redraws it when the report is rewritten, until q.
-- Without tmux every test says pending. Waits poll the screen (cmd.eventually) with generous
-- limits, for the state the next step needs, never for time: keys are typed once the command
-- shows it reads them, a line for the shell once the shell shows its prompt, and the screen is
-- read once it shows the command's last lines (tmux may draw them after the shell wrote the
-- exit status). The one fixed wait checks that a paused capture does not move once it settled.
local helper = require("spec.helper")
local cmd = require("spec.command_helper")

local WIDTH, HEIGHT = 100, 30
local PACKETS = 2 ^ 20 // 1     -- the slow capture: 4,096 blocks of busy_capture's 256 flows
local TERMS = 4000              -- its filter: about 8 s of reading here (2 ns a term a packet)
local PROGRESS = "^slow%.pcap  (%d+%.%d)%%  (%d+) packets"

describe("the nasoone command in a terminal", function()
  local usable, why = cmd.has_tmux(), "tmux is not installed (Debian: apt-get install tmux)"

  -- one slow capture for the whole file: it takes a moment to write
  local shared_dir, slow, filter, slow_rows
  setup(function()
    if not usable then return end
    local p = assert(io.popen("mktemp -d /tmp/nasoone-tty.XXXXXX"))
    shared_dir = p:read("l")
    p:close()
    slow, filter, slow_rows = cmd.slow_capture(shared_dir, PACKETS, TERMS)
  end)
  teardown(function()
    if shared_dir then os.execute("rm -rf " .. cmd.quote(shared_dir)) end
  end)

  local dir, terminal
  before_each(function() dir = helper.tmpdir() end)
  after_each(function()
    if terminal then terminal:close() terminal = nil end
    helper.cleanup()
  end)

  --- `nasoone args` in a new terminal of WIDTH x HEIGHT (or the size given), in dir.
  local function open(args, width, height)
    terminal = cmd.terminal(args, dir, width or WIDTH, height or HEIGHT)
    return terminal
  end

  --- The progress line now: percent, packets and the line, or nil when none is shown.
  local function progress()
    for _, line in ipairs(terminal:screen()) do
      local percent, packets = line:match(PROGRESS)
      if percent then return { percent = tonumber(percent), packets = tonumber(packets), line = line } end
    end
  end

  --- Waits (20 s at most) for a progress line for which accept(progress) is true.
  local function wait_progress(accept, what)
    local found = cmd.eventually(function()
      local p = progress()
      return p and accept(p) and p
    end, 20)
    assert(found, "no progress line " .. what .. " on the screen:\n" .. table.concat(terminal:screen(), "\n"))
    return found
  end

  --- `nasoone capture` of the slow capture in a new terminal, once its progress line shows
  -- packets; returns its report's path.
  local function start_slow()
    local output = dir .. "/report.csv"
    open({ "capture", "-r", slow, "-f", filter, "-o", output })
    wait_progress(function(p) return p.packets > 0 end, "with packets")
    return output
  end

  --- The terminal's settings were the same before and after the command.
  local function assert_terminal_restored()
    local before, after = terminal:stty()
    assert.is_true(#before > 0)
    assert.equals(before, after)
  end

  --- The summary's numbers: packets read, packets counted, rows, and who stopped it.
  local function summary(screen)
    for _, line in ipairs(screen) do
      local packets, stopped, counted, rows = line:match(
        "^slow%.pcap: (%d+) packets in [%d.]+ s(.-), (%d+) counted in (%d+) rows, 0 skipped$")
      if packets then
        return { packets = tonumber(packets), counted = tonumber(counted), rows = tonumber(rows),
          stopped = stopped:match("%(stopped by (.-)%)") }
      end
    end
  end

  --- The command stopped with `status` by `who` after more than `after` packets: the summary
  -- says so, and the report holds every packet counted, each row a part of its flow, in as
  -- many rows as the summary says.
  local function assert_stopped(output, status, who, after)
    assert.equals(status, terminal:status(30))
    local screen = terminal:screen_when(summary, 10)
    assert.is_truthy(screen, "no summary on the screen:\n" .. table.concat(terminal:screen(), "\n"))
    local s = summary(screen)
    assert.equals(who, s.stopped)
    assert.is_true(s.packets > after and s.packets < PACKETS, s.packets)
    assert.equals(s.packets, s.counted)
    local rows, packets = cmd.report_rows(output)
    assert.equals(s.rows, #rows)
    assert.equals(s.counted, packets)
    assert.is_true(cmd.is_prefix_report(output, slow_rows))
    assert_terminal_restored()
  end

  it("shows a progress line that advances, then clears it for the summary", function()
    if not usable then return pending(why) end
    local output = start_slow()
    local first = wait_progress(function(p) return p.packets > 0 and p.percent < 50 end, "under 50%")
    -- percent of the bytes read: the blocks are alike, so it is the packets' share too
    assert.is_true(math.abs(first.percent - 100 * first.packets / PACKETS) < 1, first.line)
    assert.matches("   p: pause  q: stop$", first.line)
    local later = wait_progress(function(p) return p.packets > first.packets end, "further on")
    assert.is_true(later.percent > first.percent, later.line)
    -- once two samples are apart: the rate and the time left
    wait_progress(function(p) return p.line:find(" %d+ packets/s  ETA %d+:%d%d   p: pause") end, "with a rate")

    assert.equals(0, terminal:status(60))
    local screen = terminal:screen_when(function(lines)
      return lines[#lines] and lines[#lines]:find("^report: ")
    end, 10)
    assert.is_truthy(screen, "no report line on the screen:\n" .. table.concat(terminal:screen(), "\n"))
    -- the line is gone: the summary and the report's name are all that is left
    assert.equals(2, #screen, table.concat(screen, "\n"))
    assert.same({ packets = PACKETS, counted = PACKETS, rows = 256 }, summary(screen))
    assert.matches("^report: " .. output:gsub("%p", "%%%0") .. " %(%d+ rewrites?%)$", screen[2])
    local rows, packets = cmd.report_rows(output)
    assert.equals(256, #rows)
    assert.equals(PACKETS, packets)
    assert.is_true(cmd.is_prefix_report(output, slow_rows)) -- and with all the packets: equal
    assert_terminal_restored()
  end)

  it("p pauses (nothing more is read), r resumes, q stops with the report written, exit 0", function()
    if not usable then return pending(why) end
    local output = start_slow()
    terminal:keys("p")
    local paused = wait_progress(function(p) return p.line:find("  PAUSED   r: resume  q: stop$") end, "PAUSED")
    assert.is_true(paused.percent < 100, paused.line)
    -- the reader ends the block it is in (4,096 packets at most), then reads nothing more
    local settled = cmd.eventually(function()
      local before = progress()
      cmd.sleep(0.5)
      local after = progress()
      return before and after and before.line == after.line and after
    end, 10)
    assert.is_truthy(settled, "the paused count did not settle")
    assert.matches("PAUSED", settled.line)
    assert.is_true(settled.packets - paused.packets <= 4096, settled.line)
    cmd.sleep(1)
    local still = progress()
    assert.equals(settled.line, still and still.line)

    terminal:keys("r")
    local resumed = wait_progress(function(p)
      return p.packets > settled.packets and p.line:find("   p: pause  q: stop$")
    end, "moving again")
    assert.is_nil(resumed.line:find("PAUSED", 1, true))

    terminal:keys("q")
    assert_stopped(output, 0, "q", resumed.packets)
  end)

  it("Ctrl-C stops with a complete report, exit 130 and the terminal as it was", function()
    if not usable then return pending(why) end
    local output = start_slow()
    terminal:keys("C-c")
    assert_stopped(output, 130, "Ctrl-C", 0)
  end)

  it("Ctrl-Z gives the shell its terminal back; after fg the keys work again", function()
    if not usable then return pending(why) end
    if not os.execute("command -v bash >/dev/null") then return pending("needs bash (job control)") end
    local output = dir .. "/report.csv"
    terminal = cmd.job_terminal({ "capture", "-r", slow, "-f", filter, "-o", output }, dir, WIDTH, HEIGHT)
    wait_progress(function(p) return p.packets > 0 end, "with packets")
    terminal:keys("C-z")
    assert.is_truthy(terminal:wait_line("Stopped", 10), table.concat(terminal:screen(), "\n"))
    -- stopped: the progress line was cleared, and the shell has its terminal as it was (bash
    -- sees to that too)
    assert.is_nil(progress(), table.concat(terminal:screen(), "\n"))
    local before = terminal:stty()
    assert.equals(before, terminal:shell_stty())
    terminal:command("fg")
    -- in the foreground again: the progress line and raw mode are back (p reaches it without
    -- Enter: the command took raw mode again, which bash had undone). The progress line can be
    -- drawn before raw mode is back (a redraw due while stopped runs first): wait for both.
    wait_progress(function(p) return p.line:find("   p: pause  q: stop$") end, "after fg")
    assert.is_truthy(cmd.eventually(function() return terminal:raw_mode() end, 10),
      "the terminal is not in raw mode after fg:\n" .. table.concat(terminal:screen(), "\n"))
    terminal:keys("p")
    wait_progress(function(p) return p.line:find("  PAUSED   r: resume  q: stop$") end, "PAUSED after fg")
    terminal:keys("q")
    -- the shell's next line only once the job ended: its summary is on the screen (typed while
    -- the command writes its final report, the line is echoed into the summary's)
    assert.is_truthy(terminal:screen_when(summary, 30),
      "no summary on the screen:\n" .. table.concat(terminal:screen(), "\n"))
    terminal:finish_job()
    assert_stopped(output, 0, "q", 0)
  end)

  it("a capture that fails gives the terminal back too (exit 1, the module's message)", function()
    if not usable then return pending(why) end
    local data = helper.read_file("examples/data/sample.pcap")
    helper.write_file(dir .. "/cut.pcap", data:sub(1, #data - 10))
    open({ "capture", "-r", dir .. "/cut.pcap", "-o", dir .. "/report.csv" })
    assert.equals(1, terminal:status(30))
    assert.is_truthy(terminal:wait_line("^nasoone: reading .*cut%.pcap: truncated dump file", 5),
      table.concat(terminal:screen(), "\n"))
    assert_terminal_restored()
  end)

  describe("view", function()
    --- A CSV report of `count` rows: 10.0.0.1:(1000 + i) -> 192.0.2.1:53, i bytes and 1 packet.
    local function report(path, count, extra)
      local lines = { helper.header }
      for i = 1, count do
        lines[#lines + 1] = ("10.0.0.1; %d; 192.0.2.1; 53; [UDP]; 1700000000000; 1700000001000; %d; 1")
          :format(1000 + i, i)
      end
      for _, line in ipairs(extra or {}) do lines[#lines + 1] = line end
      -- as the writer does: a complete file under another name, renamed over the report
      helper.write_file(path .. ".tmp", table.concat(lines, "\n") .. "\n")
      assert(os.rename(path .. ".tmp", path))
    end

    --- Whether the table's last line, the totals, is on the screen.
    local function totals_shown(lines)
      return lines[#lines] ~= nil and lines[#lines]:find("^total ") ~= nil
    end

    it("sizes the table to the terminal: the rows that fit, how many more, the totals", function()
      if not usable then return pending(why) end
      report(dir .. "/r.csv", 40)
      open({ "view", dir .. "/r.csv" }, WIDTH, 20)
      assert.equals(0, terminal:status(10))
      local screen = assert(terminal:screen_when(totals_shown, 10), table.concat(terminal:screen(), "\n"))
      -- 20 lines: title, header, 14 rows, the rest counted, a rule, totals, and the prompt's line
      assert.equals(19, #screen, table.concat(screen, "\n"))
      assert.equals(dir .. "/r.csv: 40 rows, 2023-11-14 22:13:20.000 to 22:13:21.000", screen[1])
      -- on a terminal: each row's duration and rate (bits/s), numbers with units
      assert.matches("^source%s+destination%s+protocols%s+first%s+last%s+duration%s+bytes%s+packets%s+bits/s$",
        screen[2])
      assert.matches("^10%.0%.0%.1:1001%s+192%.0%.2%.1:53%s+UDP%s+22:13:20%.000%s+22:13:21%.000%s+1%.0 s%s+1%s+1%s+8$",
        screen[3])
      assert.matches("^10%.0%.0%.1:1014%s", screen[16])
      assert.equals("... 26 more rows (--top N shows fewer; piped, view prints them all)", screen[17])
      assert.matches("^%-+$", screen[18])
      assert.matches("^total%s+40 rows%s+UDP%s+22:13:20%.000%s+22:13:21%.000%s+1%.0 s%s+820%s+40%s+6%.6 k$",
        screen[19])
      assert_terminal_restored()
    end)

    it("leaves out columns that do not fit a narrow terminal", function()
      if not usable then return pending(why) end
      report(dir .. "/r.csv", 3)
      open({ "view", dir .. "/r.csv" }, 50, 20)
      assert.equals(0, terminal:status(10))
      local screen = assert(terminal:screen_when(totals_shown, 10), table.concat(terminal:screen(), "\n"))
      -- the title broken after its comma, the times, the protocols and the ip bytes left out
      assert.same({ dir .. "/r.csv: 3 rows", "2023-11-14 22:13:20.000 to 22:13:21.000" },
        { screen[1], screen[2] })
      assert.matches("^source%s+destination%s+bytes%s+packets$", screen[3])
      assert.matches("^10%.0%.0%.1:1003%s+192%.0%.2%.1:53%s+3%s+1$", screen[6])
      assert.matches("^total%s+3 rows%s+6%s+3$", screen[8])
      assert.equals(8, #screen, table.concat(screen, "\n"))
      for _, line in ipairs(screen) do assert.is_true(#line <= 50, line) end
    end)

    --- `key` ends view --follow with `status`: the alternate screen is left (the table is
    -- gone) and the terminal is as it was.
    local function quits(key, status)
      terminal:keys(key)
      assert.equals(status, terminal:status(10))
      terminal:screen_when(function(lines) return #lines == 0 end, 10)
      assert.same({}, terminal:screen())
      assert_terminal_restored()
    end

    --- `view --follow` of a report of 2 rows, once it shows them; returns the report's path.
    local function follow_two_rows()
      local path = dir .. "/r.csv"
      report(path, 2)
      open({ "view", path, "--follow" })
      assert.is_truthy(terminal:wait_line("^" .. path:gsub("%p", "%%%0") .. ": 2 rows, ", 10),
        table.concat(terminal:screen(), "\n"))
      assert.is_truthy(terminal:wait_line("^following .*, q quits$", 10))
      return path
    end

    it("--follow redraws when the report is rewritten, and quits on q", function()
      if not usable then return pending(why) end
      local path = follow_two_rows()
      assert.matches("^total%s+2 rows%s+UDP%s.*%s3%s+2%s+24$", assert(terminal:wait_line("^total", 10)))

      -- rewritten as the capture does it: renamed over, with a row more and a TCP one
      report(path, 3, { "10.0.0.9; 80; 192.0.2.1; 40000; [TCP]; 1700000002000; 1700000003000; 1000; 7" })
      assert.is_truthy(terminal:wait_line(": 4 rows, ", 10), table.concat(terminal:screen(), "\n"))
      assert.is_truthy(terminal:wait_line("^10%.0%.0%.9:80%s+192%.0%.2%.1:40000%s+TCP%s", 10))
      assert.matches("^total%s+4 rows%s+TCP, UDP%s.*%s1%.0 k%s+10%s+2%.7 k$", assert(terminal:wait_line("^total", 10)))
      -- and again: the watch goes on after a rename
      report(path, 1)
      assert.is_truthy(terminal:wait_line(": 1 row, ", 10), table.concat(terminal:screen(), "\n"))

      quits("q", 0)
    end)

    it("--follow ends on Ctrl-C too: exit 130, the shell's screen and terminal back", function()
      if not usable then return pending(why) end
      follow_two_rows()
      quits("C-c", 130)
    end)

    it("--follow follows a capture that is running, to its final totals", function()
      if not usable then return pending(why) end
      local output = dir .. "/running.csv"
      local capture = cmd.spawn({ "capture", "-q", "-r", slow, "-f", filter, "-o", output, "-t", "0.2" }, dir)
      assert.is_truthy(cmd.eventually(function() return helper.exists(output) end, 20))
      -- exact numbers (a terminal shows units), wide enough for every column: packets, then rate
      open({ "view", output, "--follow", "--sort", "bytes", "--desc", "--exact" }, 160)
      local function total()
        local line = terminal:wait_line("^total", 10)
        return line and tonumber(line:match("(%d+)%s+%S+$"))
      end
      local first = cmd.eventually(function()
        local t = total()
        return t and t > 0 and t < PACKETS and t
      end, 20)
      assert.is_truthy(first, "no total under " .. PACKETS .. ":\n" .. table.concat(terminal:screen(), "\n"))
      assert.is_truthy(cmd.eventually(function() local t = total() return t and t > first end, 20))
      assert.equals(0, capture:wait(60))
      assert.is_truthy(cmd.eventually(function() return total() == PACKETS end, 10),
        table.concat(terminal:screen(), "\n"))
      quits("q", 0)
    end)
  end)
end)
