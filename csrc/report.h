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

#define REPORT_HEADER                                                                              \
    "source ip; source port; destination ip; destination port; protocols; first; last; bytes; "    \
    "packets\n"

/* Room for any row or record text this file writes (report_format_row, report_format_json
 * with a reason of at most REPORT_REASON_MAX bytes), newline and terminating NUL included. The
 * longest is a JSON flow record with two 39-character IPv6 addresses, 5-digit ports, 20-digit
 * counts and a 16-byte reason: 363 bytes and the NUL. */
#define REPORT_ROW_MAX    384
#define REPORT_REASON_MAX 16

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

/* A text form of the report: its header line ("" for none) and its row renderer. */
struct report_format {
    const char *name;                                            /* "csv", "jsonl" */
    const char *header;                                          /* "" for none */
    size_t (*format_row)(const struct flow_row *row, char *buf); /* buf >= REPORT_ROW_MAX */
};

/* The seed's CSV (REPORT_HEADER, then report_format_row) and JSON lines (no header, one
 * report_format_json object per row, without reason). */
extern const struct report_format report_format_csv, report_format_jsonl;

/* Formats a row's address ("192.0.2.1", "2001:db8::1") into buf of at least 46 bytes. */
void report_format_address(const struct flow_key *key, int source, char *buf);

/* Writes the header and rows to a temporary file beside `path`, flushes it to disk and renames
 * it over `path`. The temporary is unnamed while it is written (O_TMPFILE, where the file system
 * has it), so a crash leaves nothing behind, and otherwise has a random name; it takes the mode
 * of the report it replaces. On failure the old file is untouched, the temporary removed, and a
 * message ("nasoone: ...") is left in err. Returns 0 or -1. */
int report_write_atomic(const char *path, const struct flow_row *const *rows, size_t count,
                        char *err, size_t err_size);

/* report_write_atomic in the given format (report_write_atomic is this with the CSV format). */
int report_write_atomic_as(const char *path, const struct report_format *format,
                           const struct flow_row *const *rows, size_t count, char *err,
                           size_t err_size);

/* Splits `path` into its folder ("." for a bare name, "/" at the root) and its last component
 * (a pointer into path). Returns 0, or -1 (ENAMETOOLONG) when the folder does not fit. */
int report_split_path(const char *path, char *folder, size_t folder_size, const char **name);

/* Writes a fresh temporary name for `path` into temporary, in the same folder: "." + its last
 * component (cut to fit NAME_MAX) + "." + 16 random hex digits + ".tmp". Hidden, and not
 * ending like the final name, so a reader's glob ("*.csv", "*.jsonl") skips it; random, so
 * nobody can plant a file there in advance. Returns 0, or -1 (ENAMETOOLONG). */
int report_temporary_name(const char *path, char *temporary, size_t size);

/* Removes the temporary files report_write_atomic may have left beside `path` (a crash between
 * naming a temporary and renaming it): regular files of this user with exactly its temporary
 * names for this report. Returns how many it removed. */
int report_remove_leftovers(const char *path);

#endif
