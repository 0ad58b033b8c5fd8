/*
 * packet_batch.h - the unit the reader hands to the parsers: up to NASOONE_BATCH_PACKETS
 * packets' bytes (headers only, or whole records of a classic pcap file read in place) with a
 * reference to each. Batches circulate between the run's `free_batches` and `ready_batches`
 * queues (run.h); nothing is allocated per packet.
 */
#ifndef NASOONE_PACKET_BATCH_H
#define NASOONE_PACKET_BATCH_H

#include <stdint.h>

#include "decode.h"
#include "flow_key.h"

/* Bytes of each frame copied for the parsers when decoding needs no more: headers only, the
 * payload is never copied. Longer header chains are copied in full (batch_filler.c). Classic
 * pcap files are read whole into the batches instead: nothing is copied but by the kernel. */
#if !defined(NASOONE_COPY_PREFIX)
#define NASOONE_COPY_PREFIX 256u
#endif
#if !defined(NASOONE_BATCH_PACKETS)
#define NASOONE_BATCH_PACKETS 2048u
#endif
/* Must hold the largest frame libpcap hands out for the supported links (262144), with its
 * record header. A batch of a classic pcap file holds whole records: about as many bytes as
 * NASOONE_BATCH_PACKETS of its records take (source_file.c). */
#if !defined(NASOONE_BATCH_BYTES)
#define NASOONE_BATCH_BYTES (1024u * 1024u)
#endif

struct packet_ref {
    uint64_t timestamp_ms; /* truncated milliseconds since the epoch */
    uint32_t offset;       /* into batch.data */
    uint32_t copied;       /* bytes copied: min(caplen, what decoding reads) */
    uint32_t wire_length;  /* pcap_pkthdr.len */
    uint16_t attributed;   /* 0, or 1 + index in batch.attributed: a later fragment's flow */
    uint8_t link;          /* enum decode_link: a pcapng file's interfaces may differ */
    uint8_t device;        /* several devices: which one (from 1, flow_key.device); else 0 */
};

/* The flow a later IP fragment was attributed to by the reader (fragments.h). */
struct attributed_flow {
    struct flow_key key;
    uint32_t ip_bytes; /* the fragment's own */
    uint8_t protocol;
};

/* A packet as decoded for the keeper (flow lifecycle mode only): by a parser, or with none by
 * the keeper or a file's reader (run.h's keeper_decodes). */
struct decoded_ref {
    struct flow_key key;
    uint32_t hash;
    uint32_t ip_bytes;
    uint8_t protocol; /* FLOW_PROTO_TCP or FLOW_PROTO_UDP; 0: not counted */
    uint8_t tcp_flags;
};

struct packet_batch {
    uint64_t sequence; /* the reader's numbering: the keeper restores capture order by it */
    uint32_t count;
    uint32_t bytes_used;
    uint32_t attributed_count;
    int keys_decoded; /* lifecycle mode: decoded[] is filled (see run.h's keeper_decodes) */
    struct packet_ref refs[NASOONE_BATCH_PACKETS];
    struct attributed_flow attributed[NASOONE_BATCH_PACKETS];
    uint8_t data[NASOONE_BATCH_BYTES];
    struct decoded_ref decoded[NASOONE_BATCH_PACKETS]; /* lifecycle mode (see decoded_ref) */
};

/* The place of the batch's packet i in the capture, as flow_counters.first_order keeps it:
 * batches are numbered in capture order and hold at most NASOONE_BATCH_PACKETS packets. */
static inline uint32_t packet_batch_order(const struct packet_batch *batch, uint32_t i)
{
    return (uint32_t)(batch->sequence * NASOONE_BATCH_PACKETS + i);
}

#endif
