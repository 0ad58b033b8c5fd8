/*
 * report_output.h - where the writer's reports go: each gets every report, the rows in report
 * order, and once more the final one. The report file (report_output_file.c, CSV or JSON lines
 * as report.c renders them) and the on_report snapshot (report_output_snapshot.c) are the two
 * kinds; another (a database table, a socket) is one more file that fills a struct
 * report_output, and a line where nasoone_start builds the run. An output includes this header
 * and what it writes with, never a thread file or the engine. It is the rows' counterpart of
 * record_sink.h (flow records), with the same calls in the same order.
 *
 * The calls: the kind's constructor (caller's thread, in nasoone_start), start (what the run
 * writes to is made now: the file, empty, whole), then from the writer thread (writer.c) any
 * number of write, the last with `final` set; then destroy. A start that fails later is undone
 * by abandon for the outputs started before it.
 */
#ifndef NASOONE_REPORT_OUTPUT_H
#define NASOONE_REPORT_OUTPUT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

#include "flow_table.h"
#include "mailbox.h"
#include "report.h"

/* A run has at most the report file and the snapshot. */
#define REPORT_OUTPUT_MAX 2u

struct report_output;

struct report_output_ops {
    /* Optional. Makes what the run writes to. Returns 0, or -1 with a message in err and its
     * code in output->error_code. */
    int (*start)(struct report_output *output, char *err, size_t err_size);
    /* Optional. Undoes start when the capture does not start after all. */
    void (*abandon)(struct report_output *output);
    /* Takes a report: rows in report order and, in biflow mode, each row's other direction
     * (reverse[i], NULL when it sent nothing; reverse itself NULL otherwise). Returns 0, or -1 with
     * a message in err when this report did not reach the output (the writer tries again with the
     * next one; a failed final report is retried a few times, then it is the capture's error). */
    int (*write)(struct report_output *output, const struct flow_row *const *rows,
                 const struct flow_row *const *reverse, size_t count, int final, char *err,
                 size_t err_size);
    /* Optional. Frees the output's state. */
    void (*destroy)(struct report_output *output);
};

struct report_output {
    const struct report_output_ops *ops;
    void *state;
    const char *kind;             /* "file", "snapshot" */
    atomic_uint_fast64_t written; /* reports it took; read by stats from another thread */
    const char *error_code;       /* why start failed, as nasoone_error_code says it */
};

/* The report file at `path` (checked by set_output), in `format` (copied). NULL when out of memory.
 */
struct report_output *report_output_file_new(const char *path, const struct report_format *format);
/* The on_report snapshot: each report replaces the one waiting in `mailbox`. */
struct report_output *report_output_snapshot_new(struct mailbox *mailbox);
/* Destroys and frees; NULL is fine. */
static inline void report_output_free(struct report_output *output)
{
    if (output == NULL)
        return;
    if (output->ops->destroy != NULL)
        output->ops->destroy(output);
    free(output);
}

#endif
