/*
 * flow_pair.h - biflows (RFC 5103): which flow is the other direction of a flow, and which of
 * the two is the forward one, the initiator's. The writer pairs the report's rows with it, the
 * keeper its rows and records; both decide from the rows' counters alone, so the report and the
 * records always agree. The Community ID uses the same ICMP counterparts.
 */
#ifndef NASOONE_FLOW_PAIR_H
#define NASOONE_FLOW_PAIR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "flow_key.h"

/* The ICMP (protocol 1) or ICMPv6 (58) type that answers `type` (echo request 8 and reply 0,
 * ...: the types the Community ID specification pairs), or -1 for a one-way message. */
static inline int flow_icmp_counterpart(uint8_t protocol, uint8_t type)
{
    static const uint8_t v4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
                                    {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
    static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133},
                                    {135, 136}, {136, 135}, {130, 131}, {131, 130},
                                    {139, 140}, {140, 139}, {144, 145}, {145, 144}};
    const uint8_t(*pairs)[2] = protocol == 1 ? v4 : v6;
    size_t count = protocol == 1 ? sizeof v4 / sizeof *v4 : sizeof v6 / sizeof *v6;
    for (size_t i = 0; i < count; i++)
        if (pairs[i][0] == type)
            return pairs[i][1];
    return -1;
}

/* Writes the key of `key`'s other direction into out: addresses and ports swapped; for ICMP
 * and ICMPv6 (whose 5-tuple ports are type and code) the answering type with the same code.
 * Returns 0 when the flow has no other direction (a one-way ICMP message), 1 otherwise. */
static inline int flow_key_reverse(const struct flow_key *key, struct flow_key *out)
{
    *out = *key;
    if (key->protocol == 1 || key->protocol == 58) {
        int answer = flow_icmp_counterpart(key->protocol, (uint8_t)key->src_port);
        if (answer < 0)
            return 0;
        out->src_port = (uint16_t)answer;
    } else {
        out->src_port = key->dst_port;
        out->dst_port = key->src_port;
    }
    memcpy(out->src, key->dst, sizeof out->src);
    memcpy(out->dst, key->src, sizeof out->dst);
    return 1;
}

/* Whether flow a (key ka) is the forward direction of its pair with flow b, b being a's other
 * direction: the one that opened the connection (sent a SYN without ACK) when only one did;
 * otherwise the one whose first packet came first: the earlier millisecond, then the earlier
 * place in the capture (first_order). The keys break a tie no capture can make, so that
 * exactly one of the two is forward. */
static inline int flow_pair_forward(const struct flow_key *ka, const struct flow_counters *a,
                                    const struct flow_key *kb, const struct flow_counters *b)
{
    if (a->opened != b->opened)
        return a->opened;
    if (a->first_ms != b->first_ms)
        return a->first_ms < b->first_ms;
    if (a->first_order != b->first_order)
        return flow_order_before(a->first_order, b->first_order);
    return memcmp(ka, kb, sizeof *ka) < 0;
}

#endif
