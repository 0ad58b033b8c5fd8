/*
 * nasoone.h - the C engine: capture, decode and report connections. No Lua in here.
 *
 * One nasoone_capture is driven by one controlling thread (the "caller": the Lua thread in the
 * module). Every function below is called by the caller only; the engine's own threads (the
 * reader, the parsers, the writer, and with flow limits or exports the keeper and the exporter)
 * never call back into the caller's code: they publish report snapshots and flow record batches
 * that the caller takes with nasoone_take_snapshot() and nasoone_take_flows() when
 * nasoone_event_fd() is readable.
 *
 * Functions that can fail return 0 on success and -1 on failure with a message starting with
 * "nasoone: " in err (err_size bytes, always NUL-terminated; NASOONE_MESSAGE_SIZE holds any
 * message whole, and a smaller buffer loses the message's middle, never the reason at its end).
 */
#ifndef NASOONE_H
#define NASOONE_H

#include <stddef.h>
#include <stdint.h>

/* Most parser threads a capture can have (nasoone_set_parser_count). */
#define NASOONE_MAX_PARSERS 64

/* Room for any message the engine makes (an over-long path or filter in it is cut in the
 * middle so the reason after it stays). */
#define NASOONE_MESSAGE_SIZE 1024

enum nasoone_state {
    NASOONE_INITIAL,  /* nothing to capture from yet */
    NASOONE_RUNNABLE, /* a capture file or device is set */
    NASOONE_RUNNING,
    NASOONE_PAUSED,
    NASOONE_FINISHED, /* the file ended (or the device went away); the final report is written.
                       * A capture paused at that moment becomes finished when resumed. */
    NASOONE_STOPPED,  /* stop() joined every thread; terminal */
};

/* Why packets were not counted; indexes of nasoone_stats.skipped. Same order as decode.h. */
enum nasoone_skip_reason {
    NASOONE_SKIP_NOT_IP = 1,
    NASOONE_SKIP_NOT_TCP_UDP,
    NASOONE_SKIP_FRAGMENT,
    NASOONE_SKIP_TRUNCATED,
    NASOONE_SKIP_INVALID,
    NASOONE_SKIP_UNSUPPORTED_LINK, /* a pcapng interface of a link type nasoone does not decode */
    NASOONE_SKIP_REASON_END,
};

/* What happens to IP fragments after the first (which carries the ports and always counts). */
enum nasoone_fragment_mode {
    NASOONE_FRAGMENTS_SKIP,      /* not counted: stats.skipped[NASOONE_SKIP_FRAGMENT] (default) */
    NASOONE_FRAGMENTS_ATTRIBUTE, /* counted in the row of their datagram's first fragment when it
                                  * was seen (within 30 s); the rest skipped as above */
};

/* Why a flow record was made; the values are IPFIX's flowEndReason. */
enum nasoone_end_reason {
    NASOONE_END_IDLE = 1,     /* no packet for idle_timeout: the row left */
    NASOONE_END_ACTIVE = 2,   /* active_timeout since its previous record: the row stays */
    NASOONE_END_END = 4,      /* end of the file, or stop: the row stays in the final report */
    NASOONE_END_CAPACITY = 5, /* max_flows rows were held: the least recently seen left */
    NASOONE_END_REASON_END,
};

/* Most exports a capture can have (nasoone_add_export). */
#define NASOONE_MAX_EXPORTS 8

/* One export's figures (and on_flows', kind "on_flows"). */
struct nasoone_export_stats {
    char kind[16];      /* "jsonl", "ipfix", "on_flows" */
    char target[256];   /* what add_export was given (cut if longer) */
    uint64_t sent;      /* records written, sent, or queued for on_flows */
    uint64_t dropped;   /* records lost: collector or disk failing, a live capture's exporter or
                           on_flows caller behind */
    uint64_t errors;    /* failed operations */
    uint64_t recovered; /* jsonl: files a crashed run left open that start published */
    char error[NASOONE_MESSAGE_SIZE]; /* the last failure, "" if none */
};

/* The engine's threads, for nasoone_stats.cpu_ns: the reader, the parsers (together), the
 * writer, and in flow lifecycle mode the keeper and the exporter. */
enum nasoone_thread_role {
    NASOONE_THREAD_READER,
    NASOONE_THREAD_PARSERS,
    NASOONE_THREAD_WRITER,
    NASOONE_THREAD_KEEPER,
    NASOONE_THREAD_EXPORTER,
    NASOONE_THREAD_ROLE_END
};
/* "reader", "parsers", "writer", "keeper", "exporter". */
const char *nasoone_thread_role_name(int role);

/* The most devices one capture reads (nasoone_set_capture_devices), and the longest name one
 * of them may have there. */
#define NASOONE_MAX_DEVICES     16
#define NASOONE_DEVICE_NAME_MAX 63

/* One device of a capture of several. */
struct nasoone_device_stats {
    char name[64];          /* cut if longer */
    uint64_t received;      /* packets read from it (before the filter's rejects: none reach) */
    uint64_t pcap_received; /* libpcap's ps_recv */
    uint64_t dropped;       /* libpcap's ps_drop (kernel buffer full) */
    uint64_t if_dropped;    /* libpcap's ps_ifdrop */
};

struct nasoone_stats {
    uint64_t received;                         /* packets read from libpcap */
    uint64_t counted;                          /* packets that went into a report row */
    uint64_t skipped[NASOONE_SKIP_REASON_END]; /* by enum nasoone_skip_reason; [0] unused */
    uint64_t skipped_total;
    uint64_t dropped;              /* live: libpcap's ps_drop (kernel buffer full) */
    uint64_t if_dropped;           /* live: libpcap's ps_ifdrop */
    uint64_t queue_dropped;        /* always 0: the reader waits for a batch, the kernel holds */
    uint64_t queue_waits;          /* file: times the reader waited for parsers to catch up */
    uint64_t paused_discarded;     /* live: packets read while paused and not counted */
    uint64_t fragments_attributed; /* later fragments counted in their first fragment's row */
    uint64_t flows;                /* rows in the cumulative report */
    uint64_t reports_written;      /* report file rewrites done */
    /* the report's flow table: the cumulative one (lifecycle: the writer's copy of the keeper's
     * table, the table itself once it ended); with one parser, and the delta it counts into
     * while the writer has its table; not the bounded deltas of several parsers */
    uint64_t memory_bytes;
    uint64_t pcap_received; /* live: libpcap's ps_recv */
    /* Records whose header fields cannot be true, as the capture file gave them: */
    uint64_t time_out_of_range; /* before 1970 or past what a report holds: skipped as invalid */
    uint64_t time_fraction_out_of_range; /* fraction >= 1 s: taken as libpcap gives it */
    uint64_t wire_length_below_captured; /* len < caplen: counted, with len bytes */
    int file_truncated;                  /* the capture file ended in the middle of a record */
    uint64_t file_size; /* file captures: the file's size when it was opened; 0 for a device */
    uint64_t file_read; /* file captures: bytes of it read so far (file_size at the end) */
    /* file captures: the file being read (a list's: one after the other), from 1, of count */
    unsigned file_number, file_count;
    char file[256]; /* its name (cut if longer); "" for a device */
    /* libpcap's warning when the device was activated, "" if none */
    char warning[256];
    /* the first error that lost data or ended the capture (a read error, a device that went
     * away, out of memory, a final report not written), "" if none */
    char error[NASOONE_MESSAGE_SIZE];
    /* the last failed report rewrite, "" once one succeeded */
    char write_error[NASOONE_MESSAGE_SIZE];
    /* the report file holds the latest report (its last rewrite did not fail); 0 too when there
     * is no report file */
    int report_current;
    /* Flow lifecycle (nasoone_set_flow_limits, exports, on_flows); all 0 otherwise. */
    uint64_t rows_held;                          /* rows in the lifecycle table now */
    uint64_t rows_peak;                          /* most rows held at once */
    uint64_t rows_ended[NASOONE_END_REASON_END]; /* by enum nasoone_end_reason: rows that left
                                                    (idle, capacity), records made (active, end) */
    uint64_t records;                            /* flow records made */
    /* the lifecycle table's memory (beside memory_bytes: once the input ended, without the
     * table that the report took over) */
    uint64_t table_memory_bytes;
    unsigned export_count;
    struct nasoone_export_stats exports[NASOONE_MAX_EXPORTS + 1]; /* + on_flows, last */
    /* CPU time of the engine's threads, in nanoseconds, by enum nasoone_thread_role: each
     * thread adds its own when it ends, so they are complete once the run is over. */
    uint64_t cpu_ns[NASOONE_THREAD_ROLE_END];
    /* A capture of several devices: each one's counters (the fields above are their sums);
     * 0 otherwise. */
    unsigned device_count;
    struct nasoone_device_stats devices[NASOONE_MAX_DEVICES];
};

/* Bits of nasoone_row.protocols. */
enum nasoone_protocol { NASOONE_TCP = 1u << 0, NASOONE_UDP = 1u << 1, NASOONE_OTHER = 1u << 2 };

/* The report's key (nasoone_set_flow_key). */
enum nasoone_flow_key {
    NASOONE_KEY_4_TUPLE, /* the default, the seed's: addresses and ports; TCP and UDP only */
    NASOONE_KEY_5_TUPLE, /* and the IP protocol: every IP protocol makes rows */
};

/* The name of IP protocol `number` ("TCP", "ICMP", "ICMPv6", "GRE", ...), or its decimal
 * digits, in buf (at least 12 bytes); returns buf. */
const char *nasoone_protocol_name(unsigned number, char *buf);
/* The number of a protocol name nasoone_protocol_name gives (its digits too), or -1. */
int nasoone_protocol_number(const char *name, size_t length);

/* One row of a report: a connection (source, source port, destination, destination port). */
struct nasoone_row {
    uint8_t source[16];      /* network byte order; IPv4 in the first 4 bytes, the rest zero */
    uint8_t destination[16]; /* likewise */
    uint16_t source_port;    /* host byte order */
    uint16_t destination_port;
    uint8_t family;    /* 4 (IPv4) or 6 (IPv6) */
    uint8_t protocols; /* enum nasoone_protocol bits seen */
    uint8_t protocol;  /* 5-tuple mode: the row's IP protocol number (ICMP's type and code are its
                        * ports); 0 in 4-tuple mode */
    uint8_t tcp_flags; /* OR of the TCP flags seen: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08,
                        * ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80 (IPFIX tcpControlBits) */
    uint64_t first_ms; /* earliest packet time, milliseconds since the epoch (truncated) */
    uint64_t last_ms;  /* latest packet time */
    uint64_t bytes;    /* sum of the frames' wire lengths */
    uint64_t packets;
    uint64_t ip_bytes; /* sum of IP header plus payload as the IP headers say (what IPFIX calls
                          octetDeltaCount) */
    /* Biflow mode (nasoone_set_biflow): the row is a connection's two directions. The fields
     * above are the forward direction's, the initiator's (see docs/report.md), these the
     * reverse direction's; all 0 when it sent nothing, and always 0 without biflows. */
    uint64_t reverse_first_ms;
    uint64_t reverse_last_ms;
    uint64_t reverse_bytes;
    uint64_t reverse_packets;
    uint64_t reverse_ip_bytes;
    uint8_t biflow; /* 1: a biflow row (whether or not the reverse sent anything) */
    /* A capture of several devices (nasoone_set_capture_devices): the one the row was seen on,
     * from 1 (part of the row's key); 0 otherwise. */
    uint8_t device;
    uint8_t reverse_protocols; /* enum nasoone_protocol bits the reverse direction sent */
    uint8_t reverse_tcp_flags;
};

/* Room for an address nasoone_format_address writes, NUL included. */
#define NASOONE_ADDRESS_SIZE 46

/* Writes the row's source (source != 0) or destination address as the report does
 * ("192.0.2.1", "2001:db8::1") into buf (NASOONE_ADDRESS_SIZE bytes). Any thread. */
void nasoone_format_address(const struct nasoone_row *row, int source, char *buf);

/* One report, rows in report order, handed from the writer to the caller. */
struct nasoone_snapshot {
    int final; /* the last report of the capture */
    size_t count;
    struct nasoone_row rows[];
};

/* Options of a live capture (nasoone_set_capture_device). */
struct nasoone_device_options {
    int snaplen;     /* bytes kept of each packet; default 2048 (headers are all nasoone reads) */
    int promiscuous; /* default 1 */
    int buffer_size; /* kernel buffer in bytes; default 16 MiB; 0: libpcap's own (2 MiB) */
    int immediate;   /* hand packets over at once instead of in blocks; default 0 */
    int nanosecond;  /* ask the kernel for nanosecond timestamps; default 0 (microsecond) */
    int timeout_ms;  /* libpcap's block timeout; default 100 */
};

typedef struct nasoone_capture nasoone_capture;

/* Returns a capture in state initial, or NULL when out of memory. */
nasoone_capture *nasoone_capture_new(void);

/* Stops the capture if needed (joining its threads) and frees everything. NULL is allowed. */
void nasoone_capture_free(nasoone_capture *capture);

/* Setters: allowed in states initial and runnable. */
/* A capture file: pcap or pcapng, plain or compressed (gzip, zstd, lz4), a FIFO, or "-" for
 * standard input. */
int nasoone_set_capture_file(nasoone_capture *capture, const char *path, char *err,
                             size_t err_size);
/* Regular files read one after the other as one capture, in this order (flows and timeouts go
 * on across the borders); each is checked now. */
int nasoone_set_capture_files(nasoone_capture *capture, const char *const *paths, size_t count,
                              char *err, size_t err_size);
/* Opens and activates a live device now (options NULL: the defaults). On failure
 * nasoone_error_code() tells no_such_device, permission_denied, interface_down or error. */
int nasoone_set_capture_device(nasoone_capture *capture, const char *device,
                               const struct nasoone_device_options *options, char *err,
                               size_t err_size);
/* Several live devices read as one capture (at most NASOONE_MAX_DEVICES, each named once, all
 * with these options): each row and record carries the device it was seen on (nasoone_row.device,
 * a number from 1; nasoone_device_name), so the same connection on two devices makes two rows.
 * One device is nasoone_set_capture_device. */
int nasoone_set_capture_devices(nasoone_capture *capture, const char *const *devices, size_t count,
                                const struct nasoone_device_options *options, char *err,
                                size_t err_size);
/* The name of device number `device` (from 1) of a capture of several, or NULL. */
const char *nasoone_device_name(nasoone_capture *capture, unsigned device);
void nasoone_device_options_init(struct nasoone_device_options *options);
/* A short stable name for the reason of the last failed call, or NULL before any failed:
 * wrong_state, not_found, permission_denied, not_a_capture, unsupported_link, exists,
 * invalid_path, invalid_argument, bad_filter, no_such_device, interface_down, no_space,
 * out_of_memory, io_error, report_not_written, error (anything else). */
const char *nasoone_error_code(nasoone_capture *capture);
int nasoone_set_output(nasoone_capture *capture, const char *path, char *err, size_t err_size);
int nasoone_set_interval_ms(nasoone_capture *capture, uint32_t interval_ms, char *err,
                            size_t err_size);
int nasoone_set_parser_count(nasoone_capture *capture, unsigned count, char *err, size_t err_size);
/* The report's key: NASOONE_KEY_4_TUPLE (the default) or NASOONE_KEY_5_TUPLE. */
int nasoone_set_flow_key(nasoone_capture *capture, enum nasoone_flow_key key, char *err,
                         size_t err_size);
/* Biflows (RFC 5103): on != 0 pairs the two directions of each connection into one row and
 * one flow record, the forward direction being the initiator's (docs/report.md says how it is
 * told). The report file then has the reverse columns or fields; timeouts and max_flows apply
 * to pairs. Off by default. */
int nasoone_set_biflow(nasoone_capture *capture, int on, char *err, size_t err_size);
/* The Community ID (version 1, this seed; -1: none, the default) of every 5-tuple row and record
 * in the JSON lines nasoone writes (the report file and the flow log). Lua rows take it with
 * cap:set_community_id, which sets this too. */
int nasoone_set_community_id(nasoone_capture *capture, int seed, char *err, size_t err_size);
/* The input ends after `packets` packets received (after the filter), as a file ends: the capture
 * finishes with its final report (tcpdump -c). 0: no limit (the default). */
int nasoone_set_packet_limit(nasoone_capture *capture, uint64_t packets, char *err,
                             size_t err_size);
/* A BPF expression ("" or NULL clears); compiled against the capture's link type now. */
int nasoone_set_filter(nasoone_capture *capture, const char *bpf, char *err, size_t err_size);
int nasoone_set_fragment_mode(nasoone_capture *capture, enum nasoone_fragment_mode mode, char *err,
                              size_t err_size);
/* The report file's format: "csv" (the default: a header, then "; "-separated rows),
 * "csv-extended" (the same nine columns, then ip bytes and tcp flags) or "jsonl" (one JSON
 * object per row, no header). Allowed in states initial and runnable. */
int nasoone_set_output_format(nasoone_capture *capture, const char *format, char *err,
                              size_t err_size);

/* Flow lifecycle. A zero field is no such limit; all zero (the default) keeps every row for
 * the whole capture. Times are capture time (packet timestamps). */
struct nasoone_flow_limits {
    uint64_t idle_timeout_ms;   /* a row with no packet for longer leaves ("idle") */
    uint64_t active_timeout_ms; /* a row's record is made when its packets span longer ("active") */
    uint32_t max_flows;         /* at most this many rows: the least recently seen leaves */
};
int nasoone_set_flow_limits(nasoone_capture *capture, const struct nasoone_flow_limits *limits,
                            char *err, size_t err_size);

/* Options of nasoone_add_export; nasoone_export_options_init sets the defaults. */
struct nasoone_export_options {
    uint32_t rotate_s;          /* jsonl: seconds of capture time per file; 0: one file */
    uint32_t domain;            /* ipfix: observation domain id; default 0 */
    uint32_t mtu;               /* ipfix: largest message; 0 (default): 1400 over UDP, 65535 in
                                   a file */
    uint32_t template_resend_s; /* ipfix over UDP: templates resent this often; default 10 */
};
void nasoone_export_options_init(struct nasoone_export_options *options);
/* kind "jsonl" (target: a path, strftime patterns allowed) or "ipfix" (udp://HOST:PORT or
 * file:PATH). Checked now (folder writable, no file at an IPFIX file's name, URL valid, host
 * resolved); what it writes to is created at start. Failure codes: invalid_argument,
 * invalid_path, exists, not_found, permission_denied, unreachable, out_of_memory. */
int nasoone_add_export(nasoone_capture *capture, const char *kind, const char *target,
                       const struct nasoone_export_options *options, char *err, size_t err_size);
/* One option of nasoone_add_export_named, by name: each kind of export declares the options it
 * takes, and checks them (jsonl: rotate, 1 to 31622400 s; ipfix: domain, 0 to 4294967295; mtu,
 * 128 to 65535; template_resend, 1 to 86400 s). */
struct nasoone_export_option {
    const char *name;
    double value; /* a whole number */
};
/* nasoone_add_export with options by name, as the Lua binding passes a table. Also fails with
 * code unknown_kind (err: "export kind must be 'jsonl' or 'ipfix'") or bad_option (err: "unknown
 * ipfix export option 'rotate'", "mtu must be an integer from 128 to 65535"): these two
 * messages name the argument at fault and have no "nasoone: " before them. */
int nasoone_add_export_named(nasoone_capture *capture, const char *kind, const char *target,
                             const struct nasoone_export_option *options, size_t count, char *err,
                             size_t err_size);
/* Whether records are queued for nasoone_take_flows (on_flows). */
int nasoone_set_flow_records(nasoone_capture *capture, int enabled, char *err, size_t err_size);

/* A flow record for the caller: the counts since the row's previous record. */
struct nasoone_flow_record {
    struct nasoone_row row;
    uint8_t reason; /* enum nasoone_end_reason */
};
struct nasoone_flow_batch {
    size_t count;
    struct nasoone_flow_record records[];
};
/* The report's format, owned here for every reader of reports (the Lua binding, the command's
 * view): its CSV header line (without the newline), its row order as a comparator, and that
 * order as NASOONE_ORDER_KEY_SIZE bytes whose memcmp orders rows as the report does (IPv4 before
 * IPv6, then source address numerically, source port, destination address, destination port,
 * protocol: 0 but in 5-tuple mode). */
#define NASOONE_ORDER_KEY_SIZE 38
const char *nasoone_report_header(void);
/* Becomes `user` (and `group`, or the user's own groups; NULL: the user's primary group) and
 * drops every capability, for good (no_new_privs): a capture whose device is open goes on
 * reading it. Call it after nasoone_set_capture_device and before nasoone_start, while the
 * process has no other thread (capabilities are per thread). The report's and exports' folders
 * must be writable by that user. Returns 0, or -1 with a message in err. */
int nasoone_drop_privileges(const char *user, const char *group, char *err, size_t err_size);

/* The Community ID (version 1) of a 5-tuple row (row->protocol set; ICMP's type and code in its
 * ports) with `seed` (0 by default), "1:" and 28 base64 characters, into out (at least 32
 * bytes); returns its length. Both directions of a flow give one ID. */
#define NASOONE_COMMUNITY_ID_SIZE 32
size_t nasoone_community_id(const struct nasoone_row *row, uint16_t seed, char *out);

/* TCP flags as nfdump and the extended CSV show them: "CEUAPRSF" (CWR ... FIN), a dot for each
 * flag not set, in out (at least 9 bytes). */
void nasoone_format_tcp_flags(unsigned flags, char *out);

/* The extended CSV's header line ("csv-extended": the same columns, then more). */
const char *nasoone_report_header_extended(void);
int nasoone_compare_rows(const struct nasoone_row *a, const struct nasoone_row *b);
void nasoone_order_key(const struct nasoone_row *row, uint8_t *out);

/* Takes the oldest pending batch of records (NULL if none); free it with nasoone_flows_free.
 * A file capture waits while 64 batches are untaken; a live one drops (counted). */
struct nasoone_flow_batch *nasoone_take_flows(nasoone_capture *capture);

/* How many record batches nasoone_take_flows would give now. */
size_t nasoone_pending_flow_batches(nasoone_capture *capture);
void nasoone_flows_free(struct nasoone_flow_batch *batch);
/* "idle", "active", "end", "capacity". */
const char *nasoone_end_reason_name(int reason);

/* Whether the writer publishes snapshots for nasoone_take_snapshot (off by default). */
int nasoone_set_snapshots(nasoone_capture *capture, int enabled, char *err, size_t err_size);

/* State moves; each fails with a message naming the current state when not allowed. */
int nasoone_start(nasoone_capture *capture, char *err, size_t err_size);
int nasoone_pause(nasoone_capture *capture, char *err, size_t err_size);
int nasoone_resume(nasoone_capture *capture, char *err, size_t err_size);
/* Stops reading, lets parsers and the writer finish (the final report holds every packet read),
 * joins every thread. Also returns -1 when the final report could not be written (the capture
 * is stopped all the same: the state says which). */
int nasoone_stop(nasoone_capture *capture, char *err, size_t err_size);

enum nasoone_state nasoone_get_state(nasoone_capture *capture);
/* libpcap's DLT_* of the capture source, -1 before one is set. */
int nasoone_get_datalink(nasoone_capture *capture);
const char *nasoone_state_name(enum nasoone_state state);
const char *nasoone_skip_reason_name(enum nasoone_skip_reason reason);
void nasoone_get_stats(nasoone_capture *capture, struct nasoone_stats *stats);

/* A descriptor that becomes readable when a snapshot is published or the state changes
 * (finished, stopped, resumed). */
int nasoone_event_fd(nasoone_capture *capture);
/* Sleeps until the event descriptor is readable or timeout_ms milliseconds pass (-1: no limit).
 * Returns 1 when it is readable, 0 on timeout, -1 when interrupted by a signal (errno EINTR:
 * the caller's chance to run its own signal handling) or on failure (errno says why). */
int nasoone_wait_event(nasoone_capture *capture, int timeout_ms);
/* Makes the event descriptor unreadable again. Call it BEFORE looking at the state and taking
 * the snapshot: whatever happens after it makes the descriptor readable again, so no wake-up
 * is lost between a look and a wait. */
void nasoone_clear_event(nasoone_capture *capture);
/* Takes the pending snapshot (NULL if none). The caller frees it with nasoone_snapshot_free.
 * If the caller is slow, older snapshots are replaced by newer ones: each is cumulative, so
 * only intermediate views are lost, never data. */
struct nasoone_snapshot *nasoone_take_snapshot(nasoone_capture *capture);
void nasoone_snapshot_free(struct nasoone_snapshot *snapshot);

/* The Lua 5.4 face, for programs that embed Lua and link libnasoone.a (lua.h is not needed
 * here: lua_State is Lua's `struct lua_State`). luaopen_nasoone opens the whole module, the Lua
 * part included (it is compiled into the library): preload it, and require("nasoone") needs no
 * search path. luaopen_nasoone_core is the C part alone (what nasoone.core.so exports). */
struct lua_State;
__attribute__((visibility("default"))) int luaopen_nasoone(struct lua_State *L);
__attribute__((visibility("default"))) int luaopen_nasoone_core(struct lua_State *L);

#endif
