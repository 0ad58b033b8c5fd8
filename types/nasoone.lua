---@meta nasoone
-- LuaCATS annotations of the nasoone module, for lua-language-server: completion, hover and
-- type checks of `local nasoone = require("nasoone")`. Point `workspace.library` at the folder
-- this file is installed in (.../share/lua/5.4/nasoone/types, by the rock and by
-- `cmake --install`), or at types/ of a checkout. Nothing here runs: the module is
-- lua/nasoone.lua over the C module nasoone.core. spec/annotations_spec.lua fails when this
-- file and the module disagree (a function, a method or a field in one and not the other).
-- luacheck: ignore 212 241

------------------------------------------------------------------------------------------------
-- Names that are strings

--- The stable code of a failure: the third value of every `nil, message, code`.
---@alias nasoone.ErrorCode
---| "wrong_state"        # the call is not allowed in the capture's state, or a step is missing
---| "not_found"          # the capture file or the output folder does not exist
---| "permission_denied"  # not allowed to read the capture, create the output, or capture on the device
---| "not_a_capture"      # empty, not pcap/pcapng, cut inside its header, a folder, a pipe
---| "unsupported_link"   # a link type nasoone cannot decode
---| "exists"             # the output file, or an IPFIX export's file, exists
---| "invalid_path"       # an empty output path, a folder, a name or path too long
---| "bad_filter"         # libpcap cannot compile the filter for this link type
---| "no_such_device"     # live capture: the device is missing
---| "interface_down"     # live capture: the device is down
---| "no_space"           # the disk is full
---| "io_error"           # an I/O error
---| "out_of_memory"      # memory ran out
---| "error"              # anything else the system refused
---| "report_not_written" # stop: the final report could not be written
---| "invalid_argument"   # a value the engine refuses after the binding let it through
---| "unreachable"        # an IPFIX collector's host does not resolve or cannot be reached

--- A capture's state; "closed" once closed.
---@alias nasoone.State "initial"|"runnable"|"running"|"paused"|"finished"|"stopped"|"closed"

---@alias nasoone.Protocol "TCP"|"UDP"

--- Why a flow record was made.
---@alias nasoone.EndReason
---| "idle"     # the row was idle longer than idle_timeout: it left
---| "active"   # the row was active longer than active_timeout: it goes on
---| "capacity" # max_flows rows were held: the least recently seen left
---| "end"      # the end of the file, or stop

---@alias nasoone.FragmentMode
---| "skip"      # IP fragments after the first are skipped (the default)
---| "attribute" # counted in the row of their datagram's first fragment

---@alias nasoone.ReportRows
---| "tables"  # report.rows: a table per row (the default)
---| "lazy"    # a nasoone.Report read from the engine's snapshot
---| "changed" # the same, over the rows new or changed since the previous report

---@alias nasoone.ExportKind "jsonl"|"ipfix"

------------------------------------------------------------------------------------------------
-- The module

---@class nasoone
---@field _VERSION string "nasoone X.Y.Z"
---@field version string the module's version, "X.Y.Z"
---@field pcap_version string libpcap's version text (pcap_lib_version)
---@field report_header string the CSV report's header line, without its newline
---@field Filter nasoone.Filter the filter builder's metatable (what nasoone.filter() returns has it)
local nasoone = {}

--- A capture in state "initial". Objects share nothing: several can run at once.
---@return nasoone.Capture
function nasoone.new() end

--- The interfaces libpcap sees: those with an IPv4/IPv6 address, or all of them with `true`.
---@param all? boolean
---@return nasoone.Device[]? devices
---@return string? message
---@return nasoone.ErrorCode? code
function nasoone.devices(all) end

--- A row's place in the report's order, as a string: comparing two keys as strings orders their
--- rows as the report does (IPv4 before IPv6, then source address numerically, source port,
--- destination address, destination port). nil when an address is not an IPv4 or IPv6 address.
---@param source_ip string
---@param source_port integer 0 to 65535
---@param destination_ip string
---@param destination_port integer 0 to 65535
---@param protocol? string|integer a 5-tuple row's protocol ("ICMP", or 1 to 255)
---@return string? key
function nasoone.report_key(source_ip, source_port, destination_ip, destination_port, protocol) end

--- The first interface that is up and not a loopback (else the first one listed).
---@return string? name
---@return string? message
---@return nasoone.ErrorCode? code
function nasoone.default_device() end

--- A new, empty filter builder (nasoone-lib's Filter): every method returns it, so calls chain;
--- tostring(filter) is its BPF expression.
---@return nasoone.Filter
function nasoone.filter() end

--- The Community ID (version 1) of a 5-tuple row or record: "1:" and 28 base64 characters, the
--- same for both directions of a flow. nil, message for a row that is not a 5-tuple one.
---@param row nasoone.Row
---@param seed? integer 0 (the default) to 65535
---@return string? id
---@return string? message
function nasoone.community_id(row, seed) end

--- Becomes `user` (with `group`, or the user's own groups) and drops every capability, for good.
--- Call it after set_capture_device and before start: the capture's threads are born unprivileged.
---@param user string
---@param group? string
---@return true|nil ok
---@return string? message
function nasoone.drop_privileges(user, group) end

--- Prometheus text (exposition format 0.0.4) of a capture's stats: nasoone_packets_received_total
--- and the rest, with HELP and TYPE lines; `labels` are added to every sample.
---@param stats nasoone.Stats
---@param labels? table<string, string|number>
---@return string
function nasoone.metrics(stats, labels) end

------------------------------------------------------------------------------------------------
-- The capture

--- A capture: a source (a file or an interface), a report and exports, run by C threads.
--- Misuse (a wrong type, a value out of range, an unknown option) raises; a failure met in
--- normal use returns `nil, "nasoone: ...", code`. Setters work in states "initial" and
--- "runnable" and return the capture, so they chain. `<close>` and collection close it.
---@class nasoone.Capture
local Capture = {}

--- Opens a pcap or pcapng file now (plain or compressed: gzip, zstd, lz4; a FIFO; "-" for
--- standard input), or a list of files read one after the other as one capture; state "runnable".
---@param path string|string[]
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_capture_file(path) end

--- Opens and activates a live interface now; state "runnable". A list of names (at most 16)
--- reads them all as one capture, each row's `interface` naming where it was seen.
---@param name string|string[]
---@param options? nasoone.DeviceOptions
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code no_such_device, permission_denied, interface_down or error
function Capture:set_capture_device(name, options) end

--- The report file (it must not exist: created at start, then rewritten atomically).
---@param path string
---@param options? nasoone.OutputOptions
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_output(path, options) end

--- The report interval in seconds, > 0 (fractions allowed); default 1.
---@param seconds number
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_timeout(seconds) end

--- Parser threads, 1 to 64; default one per logical core less one (the reader's), at least 1.
---@param count integer
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_parsers(count) end

--- The report's key: "4-tuple" (the default, TCP and UDP) or "5-tuple" (every IP protocol, the
--- protocol in the key; ICMP's type and code as its ports).
---@param key "4-tuple"|"5-tuple"
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_flow_key(key) end

--- With true, 5-tuple rows (on_report's, on_flows' records) and the JSON lines nasoone writes
--- (the report and the flow log) carry community_id, their Community ID with `seed` (default 0).
---@param on boolean
---@param seed? integer
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_community_id(on, seed) end

--- With true, a row and a record per connection, both directions (RFC 5103): the fields of the
--- initiator's direction (the sender of a SYN without ACK, else of the first packet), then
--- reverse_* for the other. The report file gets the reverse columns; timeouts and max_flows
--- apply to pairs. Off by default.
---@param on boolean
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_biflow(on) end

--- The input ends after this many packets received (after the filter), as a file ends: the
--- capture finishes with its final report (tcpdump -c). 0: no limit (the default).
---@param packets integer
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_packet_limit(packets) end

--- A libpcap filter expression, compiled now against the source's link type ("" clears it).
---@param bpf string
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_raw_filter(bpf) end

--- A filter from nasoone.filter() (its VLAN part left out on links without VLANs), or a BPF
--- expression (a string, or a value whose __tostring gives one).
---@param filter nasoone.Filter|string
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_filter(filter) end

--- What happens to IP fragments after the first.
---@param mode nasoone.FragmentMode
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_fragments(mode) end

--- fn(report) after each report, on the thread that calls wait, poll or stop; nil removes it.
--- With rows = "tables" (the default) the report is a nasoone.ReportTable, else a
--- nasoone.Report valid while fn runs.
---@param fn? fun(report: nasoone.ReportTable|nasoone.Report)
---@param options? nasoone.OnReportOptions
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:on_report(fn, options) end

--- Flow lifecycle: rows that end leave the report with a flow record. Each limit is optional;
--- none set keeps every row for the whole capture.
---@param limits nasoone.FlowLimits
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:set_flow_limits(limits) end

--- Flow records to "jsonl" files (target: a path whose file name goes through strftime, UTC)
--- or "ipfix" (target: "udp://HOST:PORT" or "file:PATH"). Checked now; at most 8.
---@param kind nasoone.ExportKind
---@param target string
---@param options? nasoone.JsonlExportOptions|nasoone.IpfixExportOptions
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:add_export(kind, target, options) end

--- fn(records) with each batch of flow records, on the thread that calls wait, poll or stop;
--- nil removes it.
---@param fn? fun(records: nasoone.Record[])
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:on_flows(fn) end

--- "runnable" to "running": needs set_output, on_report, on_flows or add_export.
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:start() end

--- "running" to "paused" (a file is not read while paused).
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:pause() end

--- "paused" to "running" (or "finished", if the file ended while paused).
---@return nasoone.Capture? self
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:resume() end

--- Joins every thread, writes the final report, runs the last callbacks. Returns the stats,
--- or nil, message, "report_not_written" when the final report did not reach the disk (the
--- capture is stopped all the same).
---@return nasoone.Stats? stats
---@return string? message
---@return nasoone.ErrorCode? code
function Capture:stop() end

---@return nasoone.State
function Capture:state() end

--- Packets read so far.
---@return integer
function Capture:total_packets() end

--- libpcap's name of the source's link type ("EN10MB", "LINUX_SLL"...), nil before a source.
---@return string?
function Capture:datalink() end

--- The counters, at any time.
---@return nasoone.Stats
function Capture:stats() end

--- nasoone.metrics of the capture's stats now.
---@param labels? table<string, string|number>
---@return string
function Capture:metrics(labels) end

--- Runs the callbacks as reports and records arrive, until the capture is over (true) or
--- `seconds` pass (false); no argument: until the end. The second value is the error the
--- capture ended on, or the last error of an export since the previous wait or poll. Before
--- start: nil, message, "wrong_state".
---@param seconds? number
---@return boolean? over
---@return string? error
---@return nasoone.ErrorCode? code
function Capture:wait(seconds) end

--- Runs the callbacks pending now, without blocking: true once the capture is over, else false;
--- the second value as for wait.
---@return boolean? over
---@return string? error
---@return nasoone.ErrorCode? code
function Capture:poll() end

--- A descriptor that becomes readable when a report is published or the capture ends: watch
--- it in an event loop (luv, cqueues, copas), then call poll, which clears it.
---@return integer
function Capture:fd() end

--- Stops (if running) and frees; safe to call again. Any other call then raises.
function Capture:close() end

------------------------------------------------------------------------------------------------
-- Options

--- set_capture_device's options, each optional; an unknown one raises.
---@class nasoone.DeviceOptions
---@field snaplen? integer bytes kept per packet, 0 to 262144; default 2048
---@field promiscuous? boolean default true
---@field buffer_size? integer the kernel's capture buffer in bytes; default 16 MiB
---@field immediate? boolean hand each packet over at once, not in blocks; default false
---@field timestamp_precision? "micro"|"nano" default "micro"
---@field timeout? number libpcap's block timeout in seconds, 0 to 60; default 0.1

---@class nasoone.OutputOptions
---@field format? "csv"|"jsonl" default "csv"
---@field columns? "seed"|"extended" the CSV's: the seed's nine, or those then ip bytes and tcp flags (default "seed")

--- set_flow_limits' table, each optional.
---@class nasoone.FlowLimits
---@field idle_timeout? number seconds (fractions allowed) a row may stay idle
---@field active_timeout? number seconds of a record before an "active" record is made
---@field max_flows? integer rows held at most, 1 to 1000000000

---@class nasoone.JsonlExportOptions
---@field rotate? integer seconds per file, 1 to 31622400 (the name needs a time conversion); default one file

---@class nasoone.IpfixExportOptions
---@field domain? integer the observation domain, 0 to 4294967295; default 0
---@field mtu? integer the largest message in bytes, 256 to 65535; default 1400 over UDP
---@field template_resend? integer seconds between templates over UDP, 1 to 86400; default 10

---@class nasoone.OnReportOptions
---@field rows? nasoone.ReportRows

------------------------------------------------------------------------------------------------
-- Rows, records and reports

--- A report row: one per (source, destination) address and port. Times are milliseconds since
--- the epoch; bytes are frame bytes on the wire, ip_bytes the IP header plus payload.
---@class nasoone.Row
---@field source_ip string
---@field source_port integer
---@field destination_ip string
---@field destination_port integer
---@field protocols nasoone.Protocol[]
---@field first integer
---@field last integer
---@field bytes integer
---@field packets integer
---@field ip_bytes integer
---@field tcp_flags integer OR of the TCP flags seen (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, URG 32, ECE 64, CWR 128)
---@field community_id? string a 5-tuple row's Community ID, with set_community_id(true)
---@field interface? string a capture of several devices: the one the row was seen on
---@field reverse_protocols? nasoone.Protocol[] biflow mode (set_biflow): the reverse direction's
--- (the fields above are the initiator's direction)
---@field reverse_first? integer biflow mode: the reverse direction's first packet (0 when it sent none)
---@field reverse_last? integer biflow mode
---@field reverse_bytes? integer biflow mode
---@field reverse_packets? integer biflow mode
---@field reverse_ip_bytes? integer biflow mode
---@field reverse_tcp_flags? integer biflow mode

--- A flow record: a row's counts since its previous record, and why it was made.
---@class nasoone.Record: nasoone.Row
---@field reason nasoone.EndReason

--- What on_report's callback gets with rows = "tables".
---@class nasoone.ReportTable
---@field final boolean true for the last report
---@field rows nasoone.Row[] in report order

--- What on_report's callback gets with rows = "lazy" or "changed": a userdata over the
--- engine's snapshot, valid while the callback runs (later use raises). #report counts the
--- rows handed over, report[i] builds row i as a new table (nil outside 1..#report).
---@class nasoone.Report
---@field final boolean true for the last report
---@operator len: integer
---@field [integer] nasoone.Row?
local Report = {}

--- An iterator that refills ONE row table at each step: `for i, row in report:rows() do`.
---@return fun(report: nasoone.Report, i: integer): integer?, nasoone.Row
---@return nasoone.Report
---@return integer
function Report:rows() end

--- Sums over every row of the report (also with rows = "changed").
---@return nasoone.Totals
function Report:totals() end

--- Frees the snapshot now; safe to call again.
function Report:close() end

---@class nasoone.Totals
---@field rows integer
---@field bytes integer
---@field packets integer
---@field ip_bytes integer

------------------------------------------------------------------------------------------------
-- Stats

--- cap:stats() and what stop returns.
--- One device of a capture of several (stats().devices).
---@class nasoone.Stats.Device
---@field name string
---@field received integer packets read from it
---@field pcap_received integer libpcap's ps_recv
---@field dropped integer libpcap's ps_drop
---@field if_dropped integer libpcap's ps_ifdrop

---@class nasoone.Stats
---@field state nasoone.State the state when the stats were taken
---@field received integer packets read from libpcap
---@field counted integer packets that went into a report row
---@field skipped_total integer packets not counted
---@field skipped nasoone.Stats.Skipped packets not counted, by reason
---@field flows integer rows in the report
---@field reports_written integer report file rewrites
---@field queue_waits integer times the file reader waited for the parsers
---@field dropped integer live: libpcap's ps_drop
---@field if_dropped integer live: libpcap's ps_ifdrop
---@field pcap_received integer live: libpcap's ps_recv
---@field devices? nasoone.Stats.Device[] several devices: each one's counters, in the order given
---@field queue_dropped integer live: packets dropped because every batch was in use
---@field paused_discarded integer live: packets read while paused
---@field warning? string live: libpcap's warning at activation
---@field fragments_attributed integer later fragments counted in their datagram's row
---@field memory_bytes integer memory of the report's flow table
---@field file_truncated boolean the capture file ends inside a record
---@field error? string the first error that lost data or ended the capture
---@field write_error? string the last failed report rewrite, until one succeeds
---@field report_current boolean the report file holds the latest report
---@field anomalies nasoone.Stats.Anomalies capture records whose header cannot be true
---@field rows_held integer flow lifecycle: rows held now
---@field rows_peak integer flow lifecycle: the most rows held at once
---@field rows_ended nasoone.Stats.RowsEnded rows that left, and records made, by reason
---@field records integer flow records made
---@field table_memory_bytes integer the lifecycle table's memory
---@field exports nasoone.ExportStats[] per export, in add_export order, then on_flows
---@field file_size integer capture files: the file's size in bytes (0 live)
---@field file_read integer capture files: bytes read so far (0 live)
---@field file_number? integer capture files: the file being read, from 1 (a list: one after the other)
---@field file_count? integer capture files: how many (1, or the list's length)
---@field file? string capture files: the name of the file being read
---@field cpu nasoone.Stats.Cpu CPU seconds of the engine's threads

---@class nasoone.Stats.Skipped
---@field not_ip integer
---@field not_tcp_udp integer
---@field fragment integer
---@field truncated integer
---@field invalid integer
---@field unsupported_link integer a pcapng interface of a link type nasoone does not decode

---@class nasoone.Stats.Anomalies
---@field time_out_of_range integer
---@field time_fraction_out_of_range integer
---@field wire_length_below_captured integer

---@class nasoone.Stats.RowsEnded
---@field idle integer
---@field active integer
---@field capacity integer
---@field ["end"] integer

---@class nasoone.Stats.Cpu
---@field reader number
---@field parsers number
---@field writer number
---@field keeper number
---@field exporter number

---@class nasoone.ExportStats
---@field kind "jsonl"|"ipfix"|"on_flows"
---@field target string
---@field sent integer records handed over
---@field dropped integer records lost (never more than stats.records with sent)
---@field errors integer failures
---@field error? string the last failure
---@field recovered integer JSON lines: files a crashed run left open that start published

------------------------------------------------------------------------------------------------
-- Devices

---@class nasoone.Device
---@field name string
---@field description? string
---@field addresses nasoone.DeviceAddress[]
---@field flags nasoone.DeviceFlags

---@class nasoone.DeviceAddress
---@field family "inet"|"inet6"
---@field address? string
---@field netmask? string

---@class nasoone.DeviceFlags
---@field up boolean
---@field running boolean
---@field loopback boolean
---@field wireless boolean

------------------------------------------------------------------------------------------------
-- The filter builder

--- nasoone-lib's filter builder: hosts (either direction) exclude source/destination hosts and
--- the other way round, the same for ports; entries of one kind are or-ed, kinds and-ed.
--- Every method returns the filter. An address that is not IPv4/IPv6 or a port outside
--- 0-65535 raises.
---@class nasoone.Filter
---@field hosts string[]
---@field src_hosts string[]
---@field dst_hosts string[]
---@field ports integer[]
---@field src_ports integer[]
---@field dst_ports integer[]
---@field protocol? "tcp"|"udp"
local Filter = {}

--- Packets from or to `address`; drops the source and destination hosts.
---@param address string
---@return nasoone.Filter
function Filter:add_host(address) end

--- Packets from `address`; drops the hosts of either direction.
---@param address string
---@return nasoone.Filter
function Filter:add_src_host(address) end

--- Packets to `address`; drops the hosts of either direction.
---@param address string
---@return nasoone.Filter
function Filter:add_dst_host(address) end

--- Packets from or to `port`; drops the source and destination ports.
---@param port integer
---@return nasoone.Filter
function Filter:add_port(port) end

--- Packets from `port`; drops the ports of either direction.
---@param port integer
---@return nasoone.Filter
function Filter:add_src_port(port) end

--- Packets to `port`; drops the ports of either direction.
---@param port integer
---@return nasoone.Filter
function Filter:add_dst_port(port) end

---@return nasoone.Filter
function Filter:tcp_only() end

---@return nasoone.Filter
function Filter:udp_only() end

--- TCP and UDP.
---@return nasoone.Filter
function Filter:any_protocol() end

--- The same as any_protocol.
---@return nasoone.Filter
function Filter:clear_protocol() end

--- nasoone-lib's name of tcp_only.
---@return nasoone.Filter
function Filter:set_tcp_only() end

--- nasoone-lib's name of udp_only.
---@return nasoone.Filter
function Filter:set_udp_only() end

---@return nasoone.Filter
function Filter:clear_host() end

---@return nasoone.Filter
function Filter:clear_src_host() end

---@return nasoone.Filter
function Filter:clear_dst_host() end

---@return nasoone.Filter
function Filter:clear_port() end

---@return nasoone.Filter
function Filter:clear_src_port() end

---@return nasoone.Filter
function Filter:clear_dst_port() end

--- Every host list.
---@return nasoone.Filter
function Filter:clear_hosts() end

--- Every port list.
---@return nasoone.Filter
function Filter:clear_ports() end

--- Hosts, ports and protocol: an empty filter.
---@return nasoone.Filter
function Filter:clear() end

---@class nasoone.BpfOptions
---@field vlan? boolean false: no VLAN part (default true: also matches behind up to 3 VLAN tags)

--- The BPF expression: "" (everything) for an empty filter. tostring(filter) is filter:bpf().
---@param options? nasoone.BpfOptions
---@return string
function Filter:bpf(options) end

return nasoone
