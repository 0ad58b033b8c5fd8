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
    DECODE_NOT_IP,           /* no IPv4/IPv6 header behind a supported link layer (ARP, LLC, ...) */
    DECODE_NOT_TCP_UDP,      /* the header after IP (and its extension headers) is ICMP, GRE, ... */
    DECODE_FRAGMENT,         /* a non-first IP fragment: it carries no ports */
    DECODE_TRUNCATED,        /* the capture ends before the addresses or the ports */
    DECODE_INVALID,          /* a header that contradicts itself (IHL < 5, wrong IP version, ...) */
    DECODE_UNSUPPORTED_LINK, /* a pcapng interface of a link type nasoone does not decode */
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
    DECODE_LINK_PPP,      /* DLT_PPP, DLT_PPP_SERIAL: optional ff 03, then the PPP protocol */
    DECODE_LINK_PPPOE,    /* DLT_PPP_ETHER: PPPoE session header, then the PPP protocol */
    DECODE_LINK_CHDLC,    /* DLT_C_HDLC: Cisco HDLC, address, control, EtherType */
    DECODE_LINK_NFLOG,    /* DLT_NFLOG: Linux netfilter log, the packet in a TLV */
    DECODE_LINK_COUNT
};

/* How many 802.1Q/802.1ad tags (MPLS labels) are walked before a frame is called invalid. */
#if !defined(DECODE_MAX_VLAN_TAGS)
#define DECODE_MAX_VLAN_TAGS 16
#endif
#if !defined(DECODE_MAX_MPLS_LABELS)
#define DECODE_MAX_MPLS_LABELS 16
#endif

/* Where a frame stands in IP fragmentation. */
enum decode_fragment {
    DECODE_NOT_FRAGMENT = 0, /* also atomic fragments (offset 0, no more fragments) */
    DECODE_FIRST_FRAGMENT,   /* offset 0, more fragments follow: it has the ports */
    DECODE_LATER_FRAGMENT,   /* offset > 0: result DECODE_FRAGMENT */
};

/* What identifies the fragments of one datagram: RFC 791 (source, destination, protocol,
 * identification) and RFC 8200 (source, destination, identification). */
struct fragment_id {
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t id;
    uint8_t family;   /* 0 when the frame is no fragment, or its identification was not captured */
    uint8_t protocol; /* IPv4 only; 0 for IPv6 */
    uint8_t zero[2];  /* compared as bytes */
};

struct decoded_packet {
    struct flow_key key; /* valid when DECODE_COUNTED */
    uint8_t protocol;    /* FLOW_PROTO_TCP or FLOW_PROTO_UDP when DECODE_COUNTED */
    uint8_t fragment;    /* enum decode_fragment */
    uint8_t tcp_flags; /* TCP: the header's flags byte (FIN 0x01 ... CWR 0x80), 0 if not captured */
    /* The transport protocol the walk after IP ended on (TCP, UDP, or any other, with
     * DECODE_NOT_TCP_UDP), for a 5-tuple key: transport says it was reached, transport_keyed
     * that its key fields were captured (ICMP's type and code, SCTP's, UDP-Lite's and DCCP's
     * ports; nothing for the others, whose ports are 0). */
    uint8_t ip_protocol;
    uint8_t transport;
    uint8_t transport_keyed;
    uint32_t span;      /* bytes from the frame start that decoding looked at */
    uint32_t ip_offset; /* where the IP header that gave the key starts */
    /* IP header plus payload as that header says (IPFIX octetDeltaCount); 0 when the header
     * says 0 (segmentation offload, jumbograms): then the frame's end is the IP packet's end */
    uint32_t ip_length;
    struct fragment_id fragment_id; /* for first and later fragments */
};

/* The IP bytes (header plus payload) of a counted frame or a later fragment. */
static inline uint32_t decode_ip_bytes(const struct decoded_packet *decoded, uint32_t wire_length)
{
    if (decoded->ip_length != 0)
        return decoded->ip_length;
    return wire_length > decoded->ip_offset ? wire_length - decoded->ip_offset : 0;
}

/* Maps a libpcap DLT_* value to the decoder's link, DECODE_LINK_UNSUPPORTED if unknown. */
enum decode_link decode_link_from_dlt(int dlt);

/* Decodes one frame of `caplen` captured bytes. Never reads data[caplen] or beyond. */
enum decode_result decode_packet(enum decode_link link, const uint8_t *data, uint32_t caplen,
                                 struct decoded_packet *out);

/* decode_packet for the report's key: with five_tuple, every IP protocol counts (its number in
 * out->key.protocol, FLOW_PROTO_OTHER in out->protocol for all but TCP and UDP); a protocol
 * whose key fields were not captured is DECODE_TRUNCATED. Without, decode_packet itself. */
enum decode_result decode_packet_keyed(enum decode_link link, const uint8_t *data, uint32_t caplen,
                                       int five_tuple, struct decoded_packet *out);

/* Stable snake_case name of a result, as used in the stats ("not_ip", ...). */
const char *decode_result_name(enum decode_result result);

#endif
