/*
 * exporter.c - the exporter thread: hands the keeper's flow records to every sink
 * (record_sink.h), and the on_flows sink, which queues them for the caller's thread.
 *
 * Sinks run here, never on the keeper: a slow disk or an unreachable collector delays records,
 * not packets. A live capture's keeper drops record batches when this thread falls behind
 * (counted per sink); a file capture's keeper waits, so a file gives all its records.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "message.h"

/* Record batches the caller may leave untaken before on_flows drops (live) or the exporter
 * waits (file): 64 x 512 records. */
#define ON_FLOWS_PENDING_MAX 64u

void record_sink_set_error(struct record_sink *sink, const char *format, ...)
{
    char message[NASOONE_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    message_vformat(message, sizeof message, format, args);
    va_end(args);
    atomic_fetch_add(&sink->counters.errors, 1);
    pthread_mutex_lock(&sink->lock);
    snprintf(sink->last_error, sizeof sink->last_error, "%s", message);
    pthread_mutex_unlock(&sink->lock);
}

/* The on_flows sink: records become nasoone_flow_batch for nasoone_take_flows. */
static void on_flows_write(struct record_sink *sink, const struct flow_record *records,
                           size_t count)
{
    struct nasoone_capture *capture = sink->state;
    struct nasoone_flow_batch *batch = malloc(sizeof *batch + count * sizeof batch->records[0]);
    if (batch == NULL) {
        atomic_fetch_add(&sink->counters.dropped, count);
        record_sink_set_error(sink, "nasoone: out of memory for on_flows records");
        return;
    }
    batch->count = count;
    for (size_t i = 0; i < count; i++) {
        const struct flow_record *record = &records[i];
        struct flow_part total = flow_record_total(record);
        struct nasoone_flow_record *out = &batch->records[i];
        memset(out, 0, sizeof *out);
        memcpy(out->row.source, record->key.src, sizeof out->row.source);
        memcpy(out->row.destination, record->key.dst, sizeof out->row.destination);
        out->row.source_port = record->key.src_port;
        out->row.destination_port = record->key.dst_port;
        out->row.family = record->key.family;
        out->row.protocols = record->protocols;
        out->row.first_ms = total.first_ms;
        out->row.last_ms = total.last_ms;
        out->row.bytes = total.bytes;
        out->row.ip_bytes = total.ip_bytes;
        out->row.packets = total.packets;
        out->reason = record->reason;
    }
    /* A file capture waits for the caller (it gives all its records); a live one drops, until
     * its input is closed (nothing left to protect then). Once stop() is called the caller
     * drains only after the threads end: no more waiting, and no dropping, then. */
    int lossless = !capture->live || atomic_load(&capture->records_final);
    pthread_mutex_lock(&capture->lock);
    while (lossless && capture->pending_flow_count >= ON_FLOWS_PENDING_MAX &&
           !atomic_load(&capture->stop_requested))
        pthread_cond_wait(&capture->flows_taken, &capture->lock);
    int queued = 0;
    if (!lossless && capture->pending_flow_count >= ON_FLOWS_PENDING_MAX) {
        queued = 0;
    } else if (capture->pending_flow_count < capture->pending_flow_capacity) {
        queued = 1;
    } else {
        size_t capacity = capture->pending_flow_capacity ? capture->pending_flow_capacity * 2 : 16;
        struct nasoone_flow_batch **grown =
            realloc(capture->pending_flows, capacity * sizeof *grown);
        if (grown != NULL) {
            capture->pending_flows = grown;
            capture->pending_flow_capacity = capacity;
            queued = 1;
        }
    }
    if (queued)
        capture->pending_flows[capture->pending_flow_count++] = batch;
    pthread_mutex_unlock(&capture->lock);
    if (queued) {
        atomic_fetch_add(&sink->counters.sent, count);
        engine_signal_event(capture);
    } else {
        free(batch);
        atomic_fetch_add(&sink->counters.dropped, count);
    }
}

static void on_flows_tick(struct record_sink *sink, uint64_t wall, uint64_t capture_ms)
{
    (void)sink;
    (void)wall;
    (void)capture_ms;
}

static void on_flows_close(struct record_sink *sink) { (void)sink; }

static void on_flows_destroy(struct record_sink *sink) { (void)sink; }

static const struct record_sink_ops on_flows_ops = {
    .write = on_flows_write,
    .tick = on_flows_tick,
    .close = on_flows_close,
    .destroy = on_flows_destroy,
};

void exporter_init_on_flows(struct record_sink *sink, struct nasoone_capture *capture)
{
    sink->ops = &on_flows_ops;
    sink->state = capture;
    snprintf(sink->kind, sizeof sink->kind, "on_flows");
    snprintf(sink->target, sizeof sink->target, "on_flows");
}

static uint64_t wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static void exporter_write(struct nasoone_capture *capture, struct record_batch *batch)
{
    for (unsigned i = 0; i < capture->sink_count; i++) {
        struct record_sink *sink = capture->exports[i];
        sink->ops->write(sink, batch->records, batch->count);
    }
    free(batch);
}

void *exporter_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-export"); /* for top -H and perf */
    struct nasoone_capture *capture = argument;
    uint64_t next_tick = monotonic_ms() + 1000;
    for (;;) {
        uint64_t before = monotonic_ms();
        struct timespec deadline = monotonic_after_ms(next_tick > before ? next_tick - before : 0);
        int closed = 0;
        struct record_batch *batch =
            pointer_queue_pop(&capture->record_batches, &deadline, &closed, NULL);
        int wrote = batch != NULL;
        if (batch != NULL)
            exporter_write(capture, batch);
        /* The keeper's clock, read before draining: every record made before the keeper
         * published it is in the queue by now, and every later one is at least that late, so
         * a sink may complete what lies before it (a rotated file). */
        uint64_t capture_ms = atomic_load(&capture->capture_clock_ms);
        while ((batch = pointer_queue_try_pop(&capture->record_batches)) != NULL) {
            exporter_write(capture, batch);
            wrote = 1;
        }
        uint64_t now = monotonic_ms();
        if (wrote || now >= next_tick || closed) {
            uint64_t wall = wall_clock_ms();
            for (unsigned i = 0; i < capture->sink_count; i++)
                capture->exports[i]->ops->tick(capture->exports[i], wall, capture_ms);
            next_tick = now + 1000;
        }
        if (closed)
            break;
    }
    for (unsigned i = 0; i < capture->sink_count; i++)
        capture->exports[i]->ops->close(capture->exports[i]);
    engine_thread_cpu(capture, NASOONE_THREAD_EXPORTER);
    engine_thread_finished(capture);
    return NULL;
}
