/*
 * producer.c - the producer thread: reads packets and fills batches for parsers.
 *
 * A classic pcap file (classic_pcap.h) is read with large pread()s straight into the batches:
 * per packet the producer only walks the record header and fills a packet_ref, and the parsers
 * decode the bytes where the kernel put them. Any other file, and live devices, are read with
 * libpcap: per packet the producer copies the header bytes into the current batch and nothing
 * else. Either way no lock, no allocation, no system call per packet. A batch is handed over
 * when full, when the producer pauses or stops, and for live captures when reading goes idle.
 * A file is never read faster than the parsers take it: with no free batch the producer waits.
 * A live capture never waits: with no free batch the packet is dropped and counted.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "classic_pcap.h"
#include "fragments.h"
#include "message.h"

struct producer {
    struct nasoone_capture *capture;
    struct packet_batch *batch;       /* being filled; NULL for a live capture with none free */
    uint64_t next_sequence;           /* of the next batch handed on */
    struct fragment_table *fragments; /* NULL unless fragments are attributed */
    int starved; /* live: no free batch was left; not asked again until pcap_dispatch returns */
    /* Counted here, published to capture->counters after each pcap_dispatch call. */
    uint64_t received;
    uint64_t paused_discarded;
    uint64_t queue_dropped;
    uint64_t time_out_of_range; /* skipped before decoding (as invalid): see record_time_ms */
    uint64_t time_fraction_out_of_range;
    uint64_t wire_length_below_captured;
};

static void producer_publish_counters(struct producer *producer)
{
    struct engine_counters *counters = &producer->capture->counters;
    atomic_fetch_add_explicit(&counters->received, producer->received, memory_order_relaxed);
    atomic_fetch_add_explicit(&counters->paused_discarded, producer->paused_discarded,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&counters->queue_dropped, producer->queue_dropped,
                              memory_order_relaxed);
    producer->received = producer->paused_discarded = producer->queue_dropped = 0;
    /* anomalies are rare: published only when there are some */
    if (producer->time_out_of_range | producer->time_fraction_out_of_range |
        producer->wire_length_below_captured) {
        atomic_fetch_add_explicit(&counters->skipped[DECODE_INVALID], producer->time_out_of_range,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->time_out_of_range, producer->time_out_of_range,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->time_fraction_out_of_range,
                                  producer->time_fraction_out_of_range, memory_order_relaxed);
        atomic_fetch_add_explicit(&counters->wire_length_below_captured,
                                  producer->wire_length_below_captured, memory_order_relaxed);
        producer->time_out_of_range = 0;
        producer->time_fraction_out_of_range = producer->wire_length_below_captured = 0;
    }
}

/* Hands the current batch to the parsers if it holds anything. */
static void producer_flush(struct producer *producer)
{
    struct packet_batch *batch = producer->batch;
    if (batch == NULL || batch->count == 0)
        return;
    batch->sequence = producer->next_sequence++;
    pointer_queue_push(&producer->capture->ready_batches, batch);
    producer->batch = NULL;
}

/* A free batch for a file, emptied, waiting for one if need be: a file is never read faster
 * than the parsers take it (each wait is counted). */
static struct packet_batch *producer_wait_free_batch(struct producer *producer)
{
    struct nasoone_capture *capture = producer->capture;
    int waited = 0;
    struct packet_batch *batch = pointer_queue_pop(&capture->free_batches, NULL, NULL, &waited);
    if (waited)
        atomic_fetch_add_explicit(&capture->counters.queue_waits, 1, memory_order_relaxed);
    return batch;
}

static void batch_empty(struct packet_batch *batch)
{
    batch->count = 0;
    batch->bytes_used = 0;
    batch->attributed_count = 0;
}

/* Makes sure producer->batch has room for one more packet of `length` bytes. Returns 0, or -1
 * when a live capture has no free batch (the packet is dropped). */
static int producer_make_room(struct producer *producer, uint32_t length)
{
    struct packet_batch *batch = producer->batch;
    if (batch != NULL && batch->count < NASOONE_BATCH_PACKETS &&
        NASOONE_BATCH_BYTES - batch->bytes_used >= length)
        return 0;
    producer_flush(producer);
    struct nasoone_capture *capture = producer->capture;
    if (capture->live) {
        /* an overloaded capture drops without taking the queue's lock for every packet */
        batch = producer->starved ? NULL : pointer_queue_try_pop(&capture->free_batches);
        if (batch == NULL) {
            producer->starved = 1;
            return -1;
        }
    } else {
        batch = producer_wait_free_batch(producer);
    }
    batch_empty(batch);
    producer->batch = batch;
    return 0;
}

/* The seconds field of a classic pcap record is unsigned 32-bit, but libpcap 1.10 hands it out
 * sign-extended: a 2039 record arrives as a negative tv_sec, taken back as unsigned here (a 2039
 * packet is not a 1902 one). pcapng timestamps are 64-bit (libpcap computes them exactly, with
 * the interface's if_tsoffset), so past 2106 they stay past 2106, and a negative one really is
 * before 1970. Latest time a report can hold: its milliseconds fit a Lua integer. */
#define LATEST_SECOND (INT64_MAX / 1000 - 1)

/* Truncated milliseconds since the epoch of a record, or -1 when its time is before the epoch
 * or past LATEST_SECOND (the record is then skipped as invalid: the report has no way to say
 * such a time). A fraction out of range (libpcap passes on whatever the file says, a 32-bit
 * field sign-extended) is counted as an anomaly and taken as libpcap gives it, as the oracle's
 * rule 9 does: floor((seconds * 10^6 + fraction) / 1000), so 1,000,000 us carries into the next
 * second and 0xFFFFFFFF us is one microsecond before the second. */
static int64_t record_time_ms(struct producer *producer, const struct timeval *ts)
{
    struct nasoone_capture *capture = producer->capture;
    int64_t seconds = (int64_t)ts->tv_sec;
    if (seconds < 0 && seconds >= INT32_MIN && !capture->live && !capture->pcapng)
        seconds = (int64_t)(uint32_t)seconds;
    /* the fraction is in nanoseconds when a live capture asked for them */
    int64_t per_second = capture->nanosecond ? 1000000000 : 1000000;
    int64_t fraction = (int64_t)ts->tv_usec;
    if (fraction < 0 || fraction >= per_second) {
        producer->time_fraction_out_of_range++;
        /* whole seconds first, so the sum below cannot overflow */
        int64_t carry = fraction / per_second - (fraction % per_second < 0);
        if (__builtin_add_overflow(seconds, carry, &seconds))
            seconds = -1; /* out of range, below */
        fraction -= carry * per_second;
    }
    if (seconds < 0 || seconds > LATEST_SECOND) {
        producer->time_out_of_range++;
        return -1;
    }
    return seconds * 1000 + fraction / (per_second / 1000);
}

/* The checks and counts of a packet read, before it is batched: its time in milliseconds, or
 * -1 when it is left out (discarded while paused, or a time the report cannot hold). */
static int64_t producer_admit(struct producer *producer, const struct pcap_pkthdr *header)
{
    struct nasoone_capture *capture = producer->capture;
    producer->received++;
    if (capture->live && atomic_load_explicit(&capture->paused, memory_order_relaxed)) {
        producer->paused_discarded++;
        return -1;
    }
    /* A wire length below the captured length cannot be true. The bytes counted stay what
     * the record says went on the wire, as in libpcap, tshark and the reference oracle; the
     * anomaly is counted so that it is not silent. */
    int64_t time_ms = record_time_ms(producer, &header->ts);
    if (time_ms >= 0 && header->len < header->caplen)
        producer->wire_length_below_captured++;
    return time_ms;
}

/* Adds the packet whose bytes are at batch->data + offset (`copied` of them) to the batch.
 * `decoded` and `result` are the producer's decoding of it when fragments are attributed. */
static void producer_add_ref(struct producer *producer, struct packet_batch *batch,
                             const struct pcap_pkthdr *header, int64_t time_ms, uint32_t offset,
                             uint32_t copied, const struct decoded_packet *decoded,
                             enum decode_result result)
{
    struct packet_ref *ref = &batch->refs[batch->count++];
    ref->timestamp_ms = (uint64_t)time_ms;
    ref->offset = offset;
    ref->copied = copied;
    ref->wire_length = header->len;
    ref->attributed = 0;
    if (producer->fragments == NULL || decoded->fragment_id.family == 0)
        return;
    if (result == DECODE_COUNTED && decoded->fragment == DECODE_FIRST_FRAGMENT) {
        fragment_table_remember(producer->fragments, &decoded->fragment_id, &decoded->key,
                                decoded->protocol, ref->timestamp_ms);
    } else if (result == DECODE_FRAGMENT) {
        struct attributed_flow *flow = &batch->attributed[batch->attributed_count];
        if (fragment_table_lookup(producer->fragments, &decoded->fragment_id, ref->timestamp_ms,
                                  &flow->key, &flow->protocol)) {
            flow->ip_bytes = decode_ip_bytes(decoded, header->len);
            ref->attributed = ++batch->attributed_count;
        }
    }
}

/* pcap_dispatch callback: one packet's headers copied into the current batch. */
static void producer_on_packet(u_char *user, const struct pcap_pkthdr *header, const u_char *data)
{
    struct producer *producer = (struct producer *)user;
    struct nasoone_capture *capture = producer->capture;
    int64_t time_ms = producer_admit(producer, header);
    if (time_ms < 0)
        return;
    uint32_t copy = header->caplen;
    struct decoded_packet decoded; /* read only when decoded here */
    enum decode_result result = DECODE_RESULT_COUNT;
    if (copy > NASOONE_COPY_PREFIX || producer->fragments != NULL) {
        /* Only headers are needed: measure how far decoding reads, copy that much. */
        result = decode_packet(capture->link, data, header->caplen, &decoded);
        if (copy > NASOONE_COPY_PREFIX)
            copy = decoded.span > NASOONE_COPY_PREFIX ? decoded.span : NASOONE_COPY_PREFIX;
    }
    if (copy > NASOONE_BATCH_BYTES)
        copy = NASOONE_BATCH_BYTES;
    if (producer_make_room(producer, copy) != 0) {
        producer->queue_dropped++;
        return;
    }
    struct packet_batch *batch = producer->batch;
    memcpy(batch->data + batch->bytes_used, data, copy);
    producer_add_ref(producer, batch, header, time_ms, batch->bytes_used, copy, &decoded, result);
    batch->bytes_used += copy;
}

/* Blocks while the capture is paused and not stopping. Caller: producer thread. */
static void producer_wait_while_paused(struct producer *producer)
{
    struct nasoone_capture *capture = producer->capture;
    if (!atomic_load(&capture->paused))
        return;
    producer_flush(producer); /* the report shows everything read before the pause */
    pthread_mutex_lock(&capture->lock);
    while (atomic_load(&capture->paused) && !atomic_load(&capture->stop_requested))
        pthread_cond_wait(&capture->resumed, &capture->lock);
    pthread_mutex_unlock(&capture->lock);
}

/* The capture file cannot be read further: `reason` is libpcap's words (or the same words from
 * classic_pcap.c). */
static void producer_file_failed(struct producer *producer, const char *reason)
{
    struct nasoone_capture *capture = producer->capture;
    char message[NASOONE_MESSAGE_SIZE];
    message_format(message, sizeof message, "nasoone: reading %s: %s", capture->source, reason);
    pthread_mutex_lock(&capture->lock);
    /* libpcap's wording for a record cut by the end of the file */
    if (strstr(reason, "truncated") != NULL)
        capture->file_truncated = 1;
    pthread_mutex_unlock(&capture->lock);
    engine_set_error(capture, message);
}

/* Reads a classic pcap file (classic_pcap.h) to its end: large pread()s straight into the
 * batches, records found where they landed, no copy of a packet but the kernel's. A record cut
 * by the end of a batch's bytes starts the next batch. `filter` is the capture's compiled
 * filter, or NULL. */
static void producer_read_classic(struct producer *producer,
                                  const struct classic_pcap_format *format,
                                  const struct bpf_program *filter)
{
    struct nasoone_capture *capture = producer->capture;
    int fd = fileno(pcap_file(capture->pcap));
    uint64_t offset = CLASSIC_PCAP_FILE_HEADER; /* of the next byte to read from the file */
    const uint8_t *carry = NULL;                /* bytes read but not yet made into packets */
    size_t carry_size = 0;
    /* Read about as many bytes as a batch has packet slots for, so that few bytes are left
     * over to move into the next batch: adapted to the records' mean size as it goes. */
    size_t read_size = NASOONE_BATCH_BYTES / 4;
    int at_end = 0, read_failed = 0, done = 0;
    while (!done && !atomic_load(&capture->stop_requested)) {
        producer_wait_while_paused(producer);
        if (atomic_load(&capture->stop_requested))
            break;
        /* the current batch if it got no packet (all filtered out), else a free one */
        if (producer->batch == NULL)
            producer->batch = producer_wait_free_batch(producer);
        struct packet_batch *batch = producer->batch;
        batch_empty(batch);
        if (carry_size > 0)
            memmove(batch->data, carry, carry_size); /* may be the same batch's own bytes */
        size_t have = carry_size;
        size_t want = read_size;
        size_t need = classic_pcap_record_need(batch->data, carry_size); /* the first, whole */
        if (want < need)
            want = need;
        while (have < want && !at_end) {
            ssize_t n = pread(fd, batch->data + have, want - have, (off_t)offset);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                char reason[NASOONE_MESSAGE_SIZE];
                message_format(reason, sizeof reason, "error reading dump file: %s",
                               strerror(errno));
                producer_file_failed(producer, reason);
                at_end = read_failed = 1;
                break;
            }
            if (n == 0) {
                at_end = 1;
                break;
            }
            have += (size_t)n;
            offset += (uint64_t)n;
        }
        size_t used = 0, records = 0;
        int invalid = 0, incomplete = 0; /* the walk stopped at a record not all read yet */
        while (batch->count < NASOONE_BATCH_PACKETS) {
            struct pcap_pkthdr header;
            size_t record_size;
            char reason[PCAP_ERRBUF_SIZE];
            enum classic_pcap_step step =
                classic_pcap_next(format, batch->data + used, have - used, &header, &record_size,
                                  reason, sizeof reason);
            if (step == CLASSIC_PCAP_NEED_MORE) {
                incomplete = 1;
                break;
            }
            if (step == CLASSIC_PCAP_INVALID) {
                producer_file_failed(producer, reason);
                invalid = 1;
                break;
            }
            const uint8_t *data = batch->data + used + CLASSIC_PCAP_RECORD_HEADER;
            used += record_size;
            records++;
            if (filter != NULL && !pcap_offline_filter(filter, &header, data))
                continue;
            int64_t time_ms = producer_admit(producer, &header);
            if (time_ms < 0)
                continue;
            struct decoded_packet decoded; /* read only when fragments are attributed */
            enum decode_result result = DECODE_RESULT_COUNT;
            if (producer->fragments != NULL)
                result = decode_packet(capture->link, data, header.caplen, &decoded);
            producer_add_ref(producer, batch, &header, time_ms, (uint32_t)(data - batch->data),
                             header.caplen, &decoded, result);
        }
        batch->bytes_used = (uint32_t)have;
        if (records > 0)
            read_size = (used / records + 1) * NASOONE_BATCH_PACKETS;
        if (read_size > NASOONE_BATCH_BYTES)
            read_size = NASOONE_BATCH_BYTES;
        if (read_size < 64 * 1024)
            read_size = 64 * 1024;
        carry = batch->data + used;
        carry_size = have - used;
        producer_flush(producer); /* keeps the batch if it has no packet (all filtered out) */
        producer_publish_counters(producer);
        atomic_store_explicit(&capture->counters.file_read, offset - carry_size,
                              memory_order_relaxed);
        if (invalid)
            return;
        /* At the end of the file, a batch that filled up leaves whole records to go on with;
         * a record that is not whole then never will be. */
        if (at_end && (incomplete || carry_size == 0)) {
            if (!read_failed && carry_size > 0) {
                char reason[PCAP_ERRBUF_SIZE];
                classic_pcap_truncated(format, carry, carry_size, reason, sizeof reason);
                producer_file_failed(producer, reason);
            }
            done = 1;
        }
    }
}

/* Reads the file to its end (or a read error, or stop). */
static void producer_read_file(struct producer *producer)
{
    struct nasoone_capture *capture = producer->capture;
    while (!atomic_load(&capture->stop_requested)) {
        producer_wait_while_paused(producer);
        if (atomic_load(&capture->stop_requested))
            break;
        /* A bounded count per call keeps pause and stop prompt. */
        int n = pcap_dispatch(capture->pcap, 4096, producer_on_packet, (u_char *)producer);
        producer_publish_counters(producer);
        /* where libpcap's stdio stream stands (its buffer taken into account): progress */
        long position = ftell(pcap_file(capture->pcap));
        if (position >= 0)
            atomic_store_explicit(&capture->counters.file_read, (uint64_t)position,
                                  memory_order_relaxed);
        if (n == 0)
            break; /* end of file */
        if (n == PCAP_ERROR) {
            producer_file_failed(producer, pcap_geterr(capture->pcap));
            break;
        }
    }
}

static void producer_save_pcap_stats(struct nasoone_capture *capture)
{
    struct pcap_stat stats;
    if (pcap_stats(capture->pcap, &stats) != 0)
        return;
    pthread_mutex_lock(&capture->lock);
    capture->last_pcap_stats = stats;
    capture->have_pcap_stats = 1;
    pthread_mutex_unlock(&capture->lock);
}

/* Reads a live device until stop or an error. Sleeps in poll() on the capture descriptor and
 * the wake descriptor: no busy polling, and stop() wakes it at once. */
static void producer_read_live(struct producer *producer)
{
    struct nasoone_capture *capture = producer->capture;
    int pcap_fd = pcap_get_selectable_fd(capture->pcap);
    uint64_t idle_flush_ms = capture->interval_ms / 4 ? capture->interval_ms / 4 : 1;
    uint64_t stats_saved_ms = monotonic_ms();
    uint64_t flushed_ms = stats_saved_ms;
    while (!atomic_load(&capture->stop_requested)) {
        struct pollfd fds[2] = {{.fd = pcap_fd, .events = POLLIN},
                                {.fd = capture->wake_fd, .events = POLLIN}};
        int ready = poll(fds, 2, (int)idle_flush_ms);
        if (ready < 0 && errno != EINTR) {
            engine_set_error(capture, "nasoone: poll on the capture device failed");
            break;
        }
        if (ready <= 0) {
            producer_flush(producer); /* quiet link: let parsers see what has arrived */
            flushed_ms = monotonic_ms();
            producer_save_pcap_stats(capture);
            continue;
        }
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            engine_set_error(capture, "nasoone: the capture device went away");
            break;
        }
        int n = pcap_dispatch(capture->pcap, -1, producer_on_packet, (u_char *)producer);
        producer_publish_counters(producer);
        producer->starved = 0;
        uint64_t now = monotonic_ms();
        if (now - flushed_ms >= idle_flush_ms) {
            /* a link that is never quiet for interval/4 still reports on time */
            producer_flush(producer);
            flushed_ms = now;
        }
        if (now - stats_saved_ms >= 250) { /* libpcap's counters, for stats() while running */
            producer_save_pcap_stats(capture);
            stats_saved_ms = now;
        }
        if (n == PCAP_ERROR) {
            char message[NASOONE_MESSAGE_SIZE];
            message_format(message, sizeof message, "nasoone: reading %s: %s", capture->source,
                           pcap_geterr(capture->pcap));
            engine_set_error(capture, message);
            break;
        }
        if (n == 0)
            producer_flush(producer);
    }
    producer_save_pcap_stats(capture);
}

/* Whether the capture file is one producer_read_classic reads (classic_pcap.h); its filter, if
 * any, compiled into `filter` then (libpcap applies it inside its own reader, skipped here). */
static int producer_classic_format(struct nasoone_capture *capture,
                                   struct classic_pcap_format *format, struct bpf_program *filter)
{
    uint8_t header[CLASSIC_PCAP_FILE_HEADER];
    int fd = fileno(pcap_file(capture->pcap));
    if (fd < 0 || pread(fd, header, sizeof header, 0) != (ssize_t)sizeof header ||
        !classic_pcap_probe(header, (uint32_t)pcap_snapshot(capture->pcap), format))
        return 0;
    if (capture->filter != NULL &&
        pcap_compile(capture->pcap, filter, capture->filter, 1, PCAP_NETMASK_UNKNOWN) != 0)
        return 0; /* it compiled when it was set: libpcap's reader has it installed anyway */
    return 1;
}

void *producer_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-reader"); /* for top -H and perf */
    struct producer producer = {.capture = (struct nasoone_capture *)argument};
    struct nasoone_capture *capture = producer.capture;
    if (capture->fragment_mode == NASOONE_FRAGMENTS_ATTRIBUTE) {
        producer.fragments = fragment_table_new();
        if (producer.fragments == NULL)
            engine_set_error(capture, "nasoone: out of memory for the fragment table: later "
                                      "fragments are skipped");
    }
    struct classic_pcap_format format;
    struct bpf_program filter = {0};
    if (capture->live)
        producer_read_live(&producer);
    else if (producer_classic_format(capture, &format, &filter))
        producer_read_classic(&producer, &format, capture->filter != NULL ? &filter : NULL);
    else
        producer_read_file(&producer);
    pcap_freecode(&filter);
    producer_flush(&producer);
    if (producer.batch != NULL)
        pointer_queue_push(&capture->free_batches, producer.batch);
    engine_thread_cpu(capture, NASOONE_THREAD_READER);
    producer_stage_done(capture);
    fragment_table_free(producer.fragments);
    return NULL;
}

void producer_stage_done(struct nasoone_capture *capture)
{
    pointer_queue_close(&capture->ready_batches); /* parsers drain it, then finish */
}
