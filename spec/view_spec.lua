--- `nasoone view`'s table as issue 21 made it, run as a process (spec.command_helper, TZ=UTC):
-- exact numbers in a pipe, with each row's duration and rate on --long; units and durations in
-- words with --human (a terminal's default: command_tty_spec); --port and --proto beside --ip;
-- --by, a row per source, destination, address, port or protocols set with the totals; and the
-- rows and their order as before, the report's (nasoone.report_key), whatever order the file is
-- in. The report is read in C (nasoone.core.read_report); bench/view.sh times it.
local helper = require("spec.helper")
local cmd = require("spec.command_helper")
local nasoone = require("nasoone")

local SAMPLE = "examples/data/sample.pcap"
local SAMPLE_EXPECTED = "examples/data/sample.expected.csv"

--- The lines `nasoone view args` prints, exit 0 and nothing on stderr.
local function view(args)
  local status, stdout, stderr = cmd.run(args)
  assert.equals("", stderr)
  assert.equals(0, status)
  local lines = {}
  for line in stdout:gmatch("(.-)\n") do lines[#lines + 1] = line end
  return lines
end

--- `nasoone view args` exits 2 with `message` and the usual hint on stderr.
local function bad_usage(args, message)
  local status, stdout, stderr = cmd.run(args)
  assert.equals("nasoone view: " .. message .. "\nTry 'nasoone view --help'.\n", stderr)
  assert.equals(2, status)
  assert.equals("", stdout)
end

--- The source and destination of each row of a view's table (the title, header, rule, totals
-- and "more" line left out).
local function endpoints(lines)
  local out = {}
  for i = 3, #lines - 2 do out[#out + 1] = lines[i]:match("^(%S+%s+%S+)"):gsub("%s+", " ") end
  return out
end

--- A row's endpoint as view shows it: an address with a ':' bracketed.
local function endpoint(ip, port)
  return (ip:find(":", 1, true) and "[%s]:%d" or "%s:%d"):format(ip, port)
end

describe("nasoone view", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.cleanup() end)

  describe("piped: exact numbers", function()
    it("--long adds each row's duration (seconds) and rate (bits per second), and the totals'", function()
      assert.same({
        SAMPLE_EXPECTED .. ": 8 rows, 4 over TCP, 2022-12-26 13:20:21.030 to 13:20:21.735",
        "source                     destination                protocols  first         last          duration"
          .. "  bytes  packets   bits/s",
        "140.82.112.22:443          192.168.1.20:53674         TCP        13:20:21.050  13:20:21.410     0.360"
          .. "   7540       10   167555",
        "192.168.1.20:53674         140.82.112.22:443          TCP, UDP   13:20:21.030  13:20:21.600     0.570"
          .. "   2299       11    32266",
        "[2001:db8:10::20]:40000    [2606:4700::6810:84e5]:80  TCP        13:20:21.700  13:20:21.730     0.030"
          .. "    568        4   151466",
        "[2606:4700::6810:84e5]:80  [2001:db8:10::20]:40000    TCP        13:20:21.705  13:20:21.735     0.030"
          .. "   3912        4  1043200",
        string.rep("-", 126),
        "total                      4 rows                     TCP, UDP   13:20:21.030  13:20:21.735     0.705"
          .. "  14319       29   162485",
      }, view({ "view", SAMPLE_EXPECTED, "--proto", "tcp", "--long" }))
    end)

    it("large numbers stay exact, a row of no duration has no rate, days are shown", function()
      local path = dir .. "/units.csv"
      helper.write_file(path, helper.header .. "\n"
        .. "10.0.0.1; 1000; 192.0.2.1; 53; [UDP]; 1700000000000; 1700000000000; 999; 1\n"
        .. "10.0.0.5; 1000; 192.0.2.2; 443; [TCP]; 1700000000000; 1700007500000; 3336254196; 5000000\n")
      assert.same({
        path .. ": 2 rows, 2023-11-14 22:13:20.000 to 2023-11-15 00:18:20.000",
        "source         destination    protocols  first                    last                     duration"
          .. "       bytes  packets   bits/s",
        "10.0.0.1:1000  192.0.2.1:53   UDP        2023-11-14 22:13:20.000  2023-11-14 22:13:20.000     0.000"
          .. "         999        1        -",
        "10.0.0.5:1000  192.0.2.2:443  TCP        2023-11-14 22:13:20.000  2023-11-15 00:18:20.000  7500.000"
          .. "  3336254196  5000000  3558671",
        string.rep("-", 129),
        "total          2 rows         TCP, UDP   2023-11-14 22:13:20.000  2023-11-15 00:18:20.000  7500.000"
          .. "  3336255195  5000001  3558672",
      }, view({ "view", path, "--long" }))
    end)
  end)

  it("--human: units (k, M, G: 1000s) and durations in words, piped too; --exact is refused with it", function()
    local path = dir .. "/units.csv"
    helper.write_file(path, helper.header .. "\n"
      .. "10.0.0.1; 1000; 192.0.2.1; 53; [UDP]; 1700000000000; 1700000000000; 999; 1\n"
      .. "10.0.0.2; 1000; 192.0.2.1; 53; [UDP]; 1700000000000; 1700000000360; 1000; 1000\n"
      .. "10.0.0.3; 1000; 192.0.2.1; 443; [TCP]; 1700000000000; 1700000012060; 999949; 12500\n"
      .. "10.0.0.4; 1000; 192.0.2.1; 443; [TCP]; 1700000000000; 1700000200000; 999950; 999999\n"
      .. "10.0.0.5; 1000; 192.0.2.2; 443; [TCP]; 1700000000000; 1700007500000; 3336254196; 5000000\n"
      .. "10.0.0.6; 1000; 192.0.2.2; 443; [TCP, UDP]; 1700000000000; 1700273600000; 12500; 7\n")
    assert.same({
      path .. ": 6 rows, by duration, largest first, 2023-11-14 22:13:20.000 to 2023-11-18 02:13:20.000",
      "source         destination    protocols  first                    last                     duration"
        .. "    bytes  packets   bits/s",
      "10.0.0.6:1000  192.0.2.2:443  TCP, UDP   2023-11-14 22:13:20.000  2023-11-18 02:13:20.000     3d04h"
        .. "   12.5 k        7        0",
      "10.0.0.5:1000  192.0.2.2:443  TCP        2023-11-14 22:13:20.000  2023-11-15 00:18:20.000     2h05m"
        .. "    3.3 G    5.0 M    3.6 M",
      "10.0.0.4:1000  192.0.2.1:443  TCP        2023-11-14 22:13:20.000  2023-11-14 22:16:40.000     3m20s"
        .. "    1.0 M    1.0 M   40.0 k",
      "10.0.0.3:1000  192.0.2.1:443  TCP        2023-11-14 22:13:20.000  2023-11-14 22:13:32.060    12.1 s"
        .. "  999.9 k   12.5 k  663.3 k",
      "10.0.0.2:1000  192.0.2.1:53   UDP        2023-11-14 22:13:20.000  2023-11-14 22:13:20.360    360 ms"
        .. "    1.0 k    1.0 k   22.2 k",
      "10.0.0.1:1000  192.0.2.1:53   UDP        2023-11-14 22:13:20.000  2023-11-14 22:13:20.000      0 ms"
        .. "      999        1        -",
      string.rep("-", 126),
      "total          6 rows         TCP, UDP   2023-11-14 22:13:20.000  2023-11-18 02:13:20.000     3d04h"
        .. "    3.3 G    6.0 M   97.6 k",
    }, view({ "view", path, "--human", "--long", "--sort", "duration", "--desc" }))
    bad_usage({ "view", path, "--human", "--exact" }, "option '--exact' can not be used together with option '--human'")
  end)

  describe("--port and --proto", function()
    it("keep the rows from or to a port and with a protocol's packets; the totals are theirs", function()
      assert.same({
        SAMPLE_EXPECTED .. ": 8 rows, 2 on port 53 over UDP, 2022-12-26 13:20:21.010 to 13:20:21.025",
        "source              destination         protocols  first         last          bytes  packets",
        "192.168.1.1:53      192.168.1.20:53673  UDP        13:20:21.025  13:20:21.025     89        1",
        "192.168.1.20:53673  192.168.1.1:53      UDP        13:20:21.010  13:20:21.010     73        1",
        string.rep("-", 93),
        "total               2 rows              UDP        13:20:21.010  13:20:21.025    162        2",
      }, view({ "view", SAMPLE_EXPECTED, "--port", "53", "--proto", "udp" }))
      -- a row of both protocols is kept by either
      assert.same({ "140.82.112.22:443 192.168.1.20:53674", "192.168.1.20:53674 140.82.112.22:443" },
        endpoints(view({ "view", SAMPLE_EXPECTED, "--port", "443" })))
      assert.same({ "192.168.1.20:53674 140.82.112.22:443" },
        endpoints(view({ "view", SAMPLE_EXPECTED, "--port", "443", "--proto", "udp" })))
      -- with --ip, all three at once
      local lines = view({ "view", SAMPLE_EXPECTED, "--ip", "192.168.1.1", "--port", "7001", "--proto", "udp" })
      assert.equals(SAMPLE_EXPECTED .. ": 8 rows, 1 from or to 192.168.1.1 on port 7001 over UDP, "
        .. "2022-12-26 13:20:21.940 to 13:20:21.940", lines[1])
      assert.same({ "192.168.1.20:7000 192.168.1.1:7001" }, endpoints(lines))
    end)

    it("a port out of range, a protocol not tcp or udp: bad usage naming the option", function()
      bad_usage({ "view", SAMPLE_EXPECTED, "--port", "70000" }, "option '--port': '70000' is not a port (0 to 65535)")
      bad_usage({ "view", SAMPLE_EXPECTED, "--port", "-1" }, "option '--port': '-1' is not a port (0 to 65535)")
      bad_usage({ "view", SAMPLE_EXPECTED, "--proto", "icmp" },
        "argument for option '--proto' must be one of 'tcp', 'udp'")
    end)
  end)

  describe("--by", function()
    it("src: a row per source address with its rows, totals, share of the bytes and rate", function()
      assert.same({
        SAMPLE_EXPECTED .. ": 8 rows, 6 sources, by bytes, largest first, 2022-12-26 13:20:21.010 to 13:20:21.940",
        "source                rows  protocols  first         last          duration  bytes   share  packets   bits/s",
        "140.82.112.22            1  TCP        13:20:21.050  13:20:21.410     0.360   7540   48.3%       10   167555",
        "2606:4700::6810:84e5     1  TCP        13:20:21.705  13:20:21.735     0.030   3912   25.1%        4  1043200",
        "192.168.1.20             3  TCP, UDP   13:20:21.010  13:20:21.940     0.930   3414   21.9%       13    29367",
        "2001:db8:10::20          1  TCP        13:20:21.700  13:20:21.730     0.030    568    3.6%        4   151466",
        "192.168.1.1              1  UDP        13:20:21.025  13:20:21.025     0.000     89    0.6%        1        -",
        "192.168.1.2              1  UDP        13:20:21.910  13:20:21.910     0.000     84    0.5%        1        -",
        string.rep("-", 108),
        "total                    8  TCP, UDP   13:20:21.010  13:20:21.940     0.930  15607  100.0%       33   134253",
      }, view({ "view", SAMPLE_EXPECTED, "--by", "src" }))
    end)

    it("proto, and dst with --top: the groups' totals are the selection's", function()
      assert.same({
        SAMPLE_EXPECTED .. ": 8 rows, 3 protocol sets, by bytes, largest first, 2022-12-26 13:20:21.010 to "
          .. "13:20:21.940",
        "protocols  rows  first         last          duration  bytes   share  packets  bits/s",
        "TCP           3  13:20:21.050  13:20:21.735     0.685  12020   77.0%       18  140379",
        "TCP, UDP      1  13:20:21.030  13:20:21.600     0.570   2299   14.7%       11   32266",
        "UDP           4  13:20:21.010  13:20:21.940     0.930   1288    8.3%        4   11079",
        string.rep("-", 85),
        "total         8  13:20:21.010  13:20:21.940     0.930  15607  100.0%       33  134253",
      }, view({ "view", SAMPLE_EXPECTED, "--by", "proto" }))
      local lines = view({ "view", SAMPLE_EXPECTED, "--by", "dst", "--top", "2" })
      assert.equals(SAMPLE_EXPECTED .. ": 8 rows, 6 destinations, by bytes, largest first, 2022-12-26 "
        .. "13:20:21.010 to 13:20:21.940", lines[1])
      assert.matches("^destination%s+rows%s+protocols", lines[2])
      -- 192.168.1.20 receives from 140.82.112.22:443 and 192.168.1.1:53: 7540 + 89 bytes
      assert.matches("^192%.168%.1%.20%s+2%s+TCP, UDP%s+13:20:21%.025%s+13:20:21%.410%s+0%.385%s+7629%s+"
        .. "48%.9%%%s+11%s+158524$", lines[3])
      assert.matches("^2001:db8:10::20%s+1%s+TCP%s", lines[4])
      assert.equals(6, #lines)
      assert.matches("^total%s+8%s+TCP, UDP%s.*%s15607%s+100%.0%%%s+33%s+134253$", lines[6])
    end)

    it("port: a row counts for both its ports (once when they are one); --sort rows, a filter", function()
      assert.same({
        SAMPLE_EXPECTED .. ": 8 rows, 9 ports, by rows, 2022-12-26 13:20:21.010 to 13:20:21.940",
        "port   rows  protocols  first         last          duration  bytes   share  packets  bits/s",
        "5353      1  UDP        13:20:21.910  13:20:21.910     0.000     84    0.5%        1       -",
        "7000      1  UDP        13:20:21.940  13:20:21.940     0.000   1042    6.7%        1       -",
        "7001      1  UDP        13:20:21.940  13:20:21.940     0.000   1042    6.7%        1       -",
        "53        2  UDP        13:20:21.010  13:20:21.025     0.015    162    1.0%        2   86400",
        string.rep("-", 92),
        "total     8  TCP, UDP   13:20:21.010  13:20:21.940     0.930  15607  100.0%       33  134253",
      }, view({ "view", SAMPLE_EXPECTED, "--by", "port", "--sort", "rows", "--top", "4" }))
      -- the groups of the rows a filter keeps; the share is of those rows' bytes
      local lines = view({ "view", SAMPLE_EXPECTED, "--by", "dport", "--proto", "tcp", "--exact" })
      assert.equals(SAMPLE_EXPECTED .. ": 8 rows, 4 over TCP, 4 destination ports, by bytes, largest first, "
        .. "2022-12-26 13:20:21.030 to 13:20:21.735", lines[1])
      local ports = {}
      for i = 3, #lines - 2 do ports[#ports + 1] = lines[i]:match("^(%d+)") end
      assert.same({ "53674", "40000", "443", "80" }, ports)
      assert.matches("^total%s+4%s.*%s14319%s+100%.0%%%s+29%s+162485$", lines[#lines])
    end)

    it("the extended CSV: the same rows as the seed's CSV, with ip bytes; a bad flags cell is told", function()
      assert.equals(0, (cmd.run({ "capture", "-q", "-r", SAMPLE, "-o", dir .. "/seed.csv" })))
      assert.equals(0, (cmd.run({ "capture", "-q", "-r", SAMPLE, "-o", dir .. "/ext.csv", "--columns", "extended" })))
      local seed = view({ "view", dir .. "/seed.csv", "--exact" })
      local extended = view({ "view", dir .. "/ext.csv", "--exact" })
      assert.equals(#seed, #extended)
      assert.matches("bytes%s+packets%s+ip bytes%s+tcp flags$", extended[2])
      for i = 3, #seed do
        -- each line: the seed's, then the row's ip bytes (the totals' too)
        assert.equals(seed[i]:gsub("%s+$", ""), extended[i]:sub(1, #seed[i]):gsub("%s+$", ""), extended[i])
      end
      assert.matches("%s7540%s+10%s+7400%s+%.%.%.AP%.%.%.$", extended[3])
      assert.matches("%s89%s+1%s+75%s+%-$", extended[4]) -- UDP: no flags
      -- a flags cell that is neither '-' nor eight letters or dots
      local text = helper.read_file(dir .. "/ext.csv"):gsub("; %.%.%.AP%.%.%.\n", "; ...XP...\n", 1)
      helper.write_file(dir .. "/bad.csv", text)
      local status, _, stderr = cmd.run({ "view", dir .. "/bad.csv" })
      assert.equals(1, status)
      assert.matches("bad.csv:2: not a CSV report row: 140.82.112.22; 443;", stderr, 1, true)
    end)

    it("JSON lines: the groups' ip bytes; an address written two ways is one group", function()
      local status = cmd.run({ "capture", "-q", "-r", SAMPLE, "-o", dir .. "/r.jsonl" })
      assert.equals(0, status)
      local lines = view({ "view", dir .. "/r.jsonl", "--by", "ip", "--sort", "source", "--exact" })
      assert.equals(dir .. "/r.jsonl: 8 rows, 7 addresses, by source, 2022-12-26 13:20:21.010 to 13:20:21.940",
        lines[1])
      assert.matches("^address%s+rows%s+protocols%s+first%s+last%s+duration%s+bytes%s+share%s+packets%s+"
        .. "ip bytes%s+bits/s$", lines[2])
      -- in the report's address order (IPv4 first, numerically); a row in the groups of both its
      -- addresses: 192.168.1.20 is in 5 rows, its 11043 bytes 70.8% of all
      assert.matches("^192%.168%.1%.20%s+5%s+TCP, UDP%s.*%s11043%s+70%.8%%%s+24%s+10707%s+94993$", lines[6])
      local keys = {}
      for i = 3, #lines - 2 do keys[#keys + 1] = lines[i]:match("^(%S+)") end
      assert.same({ "140.82.112.22", "192.168.1.1", "192.168.1.2", "192.168.1.20", "224.0.0.251", "2001:db8:10::20",
        "2606:4700::6810:84e5" }, keys)
      assert.matches("%s15607%s+100%.0%%%s+33%s+15113%s+134253$", lines[#lines])

      local path = dir .. "/spellings.jsonl"
      local row = '{"source_ip":"%s","source_port":1,"destination_ip":"2001:db8::2","destination_port":2,'
        .. '"protocols":["UDP"],"first":1700000000000,"last":1700000001000,"bytes":%d,"ip_bytes":%d,"packets":1}'
      helper.write_file(path, row:format("2001:DB8::1", 10, 8) .. "\n" .. row:format("2001:db8:0::1", 20, 16) .. "\n")
      assert.same({ path .. ": 2 rows, 1 source, by bytes, largest first, 2023-11-14 22:13:20.000 to 22:13:21.000",
        "source       rows  protocols  first         last          duration  bytes   share  packets  ip bytes  bits/s",
        "2001:db8::1     2  UDP        22:13:20.000  22:13:21.000     1.000     30  100.0%        2        24     240",
        string.rep("-", 108),
        "total           2  UDP        22:13:20.000  22:13:21.000     1.000     30  100.0%        2        24     240",
      }, view({ "view", path, "--by", "src" }))
    end)

    it("a key that is not one: bad usage", function()
      bad_usage({ "view", SAMPLE_EXPECTED, "--by", "host" },
        "argument for option '--by' must be one of 'src', 'dst', 'ip', 'port', 'sport', 'dport', 'proto'")
    end)
  end)

  describe("the report's rows in the report's order, as before", function()
    it("the shipped capture's reports, CSV and JSON lines: the rows in the file's order", function()
      for _, name in ipairs({ "r.csv", "r.jsonl" }) do
        local path = dir .. "/" .. name
        local status = cmd.run({ "capture", "-q", "-r", SAMPLE, "-o", path })
        assert.equals(0, status)
        local expected = {}
        for line in io.lines(path) do
          local s, sp, d, dp = line:match('^{"source_ip":"([^"]+)","source_port":(%d+),"destination_ip":"([^"]+)",'
            .. '"destination_port":(%d+)')
          if not s then s, sp, d, dp = line:match("^([^;]+); (%d+); ([^;]+); (%d+);") end
          if s and sp then expected[#expected + 1] = endpoint(s, tonumber(sp)) .. " " .. endpoint(d, tonumber(dp)) end
        end
        assert.equals(8, #expected)
        assert.same(expected, endpoints(view({ "view", path })))
      end
    end)

    it("a report in another order (shuffled, a reference sorted as text) shows the same table", function()
      local lines = {}
      for line in io.lines(SAMPLE_EXPECTED) do lines[#lines + 1] = line end
      local header = table.remove(lines, 1)
      -- reversed, and as `sort` writes it
      local reversed = {}
      for i = #lines, 1, -1 do reversed[#reversed + 1] = lines[i] end
      helper.write_file(dir .. "/reversed.csv", header .. "\n" .. table.concat(reversed, "\n") .. "\n")
      table.sort(lines)
      helper.write_file(dir .. "/text.csv", header .. "\n" .. table.concat(lines, "\n") .. "\n")
      local expected = view({ "view", SAMPLE_EXPECTED, "--long" })
      for _, name in ipairs({ "reversed.csv", "text.csv" }) do
        local shown = view({ "view", dir .. "/" .. name, "--long" })
        assert.equals(dir .. "/" .. name .. expected[1]:sub(#SAMPLE_EXPECTED + 1), shown[1])
        assert.same({ table.unpack(expected, 2) }, { table.unpack(shown, 2) })
      end
    end)

    it("3,000 rows in random order: nasoone.report_key's order, rows of one key in the file's order", function()
      math.randomseed(21)
      local function address()
        local r = math.random(1, 4)
        if r == 1 then return ("10.0.%d.%d"):format(math.random(0, 9), math.random(0, 255)) end
        if r == 2 then return ("192.168.%d.%d"):format(math.random(0, 1), math.random(0, 9)) end
        if r == 3 then return ("2001:db8::%x"):format(math.random(0, 300)) end
        return ("2001:DB8:0:0::%X"):format(math.random(0, 300)) -- another spelling: the same key
      end
      local rows, text = {}, { helper.header }
      for i = 1, 3000 do
        local six = math.random(1, 2) == 1
        local s, d = address(), address()
        while (s:find(":", 1, true) ~= nil) ~= six do s = address() end
        while (d:find(":", 1, true) ~= nil) ~= six do d = address() end
        local sp, dp = math.random(0, 3) * 1000, math.random(0, 65535)
        rows[i] = { key = nasoone.report_key(s, sp, d, dp), index = i,
          shown = endpoint(s, sp) .. " " .. endpoint(d, dp) }
        text[#text + 1] = ("%s; %d; %s; %d; [TCP]; 1700000000000; 1700000001000; %d; 1"):format(s, sp, d, dp, i)
      end
      local path = dir .. "/random.csv"
      helper.write_file(path, table.concat(text, "\n") .. "\n")
      table.sort(rows, function(a, b)
        if a.key ~= b.key then return a.key < b.key end
        return a.index < b.index
      end)
      local expected = {}
      for i, row in ipairs(rows) do expected[i] = row.shown end
      assert.same(expected, endpoints(view({ "view", path })))
      -- --desc: that order reversed; --top 5 --sort packets (all 1): the first five of it
      local reversed = {}
      for i = #expected, 1, -1 do reversed[#reversed + 1] = expected[i] end
      assert.same(reversed, endpoints(view({ "view", path, "--desc" })))
      assert.same({ table.unpack(expected, 1, 5) },
        endpoints(view({ "view", path, "--sort", "packets", "--top", "5" })))
    end)
  end)

  it("nasoone.core.read_report: why a report cannot be read, and the options it refuses", function()
    local core = require("nasoone.core")
    helper.write_file(dir .. "/bad.csv", helper.header .. "\n1.2.3.4; 1; 5.6.7.8; 2; [TCP]; 1; 2; 3; 4\noops\n")
    assert.same({ nil, "bad_csv_row", 3, "oops" }, { core.read_report(dir .. "/bad.csv", {}) })
    assert.same({ nil, "not_report", 1, "" }, { core.read_report(SAMPLE, {}) })
    assert.same({ nil, "not_file", 0, "directory" }, { core.read_report(dir, {}) })
    local report = assert(core.read_report(SAMPLE_EXPECTED, { by = "proto", keep = 1 }))
    assert.same({ "csv", 8, 8, 3, 1 }, { report.format, report.rows, report.selected, report.entries, report.shown })
    assert.equals("TCP", report.lines(1, 1, { { name = "key", width = 0 } }):match("^(%S+)"))
    report.close()
    assert.has_error(function() report.lines(1, 1) end, "nasoone: the report was closed")
    assert.has_error(function() core.read_report(SAMPLE_EXPECTED, { by = "host" }) end)
    assert.has_error(function() core.read_report(SAMPLE_EXPECTED, { ip = "192.0.2" }) end)
    assert.has_error(function() core.read_report(SAMPLE_EXPECTED, { port = 65536 }) end)
  end)
end)
