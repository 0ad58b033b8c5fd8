/*
 * exporter.c - the exporter thread: hands the keeper's flow records to every sink
 * (record_sink.h): the exports, and the on_flows sink, which queues them for the caller's
 * thread (record_on_flows.c).
 *
 * Sinks run here, never on the keeper: a slow disk or an unreachable collector delays records,
 * not packets. A live capture's keeper drops record batches when this thread falls behind
 * (counted per sink); a file capture's keeper waits, so a file gives all its records.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "message.h"

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
    exporter_stage_done(capture);
    return NULL;
}

void exporter_stage_done(struct nasoone_capture *capture) { engine_thread_finished(capture); }
