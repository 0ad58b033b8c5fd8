/*
 * flow_key.h - the identity of a report row and the per-row counters.
 *
 * A flow is (source ip, source port, destination ip, destination port), with direction: A->B
 * and B->A are two flows; in 5-tuple mode the IP protocol too, and every IP protocol makes
 * rows (ICMP's type and code stand in its ports, as in Zeek and the Community ID). The key is a
 * plain byte-comparable struct (padding zeroed) so it can be hashed and compared as memory. Used by
 * every thread; nothing here allocates.
 */
#ifndef NASOONE_FLOW_KEY_H
#define NASOONE_FLOW_KEY_H

#include <stdint.h>
#include <string.h>

enum flow_family { FLOW_FAMILY_IPV4 = 4, FLOW_FAMILY_IPV6 = 6 };

/* Bits of flow_counters.protocols. A 5-tuple row of another protocol than TCP or UDP has
 * FLOW_PROTO_OTHER (its protocol is in its key). */
enum flow_protocol {
    FLOW_PROTO_TCP = 1u << 0,
    FLOW_PROTO_UDP = 1u << 1,
    FLOW_PROTO_OTHER = 1u << 2
};

struct flow_key {
    uint8_t src[16]; /* IPv4: first 4 bytes, the rest zero */
    uint8_t dst[16];
    uint16_t src_port; /* host byte order */
    uint16_t dst_port;
    uint8_t family;   /* enum flow_family */
    uint8_t protocol; /* 5-tuple mode: the IP protocol number (never 0); 0 in 4-tuple mode */
    uint8_t device;   /* several devices: the one it was seen on, from 1; 0 otherwise */
    uint8_t zero;     /* always zero: keys are compared and hashed as bytes */
};

struct flow_counters {
    uint64_t first_ms; /* earliest packet timestamp, ms since the epoch (truncated) */
    uint64_t last_ms;  /* latest packet timestamp */
    uint64_t bytes;    /* sum of wire lengths (pcap_pkthdr.len) */
    uint64_t packets;
    uint8_t protocols; /* enum flow_protocol bits */
    uint8_t tcp_flags; /* OR of the TCP flags seen (IPFIX tcpControlBits) */
    uint8_t opened;    /* 1: sent a TCP SYN without ACK, so it opened a connection (biflows) */
    uint8_t zero;
    /* The low 32 bits of the first packet's place in the capture (flow_order): which of two
     * directions came first when their first packets share a millisecond (biflows). Two packets
     * of one millisecond are less than 2^31 packets apart, so a wrapping compare orders them. */
    uint32_t first_order;
    uint64_t ip_bytes; /* sum of IP header plus payload (IPFIX octetDeltaCount) */
};

/* Whether a packet with these TCP flags opens a connection: SYN without ACK. */
static inline uint8_t flow_tcp_opens(uint8_t tcp_flags) { return (tcp_flags & 0x12u) == 0x02u; }

/* Whether order a is before order b (first_order values of packets close in the capture). */
static inline int flow_order_before(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }

static inline int flow_key_equal(const struct flow_key *a, const struct flow_key *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* Hash of the 40 key bytes as five 64-bit words; a multiply-xorshift mix per word is plenty
 * for a table that also compares the full key. */
static inline uint32_t flow_key_hash(const struct flow_key *key)
{
    uint64_t words[5];
    memcpy(words, key, sizeof words);
    uint64_t h = 0x243f6a8885a308d3u;
    for (int i = 0; i < 5; i++) {
        h ^= words[i];
        h *= 0x9e3779b97f4a7c15u;
        h ^= h >> 29;
    }
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* Adds one delta (or one packet's counters) into an existing row. */
static inline void flow_counters_merge(struct flow_counters *into, const struct flow_counters *from)
{
    if (from->first_ms < into->first_ms ||
        (from->first_ms == into->first_ms &&
         flow_order_before(from->first_order, into->first_order))) {
        into->first_ms = from->first_ms;
        into->first_order = from->first_order;
    }
    if (from->last_ms > into->last_ms)
        into->last_ms = from->last_ms;
    into->bytes += from->bytes;
    into->packets += from->packets;
    into->ip_bytes += from->ip_bytes;
    into->protocols |= from->protocols;
    into->tcp_flags |= from->tcp_flags;
    into->opened |= from->opened;
}

_Static_assert(sizeof(struct flow_counters) == 48, "the biflow fields fill flow_counters' padding");
_Static_assert(sizeof(struct flow_key) == 40, "flow_key is hashed as five 64-bit words");

#endif
