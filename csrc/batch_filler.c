/*
 * batch_filler.c - packets into batches for the parsers (batch_filler.h).
 */
#include "batch_filler.h"

#include <string.h>

/* The seconds field of a classic pcap record is unsigned 32-bit, but libpcap 1.10 hands it out
 * sign-extended: a 2039 record arrives as a negative tv_sec, taken back as unsigned here (a 2039
 * packet is not a 1902 one). pcapng timestamps are 64-bit (libpcap computes them exactly, with
 * the interface's if_tsoffset), so past 2106 they stay past 2106, and a negative one really is
 * before 1970. Latest time a report can hold: its milliseconds fit a Lua integer. */
#define LATEST_SECOND (INT64_MAX / 1000 - 1)

void batch_filler_flush(struct batch_filler *filler)
{
    struct packet_batch *batch = filler->batch;
    if (batch == NULL || batch->count == 0)
        return;
    batch->sequence = filler->next_sequence++;
    if (filler->handing_on != NULL)
        filler->handing_on(filler->handing_on_context, batch);
    pointer_queue_push(filler->ready_batches, batch);
    filler->batch = NULL;
}

void batch_filler_finish(struct batch_filler *filler)
{
    batch_filler_flush(filler);
    if (filler->batch != NULL)
        pointer_queue_push(filler->free_batches, filler->batch);
    filler->batch = NULL;
}

struct batch_filler_counts batch_filler_take_counts(struct batch_filler *filler)
{
    struct batch_filler_counts counts = filler->counts;
    memset(&filler->counts, 0, sizeof filler->counts);
    return counts;
}

static void batch_empty(struct packet_batch *batch)
{
    batch->count = 0;
    batch->bytes_used = 0;
    batch->attributed_count = 0;
    batch->keys_decoded = 0;
}

/* A free batch, waiting for one if need be (each wait is counted). */
static struct packet_batch *wait_free_batch(struct batch_filler *filler)
{
    int waited = 0;
    struct packet_batch *batch = pointer_queue_pop(filler->free_batches, NULL, NULL, &waited);
    filler->counts.queue_waits += waited != 0;
    return batch;
}

struct packet_batch *batch_filler_batch_to_read_into(struct batch_filler *filler)
{
    if (filler->batch == NULL)
        filler->batch = wait_free_batch(filler);
    batch_empty(filler->batch);
    return filler->batch;
}

/* Makes sure filler->batch has room for one more packet of `length` bytes. With every batch
 * in use (the parsers behind), it waits for one, a live capture too: meanwhile the kernel's ring
 * (buffer_size) holds what arrives, and only it drops, counted in ps_drop, when the parsers stay
 * behind for longer than it lasts. Dropping here instead lost packets the ring had room for
 * (measured before: 4% of 3M new-flow packets at trafgen's top speed, none by the kernel). */
static void make_room(struct batch_filler *filler, uint32_t length)
{
    struct packet_batch *batch = filler->batch;
    if (batch != NULL && batch->count < NASOONE_BATCH_PACKETS &&
        NASOONE_BATCH_BYTES - batch->bytes_used >= length)
        return;
    if (batch != NULL && batch->count == 0) {
        /* bytes and no packet (a classic read all filtered out, before a file of a list that
         * libpcap reads): emptied and used, never left out of the pool */
        batch_empty(batch);
        return;
    }
    batch_filler_flush(filler);
    batch = wait_free_batch(filler);
    batch_empty(batch);
    filler->batch = batch;
}

/* Truncated milliseconds since the epoch of a record, or -1 when its time is before the epoch
 * or past LATEST_SECOND (the record is then skipped as invalid: the report has no way to say
 * such a time). A fraction out of range (libpcap passes on whatever the file says, a 32-bit
 * field sign-extended) is counted as an anomaly and taken as libpcap gives it, as the oracle's
 * rule 9 does: floor((seconds * 10^6 + fraction) / 1000), so 1,000,000 us carries into the next
 * second and 0xFFFFFFFF us is one microsecond before the second. */
static int64_t record_time_ms(struct batch_filler *filler, const struct timeval *ts)
{
    int64_t seconds = (int64_t)ts->tv_sec;
    if (seconds < 0 && seconds >= INT32_MIN && !filler->clock.wide)
        seconds = (int64_t)(uint32_t)seconds;
    int64_t per_second = filler->clock.nanosecond ? 1000000000 : 1000000;
    int64_t fraction = (int64_t)ts->tv_usec;
    if (fraction < 0 || fraction >= per_second) {
        filler->counts.time_fraction_out_of_range++;
        /* whole seconds first, so the sum below cannot overflow */
        int64_t carry = fraction / per_second - (fraction % per_second < 0);
        if (__builtin_add_overflow(seconds, carry, &seconds))
            seconds = -1; /* out of range, below */
        fraction -= carry * per_second;
    }
    if (seconds < 0 || seconds > LATEST_SECOND) {
        filler->counts.time_out_of_range++;
        return -1;
    }
    return seconds * 1000 + fraction / (per_second / 1000);
}

/* The checks and counts of a packet read, before it is batched: its time in milliseconds, or
 * -1 when it is left out (discarded while paused, or a time the report cannot hold). */
static int64_t admit(struct batch_filler *filler, const struct pcap_pkthdr *header)
{
    if (batch_filler_limit_reached(filler))
        return -1; /* past the limit: neither received nor anything else */
    filler->counts.received++;
    if (filler->live && atomic_load_explicit(filler->paused, memory_order_relaxed)) {
        filler->counts.paused_discarded++;
        return -1;
    }
    /* A wire length below the captured length cannot be true. The bytes counted stay what
     * the record says went on the wire, as in libpcap, tshark and the reference oracle; the
     * anomaly is counted so that it is not silent. */
    int64_t time_ms = record_time_ms(filler, &header->ts);
    if (time_ms >= 0 && header->len < header->caplen)
        filler->counts.wire_length_below_captured++;
    return time_ms;
}

/* Adds the packet whose bytes are at batch->data + offset (`copied` of them) to the batch.
 * `decoded` and `result` are the reader's decoding of it when fragments are attributed. */
static void add_ref(struct batch_filler *filler, struct packet_batch *batch,
                    const struct pcap_pkthdr *header, int64_t time_ms, enum decode_link link,
                    uint32_t offset, uint32_t copied, const struct decoded_packet *decoded,
                    enum decode_result result)
{
    struct packet_ref *ref = &batch->refs[batch->count++];
    ref->timestamp_ms = (uint64_t)time_ms;
    ref->offset = offset;
    ref->copied = copied;
    ref->wire_length = header->len;
    ref->attributed = 0;
    ref->link = (uint8_t)link;
    ref->device = filler->device;
    filler->admitted++; /* toward the packet limit: what reaches the parsers (not a drop) */
    if (filler->fragments == NULL || decoded->fragment_id.family == 0)
        return;
    if (result == DECODE_COUNTED && decoded->fragment == DECODE_FIRST_FRAGMENT) {
        fragment_table_remember(filler->fragments, &decoded->fragment_id, &decoded->key,
                                decoded->protocol, ref->timestamp_ms);
    } else if (result == DECODE_FRAGMENT) {
        struct attributed_flow *flow = &batch->attributed[batch->attributed_count];
        if (fragment_table_lookup(filler->fragments, &decoded->fragment_id, ref->timestamp_ms,
                                  &flow->key, &flow->protocol)) {
            flow->ip_bytes = decode_ip_bytes(decoded, header->len);
            flow->key.device = filler->device; /* counted where this fragment was seen */
            ref->attributed = (uint16_t)++batch->attributed_count;
        }
    }
}

void batch_filler_copy(u_char *user, const struct pcap_pkthdr *header, const u_char *data)
{
    struct batch_filler *filler = (struct batch_filler *)user;
    int64_t time_ms = admit(filler, header);
    if (time_ms < 0)
        return;
    uint32_t copy = header->caplen;
    struct decoded_packet decoded; /* read only when decoded here */
    enum decode_result result = DECODE_RESULT_COUNT;
    if (copy > NASOONE_COPY_PREFIX || filler->fragments != NULL) {
        /* Only headers are needed: measure how far decoding reads, copy that much. */
        result =
            decode_packet_keyed(filler->link, data, header->caplen, filler->five_tuple, &decoded);
        if (copy > NASOONE_COPY_PREFIX)
            copy = decoded.span > NASOONE_COPY_PREFIX ? decoded.span : NASOONE_COPY_PREFIX;
    }
    if (copy > NASOONE_BATCH_BYTES)
        copy = NASOONE_BATCH_BYTES;
    make_room(filler, copy);
    struct packet_batch *batch = filler->batch;
    memcpy(batch->data + batch->bytes_used, data, copy);
    add_ref(filler, batch, header, time_ms, filler->link, batch->bytes_used, copy, &decoded,
            result);
    batch->bytes_used += copy;
}

void batch_filler_add_in_place(struct batch_filler *filler, const struct pcap_pkthdr *header,
                               enum decode_link link, uint32_t offset)
{
    int64_t time_ms = admit(filler, header);
    if (time_ms < 0)
        return;
    struct packet_batch *batch = filler->batch;
    struct decoded_packet decoded; /* read only when fragments are attributed */
    enum decode_result result = DECODE_RESULT_COUNT;
    if (filler->fragments != NULL)
        result = decode_packet_keyed(link, batch->data + offset, header->caplen, filler->five_tuple,
                                     &decoded);
    add_ref(filler, batch, header, time_ms, link, offset, header->caplen, &decoded, result);
}

void batch_filler_set_link(struct batch_filler *filler, enum decode_link link,
                           struct batch_filler_clock clock)
{
    filler->link = link; /* each packet carries its own: a batch may hold several */
    filler->clock = clock;
}
