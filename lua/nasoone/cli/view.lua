--- `nasoone view REPORT`: a report as a table (the app's View tab): sorted by a column, filtered
-- by an address, a port, a protocol or an interface, or grouped by an address, a port, the
-- protocols or the interface, with a totals row, sized to the terminal (numbers with units there,
-- exact in a pipe), and with --follow redrawn whenever the report is rewritten. Reports are read
-- in both formats nasoone writes, CSV and JSON lines, one-way or biflow (both directions of a
-- connection in a row: the table adds the reverse direction's columns), of one device or of
-- several (each row says its interface: the table adds that column), by nasoone.core.read_report
-- (csrc/report_reader.c): parsing, ordering and formatting the rows is C's work, laying out the
-- table this file's.
local luv = require("luv")  -- not_a_file stats a path before it is opened
local nasoone = require("nasoone") -- the report's format: header and order
local core = require("nasoone.core") -- read_report, loaded by nasoone
local term = require("nasoone.cli.term")
local loop = require("nasoone.cli.loop")

local M = {}

local COMMAND = "view"
M.HEADER = nasoone.report_header
local FOLLOW_POLL_MS = 1000   -- the stat check behind the folder watch (file systems without inotify)
local SETTLE_MS = 30          -- a burst of events (link, rename) is read once
local MAX_LINE = 64 * 1024    -- a report's row is a few hundred bytes: a longer line is not one (C's)
local PROGRESS_AFTER_NS = 1e9 -- reading a report shows its progress once it takes longer,
local PROGRESS_EVERY_NS = 1e8 -- redrawn at most this often

------------------------------------------------------------------------------------------------
-- Text from the report, made safe for a terminal

--- `text` with every byte a terminal could take for a command replaced by "?": the C0 controls
-- (ESC among them), DEL, the C1 controls (U+0080 to U+009F, two bytes in UTF-8) and any byte
-- that is not part of valid UTF-8 (a terminal in another encoding may read 0x9B as CSI). A
-- report's addresses are whatever its file says: a crafted one must not reach the terminal.
function M.printable(text)
  text = tostring(text)
  if not text:find("[\0-\31\127-\255]") then return text end
  local out = {}
  local i, n = 1, #text
  while i <= n do
    local b = text:byte(i)
    local size = 1
    if b < 0x20 or b == 0x7f then
      out[#out + 1] = "?"
    elseif b < 0x80 then
      out[#out + 1] = string.char(b)
    else
      local ok, code = pcall(utf8.codepoint, text, i)
      if ok then
        size = code < 0x800 and 2 or code < 0x10000 and 3 or 4
        out[#out + 1] = code < 0xa0 and "?" or text:sub(i, i + size - 1)
      else
        out[#out + 1] = "?"
      end
    end
    i = i + size
  end
  return table.concat(out)
end
local printable = M.printable

------------------------------------------------------------------------------------------------
-- Addresses

--- A key that orders addresses as the report does (IPv4 before IPv6, then numerically) and is
-- equal for two spellings of one address ("2001:DB8::1", "2001:db8:0::1"); nil if `text` is not
-- an address. The order is the engine's (nasoone.report_key), not a copy of it.
function M.address_key(text)
  local key = nasoone.report_key(text, 0, text, 0)
  return key and key:sub(1, 17) -- the family and the source address
end

--- Whether `name` can be an interface's in a report (a capture of several devices names each
-- with 1 to 63 printable ASCII characters, none a space, '"', ';' or '\').
function M.interface_name(name)
  return #name <= 63 and name:find('^[!-~]+$') ~= nil and not name:find('[";\\]')
end

------------------------------------------------------------------------------------------------
-- Reading reports

local KINDS = { directory = "a folder", fifo = "a FIFO (named pipe)", char = "a character device",
  block = "a block device", socket = "a socket" }

--- Why `path` cannot be a report without opening it (opening a FIFO waits for a writer, a
-- device may never end): nil for a regular file, or for a path stat cannot see (opening it
-- then says why, as for a missing file).
function M.not_a_file(path)
  local st = luv.fs_stat(path)
  if not st or st.type == "file" then return nil end
  return ("nasoone: %s is %s, not a report"):format(printable(path), KINDS[st.type] or "not a regular file")
end

--- The message for a report read_report could not read (a message fit for a terminal: text
-- from the file is shown through printable).
local function read_error(path, kind, line, text)
  local shown_path = printable(path)
  if kind == "open" or kind == "read" then
    return "nasoone: " .. printable(path .. ": " .. text)
  elseif kind == "not_file" then
    return ("nasoone: %s is %s, not a report"):format(shown_path, KINDS[text] or "not a regular file")
  elseif kind == "too_long" then
    return ("nasoone: %s:%d: a line longer than %d KiB: not a nasoone report"):format(shown_path, line,
      MAX_LINE // 1024)
  elseif kind == "not_report" then
    -- a capture file, a log: say what view reads
    return ("nasoone: %s is not a nasoone report: its first line is neither the CSV header "
      .. "(%s) nor a JSON-lines row"):format(shown_path, M.HEADER)
  elseif kind == "bad_csv_row" or kind == "bad_jsonl_row" then
    local shown = #text > 80 and text:sub(1, 77) .. "..." or text
    return ("nasoone: %s:%d: not a %s report row: %s"):format(shown_path, line,
      kind == "bad_csv_row" and "CSV" or "JSON-lines", printable(shown))
  end
  return ("nasoone: %s: out of memory"):format(shown_path)
end

--- Progress on stderr (a terminal) while a report is read, once that has taken PROGRESS_AFTER_NS:
-- the function read_report calls, and one that clears the line after.
local function progress_line(path)
  if not term.is_tty(2) then return nil, function() end end
  local start, shown, drawn = luv.hrtime(), false, 0
  local function report(phase, done, total)
    local now = luv.hrtime()
    if now - start < PROGRESS_AFTER_NS or now - drawn < PROGRESS_EVERY_NS then return end
    shown, drawn = true, now
    local text
    if phase == "reading" then
      text = ("reading %s: %d%% (%.0f of %.0f MB)"):format(printable(path), total > 0 and 100 * done // total or 100,
        done / 1e6, total / 1e6)
    else
      text = ("%s %d rows"):format(phase, done)
    end
    io.stderr:write("\r", text, "\27[K")
    io.stderr:flush()
  end
  return report, function()
    if shown then io.stderr:write("\r\27[K") io.stderr:flush() end
  end
end

--- The report at `path` read, filtered, ordered (or grouped) and cut to `keep` entries by
-- nasoone.core.read_report (C: report_reader.c), or nil and why (a message fit for a terminal).
-- Without --sort the rows are in the report's order (--desc reverses it), with --top alone by
-- bytes, largest first; groups by bytes, largest first; entries equal in the sorted column stay
-- in the report's (a group's key's) order.
function M.read(path, options, keep)
  local sort, desc = options.sort, options.desc or false
  if not sort and options.top and not options.by then sort, desc = "bytes", true end
  local progress, done = progress_line(path)
  local result, kind, line, text = core.read_report(path, {
    sort = sort, desc = desc, keep = keep or 0, ip = options.ip, port = options.port,
    protocol = options.proto, by = options.by, human = options.human or false, progress = progress,
    -- the names, separated by spaces (a name has none)
    interface = options.interface and table.concat(options.interface, " "),
  })
  done()
  if not result then return nil, read_error(path, kind, line, text) end
  return result
end

------------------------------------------------------------------------------------------------
-- The table

local function rows_text(n)
  return ("%d row%s"):format(n, n == 1 and "" or "s")
end

-- The columns of rows (`long`: duration and rate, on a terminal or with --long; `jsonl`: only
-- JSON-lines reports, the extended and the biflow CSV have ip bytes; `biflow`: only biflow
-- reports have the reverse direction's; `interface`: only reports of several devices say the
-- row's) and of groups (--by). In a biflow report bytes, packets, ip bytes and tcp flags are the
-- forward direction's (the initiator's), first, last, duration, protocols and bits/s the
-- connection's (both directions).
local ROW_COLUMNS = {
  { name = "source", header = "source" },
  { name = "destination", header = "destination" },
  { name = "interface", header = "interface", interface = true },
  { name = "protocols", header = "protocols" },
  { name = "first", header = "first" },
  { name = "last", header = "last" },
  { name = "duration", header = "duration", right = true, long = true },
  { name = "bytes", header = "bytes", right = true },
  { name = "packets", header = "packets", right = true },
  { name = "reverse_bytes", header = "rev bytes", right = true, biflow = true },
  { name = "reverse_packets", header = "rev packets", right = true, biflow = true },
  { name = "ip_bytes", header = "ip bytes", right = true, jsonl = true },
  { name = "reverse_ip_bytes", header = "rev ip bytes", right = true, biflow = true },
  { name = "tcp_flags", header = "tcp flags", jsonl = true },
  { name = "reverse_tcp_flags", header = "rev flags", biflow = true },
  { name = "rate", header = "bits/s", right = true, long = true },
}
local GROUP_COLUMNS = {
  { name = "key" },
  { name = "rows", header = "rows", right = true },
  { name = "protocols", header = "protocols" },
  { name = "first", header = "first" },
  { name = "last", header = "last" },
  { name = "duration", header = "duration", right = true },
  { name = "bytes", header = "bytes", right = true },
  { name = "share", header = "share", right = true },
  { name = "packets", header = "packets", right = true },
  { name = "reverse_bytes", header = "rev bytes", right = true, biflow = true },
  { name = "reverse_packets", header = "rev packets", right = true, biflow = true },
  { name = "ip_bytes", header = "ip bytes", right = true, jsonl = true },
  { name = "reverse_ip_bytes", header = "rev ip bytes", right = true, biflow = true },
  { name = "rate", header = "bits/s", right = true },
}
-- columns left out, in this order, when the table is wider than the terminal (a biflow's reverse
-- columns among the first; the interface last, since two rows may differ only there)
local DROP_ORDER = { "reverse_tcp_flags", "tcp_flags", "reverse_ip_bytes", "ip_bytes", "reverse_packets",
  "reverse_bytes", "last", "protocols", "duration", "first", "rate", "share", "packets", "interface" }

--- Whether a report read (M.read) has ip bytes and TCP flags, and the reverse direction's columns.
local EXTENDED = { jsonl = true, ["csv-extended"] = true, ["csv-biflow"] = true, ["jsonl-biflow"] = true }
local BIFLOW = { ["csv-biflow"] = true, ["jsonl-biflow"] = true }

--- What --by groups by: the key column's header, and what a group and groups are called.
M.BY = {
  src = { header = "source", one = "source", plural = "sources" },
  dst = { header = "destination", one = "destination", plural = "destinations" },
  ip = { header = "address", one = "address", plural = "addresses" },
  port = { header = "port", one = "port", plural = "ports" },
  sport = { header = "source port", one = "source port", plural = "source ports" },
  dport = { header = "destination port", one = "destination port", plural = "destination ports" },
  proto = { header = "protocols", one = "protocol set", plural = "protocol sets" },
  interface = { header = "interface", one = "interface", plural = "interfaces" },
}

--- What the filters keep, for the title ("from or to 192.0.2.7 on port 53 over UDP on interface
-- eth0 or eth1"), or nil.
local function filter_text(options)
  local parts = {}
  if options.ip then parts[#parts + 1] = "from or to " .. options.ip end
  if options.port then parts[#parts + 1] = "on port " .. options.port end
  if options.proto then parts[#parts + 1] = "over " .. options.proto:upper() end
  if options.interface then parts[#parts + 1] = "on interface " .. table.concat(options.interface, " or ") end
  return #parts > 0 and table.concat(parts, " ") or nil
end

local BODY_CHUNK = 10000 -- lines of the body asked of the reader at once

--- The table of `result` (M.read) given to `write` a piece at a time: title, header, entries, a
-- line saying how many did not fit, a rule and the totals row. `space` = { width =, height =,
-- reserved = } limits it to a terminal (nil: no limit). Every line ends in "\n".
function M.render(path, result, options, space, write)
  local by = options.by and M.BY[options.by]
  -- the title: what is shown, of what, from when to when
  local biflow = BIFLOW[result.format]
  local title = { ("%s: %s%s"):format(printable(path), rows_text(result.rows), biflow and " (biflows)" or "") }
  local filter = filter_text(options)
  if filter then title[#title + 1] = ("%d %s"):format(result.selected, filter) end
  if by then title[#title + 1] = ("%d %s"):format(result.entries, result.entries == 1 and by.one or by.plural) end
  local column = options.sort or ((options.top or by) and "bytes")
  if column then
    title[#title + 1] = ("by %s%s"):format(column, (options.desc or not options.sort) and ", largest first" or "")
  elseif options.desc then
    title[#title + 1] = "in reverse order"
  end
  if result.first then
    local function stamp(ms) return ("%s.%03d"):format(os.date("%Y-%m-%d %H:%M:%S", ms // 1000), ms % 1000) end
    local from, to = stamp(result.first), stamp(result.last)
    title[#title + 1] = from .. " to " .. (from:sub(1, 10) == to:sub(1, 10) and to:sub(12) or to)
  end
  -- on a terminal, a title wider than it is broken after a comma (a part too wide is cut)
  local lines = {}
  for _, part in ipairs(title) do
    local last = lines[#lines]
    if last and (not space or #last + 2 + #part <= space.width) then
      lines[#lines] = last .. ", " .. part
    else
      lines[#lines + 1] = space and part:sub(1, space.width) or part
    end
  end

  -- below the title: the header, the rule, the totals and the line of entries that did not fit
  local room = space and math.max(1, space.height - #lines - 4 - (space.reserved or 0)) or math.huge
  local wanted = options.top and math.min(options.top, result.entries) or result.entries
  local shown = math.min(result.shown, room)
  local more = wanted - shown

  local long = space or options.long
  -- a report of several devices: its totals row counts their interfaces
  local interfaces = (result.total.interface or "") ~= ""
  local columns = {}
  for _, c in ipairs(by and GROUP_COLUMNS or ROW_COLUMNS) do
    if (not c.jsonl or EXTENDED[result.format]) and (not c.biflow or biflow) and (not c.long or long)
      and (not c.interface or interfaces) and not (c.name == "protocols" and options.by == "proto") then
      columns[#columns + 1] = { name = c.name, header = c.header or by.header, right = c.right }
    end
  end
  local total = setmetatable({}, { __index = result.total })
  if by then
    total.key = "total"
  else
    total.source, total.destination = "total", rows_text(result.selected)
  end

  local cells = result.lines(1, shown)
  local function measure()
    local total_width = 0
    for _, c in ipairs(columns) do
      c.width = math.max(#c.header, cells[c.name], #total[c.name])
      total_width = total_width + c.width + 2
    end
    return total_width - 2
  end
  local full = measure()
  if space then
    for _, name in ipairs(DROP_ORDER) do
      if full <= space.width then break end
      for i, c in ipairs(columns) do
        if c.name == name then table.remove(columns, i) break end
      end
      full = measure()
    end
  end
  local function line(values)
    local parts = {}
    for i, c in ipairs(columns) do
      local v = values[c.name]
      local pad = string.rep(" ", c.width - #v)
      parts[i] = c.right and pad .. v or (i < #columns and v .. pad or v)
    end
    local text = table.concat(parts, "  "):gsub(" +$", "") -- (an empty last cell: the totals' flags)
    if space and #text > space.width then text = text:sub(1, space.width) end
    return text .. "\n"
  end
  local header = {}
  for _, c in ipairs(columns) do header[c.name] = c.header end
  lines[#lines + 1] = ""
  write(table.concat(lines, "\n"))
  write(line(header))
  for first = 1, shown, BODY_CHUNK do
    write(result.lines(first, math.min(shown, first + BODY_CHUNK - 1), columns, space and space.width))
  end
  if more > 0 then
    write(("... %d more %s (--top N shows fewer; piped, view prints them all)\n"):format(more,
      by and (more == 1 and by.one or by.plural) or "rows"))
  end
  write(string.rep("-", space and math.min(full, space.width) or full) .. "\n")
  write(line(total))
end

------------------------------------------------------------------------------------------------
-- The command

local function check_options(args, errors, interactive)
  local options = { sort = args.sort, desc = args.desc, ip = args.ip, proto = args.proto, by = args.by,
    long = args.long }
  if args.top then
    options.top = math.tointeger(tonumber(args.top))
    if not options.top or options.top < 1 then
      errors.usage(COMMAND, ("option '--top': '%s' is not a number of rows (1 or more)"):format(args.top))
    end
  end
  if args.ip then
    options.ip_key = M.address_key(args.ip)
    if not options.ip_key then
      errors.usage(COMMAND, ("option '--ip': '%s' is not an IPv4 or IPv6 address"):format(args.ip))
    end
  end
  if args.port then
    options.port = args.port:match("^%d+$") and math.tointeger(tonumber(args.port))
    if not options.port or options.port > 65535 then
      errors.usage(COMMAND, ("option '--port': '%s' is not a port (0 to 65535)"):format(args.port))
    end
  end
  -- --interface NAME, repeated or not: the names a capture of several devices writes
  local interface = type(args.interface) == "string" and { args.interface } or args.interface
  if interface and #interface > 0 then
    options.interface = {}
    for _, name in ipairs(interface) do
      if not M.interface_name(name) then
        errors.usage(COMMAND, ("option '--interface': '%s' is not an interface's name (1 to 63 printable "
          .. "characters, without spaces, '\"', ';' or '\\')"):format(printable(name)))
      end
      options.interface[#options.interface + 1] = name
    end
  end
  -- units on a terminal, exact numbers in a pipe, unless told
  if args.human then
    options.human = true
  elseif not args.exact then
    options.human = interactive
  end
  return options
end

--- The table for a terminal (sized to it) or for a pipe (whole), given to `write`; or nil and
-- why.
local function show(path, options, terminal, reserved, write)
  local space
  if term.is_tty(1) then
    local width, height
    if terminal then width, height = terminal:size() else width, height = term.env_size() end
    space = { width = width, height = height, reserved = reserved }
  end
  -- a terminal shows a screenful at most: only those entries are put in order
  local keep = options.top
  if space then keep = math.min(keep or math.huge, math.max(1, space.height)) end
  local result, err = M.read(path, options, keep)
  if not result then return nil, err end
  local ok, failure = pcall(M.render, path, result, options, space, write)
  result.close()
  if not ok then error(failure, 0) end
  return true
end

--- The table as one text (--follow redraws it whole).
local function table_text(path, options, terminal, reserved)
  local parts = {}
  local ok, err = show(path, options, terminal, reserved, function(text) parts[#parts + 1] = text end)
  if not ok then return nil, err end
  return table.concat(parts)
end

--- When the report was last rewritten, from its stat (the rewrite's time, not the redraw's):
-- "updated 13:20:21" (local time; the date too when it is not today).
function M.updated(st)
  if not st then return "not there yet" end
  local seconds = st.mtime.sec
  local pattern = os.date("%Y-%m-%d", seconds) == os.date("%Y-%m-%d") and "%H:%M:%S" or "%Y-%m-%d %H:%M:%S"
  return "updated " .. os.date(pattern, seconds)
end

local function follow(uv, path, options)
  local stdout = io.stdout
  local screen = term.is_tty(1)
  local terminal = term.open()
  local run = loop.new(function() if terminal then terminal:close() end end)
  local function guard(fn) return run:guard(fn) end

  local last_seen
  local function draw(force)
    local st = uv.fs_stat(path)
    local seen = st and table.concat({ st.ino, st.size, st.mtime.sec, st.mtime.nsec }, ":") or "missing"
    if seen == last_seen and not force then return end
    last_seen = seen
    local text, err = table_text(path, options, terminal, 1)
    local status = ("following %s (%s)%s"):format(printable(path), M.updated(st),
      terminal and ", q quits" or "")
    if not text then
      text = (st and err or ("waiting for " .. printable(path) .. " to appear")) .. "\n"
    end
    if screen then
      -- the whole screen, from its top left corner; raw mode: each line ends in CR LF
      stdout:write("\27[H\27[2J", (text:gsub("\n", "\27[K\r\n")), status)
    else
      stdout:write(text, status, "\n\n")
    end
    stdout:flush()
  end

  -- the table on the alternate screen, the cursor hidden; the shell's screen back after
  local function enter_screen()
    if screen then stdout:write("\27[?1049h\27[?25l") end
  end
  local function leave_screen()
    if screen then stdout:write("\27[?25h\27[?1049l") stdout:flush() end
  end
  -- Ctrl-Z (or SIGTSTP): the shell's screen and terminal back while stopped; all redrawn on fg
  local function suspend()
    leave_screen()
    if terminal then terminal:suspend() else uv.kill(uv.os_getpid(), "sigstop") end
  end

  enter_screen()
  local ok, err = xpcall(function()
    local settle = run:add(uv.new_timer())
    local function soon() settle:start(SETTLE_MS, 0, guard(function() draw(false) end)) end

    -- the report is replaced by a rename: watch its folder for the name, and stat it every
    -- second as well (a file system without inotify, a folder that is itself replaced)
    local watcher = run:add(uv.new_fs_event())
    local folder = path:match("^(.*)/[^/]*$") or "."
    if folder == "" then folder = "/" end
    local base = path:match("([^/]*)$")
    watcher:start(folder, {}, guard(function(e, name)
      if e or name == nil or name == base then soon() end
    end))
    local poll = run:add(uv.new_timer())
    poll:start(FOLLOW_POLL_MS, FOLLOW_POLL_MS, guard(function() draw(false) end))

    run:stop_on_signals(uv)
    if screen then
      run:add(uv.new_signal()):start("sigwinch", guard(function() draw(true) end))
    end
    if terminal then
      terminal:keys(guard(function(key)
        if key == "q" or key == "Q" then run:finish("quit")
        elseif key == "\3" then run:finish("sigint")
        elseif key == "\26" then suspend()
        end
      end))
    end
    run:add(uv.new_signal()):start("sigtstp", guard(suspend))
    run:add(uv.new_signal()):start("sigcont", guard(function()
      if terminal then terminal:resumed() end
      enter_screen()
      draw(true)
    end))
    draw(true)
    uv.run()
  end, debug.traceback)
  run:finish(run.reason or "error")
  leave_screen()
  if not ok then error(err, 0) end
  if run.internal then error(run.internal, 0) end
  return loop.SIGNAL_EXIT[run.reason] or 0
end

function M.run(uv, args, errors)
  local options = check_options(args, errors, term.is_tty(1))
  -- a folder, a FIFO, a device: refused before it is opened (--follow too: a report that does
  -- not exist yet is waited for, but one that is not a file will not become a report)
  local refused = M.not_a_file(args.report)
  if refused then errors.failure(refused) end
  if args.follow then return follow(uv, args.report, options) end
  local terminal = term.is_tty(1) and term.open() or nil
  -- a line is left for the shell's prompt; piped, the rows are written as they are formatted
  local ok, err = show(args.report, options, terminal, 1, function(text) io.stdout:write(text) end)
  if terminal then terminal:close() end
  if not ok then errors.failure(err) end
  return 0
end

return M
