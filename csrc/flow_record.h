/*
 * flow_record.h - a flow record: what a row gained since its previous record, and why it was
 * emitted. Made by the keeper thread (keeper.c) when flow limits or exports are set, consumed
 * by the record sinks (record_sink.h): the JSON-lines log, the IPFIX exporter, on_flows.
 *
 * The counts are kept per transport protocol because IPFIX has no protocol set: a row that
 * saw both TCP and UDP is exported as one IPFIX data record per protocol, so a collector adds
 * up to exactly the report's numbers. Sinks that keep the report's shape (JSON lines, Lua)
 * use flow_record_total().
 */
#ifndef NASOONE_FLOW_RECORD_H
#define NASOONE_FLOW_RECORD_H

#include <stdint.h>

#include "flow_key.h"

/* Why a record was emitted; the values are IPFIX's flowEndReason (IANA, RFC 5102). */
enum flow_end_reason {
    FLOW_END_IDLE = 1,     /* idle timeout: no packet for idle_timeout; the row left */
    FLOW_END_ACTIVE = 2,   /* active timeout: the row stays, the record covers its last period */
    FLOW_END_END = 4,      /* forced end: end of the file, or stop(); the row stays in the report */
    FLOW_END_CAPACITY = 5, /* lack of resources: max_flows rows were held; the least recently
                              seen left */
};

/* Indexes of flow_record.part. */
enum { FLOW_PART_TCP = 0, FLOW_PART_UDP = 1, FLOW_PART_COUNT = 2 };

/* The packets of one protocol a record covers. packets == 0: none (then the rest is 0 too). */
struct flow_part {
    uint64_t first_ms;
    uint64_t last_ms;
    uint64_t bytes;    /* frame bytes (pcap_pkthdr.len), as the report counts */
    uint64_t ip_bytes; /* IP header plus payload (IPFIX octetDeltaCount) */
    uint64_t packets;
};

struct flow_record {
    struct flow_key key; /* a biflow's: the forward direction's, the initiator's */
    struct flow_part part[FLOW_PART_COUNT];
    /* Biflow mode: the reverse direction's packets, as part (all 0 when it sent none in the
     * record's period, and always without biflows). */
    struct flow_part reverse[FLOW_PART_COUNT];
    /* The capture clock when the record was emitted (ms): the latest packet time seen, or for
     * a live capture the wall clock if later. Never decreases from one record to the next;
     * rotated files are chosen by it, so a file capture rotates the same at any read speed. */
    uint64_t emitted_ms;
    uint8_t reason;    /* enum flow_end_reason */
    uint8_t protocols; /* FLOW_PROTO_* bits: the parts with packets */
    uint8_t tcp_flags; /* OR of the TCP part's flags (IPFIX tcpControlBits) */
    uint8_t biflow;    /* 1: a pair (RFC 5103), reverse holds the other direction */
    uint8_t reverse_protocols;
    uint8_t reverse_tcp_flags;
    uint8_t zero[2];
};

/* The counts of parts[FLOW_PART_COUNT] over both protocols: first/last are min/max, the rest
 * sums. */
static inline struct flow_part flow_parts_total(const struct flow_part *parts)
{
    struct flow_part total = {0, 0, 0, 0, 0};
    for (int i = 0; i < FLOW_PART_COUNT; i++) {
        const struct flow_part *p = &parts[i];
        if (p->packets == 0)
            continue;
        if (total.packets == 0 || p->first_ms < total.first_ms)
            total.first_ms = p->first_ms;
        if (total.packets == 0 || p->last_ms > total.last_ms)
            total.last_ms = p->last_ms;
        total.bytes += p->bytes;
        total.ip_bytes += p->ip_bytes;
        total.packets += p->packets;
    }
    return total;
}

/* The record's forward (reverse = 0) or reverse direction over both protocols, as a report
 * row's counters. */
static inline struct flow_counters flow_record_counters(const struct flow_record *record,
                                                        int reverse)
{
    struct flow_part total = flow_parts_total(reverse ? record->reverse : record->part);
    struct flow_counters counters = {
        .first_ms = total.first_ms,
        .last_ms = total.last_ms,
        .bytes = total.bytes,
        .packets = total.packets,
        .protocols = reverse ? record->reverse_protocols : record->protocols,
        .tcp_flags = reverse ? record->reverse_tcp_flags : record->tcp_flags,
        .ip_bytes = total.ip_bytes,
    };
    return counters;
}

/* The record's counts over both protocols (the forward direction's for a biflow). */
static inline struct flow_part flow_record_total(const struct flow_record *record)
{
    return flow_parts_total(record->part);
}

/* "idle", "active", "end", "capacity" (as in JSON lines, Lua and stats). */
const char *flow_end_reason_name(enum flow_end_reason reason);

#endif
