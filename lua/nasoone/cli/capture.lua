--- `nasoone capture`: the command line's options turned into the module's calls, and the capture
-- run in a luv event loop, as any event-driven program would run it: a poll handle on cap:fd()
-- calls cap:poll() when the engine has news (the end of the file, an export error), a timer
-- draws the progress line, the terminal's keys pause, resume and stop, and signal handles stop
-- cleanly. The capture's threads never wait for any of this.
local term = require("nasoone.cli.term")
local loop = require("nasoone.cli.loop")

local M = {}

local COMMAND = "capture"
local REDRAW_SECONDS = 0.25      -- the progress line, at most four times a second
local RATE_WINDOW_SECONDS = 2    -- rates and the time left are measured over the last 2 s
local STOPPED_BY = { quit = "q", sigint = "Ctrl-C", sigterm = "SIGTERM", sighup = "SIGHUP",
  duration = "--duration" }

------------------------------------------------------------------------------------------------
-- Options

local function basename(path)
  return path:match("([^/]+)/*$") or path
end

--- The option values, converted and checked for what only the command knows (a number is a
-- number); ranges are the module's to check, so its messages say them.
local function read_options(args, errors)
  local function usage(text) errors.usage(COMMAND, text) end
  local function number(option, text)
    if text == nil then return nil end
    local value = tonumber(text)
    if not value or value ~= value then usage(("option '%s': '%s' is not a number"):format(option, text)) end
    return value
  end
  local function integer(option, text)
    local value = number(option, text)
    if value ~= nil and not math.tointeger(value) then
      usage(("option '%s': '%s' is not a whole number"):format(option, text))
    end
    return value and math.tointeger(value)
  end
  local function bytes(option, text)
    if text == nil then return nil end
    local digits, suffix = text:match("^(%d+)([KkMmGg]?)$")
    if not digits then
      usage(("option '%s': '%s' is not a size in bytes (a number, or with a K, M or G suffix)")
        :format(option, text))
    end
    local shift = ({ [""] = 0, k = 10, m = 20, g = 30 })[suffix:lower()]
    local value = math.tointeger(tonumber(digits))
    if not value or value > (math.maxinteger >> shift) then
      usage(("option '%s': '%s' is too large"):format(option, text))
    end
    return value << shift
  end

  -- -r once: a path; repeated: the list, read as one capture
  local files = args.read or {}
  local o = {
    file = #files > 1 and files or files[1], output = args.output, format = args.format,
    -- -i once: a name; repeated: the list, read as one capture
    device = args.interface and (#args.interface > 1 and args.interface or args.interface[1]),
    columns = args.columns,
    interval = number("--interval", args.interval),
    parsers = integer("--parsers", args.parsers),
    count = integer("--count", args.count),
    metrics = args.metrics,
    key = args.key,
    biflow = args.biflow,
    community_seed = args.community_id and integer("--community-id", args.community_id[1] or "0"),
    user = args.user,
    group = args.group,
    duration = number("--duration", args.duration),
    fragments = args.fragments,
    bpf = args.filter,
    print_filter = args.print_filter,
    quiet = args.quiet,
    status_interval = number("--status-interval", args.status_interval) or 5,
  }
  if o.group and not o.user then usage("option '--group' needs --user") end
  if o.community_seed and o.key ~= "5-tuple" then
    usage("option '--community-id' needs --key 5-tuple (the ID hashes the protocol and ports)")
  end
  if o.count and o.count < 1 then usage(("option '--count': must be 1 or more, not '%s'"):format(args.count)) end
  if o.duration and not (o.duration > 0 and o.duration < 1e9) then
    usage(("option '--duration': must be a number of seconds > 0, not '%s'"):format(args.duration))
  end
  if o.status_interval <= 0 then
    usage(("option '--status-interval': must be a number of seconds > 0, not '%s'"):format(args.status_interval))
  end

  -- the live capture's options, as set_capture_device takes them
  local device_options = {
    snaplen = integer("--snaplen", args.snaplen),
    buffer_size = bytes("--buffer-size", args.buffer_size),
    immediate = args.immediate or nil,
    timestamp_precision = args.timestamp_precision,
    timeout = number("--pcap-timeout", args.pcap_timeout),
  }
  if args.no_promiscuous then device_options.promiscuous = false end
  if next(device_options) then
    if o.file then
      local given = args.snaplen and "--snaplen" or args.buffer_size and "--buffer-size"
        or args.immediate and "--immediate" or args.no_promiscuous and "--no-promiscuous"
        or args.timestamp_precision and "--timestamp-precision" or "--pcap-timeout"
      usage(("option '%s' is for live captures (-i), not for a file (-r)"):format(given))
    end
    o.device_options = device_options
  end

  -- flow lifecycle and exports
  local limits = {
    idle_timeout = number("--idle-timeout", args.idle_timeout),
    active_timeout = number("--active-timeout", args.active_timeout),
    max_flows = integer("--max-flows", args.max_flows),
  }
  if next(limits) then o.limits = limits end
  o.jsonl, o.ipfix = args.jsonl, args.ipfix
  o.rotate = integer("--rotate", args.rotate)
  if o.rotate and #o.jsonl == 0 then usage("option '--rotate' needs --jsonl (it rotates the JSON-lines files)") end
  local ipfix_options = {
    domain = integer("--ipfix-domain", args.ipfix_domain),
    mtu = integer("--ipfix-mtu", args.ipfix_mtu),
    template_resend = integer("--ipfix-template-resend", args.ipfix_template_resend),
    rate = integer("--ipfix-rate", args.ipfix_rate),
  }
  if next(ipfix_options) then
    if #o.ipfix == 0 then
      usage(("option '%s' needs --ipfix"):format(args.ipfix_domain and "--ipfix-domain"
        or args.ipfix_mtu and "--ipfix-mtu" or args.ipfix_rate and "--ipfix-rate"
        or "--ipfix-template-resend"))
    end
    o.ipfix_options = ipfix_options
  end

  -- the easy filter: kinds that the builder would drop silently are refused here
  local easy = {}
  for _, name in ipairs({ "host", "src_host", "dst_host", "port", "src_port", "dst_port" }) do
    if #args[name] > 0 then easy[#easy + 1] = name end
  end
  if args.tcp or args.udp then easy[#easy + 1] = args.tcp and "tcp" or "udp" end
  local function flag(name) return "--" .. name:gsub("_", "-") end
  if o.bpf and #easy > 0 then
    usage(("option '%s' cannot be combined with -f: the easy-filter options build the BPF "
      .. "themselves (--print-filter shows it)"):format(flag(easy[1])))
  end
  for _, pair in ipairs({ { "host", "src_host" }, { "host", "dst_host" }, { "port", "src_port" },
                         { "port", "dst_port" } }) do
    if #args[pair[1]] > 0 and #args[pair[2]] > 0 then
      usage(("option '%s' cannot be combined with '%s': %s already matches either direction")
        :format(flag(pair[2]), flag(pair[1]), flag(pair[1])))
    end
  end
  if #easy > 0 then o.easy = args end
  return o
end

--- The filter of the easy options, built with the module's builder (which checks each value).
local function easy_filter(nasoone, args, errors)
  local f = nasoone.filter()
  local adders = {
    { "host", "add_host" }, { "src_host", "add_src_host" }, { "dst_host", "add_dst_host" },
    { "port", "add_port" }, { "src_port", "add_src_port" }, { "dst_port", "add_dst_port" },
  }
  for _, adder in ipairs(adders) do
    local name, method = adder[1], adder[2]
    for _, value in ipairs(args[name]) do
      if name:find("port", 1, true) then value = math.tointeger(tonumber(value)) or value end
      errors.call(COMMAND, "--" .. name:gsub("_", "-"), f[method], f, value)
    end
  end
  if args.tcp then f:tcp_only() elseif args.udp then f:udp_only() end
  return f
end

--- A report name that does not exist yet, in the current folder: nasoone_<date>_<time>.csv.
local function fresh_output(format)
  local stem = os.date("nasoone_%Y-%m-%d_%H-%M-%S")
  local extension = format == "jsonl" and ".jsonl" or ".csv"
  local name = stem .. extension
  local n = 1
  while io.open(name, "rb") do
    n = n + 1
    name = ("%s_%d%s"):format(stem, n, extension)
  end
  return name
end

--- The capture, configured from the options: argument-only setters first (a bad value is bad
-- usage even when the file is missing), then the source, the filter, the output, the exports.
-- Returns the capture and what the run needs to know, or prints the filter and returns nil.
local function configure(nasoone, o, errors)
  local cap = nasoone.new()
  local function call(option, method, ...)
    return errors.call(COMMAND, option, cap[method], cap, ...)
  end
  --- Whether calling `method` on a fresh capture with `args` is refused as misuse (a raise, or
  -- the engine's invalid_argument after the binding let it through).
  local function misuse(method, args)
    local probe = nasoone.new()
    local ok, a, _, c = pcall(probe[method], probe, table.unpack(args, 1, args.n))
    probe:close()
    return not ok or (a == nil and c == "invalid_argument")
  end
  --- The CLI option at fault when a call with a table of fields was misuse: the call is made
  -- again on a fresh capture with the table emptied (the fault is then not in the table:
  -- `default`), then with each field alone. Which call is refused says it, never the wording of
  -- the message. `args` is the call's arguments; args[table_at] is the table.
  local function option_at_fault(method, args, table_at, fields, default)
    local given = args[table_at]
    if type(given) ~= "table" then return default end
    local probe_args = table.pack(table.unpack(args, 1, args.n))
    probe_args[table_at] = {}
    if misuse(method, probe_args) then return default end
    local names = {}
    for field in pairs(given) do names[#names + 1] = field end
    table.sort(names) -- the same answer every time when several fields are wrong
    for _, field in ipairs(names) do
      probe_args[table_at] = { [field] = given[field] }
      if misuse(method, probe_args) then return fields[field] or default end
    end
    return default
  end
  --- What a call of a method that takes a table of fields returned (pcall's results): a raise is
  -- misuse, so is a value the engine refuses after the binding let it through; nil, message a
  -- failure.
  local function check_results(fields, default, method, args, table_at, ok, a, b, c)
    if not ok or (a == nil and c == "invalid_argument") then
      local option = option_at_fault(method, args, table_at, fields, default)
      errors.usage(COMMAND, ("option '%s': %s"):format(option, errors.reason(ok and b or a)))
    end
    if a == nil then errors.failure(tostring(b)) end
    return a, b, c
  end
  --- cap[method](cap, ...) where the last argument is a table of fields.
  local function call_with_fields(fields, default, method, ...)
    local args = table.pack(...)
    return check_results(fields, default, method, args, args.n, pcall(cap[method], cap, ...))
  end

  if o.interval then call("--interval", "set_timeout", o.interval) end
  if o.parsers then call("--parsers", "set_parsers", o.parsers) end
  if o.key then call("--key", "set_flow_key", o.key) end
  if o.biflow then call("--biflow", "set_biflow", true) end
  if o.community_seed then call("--community-id", "set_community_id", true, o.community_seed) end
  if o.count then call("--count", "set_packet_limit", o.count) end
  if o.fragments then call("--fragments", "set_fragments", o.fragments) end
  if o.limits then
    call_with_fields({ idle_timeout = "--idle-timeout", active_timeout = "--active-timeout",
      max_flows = "--max-flows" }, "--idle-timeout", "set_flow_limits", o.limits)
  end
  local filter = o.easy and easy_filter(nasoone, o.easy, errors)

  if o.print_filter then
    if o.bpf then print(o.bpf) return nil end
    if o.file then
      call("--read", "set_capture_file", o.file)
      if filter then call("--filter", "set_filter", filter) end
      -- what set_filter installed: VLAN tags exist only on Ethernet
      print(filter and filter:bpf { vlan = cap:datalink() == "EN10MB" } or "")
    else
      print(filter and tostring(filter) or "")
    end
    cap:close()
    return nil
  end

  local source
  if o.file then
    call("--read", "set_capture_file", o.file)
    local first = type(o.file) == "table" and o.file[1] or o.file
    local label = first == "-" and "standard input" or basename(first)
    if type(o.file) == "table" then label = ("%s and %d more"):format(label, #o.file - 1) end
    source = { label = label, file = true }
  else
    local device = o.device or nasoone.default_device()
    if not device then
      errors.failure("no interface to capture on: name one with -i (`nasoone devices` lists them), "
        .. "or read a file with -r")
    end
    call_with_fields({ snaplen = "--snaplen", buffer_size = "--buffer-size", timeout = "--pcap-timeout",
      timestamp_precision = "--timestamp-precision" }, "--interface", "set_capture_device", device,
      o.device_options)
    source = { label = type(device) == "table" and table.concat(device, ", ") or device, file = false }
  end
  if o.bpf then call("--filter", "set_raw_filter", o.bpf) end
  if filter then call("--filter", "set_filter", filter) end

  local format = o.format
  if not format then format = o.output and o.output:find("%.jsonl$") and "jsonl" or "csv" end
  local output = o.output or fresh_output(format)
  if o.columns and format == "jsonl" then
    errors.usage(COMMAND, "option '--columns' is the CSV's (a JSON-lines report has every field)")
  end
  call("--output", "set_output", output, { format = format, columns = o.columns })

  for _, pattern in ipairs(o.jsonl) do
    local options = o.rotate and { rotate = o.rotate } or nil
    local ok, a, b, c = pcall(cap.add_export, cap, "jsonl", pattern, options)
    if ok and a == nil and c == "invalid_path" and options then
      -- the module refuses to rotate a name without a time conversion, with the code of a path
      -- that cannot be used: the same pattern without rotate tells whether rotating is why,
      -- which makes it bad usage of --rotate (the module's message says what the name needs)
      local probe = nasoone.new()
      local _, plain = probe:add_export("jsonl", pattern)
      probe:close()
      if plain ~= b then errors.usage(COMMAND, ("option '--rotate': %s"):format(errors.reason(b))) end
    end
    check_results({ rotate = "--rotate" }, "--jsonl", "add_export", table.pack("jsonl", pattern, options),
      3, ok, a, b, c)
  end
  for _, url in ipairs(o.ipfix) do
    call_with_fields({ domain = "--ipfix-domain", mtu = "--ipfix-mtu",
      template_resend = "--ipfix-template-resend", rate = "--ipfix-rate" }, "--ipfix", "add_export", "ipfix", url,
      o.ipfix_options)
  end
  source.lifecycle = o.limits ~= nil or #o.jsonl > 0 or #o.ipfix > 0
  return cap, source, output, format
end

------------------------------------------------------------------------------------------------
-- Progress

local function format_eta(seconds)
  seconds = math.floor(seconds + 0.5)
  if seconds >= 3600 then
    return ("%d:%02d:%02d"):format(seconds // 3600, seconds % 3600 // 60, seconds % 60)
  end
  return ("%d:%02d"):format(seconds // 60, seconds % 60)
end

--- Rates over the last RATE_WINDOW_SECONDS of samples {t, packets, bytes}.
local Meter = {}
Meter.__index = Meter

local function new_meter() return setmetatable({ samples = {} }, Meter) end

function Meter:add(t, packets, bytes)
  local samples = self.samples
  samples[#samples + 1] = { t = t, packets = packets, bytes = bytes }
  while #samples > 2 and t - samples[2].t >= RATE_WINDOW_SECONDS do table.remove(samples, 1) end
end

--- packets/s and bytes/s, or nil until two samples are far enough apart.
function Meter:rates()
  local first, last = self.samples[1], self.samples[#self.samples]
  if not first or last.t - first.t < 0.2 then return nil end
  local dt = last.t - first.t
  return (last.packets - first.packets) / dt, (last.bytes - first.bytes) / dt
end

function Meter:reset() self.samples = {} end

--- The progress of the capture, as a list of parts: a file's percent read (by bytes), packets,
-- rate and time left (a pipe's bytes read); a device's packets, rate, drops and rows held.
local function progress_parts(source, stats, meter, paused)
  local parts = {}
  local packet_rate, byte_rate = meter:rates()
  if source.file and stats.file_size > 0 then
    parts[#parts + 1] = ("%.1f%%"):format(100 * stats.file_read / stats.file_size)
  elseif source.file then -- a pipe: its size is not known, what was read is
    parts[#parts + 1] = ("%.1f MB read"):format(stats.file_read / 1e6)
  end
  parts[#parts + 1] = ("%d packets"):format(stats.received)
  if paused then
    parts[#parts + 1] = "PAUSED"
    if not source.file and stats.paused_discarded > 0 then
      parts[#parts + 1] = ("(%d let go)"):format(stats.paused_discarded)
    end
  elseif packet_rate then
    parts[#parts + 1] = ("%d packets/s"):format(math.floor(packet_rate + 0.5))
    if source.file and stats.file_size > 0 and byte_rate and byte_rate > 0 then
      parts[#parts + 1] = "ETA " .. format_eta((stats.file_size - stats.file_read) / byte_rate)
    end
  end
  if not source.file then
    parts[#parts + 1] = ("drops %d kernel, %d nasoone"):format(stats.dropped + stats.if_dropped,
      stats.queue_dropped)
    parts[#parts + 1] = ("%d rows"):format(source.lifecycle and stats.rows_held or stats.flows)
  end
  return parts
end

------------------------------------------------------------------------------------------------
-- Run

local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

--- The summary printed when the capture is over.
local function summary(source, stats, elapsed, stopped_by, output)
  local lines = {}
  lines[1] = ("%s: %s in %.1f s%s, %d counted in %s, %d skipped"):format(source.label,
    plural(stats.received, "packet"), elapsed, stopped_by and (" (stopped by " .. stopped_by .. ")") or "",
    stats.counted, plural(stats.flows, "row"), stats.skipped_total)
  if not source.file then
    lines[#lines + 1] = ("dropped: %d by the kernel, %d by the interface, %d by nasoone (queue full)")
      :format(stats.dropped, stats.if_dropped, stats.queue_dropped)
  end
  if source.lifecycle then
    local e = stats.rows_ended
    lines[#lines + 1] = ("flow records: %d (idle %d, active %d, capacity %d, end %d), %d rows at most")
      :format(stats.records, e.idle or 0, e.active or 0, e.capacity or 0, e["end"] or 0, stats.rows_peak)
  end
  for _, export in ipairs(stats.exports) do
    lines[#lines + 1] = ("%s %s: %d records sent, %d dropped%s"):format(export.kind, export.target,
      export.sent, export.dropped, export.error and (" (" .. export.error .. ")") or "")
  end
  lines[#lines + 1] = ("report: %s (%s)"):format(output, plural(stats.reports_written, "rewrite"))
  return table.concat(lines, "\n") .. "\n"
end

function M.run(nasoone, uv, args, errors)
  local o = read_options(args, errors)
  local cap, source, output = configure(nasoone, o, errors)
  if not cap then return 0 end

  local show_progress = not o.quiet and term.is_tty(2)
  local terminal = term.open()
  local stderr = io.stderr
  local started = uv.hrtime()
  local function now() return (uv.hrtime() - started) / 1e9 end

  --- The metrics file, replaced atomically (a reader never sees half of it): the temporary file
  -- beside it, renamed over it. Returns nil, message when it cannot be written.
  local function write_metrics(stats_now)
    local temporary = o.metrics .. ".tmp"
    local file, e = io.open(temporary, "w")
    if not file then return nil, e end
    local written, we = file:write(nasoone.metrics(stats_now))
    local closed, ce = file:close()
    if not (written and closed) then os.remove(temporary) return nil, we or ce end
    local renamed, re = os.rename(temporary, o.metrics)
    if not renamed then os.remove(temporary) return nil, re end
    return true
  end
  -- the device is open: what follows runs as --user, every thread of the capture too
  if o.user then
    local dropped, e = nasoone.drop_privileges(o.user, o.group)
    if not dropped then errors.failure(e) end
  elseif not o.file and not o.quiet and uv.os_get_passwd().uid == 0 then
    io.stderr:write("nasoone: warning: capturing as root; --user NAME drops to NAME once the device is open\n")
  end
  if o.metrics then -- said now, not after the first interval
    local written, e = write_metrics(cap:stats())
    if not written then errors.failure(("nasoone: cannot write the metrics file %s"):format(e)) end
  end

  local ok, err = cap:start()
  if not ok then errors.failure(err) end

  local stats_at_start = cap:stats()
  if stats_at_start.warning and not o.quiet then stderr:write("nasoone: warning: ", stats_at_start.warning, "\n") end

  local meter = new_meter()
  local paused = false
  local line_shown = false
  local over_error             -- the error the capture ended on, if any
  local stop_error, stats
  local last_warning = {}
  local signals = {}           -- closed after the final report: a second Ctrl-C meanwhile is ours

  local function width()
    local w = terminal and terminal:size() or term.env_size()
    return math.max(w, 20)
  end

  local function clear_line()
    if line_shown then stderr:write("\r\27[K") line_shown = false end
  end

  --- A warning on its own line (the progress line is redrawn after it), once per message.
  local function warn(kind, message)
    if o.quiet or not message or last_warning[kind] == message then return end
    last_warning[kind] = message
    clear_line()
    stderr:write(errors.message(message), "\n")
  end

  local function sample()
    local s = cap:stats()
    meter:add(now(), s.received, s.file_read)
    warn("write", s.write_error)
    return s
  end

  local function draw()
    local s = sample()
    local parts = progress_parts(source, s, meter, paused)
    local keys = ""
    if terminal then keys = paused and "   r: resume  q: stop" or "   p: pause  q: stop" end
    local line = source.label .. "  " .. table.concat(parts, "  ") .. keys
    local w = width() - 1
    if #line > w then line = line:sub(1, w) end
    stderr:write("\r", line, "\27[K")
    stderr:flush()
    line_shown = true
  end

  local function status()
    local s = sample()
    stderr:write(source.label, ": ", table.concat(progress_parts(source, s, meter, paused), ", "), "\n")
    stderr:flush()
  end

  -- run.reason says why the loop ended: "end", "quit", "sigint", "sigterm", "sighup", "error"
  local run
  run = loop.new(function()
    if terminal then terminal:close() end
    clear_line()
    -- stop inside the loop: a second Ctrl-C while the final report is written is still ours
    local stop_ok, a, b = pcall(cap.stop, cap)
    if stop_ok then stats, stop_error = a, b else run.internal = run.internal or a end
    stats = stats or cap:stats()
    if o.metrics then write_metrics(stats) end -- the final counters
    loop.close(signals)
  end)
  local function finish(why) run:finish(why) end
  local function guard(fn) return run:guard(fn) end

  sample()   -- the first rate is measured from the start
  local poll = run:add(uv.new_poll(cap:fd()))
  poll:start("r", guard(function()
    local over, e = cap:poll()
    if over then
      over_error = e
      finish("end")
    else
      warn("export", e)
    end
  end))

  if o.metrics then
    local period = math.max(1, math.floor((o.interval or 1) * 1000 + 0.5))
    local metrics_timer = run:add(uv.new_timer())
    metrics_timer:start(period, period, guard(function()
      local written, e = write_metrics(cap:stats())
      if not written then warn("metrics", "nasoone: cannot write the metrics file " .. tostring(e)) end
    end))
  end

  if o.duration then -- a bounded run: stopped as by q, its report complete, exit 0
    local deadline = run:add(uv.new_timer())
    deadline:start(math.max(1, math.floor(o.duration * 1000 + 0.5)), 0, guard(function() finish("duration") end))
  end

  local timer = run:add(uv.new_timer())
  if show_progress then
    timer:start(0, REDRAW_SECONDS * 1000, guard(draw))
  elseif not o.quiet and not term.is_tty(2) then
    local period = math.max(1, math.floor(o.status_interval * 1000 + 0.5))
    timer:start(period, period, guard(status))
  end

  run:stop_on_signals(uv, signals)

  if terminal then
    local function toggle(pause)
      local moved = pause and cap:pause() or (not pause and cap:resume())
      if moved then
        paused = pause
        meter:reset()
        if show_progress then draw() end
      end
    end
    terminal:keys(guard(function(key)
      if key == "p" or key == "P" then toggle(true)
      elseif key == "r" or key == "R" then toggle(false)
      elseif key == "q" or key == "Q" then finish("quit")
      elseif key == "\3" then finish("sigint")    -- Ctrl-C: raw mode makes it a key
      elseif key == "\26" then                      -- Ctrl-Z: suspend as the shell expects
        clear_line()
        terminal:suspend()
      end
    end))
    for _, name in ipairs({ "sigtstp", "sigcont" }) do
      local signal = run:add(uv.new_signal())
      signal:start(name, guard(function()
        if name == "sigtstp" then clear_line() terminal:suspend() else terminal:resumed() end
      end))
    end
  end

  uv.run()
  if run.internal then error(run.internal, 0) end

  local elapsed = now()
  if not o.quiet then
    stderr:write(summary(source, stats, elapsed, STOPPED_BY[run.reason], output))
  end
  cap:close() -- every thread joined before the command exits
  local status_code = loop.SIGNAL_EXIT[run.reason] or 0
  -- the error the capture ended on, and the final report's if it is another
  for _, e in ipairs({ over_error or false, stop_error ~= over_error and stop_error or false }) do
    if e then
      stderr:write(errors.message(e), "\n")
      status_code = 1
    end
  end
  return status_code
end

return M
