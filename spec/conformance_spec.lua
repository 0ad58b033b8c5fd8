--- Reports equal the reference reports: the captures shipped in examples/data and spec/fixtures.
-- The captures of ../shared/pcaps are conformance_shared_spec.lua's.
local helper = require("spec.helper")

describe("conformance", function()
  teardown(helper.cleanup)

  it("examples/data/sample.pcap gives examples/data/sample.expected.csv", function()
    local output = helper.run_file("examples/data/sample.pcap")
    assert.same(helper.sorted_rows("examples/data/sample.expected.csv"), helper.sorted_rows(output))
  end)

  it("the nanosecond, big-endian copies of a capture give the same report", function()
    local dir = helper.tmpdir()
    -- re-encode sample.pcap: same packets, nanosecond fractions, big-endian headers
    local data = helper.read_file("examples/data/sample.pcap")
    local packets, pos = {}, 25
    while pos <= #data do
      local sec, usec, caplen, len, next_pos = string.unpack("<I4I4I4I4", data, pos)
      packets[#packets + 1] = { sec = sec, usec = usec * 1000 + 999, len = len,
        data = data:sub(next_pos, next_pos + caplen - 1) }
      pos = next_pos + caplen
    end
    helper.write_pcap(dir .. "/nano-be.pcap", packets, { nano = true, big_endian = true })
    local output = helper.run_file(dir .. "/nano-be.pcap")
    assert.same(helper.sorted_rows("examples/data/sample.expected.csv"), helper.sorted_rows(output))
  end)

  -- captures made for the encapsulations no shared capture has (spec/fixtures/make_fixtures.lua),
  -- with reports from ORACLE_ANY_LINK=1 oracle.sh
  for _, name in ipairs({ "ppp.pcap", "pppoe-link.pcap", "pppoe-compressed.pcap", "nflog.pcap",
    "chdlc.pcap", "pppoe-mpls-ethernet.pcap", "fragments.pcap", "live.pcap",
    -- pcapng files whose interfaces differ in link type, snapshot length, time resolution and
    -- offset, and byte order (sections); simple and obsolete packet blocks
    "interfaces.pcapng", "snaplens.pcapng", "merged.pcapng" }) do
    it("spec/fixtures/" .. name .. " gives its expected report", function()
      local output = helper.run_file("spec/fixtures/" .. name)
      assert.same(helper.sorted_rows("spec/fixtures/" .. name:match("^(.*)%.") .. ".expected.csv"),
        helper.sorted_rows(output))
    end)
  end
end)
