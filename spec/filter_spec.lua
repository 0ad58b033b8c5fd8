--- The filter builder (nasoone-lib's Filter): its BPF text, its precedence rules, its argument
-- checks, and what it selects on real captures, VLAN-tagged ones included.
local helper = require("spec.helper")
local nasoone = require("nasoone")

local function vlan_wrapped(e)
  return ("%s or (vlan and (%s or (vlan and (%s or (vlan and (%s))))))"):format(e, e, e, e)
end

describe("nasoone.filter()", function()
  after_each(helper.cleanup)

  it("is empty (everything) until something is added", function()
    assert.equals("", tostring(nasoone.filter()))
    assert.equals("", tostring(nasoone.filter():add_port(1):clear()))
  end)

  it("writes hosts, ports and protocol as nasoone-lib did, and also matches behind VLAN tags",
    function()
      assert.equals(vlan_wrapped("((port 443) and tcp)"),
        tostring(nasoone.filter():tcp_only():add_port(443)))
      assert.equals("(host 192.0.2.7 or host 2001:db8::1) and (port 53) and udp",
        nasoone.filter():add_host("192.0.2.7"):add_host("2001:db8::1"):add_port(53)
          :udp_only():bpf { vlan = false })
      assert.equals("(src host 10.0.0.1) and (dst host 10.0.0.2) and (src port 1 or src port 2) "
        .. "and (dst port 3)", nasoone.filter():add_src_host("10.0.0.1"):add_dst_host("10.0.0.2")
        :add_src_port(1):add_src_port(2):add_dst_port(3):bpf { vlan = false })
    end)

  it("keeps hosts and source/destination hosts exclusive, the same for ports", function()
    local f = nasoone.filter():add_src_host("10.0.0.1"):add_dst_host("10.0.0.2")
    f:add_host("10.0.0.3")
    assert.equals("(host 10.0.0.3)", f:bpf { vlan = false })
    f:add_dst_host("10.0.0.4")
    assert.equals("(dst host 10.0.0.4)", f:bpf { vlan = false })
    local p = nasoone.filter():add_src_port(1):add_dst_port(2):add_port(3)
    assert.equals("(port 3)", p:bpf { vlan = false })
    p:add_src_port(4)
    assert.equals("(src port 4)", p:bpf { vlan = false })
  end)

  it("has tcp_only, udp_only, any_protocol and the clear_ calls", function()
    local f = nasoone.filter():tcp_only()
    assert.equals("tcp", f:bpf { vlan = false })
    assert.equals("udp", f:udp_only():bpf { vlan = false })
    assert.equals("", f:any_protocol():bpf { vlan = false })
    f:add_host("::1"):add_port(7):tcp_only()
    assert.equals("(port 7) and tcp", f:clear_host():bpf { vlan = false })
    assert.equals("tcp", f:clear_port():bpf { vlan = false })
    f:add_src_host("::1"):add_dst_host("::2"):add_src_port(1):add_dst_port(2)
    assert.equals("(dst host ::2) and (dst port 2) and tcp",
      f:clear_src_host():clear_src_port():bpf { vlan = false })
    assert.equals("tcp", f:clear_dst_host():clear_dst_port():bpf { vlan = false })
    assert.equals("", f:clear_protocol():bpf { vlan = false })
  end)

  it("does not repeat an entry added twice", function()
    assert.equals("(port 80)", nasoone.filter():add_port(80):add_port(80):bpf { vlan = false })
  end)

  it("rejects bad addresses and ports with a clear error", function()
    for _, bad in ipairs({ "256.1.1.1", "1.2.3", "example.com", "1::2::3", "12345::", "", 42 }) do
      assert.has_error(function() nasoone.filter():add_host(bad) end,
        ("nasoone: %q is not an IPv4 or IPv6 address"):format(tostring(bad)))
    end
    for _, bad in ipairs({ -1, 65536, 1.5, "80" }) do
      assert.has_error(function() nasoone.filter():add_port(bad) end,
        ("nasoone: %s is not a port number (0-65535)"):format(tostring(bad)))
    end
    for _, good in ipairs({ "0.0.0.0", "::", "::ffff:1.2.3.4", "fe80::1", "1:2:3:4:5:6:7:8" }) do
      assert.has_no_error(function() nasoone.filter():add_src_host(good) end)
    end
  end)

  it("every form compiles with libpcap, on Ethernet and on other link types", function()
    local f = nasoone.filter():add_host("::ffff:1.2.3.4"):add_port(1):udp_only()
    local eth = nasoone.new()
    assert(eth:set_capture_file("examples/data/sample.pcap"))
    assert.equals("EN10MB", eth:datalink())
    assert.equals(eth, eth:set_filter(f))
    local ppp = nasoone.new()
    assert(ppp:set_capture_file("spec/fixtures/ppp.pcap"))
    assert.equals("PPP", ppp:datalink())
    assert.equals(ppp, ppp:set_filter(f)) -- no vlan keyword there: libpcap would refuse it
    assert.is_nil(nasoone.new():datalink())
  end)

  it("selects the same rows as the equivalent raw filter", function()
    local f = nasoone.filter():add_host("140.82.112.22"):tcp_only()
    local dir = helper.tmpdir()
    local cap = nasoone.new()
    assert(cap:set_capture_file("examples/data/sample.pcap"))
    assert(cap:set_output(dir .. "/built.csv"))
    assert(cap:set_filter(f))
    assert(cap:start())
    cap:wait()
    cap:stop()
    local raw = helper.run_file("examples/data/sample.pcap", { filter = "host 140.82.112.22 and tcp" })
    assert.same(helper.sorted_rows(raw), helper.sorted_rows(dir .. "/built.csv"))
    assert.equals(2, #helper.sorted_rows(raw))
  end)

  local shared = helper.shared_dir()
  for _, case in ipairs({ { "zeek-http-vlan-0", 80 }, { "zeek-vlan-qinqinq", 80 },
    { "zeek-q-in-q", 9875 }, { "sv-detect-pcre-04", 93 } }) do
    local name, port = case[1], case[2]
    it(("filters the VLAN-tagged %s by port %d"):format(name, port), function()
      if not shared then
        pending("../shared/pcaps is not beside this checkout")
        return
      end
      local capture = shared .. "/pcaps/" .. name .. ".pcap"
      local dir = helper.tmpdir()
      local cap = nasoone.new()
      assert(cap:set_capture_file(capture))
      assert(cap:set_output(dir .. "/r.csv"))
      assert(cap:set_filter(nasoone.filter():add_port(port)))
      assert(cap:start())
      cap:wait()
      cap:stop()
      local expected = {}
      for _, row in ipairs(helper.sorted_rows(shared .. "/pcaps/" .. name .. ".expected.csv")) do
        local sport, dport = row:match("^[^;]+; (%d+); [^;]+; (%d+);")
        if tonumber(sport) == port or tonumber(dport) == port then expected[#expected + 1] = row end
      end
      assert.is_true(#expected > 0)
      assert.same(expected, helper.sorted_rows(dir .. "/r.csv"))
      -- what the VLAN wrapping is for: plain "port N" sees no tagged frame at all
      assert.same({}, helper.sorted_rows(helper.run_file(capture, { filter = "port " .. port })))
    end)
  end
end)
