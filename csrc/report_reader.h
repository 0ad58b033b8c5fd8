/*
 * report_reader.h - a report file read back, for `nasoone view` (nasoone.core.read_report in
 * lua_nasoone.c): the CSV or JSON-lines file nasoone writes (report.c; one-way or biflow rows,
 * with the interface each was seen on for a capture of several devices) parsed, filtered, put in
 * order (the report's, nasoone_order_key's, or by a column) or grouped by an address, a port,
 * the protocols or the interface, cut to the entries that will be shown, and those entries' cells
 * and lines formatted (exact numbers or units, local times), all in C: a report of 200,000 rows
 * is read in a tenth of a second, where the command's Lua took seconds.
 *
 * Built against the public header alone, like the binding; no Lua in here. One reader is used
 * by one thread.
 */
#ifndef NASOONE_REPORT_READER_H
#define NASOONE_REPORT_READER_H

#include <stddef.h>
#include <stdint.h>

/* A line longer than this is not a report's row (a row is a few hundred bytes): reading stops
 * there, so a file of one endless line costs nothing. */
#define REPORT_READER_MAX_LINE (64 * 1024)

/* The entry of the totals row, for report_reader_cell. */
#define REPORT_READER_TOTAL SIZE_MAX

struct report_reader;

struct report_reader_options {
    /* A column to order the entries by (report_reader_column names, plus source_ip,
     * destination_ip, source_port, destination_port, and total_bytes and total_packets: a
     * biflow's both directions; interface: by its name, byte by byte); NULL: the report's order
     * for rows, the group's key for groups. Entries equal in it stay in the report's (or key's)
     * order. */
    const char *sort;
    int desc;             /* the column's order reversed (without sort: the report's order) */
    uint64_t keep;        /* entries kept to be shown (the first ones); 0: all */
    const char *ip;       /* only rows from or to this address (any spelling); NULL: any */
    int port;             /* only rows from or to this port; -1: any */
    const char *protocol; /* "tcp" or "udp": only rows with it (a biflow's either direction) */
    /* Only rows seen on one of these interfaces: names separated by spaces (a name has none);
     * NULL: any. A report without interfaces (a capture of one device) has no such row. */
    const char *interface;
    /* Rows grouped: "src", "dst", "ip" (either address), "port" (either port), "sport",
     * "dport", "proto" or "interface" (a report without interfaces: one group, "-"); NULL: the
     * rows themselves. A row counts once in each group it belongs to. */
    const char *by;
    int human; /* numbers with units (3.3 G, 12.5 k) and durations in words; else exact */
    /* Called while reading (phase "reading": bytes read of the file's size) and before a long
     * step ("sorting", "grouping": rows). It may not return (a Lua error): the reader stays
     * consistent and report_reader_free frees it. */
    void (*progress)(void *context, const char *phase, uint64_t done, uint64_t total);
    void *context;
};

/* A new reader, NULL when out of memory. */
struct report_reader *report_reader_new(void);
void report_reader_free(struct report_reader *reader);

/* Reads the report at `path` and selects its entries as `options` say. Returns 0, or -1 with
 * report_reader_error saying why: an option that is not one ("option", misuse), or the file
 * ("open", "not_file", "read", "too_long", "not_report", "bad_csv_row", "bad_jsonl_row",
 * "memory"). Once per reader. */
int report_reader_load(struct report_reader *reader, const char *path,
                       const struct report_reader_options *options);

/* Why report_reader_load failed: the kind (above), the line it is about (0: none) and a text
 * (the bad line as the file has it, strerror's message, the file's type, or the bad option). */
const char *report_reader_error(const struct report_reader *reader, uint64_t *line,
                                const char **text, size_t *length);

struct report_reader_summary {
    /* "csv", "csv-extended", "csv-biflow", "jsonl", "jsonl-biflow" (some row has the reverse_
     * fields), or "empty" (a file of no bytes) */
    const char *format;
    uint64_t rows;     /* rows in the file */
    uint64_t selected; /* rows the filters keep */
    uint64_t entries;  /* what the table lists: the selected rows, or their groups */
    uint64_t shown;    /* entries held, in order (at most options.keep) */
    int has_times;     /* first and last are set: some row is selected */
    uint64_t first, last;
};
void report_reader_summarize(const struct report_reader *reader,
                             struct report_reader_summary *summary);

/* The table's columns: source, destination, protocols, first, last, duration, bytes, packets,
 * ip_bytes, rate (bits per second over the row's duration), and for groups key, rows, share
 * (of the selection's bytes); tcp_flags; a biflow report's reverse_bytes, reverse_packets,
 * reverse_ip_bytes, reverse_tcp_flags (empty cells in a one-way report); and interface, a
 * row's interface as the report names it (a report of several devices; empty in one without,
 * and in groups), whose totals cell says how many interfaces the selected rows were seen on
 * ("2 interfaces"; in a report without interfaces, empty: how a table knows whether it has the
 * column). A biflow row's protocols, first, last, duration and rate are over both directions
 * (the connection's), its bytes, packets, ip_bytes and tcp_flags the forward direction's, as in
 * the file. report_reader_column gives a name's number, -1 if none. */
#define REPORT_READER_COLUMNS 19
const char *report_reader_column_name(int column);
int report_reader_column(const char *name);

/* The text of entry `entry` (0-based, < shown; or REPORT_READER_TOTAL) in `column`, valid
 * until the next call on the reader. Addresses are the file's text with every byte a terminal
 * could take for a command shown as "?". */
const char *report_reader_cell(struct report_reader *reader, size_t entry, int column,
                               size_t *length);

/* The widest cell of each column among entries first..last-1 (0 for a column the table does
 * not have: source and destination in groups, key, rows and share in rows). */
void report_reader_widths(struct report_reader *reader, size_t first, size_t last,
                          size_t widths[REPORT_READER_COLUMNS]);

struct report_reader_layout {
    int column;
    size_t width;
    int right; /* aligned right; a left-aligned last column is not padded */
};
/* Entries first..last-1 as lines of the table: cells padded to their width, two spaces apart,
 * each line cut at `cut` bytes (0: not cut) and ended by "\n". The text is valid until the next
 * call on the reader; NULL when out of memory. */
const char *report_reader_lines(struct report_reader *reader, size_t first, size_t last,
                                const struct report_reader_layout *columns, size_t count,
                                size_t cut, size_t *length);

#endif
