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

function M.filter()
  return setmetatable({
    hosts = {}, src_hosts = {}, dst_hosts = {},
    ports = {}, src_ports = {}, dst_ports = {},
  }, Filter)
end

return M
