/*
 * batch_filler.h - what a source (source.h) hands its packets to: it checks each packet's time
 * and length, fills the current batch, numbers full batches and hands them to the parsers.
 * Reader thread only; no lock, no allocation, no system call per packet. The reader publishes
 * its counts (batch_filler_take_counts) after each call to a source.
 *
 * With no free batch the filler waits for one: a file is never read faster than the parsers take
 * it, and a live capture leaves what arrives meanwhile in the kernel's ring, which drops (and
 * counts) only what it cannot hold.
 */
#ifndef NASOONE_BATCH_FILLER_H
#define NASOONE_BATCH_FILLER_H

#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdint.h>

#include "decode.h"
#include "fragments.h"
#include "packet_batch.h"
#include "pointer_queue.h"

/* What the filler counted since the reader last took its counts. */
struct batch_filler_counts {
    uint64_t received;
    uint64_t paused_discarded;
    uint64_t queue_waits;       /* a file waited for a free batch */
    uint64_t time_out_of_range; /* skipped before decoding (as invalid): see record_time_ms */
    uint64_t time_fraction_out_of_range;
    uint64_t wire_length_below_captured;
};

/* How packet times read: what the source says of its timestamps. */
struct batch_filler_clock {
    int nanosecond; /* fractions are nanoseconds (a live capture that asked for them) */
    int wide;       /* seconds are 64-bit (pcapng, live): a negative one is before 1970 */
};

struct batch_filler {
    struct pointer_queue *free_batches;  /* empty batches to fill */
    struct pointer_queue *ready_batches; /* filled ones, to the parsers (or the keeper) */
    const atomic_int *paused;            /* live: packets are discarded while set */
    int live;                            /* a device: packets read while paused are discarded */
    enum decode_link link;
    uint8_t device; /* several devices: the one being read (packet_ref.device); else 0 */
    struct batch_filler_clock clock;
    uint64_t idle_flush_ms;           /* live: a batch is handed on at least this often */
    uint64_t packet_limit;            /* packets it takes at most (0: no limit) */
    uint64_t admitted;                /* packets batched so far (a drop does not count) */
    struct fragment_table *fragments; /* NULL unless fragments are attributed */
    int five_tuple;                   /* the report's key (decode_packet_keyed) */
    /* NULL, or called with each filled batch just before it is handed on */
    void (*handing_on)(void *context, struct packet_batch *batch);
    void *handing_on_context;

    struct packet_batch *batch; /* being filled; NULL for a live capture with none free */
    uint64_t next_sequence;     /* of the next batch handed on */
    struct batch_filler_counts counts;
};

/* Whether the packet limit was reached: the input ends there. */
static inline int batch_filler_limit_reached(const struct batch_filler *filler)
{
    return filler->packet_limit != 0 && filler->admitted == filler->packet_limit;
}

/* Hands the current batch to the parsers if it holds anything. */
void batch_filler_flush(struct batch_filler *filler);
/* After the reader's last packet: flushes, and gives back a batch that got none. */
void batch_filler_finish(struct batch_filler *filler);
/* Takes the counts and zeroes them. */
struct batch_filler_counts batch_filler_take_counts(struct batch_filler *filler);

/* The next packets libpcap reads (batch_filler_copy) are of `link`, with times read as
 * `clock` (the next file of a list). */
void batch_filler_set_link(struct batch_filler *filler, enum decode_link link,
                           struct batch_filler_clock clock);

/* libpcap's way in (a pcap_handler: `user` is the filler): the packet's headers are copied
 * into the current batch. */
void batch_filler_copy(u_char *user, const struct pcap_pkthdr *header, const u_char *data);

/* A reader that puts records straight into a batch's bytes (source_file.c's classic reader):
 * the batch to read into, emptied: the current one while it has no packet, else a free one
 * (waiting for it). Then batch_filler_add_in_place for each record in it, and flush. */
struct packet_batch *batch_filler_batch_to_read_into(struct batch_filler *filler);
/* Adds the packet of `link` whose captured bytes are at filler->batch->data + offset. */
void batch_filler_add_in_place(struct batch_filler *filler, const struct pcap_pkthdr *header,
                               enum decode_link link, uint32_t offset);

#endif
