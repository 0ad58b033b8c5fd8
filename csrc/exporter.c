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

#include "run.h"
#include "stages.h"
#include "message.h"

static uint64_t wall_clock_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* The records the keeper could not queue, lost for every sink: the sinks count them. */
static void exporter_count_lost(struct run *run)
{
    uint64_t lost = atomic_exchange(&run->records_lost, 0);
    for (unsigned i = 0; lost > 0 && i < run->sink_count; i++)
        record_sink_lost(run->sinks[i], lost);
}

static void exporter_write(struct run *run, struct record_batch *batch)
{
    for (unsigned i = 0; i < run->sink_count; i++) {
        struct record_sink *sink = run->sinks[i];
        sink->ops->write(sink, batch->records, batch->count);
    }
    free(batch);
}

void *exporter_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-export"); /* for top -H and perf */
    struct run *run = argument;
    uint64_t next_tick = monotonic_ms() + 1000;
    for (;;) {
        uint64_t before = monotonic_ms();
        struct timespec deadline = monotonic_after_ms(next_tick > before ? next_tick - before : 0);
        int closed = 0;
        struct record_batch *batch =
            pointer_queue_pop(&run->record_batches, &deadline, &closed, NULL);
        int wrote = batch != NULL;
        if (batch != NULL)
            exporter_write(run, batch);
        /* The keeper's clock, read before draining: every record made before the keeper
         * published it is in the queue by now, and every later one is at least that late, so
         * a sink may complete what lies before it (a rotated file). */
        uint64_t capture_ms = atomic_load(&run->capture_clock_ms);
        while ((batch = pointer_queue_try_pop(&run->record_batches)) != NULL) {
            exporter_write(run, batch);
            wrote = 1;
        }
        exporter_count_lost(run);
        uint64_t now = monotonic_ms();
        if (wrote || now >= next_tick || closed) {
            uint64_t wall = wall_clock_ms();
            for (unsigned i = 0; i < run->sink_count; i++)
                run->sinks[i]->ops->tick(run->sinks[i], wall, capture_ms);
            next_tick = now + 1000;
        }
        if (closed)
            break;
    }
    for (unsigned i = 0; i < run->sink_count; i++)
        run->sinks[i]->ops->close(run->sinks[i]);
    run_thread_cpu(run, NASOONE_THREAD_EXPORTER);
    exporter_stage_done(run);
    return NULL;
}

void exporter_stage_done(struct run *run) { run_thread_finished(run); }
