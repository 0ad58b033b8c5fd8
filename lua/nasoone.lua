--- nasoone: per-connection traffic reports from libpcap captures.
--
-- The C module nasoone.core gives the mechanism (the capture object and its threads); this file
-- gives the public face: the constructor, device listing and the filter builder, plus
-- conveniences on the capture methods.
local core = require("nasoone.core")

local M = {
  _VERSION = "nasoone " .. core.version,
  version = core.version,
  pcap_version = core.pcap_version,
  report_header = core.report_header,
  report_key = core.report_key,
  new = core.new,
  devices = core.devices,
  default_device = core.default_device,
  drop_privileges = core.drop_privileges,
  community_id = core.community_id,
}

local Capture = core.Capture

--- cap:set_filter(filter): installs a filter built with nasoone.filter(), or a BPF expression
-- (a string, or a value whose __tostring gives one). Returns cap, or nil, message like
-- set_raw_filter; any other value is misuse, raised like a wrong type to set_raw_filter. VLAN
-- tags exist only on Ethernet: on other link types the builder's expression leaves them out.
function Capture:set_filter(filter)
  local meta = getmetatable(filter)
  if meta == M.Filter then
    return self:set_raw_filter(filter:bpf { vlan = self:datalink() == "EN10MB" })
  end
  if type(filter) ~= "string" and not (type(meta) == "table" and meta.__tostring) then
    error(("bad argument #1 to 'set_filter' (filter or string expected, got %s)")
      :format(type(filter)), 2)
  end
  return self:set_raw_filter(tostring(filter))
end

--- The filter builder of nasoone-lib, with its precedence rules: hosts (either direction)
-- exclude source/destination hosts and the other way round, the same for ports; entries of one
-- kind are or-ed, kinds are and-ed; tcp_only / udp_only / any_protocol choose the protocol.
-- Every method returns the filter, so calls chain; tostring(filter) is the BPF expression.
local Filter = {}
Filter.__index = Filter
local VLAN_DEPTH = 3

local function is_ipv4(text)
  local parts = { text:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
  if #parts ~= 4 then return false end
  for _, part in ipairs(parts) do
    if #part > 3 or tonumber(part) > 255 then return false end
  end
  return true
end

local function is_ipv6(text)
  if not text:match("^[%x:%.]+$") or text:find(":::", 1, true) then return false end
  local head, tail = text:match("^(.-)::(.*)$")
  local double = head ~= nil
  local groups = 0
  for _, half in ipairs(double and { head, tail } or { text }) do
    if half ~= "" then
      local fields = {}
      for field in (half .. ":"):gmatch("([^:]*):") do fields[#fields + 1] = field end
      for i, field in ipairs(fields) do
        if i == #fields and field:find(".", 1, true) and half == (double and tail or text) then
          if not is_ipv4(field) then return false end
          groups = groups + 2
        elseif not field:match("^%x%x?%x?%x?$") then
          return false
        else
          groups = groups + 1
        end
      end
    end
  end
  if double then return groups <= 7 end
  return groups == 8
end

local function check_address(address)
  if type(address) ~= "string" or not (is_ipv4(address) or is_ipv6(address)) then
    error(("nasoone: %q is not an IPv4 or IPv6 address"):format(tostring(address)), 3)
  end
  return address
end

local function check_port(port)
  if math.type(port) ~= "integer" or port < 0 or port > 65535 then
    error(("nasoone: %s is not a port number (0-65535)"):format(tostring(port)), 3)
  end
  return port
end

local function add(list, value)
  for _, v in ipairs(list) do
    if v == value then return end
  end
  list[#list + 1] = value
end

-- add_* methods: the list each one adds to, the lists it empties (nasoone-lib's precedence
-- rules), and how its argument is checked.
local ADDERS = {
  add_host = { "hosts", { "src_hosts", "dst_hosts" }, check_address },
  add_src_host = { "src_hosts", { "hosts" }, check_address },
  add_dst_host = { "dst_hosts", { "hosts" }, check_address },
  add_port = { "ports", { "src_ports", "dst_ports" }, check_port },
  add_src_port = { "src_ports", { "ports" }, check_port },
  add_dst_port = { "dst_ports", { "ports" }, check_port },
}
for name, rule in pairs(ADDERS) do
  local list, excluded, check = rule[1], rule[2], rule[3]
  Filter[name] = function(self, value)
    add(self[list], check(value))
    for _, other in ipairs(excluded) do self[other] = {} end
    return self
  end
end

function Filter:tcp_only() self.protocol = "tcp"; return self end
function Filter:udp_only() self.protocol = "udp"; return self end
function Filter:any_protocol() self.protocol = nil; return self end
Filter.clear_protocol = Filter.any_protocol
-- nasoone-lib's names, for scripts ported from it
Filter.set_tcp_only = Filter.tcp_only
Filter.set_udp_only = Filter.udp_only
function Filter:clear_host() self.hosts = {}; return self end
function Filter:clear_src_host() self.src_hosts = {}; return self end
function Filter:clear_dst_host() self.dst_hosts = {}; return self end
function Filter:clear_port() self.ports = {}; return self end
function Filter:clear_src_port() self.src_ports = {}; return self end
function Filter:clear_dst_port() self.dst_ports = {}; return self end
function Filter:clear_hosts() self.hosts, self.src_hosts, self.dst_hosts = {}, {}, {}; return self end
function Filter:clear_ports() self.ports, self.src_ports, self.dst_ports = {}, {}, {}; return self end
function Filter:clear() return self:clear_hosts():clear_ports():any_protocol() end

local function any_of(prefix, values)
  if #values == 0 then return nil end
  local terms = {}
  for i, v in ipairs(values) do terms[i] = prefix .. " " .. tostring(v) end
  return "(" .. table.concat(terms, " or ") .. ")"
end

--- The BPF expression: "" (everything) for an empty filter. Otherwise, unless opts.vlan is
-- false, the expression E is wrapped as "(E) or (vlan and ((E) or (vlan and (...))))" so it also
-- matches frames behind up to VLAN_DEPTH 802.1Q/802.1ad tags: each "vlan" moves libpcap's
-- offsets past one tag for the rest of the expression. tostring(filter) is filter:bpf().
function Filter:bpf(opts)
  local parts = {}
  local function put(term) if term then parts[#parts + 1] = term end end
  put(any_of("host", self.hosts))
  put(any_of("src host", self.src_hosts))
  put(any_of("dst host", self.dst_hosts))
  put(any_of("port", self.ports))
  put(any_of("src port", self.src_ports))
  put(any_of("dst port", self.dst_ports))
  put(self.protocol)
  if #parts == 0 then return "" end
  local e = table.concat(parts, " and ")
  if opts and opts.vlan == false then return e end
  if #parts > 1 or not e:match("^%(.*%)$") then e = "(" .. e .. ")" end
  local expression = e
  for _ = 1, VLAN_DEPTH do
    expression = ("%s or (vlan and (%s))"):format(e, expression)
  end
  return expression
end

function Filter:__tostring() return self:bpf() end

M.Filter = Filter

--- Prometheus text (exposition format 0.0.4) of a capture's stats: counters named
-- nasoone_..._total, gauges for what goes up and down, HELP and TYPE lines, labels for the
-- reasons, threads and exports. `labels` (optional) are added to every sample, e.g.
-- { capture = "wan" }. What node_exporter's textfile collector and promtool read.
local function label_value(value)
  return (tostring(value):gsub("[\\\n\"]", { ["\\"] = "\\\\", ["\n"] = "\\n", ['"'] = '\\"' }))
end

function M.metrics(stats, labels)
  local common = {}
  for name, value in pairs(labels or {}) do
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      error(("bad argument #2 to 'metrics' (label name %q is not a Prometheus name)"):format(tostring(name)), 2)
    end
    common[#common + 1] = ('%s="%s"'):format(name, label_value(value))
  end
  table.sort(common)
  local out = {}
  local function family(name, kind, help, samples)
    out[#out + 1] = ("# HELP %s %s\n# TYPE %s %s\n"):format(name, help, name, kind)
    for _, sample in ipairs(samples) do
      local set = {}
      for _, l in ipairs(common) do set[#set + 1] = l end
      for _, pair in ipairs(sample[2] or {}) do set[#set + 1] = ('%s="%s"'):format(pair[1], label_value(pair[2])) end
      local value = sample[1] or 0
      if type(value) == "boolean" then value = value and 1 or 0 end
      local text = math.type(value) == "integer" and ("%d"):format(value) or ("%.17g"):format(value)
      out[#out + 1] = ("%s%s %s\n"):format(name, #set > 0 and "{" .. table.concat(set, ",") .. "}" or "", text)
    end
  end
  local function by(map, label, names)
    local samples = {}
    for _, key in ipairs(names) do samples[#samples + 1] = { map[key] or 0, { { label, key } } } end
    return samples
  end
  family("nasoone_packets_received_total", "counter", "Packets read from the capture.", { { stats.received } })
  family("nasoone_packets_counted_total", "counter", "Packets counted in a report row.", { { stats.counted } })
  family("nasoone_packets_skipped_total", "counter", "Packets not counted, by reason.",
    by(stats.skipped, "reason", { "not_ip", "not_tcp_udp", "fragment", "truncated", "invalid", "unsupported_link" }))
  family("nasoone_packets_dropped_total", "counter",
    "Packets lost: by the kernel (ps_drop), by the interface (ps_ifdrop), by nasoone (every batch in use).",
    by({ kernel = stats.dropped, interface = stats.if_dropped, nasoone = stats.queue_dropped }, "by",
      { "kernel", "interface", "nasoone" }))
  family("nasoone_packets_paused_discarded_total", "counter", "Packets read while paused, not counted.",
    { { stats.paused_discarded } })
  family("nasoone_fragments_attributed_total", "counter", "Later IP fragments counted in their datagram's row.",
    { { stats.fragments_attributed } })
  family("nasoone_anomalies_total", "counter", "Capture records whose header cannot be true, by kind.",
    by(stats.anomalies, "kind", { "time_out_of_range", "time_fraction_out_of_range", "wire_length_below_captured" }))
  family("nasoone_report_rows", "gauge", "Rows in the report.", { { stats.flows } })
  family("nasoone_report_writes_total", "counter", "Report file rewrites.", { { stats.reports_written } })
  family("nasoone_report_current", "gauge", "1 when the report file holds the latest report.",
    { { stats.report_current } })
  family("nasoone_memory_bytes", "gauge", "Memory of the flow tables, by table.",
    by({ report = stats.memory_bytes, lifecycle = stats.table_memory_bytes }, "table", { "report", "lifecycle" }))
  family("nasoone_rows_held", "gauge", "Flow lifecycle: rows held now.", { { stats.rows_held } })
  family("nasoone_rows_held_peak", "gauge", "Flow lifecycle: the most rows held at once.", { { stats.rows_peak } })
  family("nasoone_rows_ended_total", "counter", "Flow lifecycle: rows that left or made a record, by reason.",
    by(stats.rows_ended, "reason", { "idle", "active", "end", "capacity" }))
  family("nasoone_records_total", "counter", "Flow records made.", { { stats.records } })
  local sent, dropped, errors = {}, {}, {}
  for i, e in ipairs(stats.exports or {}) do
    local l = { { "export", i }, { "kind", e.kind }, { "target", e.target } }
    sent[#sent + 1], dropped[#dropped + 1], errors[#errors + 1] = { e.sent, l }, { e.dropped, l }, { e.errors, l }
  end
  if stats.devices then -- several devices: each one's packets
    local read, lost = {}, {}
    for _, d in ipairs(stats.devices) do
      read[#read + 1] = { d.received, { { "device", d.name } } }
      for _, pair in ipairs({ { "kernel", d.dropped }, { "interface", d.if_dropped } }) do
        lost[#lost + 1] = { pair[2], { { "device", d.name }, { "by", pair[1] } } }
      end
    end
    family("nasoone_device_packets_received_total", "counter", "Packets read from each device.", read)
    family("nasoone_device_packets_dropped_total", "counter",
      "Packets each device lost: by the kernel (ps_drop), by the interface (ps_ifdrop).", lost)
  end
  family("nasoone_export_records_sent_total", "counter", "Flow records an export handed on.", sent)
  family("nasoone_export_records_dropped_total", "counter", "Flow records an export lost.", dropped)
  family("nasoone_export_errors_total", "counter", "Failed operations of an export.", errors)
  family("nasoone_file_read_bytes_total", "counter", "Bytes of the capture files read.", { { stats.file_read } })
  family("nasoone_file_size_bytes", "gauge", "Size of the capture files (0 for a pipe or a device).",
    { { stats.file_size } })
  family("nasoone_cpu_seconds_total", "counter", "CPU time of the capture's threads, by thread.",
    by(stats.cpu, "thread", { "reader", "parsers", "writer", "keeper", "exporter" }))
  local states = {}
  for _, state in ipairs({ "initial", "runnable", "running", "paused", "finished", "stopped" }) do
    states[#states + 1] = { stats.state == state, { { "state", state } } }
  end
  family("nasoone_state", "gauge", "The capture's state: 1 for the one it is in.", states)
  family("nasoone_error", "gauge", "1 once an error lost data or ended the capture.", { { stats.error ~= nil } })
  return table.concat(out)
end

--- cap:metrics([labels]): M.metrics of the capture's stats now.
function Capture:metrics(labels)
  return M.metrics(self:stats(), labels)
end

function M.filter()
  return setmetatable({
    hosts = {}, src_hosts = {}, dst_hosts = {},
    ports = {}, src_ports = {}, dst_ports = {},
  }, Filter)
end

return M
