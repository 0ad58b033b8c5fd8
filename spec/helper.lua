--- Shared helpers for the busted specs: module paths, temporary folders, a pcap writer with
-- frame builders (so specs make the captures they need), report reading, and probes run as an
-- unprivileged user.
local build_dir = os.getenv("NASOONE_BUILD_DIR") or "build"

local helper = {}

helper.build_dir = build_dir
--- The interpreter running the specs (ctest sets it: lua_host in sanitized builds).
helper.lua_interpreter = os.getenv("NASOONE_LUA") or "lua5.4"

--- Where the module under test is searched, and nowhere else: lua/nasoone.lua of this checkout
-- and nasoone/core.so of the build. No default path follows (no ";;"), so a copy of nasoone
-- installed on the machine can never stand in for the build under test.
helper.lua_path = "./lua/?.lua"
helper.lua_cpath = build_dir .. "/?.so"

-- require("nasoone") and require("nasoone.core") resolve through package.preload, which
-- require searches first, with the search paths above only. The rest of package.path stays as
-- busted set it: busted, luassert and luasystem are installed modules.
local function exclusive_loader(name, search_path, open)
  return function()
    local file, why = package.searchpath(name, search_path)
    if not file then
      error(("module '%s' is not in the build under test (%s):%s"):format(name, search_path, why), 0)
    end
    return open(file)(name, file)
  end
end
package.preload["nasoone"] = exclusive_loader("nasoone", helper.lua_path, function(file)
  return assert(loadfile(file))
end)
package.preload["nasoone.core"] = exclusive_loader("nasoone.core", helper.lua_cpath, function(file)
  return assert(package.loadlib(file, "luaopen_nasoone_core"))
end)
helper.header = "source ip; source port; destination ip; destination port; protocols; first; "
  .. "last; bytes; packets"

--- ../shared beside the checkout (CI has it); nil on a user's clone.
function helper.shared_dir()
  local dir = os.getenv("NASOONE_SHARED") or "../shared"
  local f = io.open(dir .. "/pcaps/README.md", "r")
  if not f then return nil end
  f:close()
  return dir
end

local temporary_dirs = {}

--- A new empty folder, removed by helper.cleanup().
function helper.tmpdir()
  local p = assert(io.popen("mktemp -d /tmp/nasoone-spec.XXXXXX"))
  local dir = p:read("l")
  p:close()
  temporary_dirs[#temporary_dirs + 1] = dir
  return dir
end

function helper.cleanup()
  for _, dir in ipairs(temporary_dirs) do os.execute("rm -rf '" .. dir .. "'") end
  temporary_dirs = {}
end

--- What the shell command `command` prints on stdout.
function helper.shell_output(command)
  local p = assert(io.popen(command))
  local out = p:read("a")
  p:close()
  return out
end

local cwd = helper.shell_output("pwd"):gsub("\n$", "")
--- `path` from the folder the specs run in (the checkout), made absolute.
function helper.absolute(path)
  return path:sub(1, 1) == "/" and path or (cwd .. "/" .. path)
end

--- Two distinct UDP ports no socket on this machine uses, at random below the ephemeral range
-- (where the kernel picks ports for unbound sockets), so two runs at once choose apart.
function helper.free_udp_ports()
  local used = {}
  local p = assert(io.popen("ss -Huan"))
  for line in p:lines() do
    local port = line:match("^%S+%s+%S+%s+%S+%s+%S-:(%d+)%s")
    if port then used[tonumber(port)] = true end
  end
  assert(p:close(), "ss -Huan failed")
  local a, b
  repeat a = math.random(10000, 32000) until not used[a]
  repeat b = math.random(10000, 32000) until not used[b] and b ~= a
  return a, b
end

--- Whether the specs run as root.
function helper.is_root()
  local p = assert(io.popen("id -u"))
  local uid = p:read("l")
  p:close()
  return uid == "0"
end

local function quote(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

local function copy_file(from, to, mode)
  helper.write_file(to, helper.read_file(from))
  assert(os.execute(("chmod %s %s"):format(mode, quote(to))))
end

--- Runs the Lua chunk `source` in a child interpreter as an unprivileged user and returns what
-- it printed (stdout and stderr), or nil and why it could not be run. As root the child runs as
-- nobody (setpriv); otherwise as the current user, who is unprivileged already.
-- The child loads the module under test and nothing else: lua/nasoone.lua, the build's
-- nasoone/core.so and, when the interpreter is a file of the build (lua_host in sanitized
-- builds), the interpreter are copied to a fresh world-readable folder, and the child's
-- package.path and package.cpath name that folder only. The build itself may be where nobody
-- can reach it (a checkout in /root, mode 0700), and a nasoone installed on the machine must
-- never stand in for it.
function helper.unprivileged_probe(source)
  local dir = helper.tmpdir()
  assert(os.execute(("mkdir %s/nasoone && chmod 755 %s %s/nasoone"):format(quote(dir), quote(dir),
    quote(dir))))
  copy_file(assert(package.searchpath("nasoone", helper.lua_path)), dir .. "/nasoone.lua", "644")
  copy_file(assert(package.searchpath("nasoone.core", helper.lua_cpath)), dir .. "/nasoone/core.so",
    "644")
  local interpreter = helper.lua_interpreter
  if interpreter:find("/", 1, true) then
    local copy = dir .. "/" .. interpreter:match("([^/]+)$")
    copy_file(interpreter, copy, "755")
    interpreter = copy
  else
    local p = assert(io.popen("command -v " .. quote(interpreter)))
    local found = p:read("l")
    p:close()
    if not found then return nil, interpreter .. " is not on PATH" end
    interpreter = found
  end
  helper.write_file(dir .. "/probe.lua", ("package.path = %q\npackage.cpath = %q\n"):format(
    dir .. "/?.lua", dir .. "/?.so") .. source)
  assert(os.execute("chmod 644 " .. quote(dir .. "/probe.lua")))

  local as = ""
  if helper.is_root() then
    if not os.execute("command -v setpriv >/dev/null") then
      return nil, "setpriv (util-linux) is needed to run a probe as nobody"
    end
    local group = os.execute("getent group nogroup >/dev/null") and "nogroup" or "nobody"
    as = "setpriv --reuid=nobody --regid=" .. group .. " --clear-groups "
  end
  for _, check in ipairs({ "-r nasoone.lua", "-r nasoone/core.so", "-r probe.lua",
                          "-x " .. quote(interpreter) }) do
    if not os.execute(("cd %s && %stest %s"):format(quote(dir), as, check)) then
      return nil, ("the unprivileged user fails `test %s` in %s: the probe could not load the "
        .. "build under test"):format(check, dir)
    end
  end
  local p = assert(io.popen(("cd %s && %s%s probe.lua 2>&1"):format(quote(dir), as,
    quote(interpreter))))
  local output = p:read("a")
  p:close()
  return output
end

function helper.read_file(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("a")
  f:close()
  return data
end

--- A file's text, "" while it does not exist (yet).
function helper.text_of(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local data = f:read("a")
  f:close()
  return data
end

function helper.write_file(path, data)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
end

function helper.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- Lines of a report file, header included.
function helper.report_lines(path)
  local lines = {}
  for line in io.lines(path) do lines[#lines + 1] = line end
  return lines
end

------------------------------------------------------------------------------------------------
-- Frames

local function ipv4_bytes(text)
  local a, b, c, d = text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
end

--- Only the "x:x:x:x:x:x:x:x" and "prefix::suffix" forms the specs use.
local function ipv6_bytes(text)
  local head, tail = text:match("^(.-)::(.*)$")
  local groups = {}
  local function split(s)
    local out = {}
    for g in s:gmatch("[^:]+") do out[#out + 1] = tonumber(g, 16) end
    return out
  end
  if head then
    local h, t = split(head), split(tail)
    for _, g in ipairs(h) do groups[#groups + 1] = g end
    for _ = 1, 8 - #h - #t do groups[#groups + 1] = 0 end
    for _, g in ipairs(t) do groups[#groups + 1] = g end
  else
    groups = split(text)
  end
  local bytes = {}
  for i = 1, 8 do bytes[i] = string.pack(">I2", groups[i]) end
  return table.concat(bytes)
end

local PROTO = { TCP = 6, UDP = 17, ICMP = 1 }

--- The transport header (ports first) for TCP (20 bytes, flags PSH ACK unless given) or UDP
-- (8 bytes), or 8 ICMP bytes.
local function transport_header(proto, sport, dport, payload_length, tcp_flags)
  if proto == "TCP" then
    return string.pack(">I2I2I4I4I1I1I2I2I2", sport, dport, 1, 0, 0x50, tcp_flags or 0x18, 512, 0, 0)
  elseif proto == "UDP" then
    return string.pack(">I2I2I2I2", sport, dport, 8 + payload_length, 0)
  end
  return string.pack(">I1I1I2I4", 8, 0, 0, 0) -- ICMP echo request
end

--- An IPv4 or IPv6 packet (IPv6 when the address has a colon): { src=, dst=, sport=, dport=,
-- proto="TCP"|"UDP"|"ICMP", payload=N, id=N, fragment={offset=units, more=bool, id=N},
-- tcp_flags=N, l4=bytes (the header after IP as given, for any protocol: proto a number) }.
-- A fragment with offset > 0 carries no transport header, only payload.
function helper.ip_packet(spec)
  local proto = spec.proto or "TCP"
  local payload = string.rep("x", spec.payload or 0)
  local fragment = spec.fragment
  local l4 = payload
  if spec.l4 then
    l4 = spec.l4 .. payload
  elseif not fragment or fragment.offset == 0 then
    l4 = transport_header(proto, spec.sport or 0, spec.dport or 0, #payload, spec.tcp_flags) .. payload
  end
  if spec.src:find(":", 1, true) then
    local next_header = type(proto) == "number" and proto or proto == "ICMP" and 58 or PROTO[proto]
    local extension = ""
    if fragment then
      extension = string.pack(">I1I1I2I4", next_header, 0,
        (fragment.offset << 3) | (fragment.more and 1 or 0), fragment.id or 1)
      next_header = 44
    end
    return string.pack(">I4I2I1I1", 0x60000000, #extension + #l4, next_header, 64)
      .. ipv6_bytes(spec.src) .. ipv6_bytes(spec.dst) .. extension .. l4
  end
  local flags_offset = spec.fragment_offset or 0
  if fragment then flags_offset = (fragment.more and 0x2000 or 0) | fragment.offset end
  return string.pack(">I1I1I2I2I2I1I1I2", 0x45, 0, 20 + #l4, fragment and fragment.id or spec.id or 1,
    flags_offset, 64, type(proto) == "number" and proto or PROTO[proto], 0) .. ipv4_bytes(spec.src)
    .. ipv4_bytes(spec.dst) .. l4
end

--- An Ethernet frame around helper.ip_packet(spec), with spec.vlan tags (depth), or inside
-- spec.mpls labels (count), or a PPPoE session (spec.pppoe = true).
function helper.frame(spec)
  local ip = helper.ip_packet(spec)
  local v6 = spec.src:find(":", 1, true)
  local ethertype = v6 and 0x86dd or 0x0800
  local inner = ""
  if spec.pppoe then
    inner = string.pack(">I1I1I2I2I2", 0x11, 0, 0x42, #ip + 2, v6 and 0x0057 or 0x0021)
    ethertype = 0x8864
  elseif spec.mpls then
    for i = 1, spec.mpls do
      inner = inner .. string.pack(">I4", ((1000 + i) << 12) | (i == spec.mpls and 0x100 or 0) | 64)
    end
    ethertype = 0x8847
  end
  local tags = ""
  for _ = 1, spec.vlan or 0 do tags = tags .. string.pack(">I2I2", 0x8100, 7) end
  if #tags > 0 then
    -- the first tag's TPID takes the EtherType's place; the inner type follows the last tag
    tags = tags:sub(3) .. string.pack(">I2", ethertype)
    ethertype = 0x8100
  end
  return string.rep("\2", 6) .. string.rep("\4", 6) .. string.pack(">I2", ethertype) .. tags
    .. inner .. ip
end

--- An ARP request frame (not IP).
function helper.arp_frame()
  return string.rep("\255", 6) .. string.rep("\4", 6) .. string.pack(">I2", 0x0806)
    .. string.rep("\0", 28)
end

------------------------------------------------------------------------------------------------
-- pcap files

--- Writes a classic pcap. packets: { {sec=, usec=, data=, len=(wire length, default #data),
-- caplen=(bytes kept, default #data)} }. opts: linktype (default 1), nano, big_endian.
function helper.write_pcap(path, packets, opts)
  opts = opts or {}
  local e = opts.big_endian and ">" or "<"
  local magic = opts.nano and 0xa1b23c4d or 0xa1b2c3d4
  local parts = { string.pack(e .. "I4I2I2i4I4I4I4", magic, 2, 4, 0, 0, 262144,
    opts.linktype or 1) }
  for _, p in ipairs(packets) do
    local caplen = p.caplen or #p.data
    parts[#parts + 1] = string.pack(e .. "I4I4I4I4", p.sec, p.usec or 0, caplen,
      p.len or #p.data) .. p.data:sub(1, caplen)
  end
  helper.write_file(path, table.concat(parts))
end

--- Writes a pcapng file: its blocks in order, each one of
--   { section = true, big_endian = bool }: a Section Header Block (one, little-endian, is written
--     first unless the first block is one);
--   { linktype = N, snaplen = N (262144), tsresol = byte, tsoffset = seconds }: an Interface
--     Description Block (options only when given);
--   { interface = N (0-based, default 0), sec =, usec = } or { interface =, ts = units }, with
--     data =, caplen = (#data), len = (#data): an Enhanced Packet Block (sec/usec for the
--     default microsecond resolution, ts a count of the interface's units);
--   the same with obsolete = true: an obsolete Packet Block (2-byte interface, drops count);
--   { simple = true, data =, len = }: a Simple Packet Block (the first interface's, no time);
--   { block = type, body = bytes }: any other block.
function helper.write_pcapng(path, blocks)
  local e = "<"
  local function block(kind, body)
    body = body .. string.rep("\0", (4 - #body % 4) % 4)
    return string.pack(e .. "I4I4", kind, #body + 12) .. body .. string.pack(e .. "I4", #body + 12)
  end
  local function option(code, value)
    return string.pack(e .. "I2I2", code, #value) .. value .. string.rep("\0", (4 - #value % 4) % 4)
  end
  local parts = {}
  if not (blocks[1] and blocks[1].section) then
    blocks = table.move(blocks, 1, #blocks, 2, { { section = true } })
  end
  for _, p in ipairs(blocks) do
    if p.section then
      e = p.big_endian and ">" or "<"
      parts[#parts + 1] = block(0x0A0D0D0A, string.pack(e .. "I4I2I2i8", 0x1A2B3C4D, 1, 0, -1))
    elseif p.linktype then
      local options = ""
      if p.tsresol then options = options .. option(9, string.char(p.tsresol)) end
      if p.tsoffset then options = options .. option(14, string.pack(e .. "i8", p.tsoffset)) end
      if options ~= "" then options = options .. option(0, "") end
      parts[#parts + 1] = block(1, string.pack(e .. "I2I2I4", p.linktype, 0, p.snaplen or 262144)
        .. options)
    elseif p.simple then
      parts[#parts + 1] = block(3, string.pack(e .. "I4", p.len or #p.data) .. p.data)
    elseif p.block then
      parts[#parts + 1] = block(p.block, p.body or "")
    else
      local ts = p.ts or (p.sec * 1000000 + (p.usec or 0))
      local caplen = p.caplen or #p.data
      local head = p.obsolete and string.pack(e .. "I2I2", p.interface or 0, 0)
        or string.pack(e .. "I4", p.interface or 0)
      parts[#parts + 1] = block(p.obsolete and 2 or 6, head .. string.pack(e .. "I4I4I4I4",
        ts >> 32, ts & 0xffffffff, caplen, p.len or #p.data) .. p.data:sub(1, caplen))
    end
  end
  helper.write_file(path, table.concat(parts))
end

--- A deterministic synthetic capture of `count` packets over `flows` flows (IPv4/IPv6,
-- TCP/UDP, some VLAN-tagged, some ARP), plus the report it must give, computed here from what
-- was written (independently of the engine): returns the sorted expected rows (without header).
function helper.synthetic_capture(path, count, flows)
  local state = 12345
  local function random(n) -- a small LCG: the same file every run
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n
  end
  local flow_specs = {}
  for i = 1, flows do
    local v6 = i % 7 == 0
    flow_specs[i] = {
      src = v6 and ("2001:db8::" .. string.format("%x", i)) or ("10.0." .. (i // 250) .. "." .. (i % 250 + 1)),
      dst = v6 and "2001:db8:ffff::1" or ("192.168." .. (i % 200) .. ".1"),
      sport = 1024 + i, dport = (i % 3 == 0) and 53 or 443,
      proto = (i % 5 == 0) and "UDP" or "TCP",
      vlan = (i % 11 == 0) and 1 or 0,
    }
  end
  local packets, totals = {}, {}
  local sec, usec = 1700000000, 0
  for n = 1, count do
    usec = usec + 7 + random(50)
    if usec >= 1000000 then sec, usec = sec + 1, usec - 1000000 end
    if n % 97 == 0 then
      packets[n] = { sec = sec, usec = usec, data = helper.arp_frame() }
    else
      local spec = flow_specs[1 + random(flows)]
      spec.payload = random(3) == 0 and 1400 or random(100)
      local data = helper.frame(spec)
      packets[n] = { sec = sec, usec = usec, data = data }
      local key = table.concat({ spec.src, spec.sport, spec.dst, spec.dport }, "; ")
      local ms = sec * 1000 + usec // 1000
      local t = totals[key]
      if not t then
        t = { first = ms, last = ms, bytes = 0, packets = 0, protocols = {} }
        totals[key] = t
      end
      t.last = ms
      t.bytes = t.bytes + #data
      t.packets = t.packets + 1
      t.protocols[spec.proto] = true
    end
  end
  helper.write_pcap(path, packets)
  local rows = {}
  for key, t in pairs(totals) do
    local protocols = (t.protocols.TCP and t.protocols.UDP) and "[TCP, UDP]"
      or (t.protocols.TCP and "[TCP]" or "[UDP]")
    rows[#rows + 1] = table.concat({ key, protocols, t.first, t.last, t.bytes, t.packets }, "; ")
  end
  table.sort(rows)
  return rows
end

--- A capture of `count` packets (a multiple of 256) that is quick to write and slow enough to
-- read that a capture of it is still running long after start() returns (about 0.1 s for a
-- million packets in a release build): 256 UDP flows, one block of 256 records written over and
-- over. Returns the report it must give: a table of rows (without header) by flow key
-- ("source ip; source port; destination ip; destination port"), each { packets =, bytes = }.
function helper.busy_capture(path, count)
  assert(count % 256 == 0, "busy_capture writes whole blocks of 256 packets")
  local records, rows = {}, {}
  for i = 0, 255 do
    local spec = { src = "10.1." .. (i // 100) .. "." .. (i % 100 + 1), dst = "192.0.2.1",
      sport = 2000 + i, dport = 53, proto = "UDP", payload = i % 4 }
    local data = helper.frame(spec)
    records[#records + 1] = string.pack("<I4I4I4I4", 1700000000, 0, #data, #data) .. data
    rows[table.concat({ spec.src, spec.sport, spec.dst, spec.dport }, "; ")] =
      { packets = count // 256, bytes = count // 256 * #data }
  end
  helper.write_file(path, string.pack("<I4I2I2i4I4I4I4", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1)
    .. string.rep(table.concat(records), count // 256))
  return rows
end

--- Rows of a report whose header must be `header` (dropped), sorted as text: for set
-- comparisons.
function helper.sorted_rows_under(header, path)
  local lines = helper.report_lines(path)
  assert(lines[1] == header, "report header: " .. tostring(lines[1]))
  table.remove(lines, 1)
  table.sort(lines)
  return lines
end

--- Rows of a report with the seed's header (dropped), sorted as text. Extra arguments (the stats
-- run_file returns beside the path) are ignored.
function helper.sorted_rows(path) return helper.sorted_rows_under(helper.header, path) end

--- Runs a capture file to its end and returns the report path and the stats.
function helper.run_file(capture_path, opts)
  opts = opts or {}
  local nasoone = require("nasoone")
  local dir = opts.dir or helper.tmpdir()
  local output = dir .. (opts.format == "jsonl" and "/report.jsonl" or "/report.csv")
  local cap = nasoone.new()
  assert(cap:set_capture_file(capture_path))
  assert(cap:set_output(output, opts.format and { format = opts.format } or nil))
  assert(cap:set_timeout(opts.interval or 0.05))
  if opts.parsers then assert(cap:set_parsers(opts.parsers)) end
  if opts.filter then assert(cap:set_raw_filter(opts.filter)) end
  if opts.fragments then assert(cap:set_fragments(opts.fragments)) end
  if opts.on_report then cap:on_report(opts.on_report) end
  assert(cap:start())
  assert(cap:wait(60), "capture did not finish within 60 s")
  local stats = assert(cap:stop())
  cap:close()
  return output, stats
end

return helper
