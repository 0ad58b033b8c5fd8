--- `nasoone view` on input that is not a report, run as a process (spec.command_helper): a FIFO,
-- a device, a folder, a line without end, JSON nested without end and a report crafted to write
-- terminal escapes. Each ends at once with exit 1 and one line starting with "nasoone: ", or,
-- for the escapes, shows them as "?": never a wait for ever, memory without bound, a traceback
-- or a byte that a terminal takes for a command. The command runs under a time limit (a hang
-- fails the test instead of the run) and, but for a sanitized build's lua_host (the sanitizers
-- reserve terabytes of address space), a memory limit.
local helper = require("spec.helper")
local cmd = require("spec.command_helper")

local TIME_LIMIT = 20              -- seconds: view of a small file takes a fraction of one
local MEMORY_LIMIT_KB = 1024 * 1024
local HEADER = helper.header

--- Runs `nasoone args` in the checkout with stdin from `stdin` (default /dev/null), under the
-- limits; returns the exit status (124: still running after TIME_LIMIT), stdout and stderr.
local function run(args, stdin)
  local io_dir = helper.tmpdir()
  local limit = helper.lua_interpreter:find("/", 1, true) and "" or ("ulimit -v %d; "):format(MEMORY_LIMIT_KB)
  local status = helper.shell_output(("cd %s && (%stimeout %d %s %s >%s/out 2>%s/err <%s); echo $?"):format(
    cmd.quote(cmd.root), limit, TIME_LIMIT, cmd.command, cmd.args(args), io_dir, io_dir,
    cmd.quote(stdin or "/dev/null")))
  return tonumber(status), helper.read_file(io_dir .. "/out"), helper.read_file(io_dir .. "/err")
end

--- `nasoone args` exits 1 with `message` (a line) on stderr and nothing on stdout.
local function fails_with(args, message)
  local status, stdout, stderr = run(args)
  assert.equals(message .. "\n", stderr, "exit status " .. tostring(status))
  assert.equals(1, status)
  assert.equals("", stdout)
end

--- What in `text` a terminal could take for a command, other than the newline: a C0 control,
-- DEL, a C1 control in UTF-8 ("\194\128" to "\194\159") or bytes that are not UTF-8 (0x9B
-- alone is CSI to a terminal in Latin-1); nil when there is none.
local function control_in(text)
  local at = text:find("[\0-\9\11-\31\127]") or text:find("\194[\128-\159]")
  if at then return ("byte %d: %q"):format(at, text:sub(at, at + 1)) end
  local _, bad = utf8.len(text)
  return bad and ("byte %d: not UTF-8"):format(bad)
end

--- A CSV report of `rows` (lines after the header) at `path`.
local function csv_report(path, rows)
  helper.write_file(path, HEADER .. "\n" .. table.concat(rows, "\n") .. "\n")
end

local ROW = "10.0.0.1; 1000; 192.0.2.1; 53; [UDP]; 1700000000000; 1700000001000; 100; 1"
-- a biflow report's (capture --biflow): the extended columns, then the reverse direction's
local BIFLOW_HEADER = HEADER .. "; ip bytes; tcp flags; reverse first; reverse last; reverse bytes; "
  .. "reverse packets; reverse ip bytes; reverse tcp flags"
local BIFLOW_ROW = "10.0.0.1; 1000; 192.0.2.1; 80; [TCP]; 1700000000000; 1700000001000; 100; 2; 72; ......S.; "
  .. "1700000000010; 1700000000990; 120; 2; 92; ...A..S."
local BIFLOW_JSON_ROW = '{"source_ip":"10.0.0.1","source_port":1000,"destination_ip":"192.0.2.1",'
  .. '"destination_port":80,"protocols":["TCP"],"first":1700000000000,"last":1700000001000,"bytes":100,'
  .. '"ip_bytes":72,"packets":2,"tcp_flags":2,"reverse_first":1700000000010,"reverse_last":1700000000990,'
  .. '"reverse_bytes":120,"reverse_ip_bytes":92,"reverse_packets":2,"reverse_tcp_flags":18,'
  .. '"community_id":"1:abc="}'

--- The bad row's part that view's message shows: its first 77 bytes and "..." when it is longer
-- than 80.
local function shown_row(line)
  return #line > 80 and line:sub(1, 77) .. "..." or line
end
local JSON_ROW = '{"source_ip":"10.0.0.1","source_port":1000,"destination_ip":"192.0.2.1",'
  .. '"destination_port":53,"protocols":["UDP"],"first":1700000000000,"last":1700000001000,'
  .. '"bytes":100,"packets":1,"ip_bytes":100}'

describe("nasoone view on input that is not a report", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.cleanup() end)

  describe("a file that is not a regular file is refused before it is opened", function()
    it("a FIFO (it would wait for a writer for ever), with --follow too", function()
      local fifo = dir .. "/report.csv"
      assert.is_true(os.execute("mkfifo " .. cmd.quote(fifo)))
      fails_with({ "view", fifo }, "nasoone: " .. fifo .. " is a FIFO (named pipe), not a report")
      fails_with({ "view", fifo, "--follow" }, "nasoone: " .. fifo .. " is a FIFO (named pipe), not a report")
    end)

    it("/dev/zero (a line without end: memory without bound)", function()
      fails_with({ "view", "/dev/zero" }, "nasoone: /dev/zero is a character device, not a report")
    end)

    it("a folder (it used to show an empty table, exit 0)", function()
      fails_with({ "view", dir }, "nasoone: " .. dir .. " is a folder, not a report")
      fails_with({ "view", dir, "--follow" }, "nasoone: " .. dir .. " is a folder, not a report")
    end)

    it("a report a shell redirects to stdin is still read as /dev/stdin", function()
      csv_report(dir .. "/r.csv", { ROW })
      local status, stdout, stderr = run({ "view", "/dev/stdin" }, dir .. "/r.csv")
      assert.equals(0, status, stderr)
      assert.matches("^/dev/stdin: 1 row, ", stdout)
      assert.matches("\ntotal%s+1 row%s+UDP%s.*%s100%s+1\n$", stdout)
    end)
  end)

  describe("a line longer than a report's row is not read to its end", function()
    it("a file of 4 GiB of zero bytes and no newline (sparse: no disk used)", function()
      local path = dir .. "/zeros.csv"
      assert.is_true(os.execute("truncate -s 4G " .. cmd.quote(path)))
      fails_with({ "view", path }, "nasoone: " .. path .. ":1: a line longer than 64 KiB: not a nasoone report")
    end)

    it("a CSV report whose third line is 1 MiB long", function()
      local path = dir .. "/long.csv"
      csv_report(path, { ROW, string.rep("x", 1024 * 1024) })
      fails_with({ "view", path }, "nasoone: " .. path .. ":3: a line longer than 64 KiB: not a nasoone report")
    end)
  end)

  describe("JSON nested without end", function()
    it("a row nested 200,000 objects deep: an error naming its line, no stack overflow", function()
      local path = dir .. "/deep.jsonl"
      helper.write_file(path, JSON_ROW .. "\n{" .. string.rep('"a":{', 200000) .. "\n")
      fails_with({ "view", path }, "nasoone: " .. path .. ":2: a line longer than 64 KiB: not a nasoone report")
    end)

    it("a row nested 60,000 arrays deep within 64 KiB: not a report row", function()
      local path = dir .. "/deep.jsonl"
      local line = '{"source_ip":' .. string.rep("[", 60000)
      helper.write_file(path, JSON_ROW .. "\n" .. line .. "\n")
      fails_with({ "view", path }, "nasoone: " .. path .. ":2: not a JSON-lines report row: "
        .. line:sub(1, 77) .. "...")
    end)
  end)

  describe("a malformed biflow row: the usual message with its line number", function()
    it("the well-formed rows, CSV and JSON lines (a community_id passed over), are read", function()
      helper.write_file(dir .. "/b.csv", BIFLOW_HEADER .. "\n" .. BIFLOW_ROW .. "\n")
      helper.write_file(dir .. "/b.jsonl", BIFLOW_JSON_ROW .. "\n")
      for _, name in ipairs({ "b.csv", "b.jsonl" }) do
        local status, stdout, stderr = run({ "view", dir .. "/" .. name })
        assert.equals(0, status, stderr)
        assert.matches("\n10%.0%.0%.1:1000  +192%.0%.2%.1:80  +TCP  +22:13:20%.000  +22:13:21%.000  +100  +2  +120  +2"
          .. "  +72  +92  +%.%.%.%.%.%.S%.  +%.%.%.A%.%.S%.\n", stdout)
      end
    end)

    it("CSV: a reverse column missing, one too many, a count that is not a number, bad reverse flags", function()
      local cells = {}
      for cell in (BIFLOW_ROW .. "; "):gmatch("(.-); ") do cells[#cells + 1] = cell end
      local function row(index, value)
        local copy = table.move(cells, 1, #cells, 1, {})
        copy[index] = value
        return table.concat(copy, "; ")
      end
      for _, bad in ipairs({
        table.concat(cells, "; ", 1, 16),         -- the reverse tcp flags missing
        BIFLOW_ROW .. "; 7",                       -- a column the header does not have
        row(14, "12x"),                            -- reverse bytes
        row(15, ""),                               -- reverse packets
        row(12, "-1"),                             -- reverse first
        row(17, "...X..S."),                       -- reverse tcp flags
      }) do
        local path = dir .. "/bad.csv"
        helper.write_file(path, BIFLOW_HEADER .. "\n" .. BIFLOW_ROW .. "\n" .. bad .. "\n")
        fails_with({ "view", path }, "nasoone: " .. path .. ":3: not a CSV report row: " .. shown_row(bad))
      end
    end)

    it("JSON lines: a reverse count missing or not a count, reverse flags out of range or alone", function()
      for _, bad in ipairs({
        (BIFLOW_JSON_ROW:gsub('"reverse_last":%d+,', "")),
        (BIFLOW_JSON_ROW:gsub('"reverse_bytes":120', '"reverse_bytes":"120"')),
        (BIFLOW_JSON_ROW:gsub('"reverse_packets":2', '"reverse_packets":-2')),
        (BIFLOW_JSON_ROW:gsub('"reverse_tcp_flags":18', '"reverse_tcp_flags":256')),
        (JSON_ROW:gsub("}$", ',"reverse_tcp_flags":18}')),
      }) do
        local path = dir .. "/bad.jsonl"
        helper.write_file(path, BIFLOW_JSON_ROW .. "\n" .. bad .. "\n")
        fails_with({ "view", path }, "nasoone: " .. path .. ":2: not a JSON-lines report row: " .. shown_row(bad))
      end
    end)
  end)

  describe("a malformed interface (a report of several devices): the usual message with its line number", function()
    -- the extended CSV with the interface column, and the JSON row with the field
    local HEADER_INTERFACE = HEADER .. "; ip bytes; tcp flags; interface"
    local ROW_INTERFACE = ROW .. "; 72; -; eth0"
    local JSON_INTERFACE_ROW = JSON_ROW:gsub('("protocols":%b[])', '%1,"interface":"eth0"')

    it("the well-formed rows, CSV (after a column a later version adds too) and JSON lines, are read", function()
      helper.write_file(dir .. "/i.csv", HEADER_INTERFACE .. "\n" .. ROW_INTERFACE .. "\n")
      helper.write_file(dir .. "/later.csv", HEADER_INTERFACE:gsub("; interface$", "; later; interface") .. "\n"
        .. ROW_INTERFACE:gsub("; eth0$", "; 7; eth0") .. "\n")
      helper.write_file(dir .. "/b.csv",
        BIFLOW_HEADER .. "; interface\n" .. BIFLOW_ROW .. "; " .. ("x"):rep(63) .. "\n")
      helper.write_file(dir .. "/i.jsonl", JSON_INTERFACE_ROW .. "\n")
      for name, interface in pairs({ ["i.csv"] = "eth0", ["later.csv"] = "eth0", ["b.csv"] = ("x"):rep(63),
        ["i.jsonl"] = "eth0" }) do
        local status, stdout, stderr = run({ "view", dir .. "/" .. name })
        assert.equals(0, status, stderr)
        assert.matches("\n10%.0%.0%.1:1000  +192%.0%.2%.1:%d+  +" .. interface .. "  +[TU][CD]P  ", stdout)
        assert.matches("\ntotal  +1 row  +1 interface  ", stdout)
      end
    end)

    it("CSV: an empty cell, a space, a ';', a quote, a byte that is not printable ASCII, too long, missing", function()
      local base = ROW .. "; 72; -"
      for _, bad in ipairs({
        base .. "; ",                        -- empty
        base .. ";",                          -- no cell at all after the separator
        base .. "; eth 0",                    -- a space
        base .. "; eth0 ",
        base .. "; eth0;1",                   -- a ';' (not followed by a space: in the cell)
        base .. '; "eth0"',
        base .. "; eth\\0",
        base .. "; eth\27[2J",                -- an escape
        base .. "; \195\169th0",              -- UTF-8
        base .. "; " .. ("x"):rep(64),        -- longer than a device's name can be
        base,                                 -- the column missing
        base .. "; eth0; eth1",               -- one too many
      }) do
        local path = dir .. "/bad.csv"
        helper.write_file(path, HEADER_INTERFACE .. "\n" .. ROW_INTERFACE .. "\n" .. bad .. "\n")
        fails_with({ "view", path }, "nasoone: " .. path .. ":3: not a CSV report row: " .. shown_row(bad))
      end
      -- the biflow CSV's too
      local path = dir .. "/bad.csv"
      local bad = BIFLOW_ROW .. "; eth 1"
      helper.write_file(path, BIFLOW_HEADER .. "; interface\n" .. BIFLOW_ROW .. "; eth0\n" .. bad .. "\n")
      fails_with({ "view", path }, "nasoone: " .. path .. ":3: not a CSV report row: " .. shown_row(bad))
    end)

    it("JSON lines: an empty name, a space, not a string; a row without one after one with, or the reverse", function()
      for _, bad in ipairs({
        (JSON_INTERFACE_ROW:gsub('"eth0"', '""')),
        (JSON_INTERFACE_ROW:gsub('"eth0"', '"eth 0"')),
        (JSON_INTERFACE_ROW:gsub('"eth0"', '"eth\\u00200"')),  -- a space, escaped
        (JSON_INTERFACE_ROW:gsub('"eth0"', '"eth\\u001b0"')),
        (JSON_INTERFACE_ROW:gsub('"eth0"', "7")),
        (JSON_INTERFACE_ROW:gsub('"eth0"', "null")),
        JSON_ROW,                                               -- the first row has one: all have
      }) do
        local path = dir .. "/bad.jsonl"
        helper.write_file(path, JSON_INTERFACE_ROW .. "\n" .. bad .. "\n")
        fails_with({ "view", path }, "nasoone: " .. path .. ":2: not a JSON-lines report row: " .. shown_row(bad))
      end
      local path = dir .. "/bad.jsonl" -- the first row has none: none has
      helper.write_file(path, JSON_ROW .. "\n" .. JSON_INTERFACE_ROW .. "\n")
      fails_with({ "view", path }, "nasoone: " .. path .. ":2: not a JSON-lines report row: "
        .. shown_row(JSON_INTERFACE_ROW))
    end)
  end)

  describe("a crafted report's escapes never reach the terminal", function()
    -- ESC sequences (reverse video, a window title, clear screen), BEL, DEL, backspace, a C1 CSI
    -- in UTF-8 and a byte that is not UTF-8, in the addresses: each shown as "?"
    local SOURCE = "10.0.0.1\27[7mX\7\127\8"
    local DESTINATION = "evil\194\155" .. "2J\27]0;owned\7\155"

    it("in the table, the title (the report's name) and the totals (CSV)", function()
      local path = dir .. "/r\27[7m.csv"
      csv_report(path, { ("%s; 1000; %s; 53; [UDP]; 1700000000000; 1700000001000; 100; 1"):format(SOURCE,
        DESTINATION), ROW })
      local status, stdout, stderr = run({ "view", path })
      assert.equals(0, status, stderr)
      assert.is_nil(control_in(stdout), stdout)
      local shown = dir .. "/r?[7m.csv"
      assert.equals(shown .. ": 2 rows, 2023-11-14 22:13:20.000 to 22:13:21.000", stdout:match("^[^\n]*"))
      assert.matches("\n10%.0%.0%.1%?%[7mX%?%?%?:1000  +evil%?2J%?%]0;owned%?%?:53  +UDP  ", stdout)
      assert.matches("\ntotal  +2 rows  +UDP  .*  200  +2\n$", stdout)
    end)

    it("in the table of a JSON-lines report (\\u escapes)", function()
      local path = dir .. "/r.jsonl"
      helper.write_file(path, JSON_ROW:gsub('"10%.0%.0%.1"', '"10.0.0.1\\u001b[7mX\\u0007\\u007f"')
        :gsub('"192%.0%.2%.1"', '"evil\\u009b2J\\u001b]0;owned\\u0007"') .. "\n")
      local status, stdout, stderr = run({ "view", path })
      assert.equals(0, status, stderr)
      assert.is_nil(control_in(stdout), stdout)
      assert.matches("\n10%.0%.0%.1%?%[7mX%?%?:1000  +evil%?2J%?%]0;owned%?:53  +UDP  ", stdout)
    end)

    it("in the message about a bad row", function()
      local path = dir .. "/bad.csv"
      csv_report(path, { ROW, "\27[2J\27]0;owned\7 oops\194\155" })
      fails_with({ "view", path }, "nasoone: " .. path .. ":3: not a CSV report row: ?[2J?]0;owned? oops?")
    end)

    it("on the --follow screen (in a terminal)", function()
      if not cmd.has_tmux() then return pending("tmux is not installed (Debian: apt-get install tmux)") end
      local path = dir .. "/r.csv"
      csv_report(path, { ("%s; 1000; %s; 53; [UDP]; 1700000000000; 1700000001000; 100; 1"):format(SOURCE,
        DESTINATION), ROW })
      local terminal = cmd.terminal({ "view", path, "--follow" }, dir, 120, 20)
      finally(function() terminal:close() end)
      local line = terminal:wait_line("^10%.0%.0%.1%S*:1000%s+evil", 10)
      assert.is_truthy(line, table.concat(terminal:screen(), "\n"))
      assert.matches("^10%.0%.0%.1%?%[7mX%?%?%?:1000  +evil%?2J%?%]0;owned%?%?:53  +UDP  ", line)
      terminal:keys("q")
      assert.equals(0, terminal:status(10))
    end)
  end)
end)
