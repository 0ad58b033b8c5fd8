--- `nasoone view REPORT`: a report as a table (the app's View tab): sorted by a column, filtered
-- by an address, with a totals row, sized to the terminal, and with --follow redrawn whenever
-- the report is rewritten. Reports are read in both formats nasoone writes: CSV and JSON lines.
local luv = require("luv")  -- read_report stats a path before it opens it
local nasoone = require("nasoone") -- the report's format: header and order
local term = require("nasoone.cli.term")
local loop = require("nasoone.cli.loop")

local M = {}

local COMMAND = "view"
M.HEADER = nasoone.report_header
local FOLLOW_POLL_MS = 1000   -- the stat check behind the folder watch (file systems without inotify)
local SETTLE_MS = 30          -- a burst of events (link, rename) is read once
local MAX_LINE = 64 * 1024    -- a report's row is a few hundred bytes: a longer line is not one
local READ_CHUNK = 64 * 1024

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

------------------------------------------------------------------------------------------------
-- Reading reports

--- One JSON value from `text` at `pos`: objects, arrays, strings, numbers, true, false, null;
-- returns the value and the position after it, or nil. Enough for the report's rows, which
-- are flat objects of strings, integers and one array of strings: `depth` counts the objects
-- and arrays the value is in, and a value nested deeper than a row's array is refused as soon
-- as it opens, so a line of "[[[[..." costs no recursion (the line's length is bounded too).
local MAX_DEPTH = 1
local decode_value
local json_null = setmetatable({}, { __name = "null" })
local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function skip_space(text, pos)
  return text:find("[^ \t\r\n]", pos) or #text + 1
end

local function decode_string(text, pos)
  local parts = {}
  local i = pos + 1
  while true do
    local j = text:find('["\\]', i)
    if not j then return nil end
    parts[#parts + 1] = text:sub(i, j - 1)
    if text:sub(j, j) == '"' then return table.concat(parts), j + 1 end
    local e = text:sub(j + 1, j + 1)
    if ESCAPES[e] then
      parts[#parts + 1] = ESCAPES[e]
      i = j + 2
    elseif e == "u" and text:sub(j + 2, j + 5):match("^%x%x%x%x$") then
      parts[#parts + 1] = utf8.char(tonumber(text:sub(j + 2, j + 5), 16))
      i = j + 6
    else
      return nil
    end
  end
end

function decode_value(text, pos, depth)
  pos = skip_space(text, pos)
  local c = text:sub(pos, pos)
  if c == "{" or c == "[" then
    if depth > MAX_DEPTH then return nil end
    local object = c == "{"
    local result = {}
    pos = skip_space(text, pos + 1)
    if text:sub(pos, pos) == (object and "}" or "]") then return result, pos + 1 end
    while true do
      local key
      if object then
        if text:sub(pos, pos) ~= '"' then return nil end
        key, pos = decode_string(text, pos)
        if not key then return nil end
        pos = skip_space(text, pos)
        if text:sub(pos, pos) ~= ":" then return nil end
        pos = pos + 1
      end
      local value
      value, pos = decode_value(text, pos, depth + 1)
      if pos == nil then return nil end
      if object then result[key] = value else result[#result + 1] = value end
      pos = skip_space(text, pos)
      local sep = text:sub(pos, pos)
      if sep == (object and "}" or "]") then return result, pos + 1 end
      if sep ~= "," then return nil end
      pos = skip_space(text, pos + 1)
    end
  elseif c == '"' then
    return decode_string(text, pos)
  end
  local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
  if number and number ~= "" and number ~= "-" then
    return math.tointeger(tonumber(number)) or tonumber(number), pos + #number
  end
  for word, value in pairs({ ["true"] = true, ["false"] = false, null = json_null }) do
    if text:sub(pos, pos + #word - 1) == word then return value, pos + #word end
  end
  return nil
end

local function is_count(v) return math.type(v) == "integer" and v >= 0 end

local function json_row(line)
  local value, pos = decode_value(line, 1, 0)
  if type(value) ~= "table" or skip_space(line, pos) <= #line then return nil end
  local protocols = value.protocols
  if type(protocols) ~= "table" or #protocols == 0 then return nil end
  for _, p in ipairs(protocols) do
    if p ~= "TCP" and p ~= "UDP" then return nil end
  end
  if type(value.source_ip) ~= "string" or type(value.destination_ip) ~= "string" then return nil end
  for _, field in ipairs({ "source_port", "destination_port", "first", "last", "bytes", "packets" }) do
    if not is_count(value[field]) then return nil end
  end
  if value.ip_bytes ~= nil and not is_count(value.ip_bytes) then return nil end
  return {
    source_ip = value.source_ip, source_port = value.source_port,
    destination_ip = value.destination_ip, destination_port = value.destination_port,
    protocols = table.concat(protocols, ", "), first = value.first, last = value.last,
    bytes = value.bytes, packets = value.packets, ip_bytes = value.ip_bytes,
  }
end

local function csv_row(line)
  local fields = {}
  for field in (line .. "; "):gmatch("(.-); ") do fields[#fields + 1] = field end
  if #fields ~= 9 then return nil end
  local protocols = fields[5]:match("^%[(.*)%]$")
  if not protocols or not (protocols == "TCP" or protocols == "UDP" or protocols == "TCP, UDP") then
    return nil
  end
  local numbers = {}
  for _, i in ipairs({ 2, 4, 6, 7, 8, 9 }) do
    if not fields[i]:match("^%d+$") then return nil end
    numbers[i] = math.tointeger(tonumber(fields[i]))
    if not numbers[i] then return nil end
  end
  return {
    source_ip = fields[1], source_port = numbers[2], destination_ip = fields[3],
    destination_port = numbers[4], protocols = protocols, first = numbers[6], last = numbers[7],
    bytes = numbers[8], packets = numbers[9],
  }
end

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

--- An iterator over the lines of file `f` ("\n" dropped, as f:lines() does) that reads at
-- most MAX_LINE bytes and a chunk for a line: it returns false for a line longer than that.
local function bounded_lines(f)
  local buffer, pos = "", 1
  return function()
    while true do
      local newline = buffer:find("\n", pos, true)
      if newline and newline - pos <= MAX_LINE then
        local line = buffer:sub(pos, newline - 1)
        pos = newline + 1
        return line
      end
      if newline or #buffer - pos + 1 > MAX_LINE then return false end
      local chunk = f:read(READ_CHUNK)
      if not chunk then
        if pos > #buffer then return nil end
        local line = buffer:sub(pos)
        buffer, pos = "", 1
        return line
      end
      buffer = buffer:sub(pos) .. chunk
      pos = 1
    end
  end
end

--- The rows of the report at `path` and its format ("csv" or "jsonl"), or nil and why (a
-- message fit for a terminal: text from the file is shown through printable).
function M.read_report(path)
  local refused = M.not_a_file(path)
  if refused then return nil, refused end
  local f, err = io.open(path, "rb")
  if not f then return nil, "nasoone: " .. printable(err) end
  local next_line = bounded_lines(f)
  local function too_long(number)
    f:close()
    return nil, ("nasoone: %s:%d: a line longer than %d KiB: not a nasoone report"):format(
      printable(path), number, MAX_LINE // 1024)
  end
  local first = next_line()
  if first == false then return too_long(1) end
  if first == nil then
    f:close()
    return {}, "empty"   -- a JSON-lines report with no rows is an empty file
  end
  local format, parse
  if first == M.HEADER then
    format, parse = "csv", csv_row
  elseif first:match("^%s*{") then
    format, parse = "jsonl", json_row
  else
    f:close()
    -- a capture file, a log: say what view reads
    return nil, ("nasoone: %s is not a nasoone report: its first line is neither the CSV header "
      .. "(%s) nor a JSON-lines row"):format(printable(path), M.HEADER)
  end
  local rows = {}
  local number = 1
  local line = first
  if format == "csv" then
    line = next_line()
    number = 2
  end
  while line do
    if line ~= "" then
      local row = parse(line)
      if not row then
        f:close()
        local shown = #line > 80 and line:sub(1, 77) .. "..." or line
        return nil, ("nasoone: %s:%d: not a %s report row: %s"):format(printable(path), number,
          format == "csv" and "CSV" or "JSON-lines", printable(shown))
      end
      row.index = #rows + 1
      rows[#rows + 1] = row
    end
    line = next_line()
    number = number + 1
  end
  if line == false then return too_long(number) end
  f:close()
  return rows, format
end

------------------------------------------------------------------------------------------------
-- The table

local function endpoint(ip, port)
  if ip:find(":", 1, true) then return ("[%s]:%d"):format(ip, port) end
  return ("%s:%d"):format(ip, port)
end

local function is_port(value)
  return math.type(value) == "integer" and value >= 0 and value <= 65535
end

local function address_keys(row)
  row.skey = row.skey or M.address_key(row.source_ip) or row.source_ip
  row.dkey = row.dkey or M.address_key(row.destination_ip) or row.destination_ip
  if row.okey == nil then
    row.okey = is_port(row.source_port) and is_port(row.destination_port)
      and nasoone.report_key(row.source_ip, row.source_port, row.destination_ip,
        row.destination_port) or false
  end
end

--- The report's order, as nasoone writes it (docs/report.md, "Order": nasoone.report_key, the
-- engine's), the file's order last. A report nasoone wrote is shown in its file's order, any
-- other (a reference sorted as text, rows of a script) in the same order as nasoone's. Rows
-- whose addresses are not addresses come after, by their text.
local function report_before(a, b)
  if a.okey and b.okey then
    if a.okey ~= b.okey then return a.okey < b.okey end
    return a.index < b.index
  end
  if a.okey or b.okey then return a.okey and true or false end
  if a.skey ~= b.skey then return a.skey < b.skey end
  if a.source_port ~= b.source_port then return a.source_port < b.source_port end
  if a.dkey ~= b.dkey then return a.dkey < b.dkey end
  if a.destination_port ~= b.destination_port then return a.destination_port < b.destination_port end
  return a.index < b.index
end

--- What `--sort column` compares: an address column's key and, for source and destination as
-- shown, the port; a number column's value (none: -1).
local function sort_key(column, row)
  if column == "source" or column == "source_ip" then
    return row.skey, column == "source" and row.source_port or nil
  elseif column == "destination" or column == "destination_ip" then
    return row.dkey, column == "destination" and row.destination_port or nil
  end
  return row[column] or -1
end

--- Rows selected (--ip), sorted (--sort, --desc) and cut (--top), as the options say. Without
-- --sort the rows are in the report's order (--desc reverses it), with --top alone by bytes,
-- largest first; rows equal in the sorted column stay in the report's order.
function M.select(rows, options)
  local selected = {}
  for _, row in ipairs(rows) do
    address_keys(row)
    if not options.ip_key or row.skey == options.ip_key or row.dkey == options.ip_key then
      selected[#selected + 1] = row
    end
  end
  local column, desc = options.sort, options.desc
  if not column and options.top then column, desc = "bytes", true end
  table.sort(selected, function(a, b)
    if column then
      local ka, ka2 = sort_key(column, a)
      local kb, kb2 = sort_key(column, b)
      if ka ~= kb then
        if desc then return ka > kb end
        return ka < kb
      end
      if ka2 and ka2 ~= kb2 then
        if desc then return ka2 > kb2 end
        return ka2 < kb2
      end
      return report_before(a, b)
    end
    if desc then return report_before(b, a) end
    return report_before(a, b)
  end)
  return selected
end

local function totals(rows)
  local t = { bytes = 0, packets = 0, ip_bytes = 0, tcp = false, udp = false }
  for _, row in ipairs(rows) do
    t.bytes = t.bytes + row.bytes
    t.packets = t.packets + row.packets
    if row.ip_bytes then t.ip_bytes = t.ip_bytes + row.ip_bytes end
    t.first = math.min(t.first or row.first, row.first)
    t.last = math.max(t.last or row.last, row.last)
    if row.protocols:find("TCP", 1, true) then t.tcp = true end
    if row.protocols:find("UDP", 1, true) then t.udp = true end
  end
  t.protocols = (t.tcp and t.udp) and "TCP, UDP" or t.tcp and "TCP" or t.udp and "UDP" or ""
  return t
end

--- Milliseconds since the epoch as local time: the time of day when every row is on one date
-- (the date is in the title), else date and time.
local function time_formatter(rows)
  local dates = {}
  local count = 0
  for _, row in ipairs(rows) do
    for _, ms in ipairs({ row.first, row.last }) do
      local date = os.date("%Y-%m-%d", ms // 1000)
      if not dates[date] then dates[date] = true count = count + 1 end
    end
  end
  local pattern = count > 1 and "%Y-%m-%d %H:%M:%S" or "%H:%M:%S"
  return function(ms)
    if not ms then return "" end
    return ("%s.%03d"):format(os.date(pattern, ms // 1000), ms % 1000)
  end
end

local function rows_text(n)
  return ("%d row%s"):format(n, n == 1 and "" or "s")
end

local COLUMNS = {
  { name = "source", header = "source" },
  { name = "destination", header = "destination" },
  { name = "protocols", header = "protocols" },
  { name = "first", header = "first" },
  { name = "last", header = "last" },
  { name = "bytes", header = "bytes", right = true },
  { name = "packets", header = "packets", right = true },
  { name = "ip_bytes", header = "ip bytes", right = true },
}
-- columns left out, in this order, when the table is wider than the terminal
local DROP_ORDER = { "ip_bytes", "last", "protocols", "first" }

--- The lines of the table: title, header, rows, a line saying how many rows did not fit, a rule
-- and the totals row. `space` = { width =, height = } limits it to a terminal (nil: no limit).
function M.render(path, rows, format, options, space)
  local selected = M.select(rows, options)
  local shown = selected
  if options.top and #shown > options.top then shown = table.move(shown, 1, options.top, 1, {}) end
  local sum = totals(selected)
  local when = time_formatter(selected)

  -- the title: what is shown, of what, from when to when
  local title = { ("%s: %s"):format(printable(path), rows_text(#rows)) }
  if options.ip then title[#title + 1] = ("%d from or to %s"):format(#selected, options.ip) end
  local column = options.sort or (options.top and "bytes")
  if column then
    title[#title + 1] = ("by %s%s"):format(column, (options.desc or not options.sort) and ", largest first" or "")
  elseif options.desc then
    title[#title + 1] = "in reverse order"
  end
  if sum.first then
    local function stamp(ms) return ("%s.%03d"):format(os.date("%Y-%m-%d %H:%M:%S", ms // 1000), ms % 1000) end
    local from, to = stamp(sum.first), stamp(sum.last)
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

  -- below the title: the header, the rule, the totals and the line of rows that did not fit
  local room = space and math.max(1, space.height - #lines - 4 - (space.reserved or 0)) or math.huge
  local more = 0
  if #shown > room then
    more = #shown - room
    shown = table.move(shown, 1, room, 1, {})
  end

  local columns = {}
  for _, c in ipairs(COLUMNS) do
    if c.name ~= "ip_bytes" or format == "jsonl" then columns[#columns + 1] = c end
  end
  local function cells(row)
    return {
      -- the addresses are the file's text: shown through printable, as the path is
      source = endpoint(printable(row.source_ip), row.source_port),
      destination = endpoint(printable(row.destination_ip), row.destination_port),
      protocols = row.protocols, first = when(row.first), last = when(row.last),
      bytes = tostring(row.bytes), packets = tostring(row.packets),
      ip_bytes = row.ip_bytes and tostring(row.ip_bytes) or "",
    }
  end
  local body = {}
  for i, row in ipairs(shown) do body[i] = cells(row) end
  local total = {
    source = "total", destination = rows_text(#selected), protocols = sum.protocols,
    first = when(sum.first), last = when(sum.last), bytes = tostring(sum.bytes),
    packets = tostring(sum.packets), ip_bytes = format == "jsonl" and tostring(sum.ip_bytes) or "",
  }

  local widths = {}
  local function measure()
    local total_width = 0
    for _, c in ipairs(columns) do
      local w = #c.header
      for _, b in ipairs(body) do w = math.max(w, #b[c.name]) end
      w = math.max(w, #total[c.name])
      widths[c.name] = w
      total_width = total_width + w + 2
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
      local pad = string.rep(" ", widths[c.name] - #v)
      parts[i] = c.right and pad .. v or (i < #columns and v .. pad or v)
    end
    local text = table.concat(parts, "  ")
    if space and #text > space.width then text = text:sub(1, space.width) end
    return text
  end
  local header = {}
  for _, c in ipairs(columns) do header[c.name] = c.header end
  lines[#lines + 1] = line(header)
  for _, b in ipairs(body) do lines[#lines + 1] = line(b) end
  if more > 0 then
    lines[#lines + 1] = ("... %d more rows (--top N shows fewer; piped, view prints them all)"):format(more)
  end
  lines[#lines + 1] = string.rep("-", space and math.min(full, space.width) or full)
  lines[#lines + 1] = line(total)
  return lines
end

------------------------------------------------------------------------------------------------
-- The command

local function check_options(args, errors)
  local options = { sort = args.sort, desc = args.desc, ip = args.ip }
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
  return options
end

--- The table for a terminal (sized to it) or for a pipe (whole).
local function table_text(path, options, terminal, reserved)
  local rows, format = M.read_report(path)
  if not rows then return nil, format end
  local space
  if term.is_tty(1) then
    local width, height
    if terminal then width, height = terminal:size() else width, height = term.env_size() end
    space = { width = width, height = height, reserved = reserved }
  end
  return table.concat(M.render(path, rows, format, options, space), "\n") .. "\n"
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
  local options = check_options(args, errors)
  -- a folder, a FIFO, a device: refused before it is opened (--follow too: a report that does
  -- not exist yet is waited for, but one that is not a file will not become a report)
  local refused = M.not_a_file(args.report)
  if refused then errors.failure(refused) end
  if args.follow then return follow(uv, args.report, options) end
  local terminal = term.is_tty(1) and term.open() or nil
  -- a line is left for the shell's prompt
  local text, err = table_text(args.report, options, terminal, 1)
  if terminal then terminal:close() end
  if not text then errors.failure(err) end
  io.stdout:write(text)
  return 0
end

return M
