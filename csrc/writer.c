/*
 * writer.c - the writer thread: merges parsers' deltas into the cumulative table, and every
 * interval (when something changed) and once at the end rewrites the report file atomically
 * and publishes a snapshot for the caller's thread.
 */
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "report.h"

struct writer {
    struct nasoone_capture *capture;
    struct flow_table total;
    uint32_t *order;   /* total's row indices in report order: the first `ordered` of them */
    uint32_t *scratch; /* for report_order_extend */
    uint32_t ordered;
    const struct flow_row **sorted; /* the rows in report order, rebuilt for each report */
    size_t capacity;                /* of order, scratch and sorted */
};

/* Replaces the pending snapshot (an unread older one is dropped: the new one contains it). */
static void writer_publish_snapshot(struct writer *writer, int final)
{
    struct nasoone_capture *capture = writer->capture;
    size_t count = writer->total.count;
    struct nasoone_snapshot *snapshot = malloc(sizeof *snapshot + count * sizeof(struct flow_row));
    if (snapshot == NULL) {
        engine_set_error(capture, "nasoone: out of memory for an on_report snapshot");
        return;
    }
    snapshot->final = final;
    snapshot->count = count;
    for (size_t i = 0; i < count; i++)
        snapshot->rows[i] = *writer->sorted[i];
    pthread_mutex_lock(&capture->lock);
    struct nasoone_snapshot *replaced = capture->pending_snapshot;
    capture->pending_snapshot = snapshot;
    pthread_mutex_unlock(&capture->lock);
    nasoone_snapshot_free(replaced);
    engine_signal_event(capture);
}

static int writer_reserve(struct writer *writer, size_t count)
{
    if (count <= writer->capacity)
        return 0;
    size_t capacity = count * 2;
    uint32_t *order = realloc(writer->order, capacity * sizeof *order);
    if (order != NULL)
        writer->order = order;
    uint32_t *scratch = realloc(writer->scratch, capacity * sizeof *scratch);
    if (scratch != NULL)
        writer->scratch = scratch;
    const struct flow_row **sorted = realloc(writer->sorted, capacity * sizeof *sorted);
    if (sorted != NULL)
        writer->sorted = sorted;
    if (order == NULL || scratch == NULL || sorted == NULL)
        return -1;
    writer->capacity = capacity;
    return 0;
}

/* Renders and rewrites the report and publishes the snapshot. Returns 0, or -1 when the file
 * could not be rewritten (the writer then tries again at the next interval). */
static int writer_report(struct writer *writer, int final)
{
    struct nasoone_capture *capture = writer->capture;
    size_t count = writer->total.count;
    if (writer_reserve(writer, count) != 0) {
        engine_set_error(capture, "nasoone: out of memory while sorting the report");
        return -1;
    }
    report_order_extend(&writer->total, writer->order, writer->ordered, writer->scratch);
    writer->ordered = (uint32_t)count;
    for (size_t i = 0; i < count; i++)
        writer->sorted[i] = &writer->total.rows[writer->order[i]];
    int result = 0;
    if (capture->output_path != NULL) {
        char err[512];
        if (report_write_atomic(capture->output_path, writer->sorted, count, err, sizeof err) ==
            0) {
            atomic_fetch_add(&capture->counters.reports_written, 1);
            engine_set_write_error(capture, NULL);
        } else {
            engine_set_write_error(capture, err); /* the previous report stays */
            result = -1;
        }
    }
    if (capture->snapshots)
        writer_publish_snapshot(writer, final);
    return result;
}

static void writer_merge(struct writer *writer, struct flow_table *delta)
{
    struct nasoone_capture *capture = writer->capture;
    /* a table that could not be allocated at start is tried again, not dereferenced */
    if (writer->total.slots == NULL && flow_table_init(&writer->total, 4096) != 0)
        engine_set_error(capture, "nasoone: out of memory for the report table: packets lost");
    else if (flow_table_merge(&writer->total, delta) != 0)
        engine_set_error(capture, "nasoone: out of memory: the report misses some packets");
    flow_table_clear(delta);
    if (pointer_queue_try_push(&capture->spare_tables, delta) != 0) {
        flow_table_destroy(delta);
        free(delta);
    }
    atomic_store(&capture->counters.flows, writer->total.count);
    atomic_store(&capture->counters.memory_bytes, flow_table_memory(&writer->total));
}

void *writer_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-writer"); /* for top -H and perf */
    struct writer writer = {.capture = (struct nasoone_capture *)argument};
    struct nasoone_capture *capture = writer.capture;
    if (flow_table_init(&writer.total, 4096) != 0)
        memset(&writer.total, 0, sizeof writer.total); /* tried again at the first merge */
    uint64_t next_report = monotonic_ms() + capture->interval_ms;
    int changed = 0;
    for (;;) {
        uint64_t now = monotonic_ms();
        if (now >= next_report) {
            if (changed)
                changed = writer_report(&writer, 0) != 0; /* a failed rewrite is retried */
            next_report = now + capture->interval_ms;
        }
        struct timespec deadline = monotonic_after_ms(next_report - now);
        int closed = 0;
        struct flow_table *delta = pointer_queue_pop(&capture->deltas, &deadline, &closed, NULL);
        if (delta != NULL) {
            writer_merge(&writer, delta);
            changed = 1;
        }
        if (closed)
            break;
    }
    writer_report(&writer, 1);
    flow_table_destroy(&writer.total);
    free(writer.sorted);
    free(writer.order);
    free(writer.scratch);
    /* A paused capture stays paused until resumed (then it is finished at once), so a
     * successful pause() is always followed by a successful resume(). */
    pthread_mutex_lock(&capture->lock);
    capture->input_ended = 1;
    if (capture->state == NASOONE_RUNNING)
        capture->state = NASOONE_FINISHED;
    pthread_mutex_unlock(&capture->lock);
    engine_signal_event(capture);
    return NULL;
}
