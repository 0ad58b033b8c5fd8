--- Captures that are not plain files: compressed (gzip, zstd, lz4, told by their first bytes),
-- read from standard input, from a FIFO. Each gives the report of the plain file, byte for
-- byte; a cut or corrupt one ends with an error naming the file and keeps what came before;
-- stop returns at once when the writer of a pipe is silent.
local helper = require("spec.helper")
local cmd = require("spec.command_helper")
local nasoone = require("nasoone")

local function quote(text) return "'" .. tostring(text):gsub("'", "'\\''") .. "'" end

local function sh(command)
  assert(os.execute(command), "failed: " .. command)
end

--- The captures to read: the project's, and ../shared's when CI has them.
local function captures()
  local pattern = "spec/fixtures/*.pcap spec/fixtures/*.pcapng examples/data/*.pcap"
  local shared = helper.shared_dir()
  if shared then pattern = pattern .. " " .. shared .. "/pcaps/*.pcap " .. shared .. "/pcaps/*.pcapng" end
  local list = {}
  for path in helper.shell_output("ls " .. pattern):gmatch("[^\n]+") do list[#list + 1] = path end
  return list
end

local COMPRESSORS = { gzip = "gzip -c", zstd = "zstd -q -c", lz4 = "lz4 -q -c" }

--- The report of `path` and the stats, or nil and the error when the capture cannot be read.
local function report_of(path)
  local cap = nasoone.new()
  local ok, err = cap:set_capture_file(path)
  if not ok then return nil, err end
  local output = helper.tmpdir() .. "/report.csv"
  assert(cap:set_output(output))
  assert(cap:start())
  assert(cap:wait(60), "capture did not finish within 60 s")
  local stats = cap:stats()
  assert(cap:stop())
  cap:close()
  return helper.read_file(output), stats
end

describe("compressed captures and standard input", function()
  after_each(helper.cleanup)

  if not helper.shared_dir() then
    pending("../shared/pcaps is not beside the checkout: only the project's captures are read")
  end

  it("give the report of the plain file, byte for byte, read as a file and from standard input", function()
    local dir = helper.tmpdir()
    for index, path in ipairs(captures()) do
      local plain, plain_stats = report_of(path)
      if plain then
        local kinds = { "gzip", "zstd", "lz4" }
        for _, kind in ipairs(kinds) do
          local packed = ("%s/%d.%s"):format(dir, index, kind)
          sh(("%s %s > %s"):format(COMPRESSORS[kind], quote(path), quote(packed)))
          local report, stats = report_of(packed)
          assert.equals(plain, report, path .. " as " .. kind)
          assert.equals(plain_stats.received, stats.received, path .. " as " .. kind)
          assert.is_nil(stats.error, path .. " as " .. kind)
        end
        -- standard input, through the command: one kind per capture, and the plain file too
        local piped = ("%s/%d.%s"):format(dir, index, kinds[index % 3 + 1])
        for _, input in ipairs({ piped, path }) do
          local output = ("%s/stdin-%d.csv"):format(dir, index)
          os.remove(output)
          local status, _, stderr = cmd.run({ "capture", "-r", "-", "-o", output, "--quiet" }, { stdin = input })
          assert.equals(0, status, input .. ": " .. stderr)
          assert.equals(plain, helper.read_file(output), input .. " on standard input")
        end
      end
    end
  end)

  it("a compressed file cut short ends the capture with its name and keeps what came before", function()
    local dir = helper.tmpdir()
    helper.synthetic_capture(dir .. "/big.pcap", 20000, 300)
    local full = report_of(dir .. "/big.pcap")
    for kind, compressor in pairs(COMPRESSORS) do
      local packed = dir .. "/big." .. kind
      sh(("%s %s > %s"):format(compressor, quote(dir .. "/big.pcap"), quote(packed)))
      local size = #helper.read_file(packed)
      -- lz4 writes 4 MiB blocks: cut it past the first, which the capture fits in whole
      sh(("head -c %d %s > %s"):format(size * 3 // 4, quote(packed), quote(packed .. ".cut")))
      local report, stats = report_of(packed .. ".cut")
      if kind == "lz4" and not report then
        -- the only block is cut: nothing was decoded, and opening says so
        assert.matches("the lz4 data is cut short", stats)
      else
        assert.matches(("nasoone: reading %s: the %s data is cut short after %d bytes"):format(
          (packed .. ".cut"):gsub("%p", "%%%0"), kind, size * 3 // 4), stats.error)
        assert.is_true(stats.file_truncated)
        assert.is_true(stats.received > 0 and stats.received < 20000, kind .. ": " .. stats.received)
        -- every row read is a row of the whole capture (with no more packets)
        local rows = {}
        for line in full:gmatch("[^\n]+") do rows[line:match("^(.-; .-; .-; .-; .-);")] = line end
        local lines = 0
        for line in report:gmatch("[^\n]+") do
          lines = lines + 1
          if lines > 1 then
            local whole = rows[line:match("^(.-; .-; .-; .-; .-);")]
            assert.is_not_nil(whole, line)
            assert.is_true(tonumber(line:match("(%d+)$")) <= tonumber(whole:match("(%d+)$")), line)
          end
        end
        assert.is_true(lines > 1, kind .. ": no row kept")
      end
    end
  end)

  it("standard input redirected from a file starts where the file stands", function()
    local dir = helper.tmpdir()
    local capture = helper.read_file("examples/data/sample.pcap")
    helper.write_file(dir .. "/prefixed", ("x"):rep(100) .. capture)
    local output = dir .. "/report.csv"
    sh(("(head -c 100 > /dev/null; %s capture -r - -o %s --quiet) < %s"):format(cmd.command,
      quote(output), quote(dir .. "/prefixed")))
    assert.same(helper.sorted_rows("examples/data/sample.expected.csv"), helper.sorted_rows(output))
  end)

  it("refuse what is not a capture, compressed or not, with a clear message", function()
    local dir = helper.tmpdir()
    helper.write_file(dir .. "/text", "hello, this is not a capture\n")
    sh(("gzip -c %s > %s"):format(quote(dir .. "/text"), quote(dir .. "/text.gz")))
    local cap = nasoone.new()
    local ok, err, code = cap:set_capture_file(dir .. "/text.gz")
    assert.is_nil(ok)
    assert.equals(("nasoone: cannot open capture file %s/text.gz: unknown file format (in its gzip data)"):format(dir),
      err)
    assert.equals("not_a_capture", code)
    -- a gzip header and nothing more
    sh(("head -c 12 %s > %s"):format(quote(dir .. "/text.gz"), quote(dir .. "/header.gz")))
    ok, err = cap:set_capture_file(dir .. "/header.gz")
    assert.is_nil(ok)
    assert.equals(("nasoone: reading %s/header.gz: the gzip data is cut short after 12 bytes"):format(dir), err)
    cap:close()
    -- standard input with nothing on it
    helper.write_file(dir .. "/empty", "")
    local status, _, stderr = cmd.run({ "capture", "-r", "-", "-o", dir .. "/out.csv" }, { stdin = dir .. "/empty" })
    assert.equals(1, status)
    assert.matches("nasoone: standard input is empty, not a capture file", stderr, 1, true)
  end)

  it("corrupt data on a FIFO: the writer is let go at once, the capture object still open", function()
    local dir = helper.tmpdir()
    local fifo = dir .. "/fifo"
    sh("mkfifo " .. quote(fifo))
    -- the sample capture gzipped, a second gzip member whose data is no deflate data, then more
    -- for as long as it may write
    sh(("gzip -c examples/data/sample.pcap > %s"):format(quote(dir .. "/bad.gz")))
    helper.write_file(dir .. "/bad.gz", helper.read_file(dir .. "/bad.gz") .. "\31\139\8\0\0\0\0\0\0\3"
      .. ("\255"):rep(64))
    sh(("sh -c 'cat %s; exec cat /dev/zero' > %s 2>/dev/null & echo $! > %s"):format(
      quote(dir .. "/bad.gz"), quote(fifo), quote(dir .. "/pid")))
    local pid = helper.read_file(dir .. "/pid"):match("%d+")
    local cap = nasoone.new()
    assert(cap:set_capture_file(fifo))
    assert(cap:set_output(dir .. "/report.csv"))
    assert(cap:start())
    assert(cap:wait(20))
    assert.equals("finished", cap:state())
    assert.matches("corrupt gzip data", cap:stats().error)
    assert.same(helper.sorted_rows("examples/data/sample.expected.csv"), helper.sorted_rows(dir .. "/report.csv"))
    -- the writer ends (EPIPE) though the capture is not closed
    local gone = cmd.eventually(function() return not os.execute("kill -0 " .. pid .. " 2>/dev/null") end, 10)
    os.execute("kill " .. pid .. " 2>/dev/null")
    assert.is_true(gone, "the writer still runs")
    cap:close()
  end)

  it("a FIFO whose writer goes silent: rows as they come, and stop returns at once", function()
    local dir = helper.tmpdir()
    local fifo = dir .. "/fifo"
    sh("mkfifo " .. quote(fifo))
    -- the writer: the sample capture, then silence while it stays open
    -- (os.execute, not popen: the writer blocks opening the FIFO until the capture opens it)
    sh(("sh -c 'cat examples/data/sample.pcap; exec sleep 60' > %s 2>/dev/null & echo $! > %s"):format(
      quote(fifo), quote(dir .. "/pid")))
    local pid = helper.read_file(dir .. "/pid"):match("%d+")
    local cap = nasoone.new()
    assert(cap:set_capture_file(fifo))
    local rows = 0
    cap:on_report(function(report) rows = #report.rows end)
    assert(cap:set_timeout(0.05))
    assert(cap:start())
    local expected = #helper.sorted_rows("examples/data/sample.expected.csv")
    local deadline = os.time() + 20
    while rows < expected and os.time() < deadline do cap:wait(0.1) end
    assert.equals(expected, rows)
    assert.equals("running", cap:state()) -- the writer is still there
    local started = cmd.now()
    assert(cap:stop())
    local took = cmd.now() - started
    os.execute("kill " .. pid .. " 2>/dev/null")
    -- generous: a stop that waited for the writer would take the writer's 60 s
    assert.is_true(took < 5, ("stop took %.3f s"):format(took))
    assert.is_nil(cap:stats().error) -- stopping a pipe is no error of the input
    cap:close()
  end)

  --- Splits a classic pcap file into `pieces` files of about as many records each (what
  -- `editcap -c` does), returns their paths.
  local function split_pcap(path, pieces, dir)
    local data = helper.read_file(path)
    local magic = string.unpack("<I4", data)
    local order = (magic == 0xa1b2c3d4 or magic == 0xa1b23c4d) and "<" or ">"
    local offsets, pos = {}, 25
    while pos <= #data do
      offsets[#offsets + 1] = pos
      local caplen = string.unpack(order .. "I4", data, pos + 8)
      pos = pos + 16 + caplen
    end
    local paths, per = {}, math.ceil(#offsets / pieces)
    for piece = 1, pieces do
      local first, last = offsets[(piece - 1) * per + 1], offsets[piece * per + 1]
      if first then
        paths[piece] = ("%s/piece-%d.pcap"):format(dir, piece)
        helper.write_file(paths[piece], data:sub(1, 24) .. data:sub(first, last and last - 1 or #data))
      end
    end
    return paths
  end

  local function whole_capture()
    local shared = helper.shared_dir()
    local dir = helper.tmpdir()
    if shared then return shared .. "/pcaps/sv-tls-subjectaltname.pcap" end
    helper.synthetic_capture(dir .. "/whole.pcap", 5000, 200)
    return dir .. "/whole.pcap"
  end

  it("a capture split into 5 files, given as a list, gives the report of the whole, byte for byte", function()
    local dir = helper.tmpdir()
    local whole = whole_capture()
    local expected = report_of(whole)
    local pieces = split_pcap(whole, 5, dir)
    assert.equals(5, #pieces)
    local report, stats = report_of(pieces)
    assert.equals(expected, report)
    assert.same({ 5, 5, pieces[5] }, { stats.file_number, stats.file_count, stats.file })
    local size = 0
    for _, piece in ipairs(pieces) do size = size + #helper.read_file(piece) end
    assert.same({ size, size }, { stats.file_size, stats.file_read })
    -- the same list compressed, each piece its own way, and through the command (-r repeated)
    local packed, args = {}, { "capture", "-o", dir .. "/command.csv", "--quiet" }
    local kinds = { "gzip", "zstd", "lz4", "gzip", "zstd" }
    for i, piece in ipairs(pieces) do
      packed[i] = piece .. "." .. kinds[i]
      sh(("%s %s > %s"):format(COMPRESSORS[kinds[i]], quote(piece), quote(packed[i])))
      args[#args + 1] = "-r"
      args[#args + 1] = packed[i]
    end
    assert.equals(expected, (report_of(packed)))
    local status, _, stderr = cmd.run(args)
    assert.equals(0, status, stderr)
    assert.equals(expected, helper.read_file(dir .. "/command.csv"))
  end)

  it("a list whose third file is cut ends with that file's name and keeps the first two", function()
    local dir = helper.tmpdir()
    local pieces = split_pcap(whole_capture(), 4, dir)
    local data = helper.read_file(pieces[3])
    helper.write_file(pieces[3], data:sub(1, #data // 2))
    local first_two = select(2, report_of({ pieces[1], pieces[2] }))
    local _, stats = report_of(pieces)
    assert.matches("^nasoone: reading " .. pieces[3]:gsub("%p", "%%%0") .. ": truncated dump file", stats.error)
    assert.is_true(stats.file_truncated)
    assert.same({ 3, 4 }, { stats.file_number, stats.file_count })
    assert.is_true(stats.received > first_two.received, stats.received .. " <= " .. first_two.received)
  end)

  it("a listed file that became a FIFO after the list was set ends the capture, never waits", function()
    local dir = helper.tmpdir()
    sh(("cp examples/data/sample.pcap %s"):format(quote(dir .. "/second.pcap")))
    local cap = nasoone.new()
    assert(cap:set_capture_file({ "examples/data/sample.pcap", dir .. "/second.pcap" }))
    os.remove(dir .. "/second.pcap")
    sh("mkfifo " .. quote(dir .. "/second.pcap"))
    assert(cap:set_output(dir .. "/report.csv"))
    assert(cap:start())
    assert(cap:wait(20), "the capture waits for a writer")
    assert.equals(("nasoone: %s/second.pcap: a list of capture files takes regular files (read a pipe alone)")
      :format(dir), cap:stats().error)
    assert(cap:stop())
    assert.same(helper.sorted_rows("examples/data/sample.expected.csv"), helper.sorted_rows(dir .. "/report.csv"))
    cap:close()
  end)

  it("a list is checked when it is set: every file, regular files only", function()
    local dir = helper.tmpdir()
    local cap = nasoone.new()
    local ok, err, code = cap:set_capture_file({ "examples/data/sample.pcap", dir .. "/missing.pcap" })
    assert.is_nil(ok)
    assert.equals(("nasoone: cannot open capture file %s/missing.pcap: No such file or directory"):format(dir), err)
    assert.equals("not_found", code)
    ok, err, code = cap:set_capture_file({ "examples/data/sample.pcap", "-" })
    assert.is_nil(ok)
    assert.equals("nasoone: standard input is read alone, not in a list of files", err)
    assert.equals("invalid_argument", code)
    sh("mkfifo " .. quote(dir .. "/fifo"))
    ok, err = cap:set_capture_file({ dir .. "/fifo", "examples/data/sample.pcap" })
    assert.is_nil(ok)
    assert.equals(("nasoone: %s/fifo: a list of capture files takes regular files (read a pipe alone)"):format(dir),
      err)
    assert.has_error(function() cap:set_capture_file({}) end,
      "bad argument #1 to 'set_capture_file' (an empty list of capture files)")
    assert.equals("initial", cap:state())
    cap:close()
  end)
end)

describe("pcapng files of any shape", function()
  after_each(helper.cleanup)
  local a = helper.ip_packet { src = "192.0.2.1", dst = "192.0.2.2", sport = 1, dport = 2 }
  local b = helper.ip_packet { src = "192.0.2.3", dst = "192.0.2.4", sport = 3, dport = 4, proto = "UDP" }
  local function ether(ip) return ("\2\0\0\0\0\1\2\0\0\0\0\2\8\0") .. ip end
  local function null(ip) return string.pack("<I4", 2) .. ip end

  it("a damaged block ends the capture with libpcap's words and the block, keeping the rows before", function()
    local dir = helper.tmpdir()
    local blocks = {
      { linktype = 1 },
      { interface = 0, sec = 10, data = ether(a) },
      { interface = 0, sec = 11, data = ether(b) },
      { interface = 3, sec = 12, data = ether(a) },
    }
    helper.write_pcapng(dir .. "/unknown-interface.pcapng", blocks)
    local output, stats = helper.run_file(dir .. "/unknown-interface.pcapng")
    assert.equals(("nasoone: reading %s/unknown-interface.pcapng: a packet arrived on interface 3, but "
      .. "there's no Interface Description Block for that interface (block 5, at byte %d)"):format(
        dir, 28 + 20 + 88 + 76), stats.error)
    assert.same({ "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 10000; 10000; 54; 1",
      "192.0.2.3; 3; 192.0.2.4; 4; [UDP]; 11000; 11000; 42; 1" }, helper.sorted_rows(output))
    -- a block length no block can have, read through gzip on standard input
    blocks[4] = { block = 0x0BAD, body = "" }
    helper.write_pcapng(dir .. "/length.pcapng", blocks)
    local bytes = helper.read_file(dir .. "/length.pcapng")
    local at = #bytes - 12 + 4 -- the last block's length field
    helper.write_file(dir .. "/length.pcapng", bytes:sub(1, at) .. string.pack("<I4", 14) .. bytes:sub(at + 5))
    sh(("gzip -c %s > %s"):format(quote(dir .. "/length.pcapng"), quote(dir .. "/length.pcapng.gz")))
    local report = dir .. "/length.csv"
    local status, _, stderr = cmd.run({ "capture", "-r", "-", "-o", report, "--quiet" },
      { stdin = dir .. "/length.pcapng.gz" })
    assert.equals(1, status)
    assert.matches("nasoone: reading standard input: block in pcapng dump file has a length of 14 that is "
      .. "not a multiple of 4 (block 5, at byte 212)", stderr, 1, true)
    assert.same({ "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 10000; 10000; 54; 1",
      "192.0.2.3; 3; 192.0.2.4; 4; [UDP]; 11000; 11000; 42; 1" }, helper.sorted_rows(report))
  end)

  it("a block longer than a batch is passed over, from a file, compressed and on standard input", function()
    local dir = helper.tmpdir()
    helper.write_pcapng(dir .. "/big-block.pcapng", {
      { linktype = 1 },
      { interface = 0, sec = 10, data = ether(a) },
      { block = 0x0A, body = string.rep("k", 3 * 1024 * 1024) }, -- decryption secrets: 3 MiB
      { interface = 0, sec = 11, data = ether(b) },
    })
    sh(("zstd -q -c %s > %s"):format(quote(dir .. "/big-block.pcapng"), quote(dir .. "/big-block.zst")))
    local expected = { "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 10000; 10000; 54; 1",
      "192.0.2.3; 3; 192.0.2.4; 4; [UDP]; 11000; 11000; 42; 1" }
    for _, path in ipairs({ dir .. "/big-block.pcapng", dir .. "/big-block.zst" }) do
      local output, stats = helper.run_file(path)
      assert.is_nil(stats.error, path)
      assert.same(expected, helper.sorted_rows(output), path)
    end
    local report = dir .. "/stdin.csv"
    local status, _, stderr = cmd.run({ "capture", "-r", "-", "-o", report, "--quiet" },
      { stdin = dir .. "/big-block.pcapng" })
    assert.equals(0, status, stderr)
    assert.same(expected, helper.sorted_rows(report))
    -- cut inside it: libpcap's words for a block cut short
    local bytes = helper.read_file(dir .. "/big-block.pcapng")
    helper.write_file(dir .. "/cut.pcapng", bytes:sub(1, 28 + 20 + 88 + 2 * 1024 * 1024))
    local output, stats = helper.run_file(dir .. "/cut.pcapng")
    assert.equals(("nasoone: reading %s/cut.pcapng: truncated pcapng dump file; tried to read %d bytes, "
      .. "only got %d"):format(dir, 3 * 1024 * 1024 + 4, 2 * 1024 * 1024 - 8), stats.error)
    assert.is_true(stats.file_truncated)
    assert.same({ expected[1] }, helper.sorted_rows(output))
  end)

  it("a filter is compiled for each interface's link type", function()
    local dir = helper.tmpdir()
    helper.write_pcapng(dir .. "/three.pcapng", {
      { linktype = 1 }, { linktype = 101 }, { linktype = 0 },
      { interface = 0, sec = 10, data = ether(a) }, { interface = 0, sec = 10, data = ether(b) },
      { interface = 1, sec = 11, data = a }, { interface = 1, sec = 11, data = b },
      { interface = 2, sec = 12, data = null(a) }, { interface = 2, sec = 12, data = null(b) },
    })
    local output, stats = helper.run_file(dir .. "/three.pcapng", { filter = "udp" })
    assert.is_nil(stats.error)
    assert.same({ "192.0.2.3; 3; 192.0.2.4; 4; [UDP]; 10000; 12000; 102; 3" }, helper.sorted_rows(output))
    assert.equals(3, stats.received)
    -- one libpcap cannot filter: refused when it is set, naming the link type
    local cap = nasoone.new()
    assert(cap:set_capture_file("spec/fixtures/merged.pcapng"))
    local ok, err, code = cap:set_raw_filter("udp")
    assert.is_nil(ok)
    assert.equals("nasoone: bad filter 'udp' for the NFLOG (239) interfaces of spec/fixtures/merged.pcapng: "
      .. "NFLOG link-layer type filtering not implemented", err)
    assert.equals("bad_filter", code)
    cap:close()
  end)

  it("frames of a link type nasoone does not decode are skipped; a file of only those is refused", function()
    local dir = helper.tmpdir()
    helper.write_pcapng(dir .. "/usb-first.pcapng", {
      { linktype = 220 }, { linktype = 1 },
      { interface = 0, sec = 9, data = string.rep("\0", 64) },
      { interface = 1, sec = 10, data = ether(a) },
    })
    local output, stats = helper.run_file(dir .. "/usb-first.pcapng")
    assert.is_nil(stats.error)
    assert.same({ "192.0.2.1; 1; 192.0.2.2; 2; [TCP]; 10000; 10000; 54; 1" }, helper.sorted_rows(output))
    assert.equals(1, stats.skipped.unsupported_link)
    helper.write_pcapng(dir .. "/usb.pcapng", { { linktype = 220 }, { interface = 0, sec = 9, data = "\0\0\0\0" } })
    local cap = nasoone.new()
    local ok, err, code = cap:set_capture_file(dir .. "/usb.pcapng")
    assert.is_nil(ok)
    assert.equals(("nasoone: %s/usb.pcapng: unsupported link type USB_LINUX_MMAPPED (220)"):format(dir), err)
    assert.equals("unsupported_link", code)
    cap:close()
  end)
end)
