--- nasoone: per-connection traffic reports from libpcap captures.
--
-- The C module nasoone.core gives the mechanism (the capture object and its threads); this file
-- gives the public face: the constructor, device listing and the filter builder, plus
-- conveniences on the capture methods.
local core = require("nasoone.core")

local M = {
  _VERSION = "nasoone scm",
  pcap_version = core.pcap_version,
  new = core.new,
  devices = core.devices,
  default_device = core.default_device,
}

local Capture = core.Capture

--- cap:set_filter(filter): installs a filter built with nasoone.filter() (or any value whose
-- tostring is a BPF expression). Returns cap, or nil, message like set_raw_filter.
function Capture:set_filter(filter)
  return self:set_raw_filter(tostring(filter))
end

--- The filter builder of nasoone-lib: hosts, ports and a protocol choice, combined as
-- (any host) and (any src host) and (any dst host) and (any port) and (any src port) and
-- (any dst port) and protocol. Each list is an "or" of its entries. Empty lists match all.
local Filter = {}
Filter.__index = Filter

local function is_ip_address(text)
  if text:match("^%d+%.%d+%.%d+%.%d+$") then
    for part in text:gmatch("%d+") do
      if tonumber(part) > 255 then return false end
    end
    return true
  end
  return text:find(":", 1, true) ~= nil and text:match("^[%x:%.]+$") ~= nil
end

local function add_host(self, list, address)
  if type(address) ~= "string" or not is_ip_address(address) then
    error(("nasoone: %q is not an IPv4 or IPv6 address"):format(tostring(address)), 3)
  end
  table.insert(self[list], address)
  return self
end

local function add_port(self, list, port)
  if math.type(port) ~= "integer" or port < 0 or port > 65535 then
    error(("nasoone: %s is not a port number (0-65535)"):format(tostring(port)), 3)
  end
  table.insert(self[list], port)
  return self
end

function Filter:add_host(address) return add_host(self, "hosts", address) end
function Filter:add_src_host(address) return add_host(self, "src_hosts", address) end
function Filter:add_dst_host(address) return add_host(self, "dst_hosts", address) end
function Filter:add_port(port) return add_port(self, "ports", port) end
function Filter:add_src_port(port) return add_port(self, "src_ports", port) end
function Filter:add_dst_port(port) return add_port(self, "dst_ports", port) end
function Filter:tcp_only() self.protocol = "tcp"; return self end
function Filter:udp_only() self.protocol = "udp"; return self end
function Filter:any_protocol() self.protocol = nil; return self end
function Filter:clear_hosts() self.hosts, self.src_hosts, self.dst_hosts = {}, {}, {}; return self end
function Filter:clear_ports() self.ports, self.src_ports, self.dst_ports = {}, {}, {}; return self end
function Filter:clear() return self:clear_hosts():clear_ports():any_protocol() end

local function any_of(prefix, values)
  if #values == 0 then return nil end
  local terms = {}
  for i, v in ipairs(values) do terms[i] = prefix .. " " .. tostring(v) end
  return "(" .. table.concat(terms, " or ") .. ")"
end

--- The BPF expression. It matches the traffic untagged and behind one or more 802.1Q tags.
function Filter:__tostring()
  local parts = {}
  local function add(term) if term then parts[#parts + 1] = term end end
  add(any_of("host", self.hosts))
  add(any_of("src host", self.src_hosts))
  add(any_of("dst host", self.dst_hosts))
  add(any_of("port", self.ports))
  add(any_of("src port", self.src_ports))
  add(any_of("dst port", self.dst_ports))
  add(self.protocol or "(tcp or udp)")
  local expression = table.concat(parts, " and ")
  -- "vlan" moves the offsets past one tag for the rest of the expression
  return ("(%s) or (vlan and %s)"):format(expression, expression)
end

function M.filter()
  return setmetatable({
    hosts = {}, src_hosts = {}, dst_hosts = {},
    ports = {}, src_ports = {}, dst_ports = {},
  }, Filter)
end

return M
