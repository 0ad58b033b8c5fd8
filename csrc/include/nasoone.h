/*
 * nasoone.h - the C engine: capture, decode and report connections. No Lua in here.
 *
 * One nasoone_capture is driven by one controlling thread (the "caller": the Lua thread in the
 * module). Every function below is called by the caller only; the engine's own threads
 * (producer, parsers, writer) never call back into the caller's code: they publish snapshots
 * that the caller takes with nasoone_take_snapshot() when nasoone_event_fd() is readable.
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
    NASOONE_SKIP_REASON_END,
};

/* What happens to IP fragments after the first (which carries the ports and always counts). */
enum nasoone_fragment_mode {
    NASOONE_FRAGMENTS_SKIP,      /* not counted: stats.skipped[NASOONE_SKIP_FRAGMENT] (default) */
    NASOONE_FRAGMENTS_ATTRIBUTE, /* counted in the row of their datagram's first fragment when it
                                  * was seen (within 30 s); the rest skipped as above */
};

struct nasoone_stats {
    uint64_t received;                         /* packets read from libpcap */
    uint64_t counted;                          /* packets that went into a report row */
    uint64_t skipped[NASOONE_SKIP_REASON_END]; /* by enum nasoone_skip_reason; [0] unused */
    uint64_t skipped_total;
    uint64_t dropped;              /* live: libpcap's ps_drop (kernel buffer full) */
    uint64_t if_dropped;           /* live: libpcap's ps_ifdrop */
    uint64_t queue_dropped;        /* live: packets dropped because every batch was in use */
    uint64_t queue_waits;          /* file: times the reader waited for parsers to catch up */
    uint64_t paused_discarded;     /* live: packets read while paused and not counted */
    uint64_t fragments_attributed; /* later fragments counted in their first fragment's row */
    uint64_t flows;                /* rows in the cumulative report */
    uint64_t reports_written;      /* report file rewrites done */
    uint64_t memory_bytes;         /* flow tables' memory (cumulative table and parsers' deltas) */
    uint64_t pcap_received;        /* live: libpcap's ps_recv */
    /* Records whose header fields cannot be true, as the capture file gave them: */
    uint64_t time_out_of_range; /* before 1970 or past what a report holds: skipped as invalid */
    uint64_t time_fraction_out_of_range; /* fraction >= 1 s: taken as libpcap gives it */
    uint64_t wire_length_below_captured; /* len < caplen: counted, with len bytes */
    int file_truncated;                  /* the capture file ended in the middle of a record */
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
};

/* Bits of nasoone_row.protocols. */
enum nasoone_protocol { NASOONE_TCP = 1u << 0, NASOONE_UDP = 1u << 1 };

/* One row of a report: a connection (source, source port, destination, destination port). */
struct nasoone_row {
    uint8_t source[16];      /* network byte order; IPv4 in the first 4 bytes, the rest zero */
    uint8_t destination[16]; /* likewise */
    uint16_t source_port;    /* host byte order */
    uint16_t destination_port;
    uint8_t family;    /* 4 (IPv4) or 6 (IPv6) */
    uint8_t protocols; /* enum nasoone_protocol bits seen */
    uint64_t first_ms; /* earliest packet time, milliseconds since the epoch (truncated) */
    uint64_t last_ms;  /* latest packet time */
    uint64_t bytes;    /* sum of the frames' wire lengths */
    uint64_t packets;
    uint64_t ip_bytes; /* sum of IP header plus payload as the IP headers say (what IPFIX calls
                          octetDeltaCount) */
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
int nasoone_set_capture_file(nasoone_capture *capture, const char *path, char *err,
                             size_t err_size);
/* Opens and activates a live device now (options NULL: the defaults). On failure
 * nasoone_error_code() tells no_such_device, permission_denied, interface_down or error. */
int nasoone_set_capture_device(nasoone_capture *capture, const char *device,
                               const struct nasoone_device_options *options, char *err,
                               size_t err_size);
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
/* A BPF expression ("" or NULL clears); compiled against the capture's link type now. */
int nasoone_set_filter(nasoone_capture *capture, const char *bpf, char *err, size_t err_size);
int nasoone_set_fragment_mode(nasoone_capture *capture, enum nasoone_fragment_mode mode, char *err,
                              size_t err_size);
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
