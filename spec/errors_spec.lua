--- One error rule for every call: misuse (a wrong type, a value out of range, an unknown
-- option) raises with the argument's position, as luaL_argerror words it; a failure of the
-- environment or of the state returns nil, "nasoone: ...", code, the code a stable string.
local helper = require("spec.helper")
local nasoone = require("nasoone")

--- Asserts the nil, message, code shape.
local function fails(code, pattern, ok, message, got_code, ...)
  assert.is_nil(ok)
  assert.is_string(message)
  assert.matches("^nasoone: ", message)
  assert.matches(pattern, message)
  assert.equals(code, got_code)
  assert.equals(0, select("#", ...))
end

--- Asserts that fn raises "bad argument #position to 'name' (...pattern...)".
local function raises(position, name, pattern, fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  assert.matches("bad argument #" .. position .. " to '" .. name .. "' %(.*" .. pattern, err)
end

describe("the error rule", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  teardown(helper.cleanup)

  local function runnable()
    local cap = nasoone.new()
    assert(cap:set_capture_file("examples/data/sample.pcap"))
    return cap
  end

  describe("misuse raises with the argument's position", function()
    it("wrong types", function()
      local cap = nasoone.new()
      raises(1, "set_capture_file", "string expected", function() cap:set_capture_file(true) end)
      raises(1, "set_capture_file", "an empty list of capture files", function() cap:set_capture_file({}) end)
      raises(1, "set_capture_device", "string expected", function() cap:set_capture_device() end)
      raises(2, "set_capture_device", "table expected", function() cap:set_capture_device("lo", 5) end)
      raises(1, "set_output", "string expected", function() cap:set_output(nil) end)
      raises(1, "set_timeout", "number expected", function() cap:set_timeout("soon") end)
      raises(1, "set_parsers", "number expected", function() cap:set_parsers("two") end)
      raises(1, "set_parsers", "number has no integer representation",
        function() cap:set_parsers(1.5) end)
      raises(1, "set_raw_filter", "string expected", function() cap:set_raw_filter(false) end)
      raises(1, "set_fragments", "invalid option 'glue'", function() cap:set_fragments("glue") end)
      raises(1, "on_report", "function expected", function() cap:on_report(42) end)
      raises(1, "wait", "number expected", function() cap:wait("forever") end)
    end)

    it("values out of range, naming the real limits", function()
      local cap = nasoone.new()
      for _, bad in ipairs({ 0, -1, 0 / 0, math.huge, 4294968 }) do
        raises(1, "set_timeout", "the report interval must be > 0 and at most 4294967 seconds",
          function() cap:set_timeout(bad) end)
      end
      assert.equals(cap, cap:set_timeout(4294967))
      assert.equals(cap, cap:set_timeout(0.0001)) -- below 1 ms: 1 ms
      for _, bad in ipairs({ 0, -3, 65 }) do
        raises(1, "set_parsers", "the parser count must be from 1 to 64",
          function() cap:set_parsers(bad) end)
      end
      assert.equals(cap, cap:set_parsers(64))
      raises(1, "wait", "a number of seconds >= 0 expected", function() cap:wait(-1) end)
    end)

    it("device options: unknown names and wrong values", function()
      local cap = nasoone.new()
      raises(2, "set_capture_device", "unknown device option 'snaplenn'",
        function() cap:set_capture_device("lo", { snaplenn = 10 }) end)
      raises(2, "set_capture_device", "option promiscuous must be a boolean",
        function() cap:set_capture_device("lo", { promiscuous = 1 }) end)
      raises(2, "set_capture_device", "option snaplen must be an integer from 0 to 262144",
        function() cap:set_capture_device("lo", { snaplen = 300000 }) end)
      raises(2, "set_capture_device", "option timestamp_precision must be 'micro' or 'nano'",
        function() cap:set_capture_device("lo", { timestamp_precision = "pico" }) end)
      raises(2, "set_capture_device", "option timeout must be a number of seconds from 0 to 60",
        function() cap:set_capture_device("lo", { timeout = 61 }) end)
    end)

    it("a closed capture", function()
      local cap = nasoone.new()
      cap:close()
      assert.has_error(function() cap:start() end, "nasoone: the capture is closed")
    end)
  end)

  describe("environment and state failures return nil, message, code", function()
    it("capture files", function()
      local cap = nasoone.new()
      fails("not_found", "No such file or directory", cap:set_capture_file(dir .. "/none.pcap"))
      fails("not_a_capture", "it is a directory", cap:set_capture_file(dir))
      helper.write_file(dir .. "/empty.pcap", "")
      fails("not_a_capture", "is empty, not a capture file", cap:set_capture_file(dir .. "/empty.pcap"))
      helper.write_file(dir .. "/text.pcap", "not packets at all, just some text\n")
      fails("not_a_capture", "unknown file format", cap:set_capture_file(dir .. "/text.pcap"))
      os.execute("mkfifo '" .. dir .. "/fifo'")
      -- a FIFO is read (its writer's bytes), and what is not a capture is told as for a file
      assert(os.execute("sh -c 'echo not a capture > \"$0\"' '" .. dir .. "/fifo' &"))
      fails("not_a_capture", "unknown file format", cap:set_capture_file(dir .. "/fifo"))
      helper.write_pcap(dir .. "/wifi.pcap", { { sec = 1, data = string.rep("\0", 40) } },
        { linktype = 105 })
      fails("unsupported_link", "unsupported link type IEEE802_11 %(105%)",
        cap:set_capture_file(dir .. "/wifi.pcap"))
      fails("invalid_path", "File name too long",
        cap:set_capture_file(dir .. "/" .. ("x"):rep(300)))
    end)

    it("outputs", function()
      local cap = nasoone.new()
      helper.write_file(dir .. "/there.csv", "")
      fails("exists", "already exists", cap:set_output(dir .. "/there.csv"))
      fails("not_found", "output folder .* does not exist", cap:set_output(dir .. "/no/r.csv"))
      fails("invalid_path", "the output path is empty", cap:set_output(""))
      fails("invalid_path", "names a folder", cap:set_output(dir .. "/"))
      fails("invalid_path", "is not a folder", cap:set_output(dir .. "/there.csv/r.csv"))
      fails("invalid_path", "File name too long", cap:set_output(dir .. "/" .. ("r"):rep(256)))
      fails("not_found", "cannot create output file /proc/r%.csv", cap:set_output("/proc/r.csv"))
    end)

    it("filters", function()
      fails("wrong_state", "set the capture file or device before the filter",
        nasoone.new():set_raw_filter("tcp"))
      fails("bad_filter", "bad filter 'tcp port http%-ish'", runnable():set_raw_filter("tcp port http-ish"))
    end)

    it("devices", function()
      if io.popen("id -u"):read("l") ~= "0" then
        return pending("as another user libpcap says 'Operation not permitted' before the name")
      end
      fails("no_such_device", "No such device", nasoone.new():set_capture_device("nosuchdev0"))
    end)

    it("state moves and waiting in the wrong state", function()
      local cap = nasoone.new()
      fails("wrong_state", "cannot start in state 'initial'", cap:start())
      fails("wrong_state", "cannot pause in state 'initial'", cap:pause())
      fails("wrong_state", "cannot resume in state 'initial'", cap:resume())
      fails("wrong_state", "cannot stop in state 'initial'", cap:stop())
      fails("wrong_state", "cannot wait in state 'initial'", cap:wait(0))
      fails("wrong_state", "cannot poll in state 'initial'", cap:poll())
      cap = runnable()
      fails("wrong_state", "nothing would see the report", cap:start())
      assert(cap:set_output(dir .. "/r.csv"))
      assert(cap:start())
      assert.is_true(cap:wait(10))
      fails("wrong_state", "cannot set the output in state 'finished'", cap:set_output(dir .. "/s.csv"))
      fails("wrong_state", "cannot change on_report in state 'finished'", cap:on_report(print))
      fails("wrong_state", "cannot set the interval in state 'finished'", cap:set_timeout(1))
      assert(cap:stop())
      fails("wrong_state", "cannot stop in state 'stopped'", cap:stop())
    end)

    it("a start whose report file cannot be created", function()
      local cap = runnable()
      assert(cap:set_output(dir .. "/r.csv"))
      helper.write_file(dir .. "/r.csv", "appeared since") -- between set_output and start
      fails("exists", "cannot create output file .*: it already exists", cap:start())
    end)
  end)
end)
