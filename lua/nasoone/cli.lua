--- The nasoone command (bin/nasoone): capture, devices and view, on top of the nasoone module.
--
-- This file holds the command line (argparse: the commands, their options and help), the error
-- rules shared by the commands and `nasoone devices`; nasoone.cli.capture runs a capture in a
-- luv event loop (nasoone.cli.loop), nasoone.cli.view shows reports, nasoone.cli.term has the
-- terminal (raw mode, always given back). Every option maps to one call of the module's
-- Lua API, the one a script would make, so the module's checks and messages are the command's.
--
-- Exit status: 0 done, 1 a failure (a message starting with "nasoone: " on stderr), 2 bad usage
-- (a message naming the option), 128 + the signal after SIGINT (130), SIGTERM or SIGHUP.
local M = {}

local errors = {}

--- Bad usage: the message names the option. Raised, caught by main (exit 2).
local Usage = {}
function errors.usage(command, text)
  error(setmetatable({ command = command, text = text }, Usage), 0)
end

--- `text` as the command says it: starting with "nasoone: " (the module's messages do already).
function errors.message(text)
  text = tostring(text)
  if not text:find("^nasoone: ") then text = "nasoone: " .. text end
  return text
end

--- A failure the user meets in normal use (a file missing, an output that exists...): exit 1.
local Failure = {}
function errors.failure(text)
  error(setmetatable({ text = errors.message(text) }, Failure), 0)
end

--- The reason in a module's raised misuse message: "bad argument #2 to 'set_flow_limits'
-- (max_flows must be an integer from 1 to 1000000000)" gives what is in the parentheses.
function errors.reason(message)
  message = tostring(message)
  local reason = message:match("^.-bad argument #%d+ to '[^']*' %((.*)%)$")
  return (reason or message):gsub("^nasoone: ", "")
end

--- Calls fn(...) on behalf of `option`: a raise (misuse: a value out of range, not an address)
-- is bad usage naming the option; nil, message (a failure) is a failure with the module's
-- message; otherwise returns what fn returned.
function errors.call(command, option, fn, ...)
  local results = table.pack(pcall(fn, ...))
  if not results[1] then
    errors.usage(command, ("option '%s': %s"):format(option, errors.reason(results[2])))
  end
  if results[2] == nil and results.n >= 3 then
    -- a value the engine refuses after the binding let it through is still bad usage
    if results[4] == "invalid_argument" then
      errors.usage(command, ("option '%s': %s"):format(option, errors.reason(results[3])))
    end
    errors.failure(tostring(results[3]))
  end
  return table.unpack(results, 2, results.n)
end

M.errors = errors

--- A module only the command needs: the rock does not depend on argparse and luv, so that the
-- module alone installs with nothing else; the command says what to install.
local function need(name, debian, rock)
  local ok, module = pcall(require, name)
  if ok then return module end
  errors.failure(("the nasoone command needs %s (the nasoone module does not): apt-get install %s, "
    .. "or luarocks install %s (with the same --tree as nasoone)"):format(name, debian, rock))
end

local ROOT_EPILOG = [[
Examples:
  nasoone capture -r trace.pcap -o report.csv        a capture file into report.csv
  nasoone capture -i eth0 --port 443 --tcp           an interface (as root), HTTPS only
  nasoone capture -i eth0 --idle-timeout 300 --jsonl 'flows-%Y%m%d.jsonl' --rotate 86400
  nasoone view report.csv --sort bytes --desc --top 20
  nasoone view report.csv --follow                   redrawn at every rewrite, q quits
  nasoone devices                                    what `capture -i` can use

Run 'nasoone COMMAND --help' for a command's options and examples.

Exit status: 0 done; 1 failed (the message on stderr says why); 2 bad usage; 130 stopped by
Ctrl-C, 143 by SIGTERM, 129 by SIGHUP (the report is then complete up to the stop).]]

local CAPTURE_DESCRIPTION = [[
Capture a file (-r) or an interface (-i; default: the default device) into a report: one row
per (source, destination) address and port, with protocols, first and last time, bytes and
packets, rewritten atomically every -t seconds and once more at the end.

On a terminal a progress line shows what has been read (a file: percent, packets/s, time
left; an interface: packets, rate, drops, rows held), and keys work as buttons: p pauses, r
resumes, q stops (the report is written). Ctrl-C and SIGTERM stop the same way. When stderr
is not a terminal a plain status line is printed every --status-interval seconds instead.]]

local CAPTURE_EPILOG = [[
Examples:
  nasoone capture -r trace.pcap -o report.csv
  nasoone capture -r trace.pcap --host 192.0.2.7 --port 443 --print-filter   show the BPF
  nasoone capture -r trace.pcap --format jsonl -o report.jsonl --fragments attribute
  sudo nasoone capture -i eth0 -f 'tcp port 80' -t 5 -o web.csv
  sudo nasoone capture -i eth0 --immediate --snaplen 128 --buffer-size 64M
  sudo timeout 3600 nasoone capture -i eth0 -q      an hour, silently; SIGTERM stops cleanly
  sudo nasoone capture -i eth0 --idle-timeout 300 --active-timeout 1800 --max-flows 1000000 \
       --jsonl '/var/log/nasoone/flows-%Y%m%d-%H%M.jsonl' --rotate 3600 \
       --ipfix udp://127.0.0.1:4739

The easy-filter options build the filter with nasoone.filter(): hosts (either direction)
exclude --src-host/--dst-host, ports likewise; several of one kind are or-ed, kinds are
and-ed. They cannot be combined with -f; --print-filter prints the BPF they make (for -r FILE
as compiled for its link type) and exits.]]

local VIEW_DESCRIPTION = [[
Show a report (CSV or JSON lines, as `nasoone capture` writes them) as a table with a totals
row, or its rows grouped by address, port or protocol (--by). On a terminal the table fits
the screen, with units (3.3 G, 12.5 k), each row's duration and rate; piped, every row is
printed with exact numbers. With --follow the table is redrawn whenever the report is
rewritten (a capture still running) until q.]]

local VIEW_EPILOG = [[
Examples:
  nasoone view report.csv
  nasoone view report.csv --sort bytes --desc --top 10      the ten largest rows
  nasoone view report.jsonl --ip 192.0.2.7 --sort first     one host's connections, in time
  nasoone view report.csv --port 53 --proto udp             DNS over UDP
  nasoone view report.csv --by src --top 10                 the ten sources that sent most
  nasoone view report.csv --by port --sort rows --desc      the ports most rows use
  nasoone view report.csv --follow                          while `nasoone capture` runs

Times are shown in the local time zone (set TZ to change it), to the millisecond. Durations
are in seconds and rates in bits per second (piped, or with --exact: exact numbers).]]

local DEVICES_EPILOG = [[
Examples:
  nasoone devices
  nasoone devices --all
  sudo nasoone capture -i lo -f 'udp port 53'

The default device (marked *) is the one `nasoone capture` uses without -i: the first
interface that is up and not a loopback.]]

--- Column names of `view --sort`: the report's fields (the JSON and Lua names), plus source
-- and destination as shown (address, then port).
M.SORT_COLUMNS = { "source", "destination", "source_ip", "source_port", "destination_ip",
  "destination_port", "protocols", "first", "last", "duration", "bytes", "packets", "ip_bytes", "rate", "rows",
  "reverse_bytes", "reverse_packets", "reverse_ip_bytes", "total_bytes", "total_packets", "interface" }

--- What `view --by` groups rows by (nasoone.cli.view names the groups).
M.BY_KEYS = { "src", "dst", "ip", "port", "sport", "dport", "proto", "interface" }

local function build_parser(argparse, nasoone)
  local parser = argparse("nasoone")
    :description("Per-connection traffic reports from packet captures (nasoone " .. nasoone.version .. ").")
    :epilog(ROOT_EPILOG)
    :command_target("command")
    :help_max_width(100)
    :help_description_margin(36)
  parser:flag("--version", "Print the versions of nasoone and libpcap, and exit.")
    :action(function()
      print(("nasoone %s (%s)"):format(nasoone.version, nasoone.pcap_version))
      os.exit(0)
    end)

  ------------------------------------------------------------------------------------------------
  local capture = parser:command("capture", CAPTURE_DESCRIPTION)
    :summary("Capture a file or an interface into a report, with a progress line.")
    :epilog(CAPTURE_EPILOG)
    :usage("Usage: nasoone capture [-r FILE | -i IFACE] [-o REPORT] [-t SECONDS] [-f BPF] [options]")
  local read = capture:option("-r --read",
    "Read this capture file (pcap or pcapng, plain or compressed with gzip, zstd or lz4), "
      .. "a FIFO, or - for standard input. Repeated: the files one after the other, as one "
      .. "capture."):argname("FILE"):count("*")
  local interface = capture:option("-i --interface",
    "Capture on this interface (see `nasoone devices`); repeated, on all of them as one capture, each "
      .. "row saying which (the interface column). Default, without -r: the default device.")
    :argname("IFACE"):count("*")
  capture:mutex(read, interface)
  local output = {
    capture:option("-o --output",
      "The report file; it must not exist. Default: nasoone_<date>_<time>.csv (or .jsonl) here.")
      :argname("REPORT"),
    capture:option("--format",
      "The report's format: csv, or jsonl (one JSON object per row). Default: jsonl when "
      .. "REPORT ends in .jsonl, else csv."):choices({ "csv", "jsonl" }),
    capture:option("--columns",
      "The CSV's columns: seed (the nine of the report), or extended (those, then ip bytes and "
      .. "tcp flags). Default: seed."):choices({ "seed", "extended" }),
    capture:option("--user", "Once the device is open, become this user and drop every capability "
      .. "(its folders must take the report)."):argname("NAME"),
    capture:option("--group", "With --user: this group instead of the user's own."):argname("NAME"),
    capture:option("--metrics", "Write the capture's counters in Prometheus text format to FILE every "
      .. "interval (replaced atomically: node_exporter's textfile collector reads it)."):argname("FILE"),
    capture:option("-t --interval", "Rewrite the report every SECONDS (fractions allowed). Default: 1.")
      :argname("SECONDS"),
  }
  local filter = {
    capture:option("-f --filter", "A libpcap filter (BPF), e.g. 'tcp port 443'."):argname("BPF"),
    capture:option("--host", "Packets from or to ADDR (IPv4 or IPv6). Repeatable."):argname("ADDR")
      :count("*"),
    capture:option("--src-host", "Packets from ADDR. Repeatable."):argname("ADDR"):count("*"),
    capture:option("--dst-host", "Packets to ADDR. Repeatable."):argname("ADDR"):count("*"),
    capture:option("--port", "Packets from or to PORT. Repeatable."):argname("PORT"):count("*"),
    capture:option("--src-port", "Packets from PORT. Repeatable."):argname("PORT"):count("*"),
    capture:option("--dst-port", "Packets to PORT. Repeatable."):argname("PORT"):count("*"),
    capture:flag("--tcp", "TCP packets only."),
    capture:flag("--udp", "UDP packets only."),
    capture:flag("--print-filter", "Print the BPF expression of the filter options and exit."),
  }
  capture:mutex(filter[8], filter[9])
  local decoding = {
    capture:option("--parsers", "Parser threads, 1 to 64. Default: one per logical core less one, "
      .. "at least 1."):argname("N"),
    capture:option("--key", "A row per 4-tuple (TCP and UDP) or per 5-tuple (every IP protocol: ICMP, "
      .. "GRE, ...; ICMP's type and code as its ports). Default: 4-tuple."):choices({ "4-tuple", "5-tuple" }),
    capture:flag("--biflow", "A row and a record per connection, both directions (RFC 5103): the "
      .. "initiator's counts, then the reverse ones."),
    capture:option("--community-id", "With --key 5-tuple: JSON lines (report and flow records) carry "
      .. "the Community ID, with this seed (0 if none given)."):args("?"):argname("SEED"),
    capture:option("-c --count", "Stop after N packets (after the filter), with a complete report."):argname("N"),
    capture:option("--duration", "Stop after SECONDS (fractions allowed), with a complete report.")
      :argname("SECONDS"),
    capture:option("--fragments",
      "IP fragments after the first: skip (default), or attribute them to their datagram's row.")
      :choices({ "skip", "attribute" }):argname("MODE"),
  }
  local live = {
    capture:option("--snaplen", "Live: bytes kept per packet. Default: 2048 (headers are enough).")
      :argname("BYTES"),
    capture:flag("--no-promiscuous", "Live: do not put the interface in promiscuous mode."),
    capture:option("--buffer-size",
      "Live: the kernel's capture buffer, in bytes or with a K, M or G suffix. Default: 16M.")
      :argname("BYTES"),
    capture:flag("--immediate", "Live: hand each packet over at once, not in blocks."),
    capture:option("--timestamp-precision", "Live: micro (default) or nano."):choices({ "micro", "nano" })
      :argname("PRECISION"),
    capture:option("--pcap-timeout", "Live: libpcap's block timeout in seconds, 0 to 60. Default: 0.1.")
      :argname("SECONDS"),
  }
  local lifecycle = {
    capture:option("--idle-timeout", "A row idle this long leaves the report, with an 'idle' record.")
      :argname("SECONDS"),
    capture:option("--active-timeout", "A row active this long gives an 'active' record and goes on.")
      :argname("SECONDS"),
    capture:option("--max-flows", "Rows held at most: the least recently seen leaves ('capacity').")
      :argname("N"),
    capture:option("--jsonl",
      "Write flow records as JSON lines to files named by this strftime PATTERN (UTC). Repeatable.")
      :argname("PATTERN"):count("*"),
    capture:option("--rotate", "Start a new --jsonl file every SECONDS of capture time. Default: one file.")
      :argname("SECONDS"),
    capture:option("--ipfix",
      "Send flow records over IPFIX to udp://HOST:PORT (or write file:PATH). Repeatable.")
      :argname("URL"):count("*"),
    capture:option("--ipfix-domain", "IPFIX observation domain. Default: 0."):argname("N"),
    capture:option("--ipfix-mtu", "IPFIX message size at most. Default: 1400 over UDP."):argname("BYTES"),
    capture:option("--ipfix-template-resend", "Resend IPFIX templates over UDP every SECONDS. Default: 10.")
      :argname("SECONDS"),
    capture:option("--ipfix-rate",
      "Send a file's IPFIX records over UDP at most N a second (0: unpaced). Default: 50000.")
      :argname("N"),
  }
  local display = {
    capture:flag("-q --quiet", "No progress line, status lines nor summary: only errors."),
    capture:option("--status-interval",
      "When stderr is not a terminal, a status line every SECONDS. Default: 5.")
      :argname("SECONDS"),
  }
  capture:group("Source", read, interface)
  capture:group("Report", table.unpack(output))
  capture:group("Filter", table.unpack(filter))
  capture:group("Decoding", table.unpack(decoding))
  capture:group("Live capture", table.unpack(live))
  capture:group("Flow lifecycle and exports (records of rows that end)", table.unpack(lifecycle))
  capture:group("Display", table.unpack(display))

  ------------------------------------------------------------------------------------------------
  local devices = parser:command("devices", "List the interfaces nasoone can capture on: name, state, "
    .. "addresses, description; the default one marked with *.")
    :summary("List the interfaces nasoone can capture on.")
    :epilog(DEVICES_EPILOG)
  devices:flag("-a --all", "Every interface libpcap sees (`any`, interfaces without an address...).")

  ------------------------------------------------------------------------------------------------
  local view = parser:command("view", VIEW_DESCRIPTION)
    :summary("Show a report as a table: sort, filter, group, totals, follow.")
    :epilog(VIEW_EPILOG)
    :usage("Usage: nasoone view REPORT [-s COLUMN] [-d] [-n N] [--ip ADDR] [--port PORT] [--proto PROTO]\n"
      .. "                    [-i NAME] [--by KEY] [--human | --exact] [-l] [-f]")
  view:argument("report", "A report file: CSV or JSON lines."):argname("REPORT")
  view:option("-s --sort", "Sort by this column: " .. table.concat(M.SORT_COLUMNS, ", ")
    .. ". Default: the report's order (IPv4 first, then by source and destination, numerically); "
    .. "rows equal in COLUMN stay in that order."):choices(M.SORT_COLUMNS):argname("COLUMN")
  view:flag("-d --desc", "Largest first (the order reversed; without --sort, the report's).")
  view:option("--ip", "Only rows from or to ADDR."):argname("ADDR")
  view:option("--port", "Only rows from or to PORT."):argname("PORT")
  view:option("--proto", "Only rows with packets of this protocol: tcp or udp."):choices({ "tcp", "udp" })
    :argname("PROTO")
  view:option("-i --interface", "Only rows seen on this interface (a report of several devices); "
    .. "repeated, on any of them."):argname("NAME"):count("*")
  view:option("--by", "Group the rows by source address (src), destination (dst), either address (ip), "
    .. "either port (port), source port (sport), destination port (dport), protocols (proto) or "
    .. "interface (interface): "
    .. "a row per group with its rows, totals, share of the bytes and rate; largest first by bytes. "
    .. "A row counts in both groups of ip and port."):choices(M.BY_KEYS):argname("KEY")
  view:option("-n --top", "Only the first N rows; without --sort, the N with the most bytes.")
    :argname("N")
  local human = view:flag("--human", "Numbers with units (3.3 G) and durations in words, piped too.")
  local exact = view:flag("--exact", "Exact numbers, on a terminal too (piped, they always are).")
  view:mutex(human, exact)
  view:flag("-l --long", "Piped, add each row's duration and rate (a terminal shows them when they fit).")
  view:flag("-f --follow", "Redraw whenever the report is rewritten, until q (or Ctrl-C).")

  return parser
end

--- argparse takes any argument that starts with "-" for an option, so "--idle-timeout -3" was
-- "unknown option '-3'". A negative number right after an option that takes a value is given
-- to that option ("--idle-timeout=-3", "-n-1"), so that the option's own check says what it
-- allows. Options are looked up in the command being parsed (`-f` is a filter in capture, a
-- flag in view).
local function attach_negative_values(parser, args)
  local function value_option(command, word)
    for _, option in ipairs(command._options or {}) do
      for _, alias in ipairs(option._aliases or {}) do
        if alias == word then return (option._maxargs or 0) > 0 end
      end
    end
    return false
  end
  local out, command, pending = {}, parser, false
  for i, word in ipairs(args) do
    if word == "--" then
      table.move(args, i, #args, #out + 1, out)
      break
    end
    if pending and tonumber(word) and word:find("^%-") then
      out[#out] = out[#out] .. (out[#out]:find("^%-%-") and "=" or "") .. word
      pending = false
    elseif pending then
      out[#out + 1] = word
      pending = false
    else
      out[#out + 1] = word
      pending = value_option(command, word)
      if not word:find("^%-") then
        for _, sub in ipairs(command._commands or {}) do
          if sub._name == word then command = sub break end
        end
      end
    end
  end
  return out
end

--- Parses arguments; bad usage raises through errors.usage with argparse's own message, which
-- names the option ("option '--max-flows' requires an argument").
local function parse(parser, args)
  parser.error = function(current, message)
    local name = current._name ~= "nasoone" and current._name or nil
    errors.usage(name, message)
  end
  return parser:parse(attach_negative_values(parser, args))
end

--- `nasoone devices`: one line per interface, the default one marked with *.
local function devices(nasoone, args)
  local list, err = nasoone.devices(args.all or false)
  if not list then errors.failure(err) end
  local default = nasoone.default_device()
  local function prefix_length(netmask)
    if not netmask then return nil end
    local bits = 0
    if netmask:find(":", 1, true) then
      for group in netmask:gmatch("[^:]+") do
        local v = tonumber(group, 16)
        while v and v > 0 do bits = bits + (v & 1); v = v >> 1 end
      end
    else
      for part in netmask:gmatch("%d+") do
        local v = tonumber(part)
        while v > 0 do bits = bits + (v & 1); v = v >> 1 end
      end
    end
    return bits
  end
  local rows = { { "", "NAME", "STATE", "ADDRESSES", "DESCRIPTION" } }
  for _, device in ipairs(list) do
    local state = {}
    for _, flag in ipairs({ "up", "running", "loopback", "wireless" }) do
      if device.flags[flag] then state[#state + 1] = flag end
    end
    local addresses = {}
    for _, a in ipairs(device.addresses) do
      if a.address then
        local bits = prefix_length(a.netmask)
        addresses[#addresses + 1] = a.address .. (bits and ("/" .. bits) or "")
      end
    end
    rows[#rows + 1] = { device.name == default and "*" or "", device.name,
      #state > 0 and table.concat(state, ",") or "down",
      #addresses > 0 and table.concat(addresses, " ") or "-", device.description or "" }
  end
  if #list == 0 then
    errors.failure(args.all and "libpcap sees no interface to capture on"
      or "no interface has an address (`nasoone devices --all` lists them all)")
  end
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, #cell) end
  end
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. string.rep(" ", widths[i] - #cell) or cell
    end
    print((table.concat(cells, "  "):gsub("%s+$", "")))
  end
  if default then print("(* the default device: `nasoone capture` captures on it without -i)") end
  return 0
end

--- Runs the command with the arguments `args` (arg[1..n]); returns the exit status.
function M.main(args)
  local traceback
  local ok, status = xpcall(function()
    local argparse = need("argparse", "lua-argparse", "argparse")
    local nasoone = require("nasoone")
    local parsed = parse(build_parser(argparse, nasoone), args)
    if parsed.command == "devices" then return devices(nasoone, parsed) end
    local uv = need("luv", "lua-luv", "luv")
    if parsed.command == "capture" then
      return require("nasoone.cli.capture").run(nasoone, uv, parsed, errors)
    end
    return require("nasoone.cli.view").run(uv, parsed, errors)
  end, function(e)
    if getmetatable(e) ~= Usage and getmetatable(e) ~= Failure then traceback = debug.traceback(2) end
    return e
  end)
  -- whatever happened, the terminal is given back as it was
  local term = package.loaded["nasoone.cli.term"]
  if term then pcall(term.reset) end
  if ok then return status end
  if getmetatable(status) == Usage then
    local who = status.command and ("nasoone " .. status.command) or "nasoone"
    io.stderr:write(who, ": ", status.text, "\nTry '", who, " --help'.\n")
    return 2
  elseif getmetatable(status) == Failure then
    io.stderr:write(status.text, "\n")
    return 1
  end
  io.stderr:write("nasoone: internal error: ", tostring(status), "\n", traceback or "", "\n")
  return 1
end

return M
