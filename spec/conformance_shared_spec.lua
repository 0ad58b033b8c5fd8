--- Reports equal the reference reports of every capture in ../shared/pcaps (NASOONE_SHARED
-- names another place), which CI has beside the checkout. Without it this spec says pending;
-- run by ctest (NASOONE_SKIP_CODE set) it exits with that code instead, which ctest shows as
-- "Skipped", not "Passed": a run that compared nothing does not look like one that conformed.
local helper = require("spec.helper")

local shared = helper.shared_dir()
if not shared then
  local why = (os.getenv("NASOONE_SHARED") or "../shared") .. "/pcaps is not there: the shared "
    .. "captures are skipped (CI has them; set NASOONE_SHARED=/path/to/shared to run them)"
  local code = tonumber(os.getenv("NASOONE_SKIP_CODE") or "")
  if code then
    io.stderr:write("conformance_shared: " .. why .. "\n")
    os.exit(code, true)
  end
  describe("conformance with ../shared", function()
    it("compares every shared capture", function() pending(why) end)
  end)
  return
end

describe("conformance with ../shared", function()
  teardown(helper.cleanup)

  local listing = assert(io.popen("ls " .. shared .. "/pcaps/*.pcap " .. shared .. "/pcaps/*.pcapng"))
  local count = 0
  for capture in listing:lines() do
    count = count + 1
    local name = capture:match("([^/]+)%.pcapn?g?$")
    it(name .. " gives " .. name .. ".expected.csv", function()
      local output = helper.run_file(capture, { parsers = 2 })
      local expected = capture:gsub("%.pcapn?g?$", ".expected.csv")
      local p = io.popen(("sh '%s/tools/compare.sh' '%s' '%s' 2>&1"):format(shared, expected, output))
      local diff = p:read("a")
      local ok = p:close()
      assert(ok, "compare.sh " .. expected .. " " .. output .. ":\n" .. diff)
    end)
  end
  listing:close()

  it("has captures to compare", function()
    assert.is_true(count > 0, shared .. "/pcaps holds no capture")
  end)
end)
