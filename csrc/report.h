/*
 * report.h - the report's text form and its atomic rewrite.
 *
 * Rows are ordered by key: IPv4 before IPv6, then source address (numeric), source port,
 * destination address, destination port. Called by the writer thread (and by tests); the
 * caller owns every buffer.
 */
#ifndef NASOONE_REPORT_H
#define NASOONE_REPORT_H

#include <stddef.h>

#include "flow_table.h"

#define REPORT_HEADER                                                                              \
    "source ip; source port; destination ip; destination port; protocols; first; last; bytes; "    \
    "packets\n"

/* Longest row report_format_row() writes, newline included, plus a terminating NUL. */
#define REPORT_ROW_MAX 224

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

/* Writes one row, "\n" included, into buf (at least REPORT_ROW_MAX bytes); returns its length. */
size_t report_format_row(const struct flow_row *row, char *buf);

/* Formats a row's address ("192.0.2.1", "2001:db8::1") into buf of at least 46 bytes. */
void report_format_address(const struct flow_key *key, int source, char *buf);

/* Writes the header and rows to a temporary file beside `path`, flushes it to disk and renames
 * it over `path`. The temporary is unnamed while it is written (O_TMPFILE, where the file system
 * has it), so a crash leaves nothing behind, and otherwise has a random name; it takes the mode
 * of the report it replaces. On failure the old file is untouched, the temporary removed, and a
 * message ("nasoone: ...") is left in err. Returns 0 or -1. */
int report_write_atomic(const char *path, const struct flow_row *const *rows, size_t count,
                        char *err, size_t err_size);

/* Splits `path` into its folder ("." for a bare name, "/" at the root) and its last component
 * (a pointer into path). Returns 0, or -1 (ENAMETOOLONG) when the folder does not fit. */
int report_split_path(const char *path, char *folder, size_t folder_size, const char **name);

/* Removes the temporary files report_write_atomic may have left beside `path` (a crash between
 * naming a temporary and renaming it): regular files of this user with exactly its temporary
 * names for this report. Returns how many it removed. */
int report_remove_leftovers(const char *path);

#endif
