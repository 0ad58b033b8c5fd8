/*
 * decode.h - turns the bytes of one captured frame into a flow key, or a reason it is skipped.
 *
 * Pure function, no state, no allocation: called by parser threads for every packet and by the
 * producer to measure how many header bytes a long frame needs (decoded_packet.span).
 * Every read is checked against the captured length first.
 */
#ifndef NASOONE_DECODE_H
#define NASOONE_DECODE_H

#include <stdint.h>

#include "flow_key.h"

/* What happened to a frame. DECODE_COUNTED frames become report rows; the others are counted
 * in the stats under their reason. */
enum decode_result {
    DECODE_COUNTED = 0,
    DECODE_NOT_IP,      /* no IPv4/IPv6 header behind a supported link layer (ARP, LLC, ...) */
    DECODE_NOT_TCP_UDP, /* the header after IP (and its extension headers) is ICMP, GRE, ... */
    DECODE_FRAGMENT,    /* a non-first IP fragment: it carries no ports */
    DECODE_TRUNCATED,   /* the capture ends before the addresses or the ports */
    DECODE_INVALID,     /* a header that contradicts itself (IHL < 5, wrong IP version, ...) */
    DECODE_RESULT_COUNT
};

/* Link layers the decoder understands, independent of libpcap's DLT numbering. */
enum decode_link {
    DECODE_LINK_UNSUPPORTED = 0,
    DECODE_LINK_ETHERNET, /* DLT_EN10MB */
    DECODE_LINK_SLL,      /* DLT_LINUX_SLL */
    DECODE_LINK_SLL2,     /* DLT_LINUX_SLL2 */
    DECODE_LINK_RAW,      /* DLT_RAW: IPv4 or IPv6 by the version nibble */
    DECODE_LINK_IPV4,     /* DLT_IPV4 */
    DECODE_LINK_IPV6,     /* DLT_IPV6 */
    DECODE_LINK_NULL,     /* DLT_NULL: 4-byte address family in the capturing host's order */
    DECODE_LINK_LOOP,     /* DLT_LOOP: 4-byte address family in network order */
};

/* How many 802.1Q/802.1ad tags are walked before a frame is called invalid. */
#if !defined(DECODE_MAX_VLAN_TAGS)
#define DECODE_MAX_VLAN_TAGS 16
#endif

struct decoded_packet {
    struct flow_key key; /* valid when DECODE_COUNTED */
    uint8_t protocol;    /* FLOW_PROTO_TCP or FLOW_PROTO_UDP when DECODE_COUNTED */
    uint32_t span;       /* bytes from the frame start that decoding looked at */
};

/* Maps a libpcap DLT_* value to the decoder's link, DECODE_LINK_UNSUPPORTED if unknown. */
enum decode_link decode_link_from_dlt(int dlt);

/* Decodes one frame of `caplen` captured bytes. Never reads data[caplen] or beyond. */
enum decode_result decode_packet(enum decode_link link, const uint8_t *data, uint32_t caplen,
                                 struct decoded_packet *out);

/* Stable snake_case name of a result, as used in the stats ("not_ip", ...). */
const char *decode_result_name(enum decode_result result);

#endif
