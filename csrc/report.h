/*
 * report.h - the report's text forms (CSV, JSON lines) and its atomic rewrite.
 *
 * Rows are ordered by key: IPv4 before IPv6, then source address (numeric), source port,
 * destination address, destination port. Called by the writer thread, the exporter thread
 * (JSON text of flow records) and tests; nothing keeps state, the caller owns every buffer.
 */
#ifndef NASOONE_REPORT_H
#define NASOONE_REPORT_H

#include <stddef.h>

#include "flow_record.h"
#include "flow_table.h"

#define REPORT_HEADER_FIELDS                                                                       \
    "source ip; source port; destination ip; destination port; protocols; first; last; bytes; "    \
    "packets"
#define REPORT_HEADER REPORT_HEADER_FIELDS "\n"
/* The extended CSV: the seed's nine columns, then these (more may follow in later versions,
 * always after the ones before). */
#define REPORT_HEADER_EXTENDED_FIELDS REPORT_HEADER_FIELDS "; ip bytes; tcp flags"
#define REPORT_HEADER_EXTENDED        REPORT_HEADER_EXTENDED_FIELDS "\n"
/* The biflow CSV: the extended columns for the forward direction (the initiator's), then the
 * same counts for the reverse one (all 0 and "-" when it sent nothing). */
#define REPORT_HEADER_BIFLOW_FIELDS                                                                \
    REPORT_HEADER_EXTENDED_FIELDS                                                                  \
    "; reverse first; reverse last; reverse bytes; reverse packets; "                              \
    "reverse ip bytes; reverse tcp flags"
#define REPORT_HEADER_BIFLOW REPORT_HEADER_BIFLOW_FIELDS "\n"

/* Room for any row or record text this file writes (report_format_row, report_format_json
 * with a reason of at most REPORT_REASON_MAX bytes), newline and terminating NUL included. The
 * longest is a JSON flow record with two 39-character IPv6 addresses, 5-digit ports, 20-digit
 * counts and a 16-byte reason: 363 bytes and the NUL; a biflow's reverse fields add at most 223,
 * a Community ID 48 and a device name 80 (source_devices.c allows 63 printable bytes that need
 * no escaping). */
#define REPORT_ROW_MAX    768
#define REPORT_REASON_MAX 16

/* The report's order as 38 bytes (family, source address, source port big-endian, destination
 * address, destination port big-endian, protocol): memcmp of two keys orders them as the report
 * does. */
#define REPORT_ORDER_KEY_SIZE 38
void report_order_key(const struct flow_key *key, uint8_t out[REPORT_ORDER_KEY_SIZE]);

/* qsort comparator over `const struct flow_row *` elements: the report's row order. */
int report_compare_rows(const void *a, const void *b);

/* Fills `sorted` (room for table->count pointers) with the table's rows in report order. */
void report_sort_rows(const struct flow_table *table, const struct flow_row **sorted);

/* Keeps `order` (row indices of `table`, in report order) sorted as the table grows: rows
 * are only ever appended, so the `sorted_count` first ones are in order already and only the
 * rows added since are sorted, then merged in: O(n + k log k) instead of O(n log n) per report.
 * order and scratch have room for table->count entries. */
void report_order_extend(const struct flow_table *table, uint32_t *order, uint32_t sorted_count,
                         uint32_t *scratch);

/* Writes one CSV row, "\n" included, into buf (at least REPORT_ROW_MAX bytes); returns its
 * length. */
size_t report_format_row(const struct flow_row *row, char *buf);

/* Writes one JSON object and "\n" into buf (at least REPORT_ROW_MAX bytes); returns its length.
 * The fields are the Lua row's, in this order, with no spaces:
 *   {"source_ip":"192.0.2.1","source_port":443,"destination_ip":"198.51.100.7",
 *    "destination_port":53673,"protocols":["TCP"],"first":1672060821867,
 *    "last":1672060822494,"bytes":5228,"ip_bytes":5074,"packets":11}
 * protocols is [], ["TCP"], ["UDP"] or ["TCP","UDP"]; with a reason (a flow record: "idle",
 * "active", "end", "capacity"; cut at REPORT_REASON_MAX bytes), ,"reason":"..." comes last.
 * Addresses never need escaping and the reason is one of those names: nothing is escaped. */
size_t report_format_json(const struct flow_key *key, const struct flow_counters *counters,
                          const char *reason, char *buf);

/* Options of a JSON object beyond report_format_json's: a biflow's reverse counters (after
 * packets and tcp_flags: reverse_first, reverse_last, reverse_bytes, reverse_ip_bytes,
 * reverse_packets, and reverse_tcp_flags when the reverse direction had TCP), and the Community
 * ID (a 5-tuple key and community_seed >= 0). */
struct report_json_extra {
    const struct flow_counters *reverse; /* NULL: not a biflow */
    int community_seed;                  /* -1: none */
    const char *device_name;             /* several devices: "interface", after protocols */
};
size_t report_format_json_extra(const struct flow_key *key, const struct flow_counters *counters,
                                const struct report_json_extra *extra, const char *reason,
                                char *buf);

/* A text form of the report: its header line ("" for none) and its row renderer, with the
 * run's options. reverse is the row's other direction in biflow mode (NULL when none was seen,
 * and always NULL otherwise). */
#define REPORT_HEADER_MAX 512
struct report_format {
    const char *name;               /* "csv", "csv-extended", "csv-biflow", "jsonl" */
    char header[REPORT_HEADER_MAX]; /* "" for none */
    size_t (*format_row)(const struct report_format *format, const struct flow_row *row,
                         const struct flow_row *reverse, char *buf); /* buf >= REPORT_ROW_MAX */
    int biflow;         /* rows are pairs: the reverse columns or fields follow */
    int community_seed; /* >= 0: JSON rows of a 5-tuple report carry community_id, this seed */
    /* Several devices: their names (a key's device - 1 indexes them), the last CSV column or
     * the JSON "interface" field; NULL otherwise. */
    const char *const *device_names;
};

/* The seed's CSV (REPORT_HEADER, then report_format_row), the extended CSV (REPORT_HEADER_
 * EXTENDED: the same columns, then ip_bytes and the TCP flags as nfdump shows them, "CEUAPRSF"
 * with a dot for each flag not seen, or "-" for a row without TCP) and JSON lines (no header, one
 * report_format_json object per row, without reason). */
extern const struct report_format report_format_csv, report_format_csv_extended,
    report_format_jsonl;

/* `base` for a run with these options: a biflow CSV is always the biflow layout
 * (REPORT_HEADER_BIFLOW), whatever the columns asked, since the seed's cannot hold a pair; a
 * CSV of several devices (device_names not NULL) is at least the extended one, then
 * "; interface": the seed's columns would show a connection seen on two devices as two equal
 * rows. */
struct report_format report_format_for(const struct report_format *base, int biflow,
                                       int community_seed, const char *const *device_names);

/* Formats a row's address ("192.0.2.1", "2001:db8::1") into buf of at least 46 bytes. */
void report_format_address(const struct flow_key *key, int source, char *buf);

/* Writes the header and rows to a temporary file in the report's folder (folder_fd, from
 * report_open_folder: the folder as it was when the capture started, whatever is renamed or
 * linked at its path since), flushes it to disk and publishes it as the last component of
 * `path` (which also names the file in messages). replace: over the report (rename), taking
 * the permission bits and owner of the regular file there (never through a symbolic link, never
 * the set-ID bits); not replace: a new report, only if nothing has the name yet (EEXIST
 * otherwise), so that it appears whole or not at all. The temporary is unnamed while it is
 * written (O_TMPFILE, where the file system has it), so a crash leaves nothing behind, and
 * otherwise has a random name. On failure the old file is untouched, the temporary removed, and
 * a message ("nasoone: ...") is left in err, errno kept. Returns 0 or -1. */
int report_write_at(int folder_fd, const char *path, const struct report_format *format,
                    const struct flow_row *const *rows, const struct flow_row *const *reverse,
                    size_t count, int replace, char *err, size_t err_size);

/* report_write_at over the report at `path`, the folder opened for this one call. */
int report_write_atomic_as(const char *path, const struct report_format *format,
                           const struct flow_row *const *rows, size_t count, char *err,
                           size_t err_size);

/* report_write_atomic_as in CSV. */
int report_write_atomic(const char *path, const struct flow_row *const *rows, size_t count,
                        char *err, size_t err_size);

/* Whether a report could be written at `path`: a temporary file is made in its folder, as a
 * rewrite makes it, and removed (never at the report's own name, where a reader would see an
 * empty report). Returns 0, or -1 with errno. */
int report_try_create(const char *path);

/* Opens the folder of `path` (O_PATH) for report_write_at. Returns the descriptor or -1. */
int report_open_folder(const char *path);

/* Splits `path` into its folder ("." for a bare name, "/" at the root) and its last component
 * (a pointer into path). Returns 0, or -1 (ENAMETOOLONG) when the folder does not fit. */
int report_split_path(const char *path, char *folder, size_t folder_size, const char **name);

/* The longest suffix of a temporary name (".flows.tmp"). */
#define REPORT_TEMP_SUFFIX_MAX 10

/* Writes a fresh temporary name for `path` into temporary, in the same folder: "." + its last
 * component (cut so that the whole fits NAME_MAX) + "." + 16 random hex digits + suffix (at
 * most REPORT_TEMP_SUFFIX_MAX bytes). Hidden, and not ending like the final name, so a
 * reader's glob ("*.csv", "*.jsonl") skips it; random, so nobody can plant a file there in
 * advance. report_temporary_name is this with the report's suffix ".tmp". Returns 0, or -1
 * (ENAMETOOLONG). */
int report_temporary_name_as(const char *path, const char *suffix, char *temporary, size_t size);
int report_temporary_name(const char *path, char *temporary, size_t size);

/* Whether `entry` (a name in a folder) is a temporary name made for a file called `name` with
 * this suffix. */
int report_is_temporary_of(const char *entry, const char *name, const char *suffix);

/* Takes the lock every open temporary file holds (flock, exclusive, never waiting), which tells
 * a crashed run's leftover from a running capture's file. Returns 0, or -1 when another open
 * file holds it. */
int report_lock_temporary(int fd);

/* Opens a leftover temporary `entry` of folder_fd with `flags` (O_RDONLY, O_RDWR) and takes its
 * lock: only a regular file of this user, never through a link, never one another capture has
 * open. Returns the descriptor (the lock held until it is closed), or -1. */
int report_open_leftover(int folder_fd, const char *entry, int flags);

/* Removes the temporary files report_write_at may have left beside `path` (a crash between
 * naming a temporary and renaming it): report_open_leftover's files with exactly its temporary
 * names for this report. Returns how many it removed. */
int report_remove_leftovers(const char *path);

#endif
