/*
 * producer.c - the reader thread: asks the run's source (source.h) for packets, which it hands
 * to a batch filler (batch_filler.h) that fills batches for the parsers, and turns what the
 * source says into the run's counters, progress and errors. It waits here while the capture is
 * paused (a file), and stops at stop or at the end of the input.
 */
#include <string.h>

#include "batch_decode.h"
#include "fragments.h"
#include "run.h"
#include "stages.h"

/* Adds the filler's counts and the source's progress to the run's counters. */
static void reader_publish(struct run *run, struct batch_filler *filler)
{
    struct batch_filler_counts counts = batch_filler_take_counts(filler);
    struct run_counters *counters = &run->counters;
    atomic_fetch_add_explicit(&counters->received, counts.received, memory_order_relaxed);
    atomic_fetch_add_explicit(&counters->paused_discarded, counts.paused_discarded,
                              memory_order_relaxed);
    /* anomalies and waits are rare: published only when there are some */
    if (counts.queue_waits | counts.time_out_of_range | counts.time_fraction_out_of_range |
        counts.wire_length_below_captured) {
        atomic_fetch_add_explicit(&counters->queue_waits, counts.queue_waits, memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->skipped[DECODE_INVALID], counts.time_out_of_range,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->time_out_of_range, counts.time_out_of_range,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->time_fraction_out_of_range,
                                  counts.time_fraction_out_of_range, memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->wire_length_below_captured,
                                  counts.wire_length_below_captured, memory_order_relaxed);
    }
    if (!run->source->live) {
        atomic_store_explicit(&counters->file_read, run->source->position, memory_order_relaxed);
        atomic_store_explicit(&counters->file_number, run->source->file_number,
                              memory_order_relaxed);
    }
}

/* Keeps libpcap's counters of a device for stats() while running. */
static void reader_save_source_stats(struct run *run)
{
    struct source *source = run->source;
    struct pcap_stat stats;
    if (source->ops->stats == NULL || source->ops->stats(source, &stats) != 0)
        return;
    struct nasoone_device_stats devices[NASOONE_MAX_DEVICES];
    unsigned device_count = source->ops->device_stats != NULL
                                ? source->ops->device_stats(source, devices, NASOONE_MAX_DEVICES)
                                : 0;
    pthread_mutex_lock(&run->status->lock);
    run->status->pcap_stats = stats;
    run->status->have_pcap_stats = 1;
    run->status->device_count = device_count;
    memcpy(run->status->devices, devices, device_count * sizeof devices[0]);
    pthread_mutex_unlock(&run->status->lock);
}

/* Blocks while the capture is paused and not stopping (a file: a live source discards what
 * arrives meanwhile, in the filler). */
static void reader_wait_while_paused(struct run *run, struct batch_filler *filler)
{
    if (!atomic_load(&run->paused))
        return;
    batch_filler_flush(filler); /* the report shows everything read before the pause */
    pthread_mutex_lock(&run->status->lock);
    while (atomic_load(&run->paused) && !atomic_load(&run->stop_requested))
        pthread_cond_wait(&run->status->resumed, &run->status->lock);
    pthread_mutex_unlock(&run->status->lock);
}

/* The source cannot be read further: its failure is the run's error. */
static void reader_failed(struct run *run)
{
    struct source *source = run->source;
    if (source->truncated) {
        pthread_mutex_lock(&run->status->lock);
        run->status->file_truncated = 1;
        pthread_mutex_unlock(&run->status->lock);
    }
    run_set_error(run->status, source->failure);
}

/* Lifecycle mode with the keeper decoding (run.h's keeper_decodes), reading a file: when the
 * keeper has batches waiting, the reader decodes this one itself before handing it on. The
 * keeper is the busier thread then and the reader would only wait for a free batch; when the
 * reader is the busier one (a large copy per packet), the queue stays short and the keeper
 * decodes. Each batch is decoded once, by either; the keeper keeps capture order either way. */
static void reader_decode_if_behind(void *context, struct packet_batch *batch)
{
    struct run *run = context;
    if (pointer_queue_length(&run->ready_batches) < 2)
        return;
    batch_decode_keys(batch, run->config.five_tuple, &run->counters);
    batch->keys_decoded = 1;
}

void *producer_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-reader"); /* for top -H and perf */
    struct run *run = argument;
    struct source *source = run->source;
    uint32_t interval_ms = run->config.interval_ms;
    struct batch_filler filler = {
        .free_batches = &run->free_batches,
        .ready_batches = &run->ready_batches,
        .paused = &run->paused,
        .live = source->live,
        .link = source->link,
        .clock = source->clock,
        .idle_flush_ms = interval_ms / 4 ? interval_ms / 4 : 1,
        .packet_limit = run->config.packet_limit,
        .five_tuple = run->config.five_tuple,
    };
    if (run->keeper_decodes && !source->live) { /* a live reader only drains the ring */
        filler.handing_on = reader_decode_if_behind;
        filler.handing_on_context = run;
    }
    if (run->config.fragment_mode == NASOONE_FRAGMENTS_ATTRIBUTE) {
        filler.fragments = fragment_table_new();
        if (filler.fragments == NULL)
            run_set_error(run->status, "nasoone: out of memory for the fragment table: later "
                                       "fragments are skipped");
    }
    uint64_t stats_saved_ms = monotonic_ms();
    while (!atomic_load(&run->stop_requested)) {
        if (!source->live)
            reader_wait_while_paused(run, &filler);
        if (atomic_load(&run->stop_requested))
            break;
        enum source_step step = source->ops->next(source, &filler);
        reader_publish(run, &filler);
        if (source->live && monotonic_ms() - stats_saved_ms >= 250) {
            reader_save_source_stats(run);
            stats_saved_ms = monotonic_ms();
        }
        /* a source interrupted by stop fails its read: that is no error of the input */
        if (step == SOURCE_FAILED && !atomic_load(&run->stop_requested))
            reader_failed(run);
        /* the packet limit: the input ends as at the end of a file, whatever came after */
        if (step != SOURCE_MORE || batch_filler_limit_reached(&filler))
            break;
    }
    reader_save_source_stats(run);
    batch_filler_finish(&filler);
    run_thread_cpu(run, NASOONE_THREAD_READER);
    producer_stage_done(run);
    fragment_table_free(filler.fragments);
    return NULL;
}

void producer_stage_done(struct run *run)
{
    pointer_queue_close(&run->ready_batches); /* parsers (or the keeper) drain it, then finish */
}
