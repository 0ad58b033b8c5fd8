/*
 * decode.c - frame bytes to flow key (see decode.h). Runs on parser threads and the producer.
 *
 * The rules are those of DESIGN.md and ../shared/tools/oracle.sh: the outermost IP header and
 * the first TCP/UDP header after it (IPv6 extension headers and IPsec AH skipped) make the key;
 * a frame counts once the 4 port bytes are inside both the captured data and the IP datagram.
 * Every read goes through frame_has(), which also records how far decoding looked (span).
 */
#include "decode.h"

#include <pcap/dlt.h>
#include <stddef.h>

enum {
    ETHERTYPE_IPV4 = 0x0800,
    ETHERTYPE_IPV6 = 0x86dd,
    ETHERTYPE_VLAN = 0x8100, /* 802.1Q */
    ETHERTYPE_QINQ = 0x88a8, /* 802.1ad */
    ETHERTYPE_QINQ_OLD = 0x9100,
    ETHERTYPE_PPPOE_SESSION = 0x8864,
    ETHERTYPE_MPLS_UNICAST = 0x8847,
    ETHERTYPE_MPLS_MULTICAST = 0x8848,
    PPP_PROTOCOL_IPV4 = 0x0021,
    PPP_PROTOCOL_IPV6 = 0x0057,
    IPPROTO_NUM_HOPOPTS = 0,
    IPPROTO_NUM_TCP = 6,
    IPPROTO_NUM_UDP = 17,
    IPPROTO_NUM_ROUTING = 43,
    IPPROTO_NUM_FRAGMENT = 44,
    IPPROTO_NUM_AH = 51,
    IPPROTO_NUM_DSTOPTS = 60,
    IPPROTO_NUM_ICMP = 1,
    IPPROTO_NUM_DCCP = 33,
    IPPROTO_NUM_ICMPV6 = 58,
    IPPROTO_NUM_SCTP = 132,
    IPPROTO_NUM_UDPLITE = 136,
};

struct frame {
    const uint8_t *data;
    uint32_t caplen;
    uint32_t span; /* highest end offset checked so far, at most caplen */
};

/* True when bytes [offset, offset + length) lie inside [0, limit); limit <= caplen. */
static int frame_has(struct frame *f, uint64_t offset, uint64_t length, uint64_t limit)
{
    uint64_t end = offset + length;
    uint64_t looked = end < f->caplen ? end : f->caplen;
    if (looked > f->span)
        f->span = (uint32_t)looked;
    return end <= limit;
}

static uint16_t read_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

static uint32_t read_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint32_t read_le32(const uint8_t *p)
{
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

/* The header after IP when it is neither TCP nor UDP: what a 5-tuple key takes of it (ICMP's
 * type and code in the ports, as Zeek and the Community ID do; the ports of the protocols that
 * have them; nothing of the others). For the 4-tuple report it is not counted. */
static enum decode_result decode_other_transport(struct frame *f, uint8_t protocol, uint64_t offset,
                                                 uint64_t limit, struct decoded_packet *out)
{
    out->ip_protocol = protocol;
    out->transport = 1;
    out->transport_keyed = 1;
    switch (protocol) {
    case IPPROTO_NUM_ICMP:
    case IPPROTO_NUM_ICMPV6:
        if (frame_has(f, offset, 2, limit)) {
            out->key.src_port = f->data[offset];
            out->key.dst_port = f->data[offset + 1];
        } else {
            out->transport_keyed = 0;
        }
        break;
    case IPPROTO_NUM_SCTP:
    case IPPROTO_NUM_UDPLITE:
    case IPPROTO_NUM_DCCP:
        if (frame_has(f, offset, 4, limit)) {
            out->key.src_port = read_be16(f->data + offset);
            out->key.dst_port = read_be16(f->data + offset + 2);
        } else {
            out->transport_keyed = 0;
        }
        break;
    default:
        break;
    }
    return DECODE_NOT_TCP_UDP;
}

/* Walks from the header after IP to the first TCP/UDP header, inside [offset, limit). IPsec AH
 * is skipped after either IP version; IPv6 extension headers only after IPv6. */
static enum decode_result decode_transport(struct frame *f, uint8_t protocol, uint64_t offset,
                                           uint64_t limit, int ipv6, struct decoded_packet *out)
{
    /* Every extension header is at least 8 bytes long, so the walk ends by limit. */
    for (;;) {
        switch (protocol) {
        case IPPROTO_NUM_TCP:
        case IPPROTO_NUM_UDP:
            if (!frame_has(f, offset, 4, limit))
                return DECODE_TRUNCATED;
            out->key.src_port = read_be16(f->data + offset);
            out->key.dst_port = read_be16(f->data + offset + 2);
            out->protocol = protocol == IPPROTO_NUM_TCP ? FLOW_PROTO_TCP : FLOW_PROTO_UDP;
            out->ip_protocol = protocol;
            out->transport = out->transport_keyed = 1;
            /* TCP's flags (FIN to CWR), when they were captured: the ports alone count */
            if (protocol == IPPROTO_NUM_TCP && frame_has(f, offset, 14, limit))
                out->tcp_flags = f->data[offset + 13];
            return DECODE_COUNTED;
        case IPPROTO_NUM_AH: /* RFC 4302: length in 32-bit words, minus 2 */
            if (!frame_has(f, offset, 2, limit))
                return DECODE_TRUNCATED;
            protocol = f->data[offset];
            offset += ((uint64_t)f->data[offset + 1] + 2) * 4;
            break;
        case IPPROTO_NUM_HOPOPTS:
        case IPPROTO_NUM_ROUTING:
        case IPPROTO_NUM_DSTOPTS: /* RFC 8200: length in 8-octet units, not counting the first */
            if (!ipv6)
                return decode_other_transport(f, protocol, offset, limit, out);
            if (!frame_has(f, offset, 2, limit))
                return DECODE_TRUNCATED;
            protocol = f->data[offset];
            offset += ((uint64_t)f->data[offset + 1] + 1) * 8;
            break;
        case IPPROTO_NUM_FRAGMENT: {
            if (!ipv6)
                return decode_other_transport(f, protocol, offset, limit, out);
            if (!frame_has(f, offset, 4, limit))
                return DECODE_TRUNCATED;
            uint16_t offset_flags = read_be16(f->data + offset + 2);
            int later = (offset_flags & 0xfff8) != 0;
            int more = offset_flags & 1;
            if ((later || more) && out->fragment == DECODE_NOT_FRAGMENT) {
                out->fragment = later ? DECODE_LATER_FRAGMENT : DECODE_FIRST_FRAGMENT;
                if (frame_has(f, offset, 8, limit)) {
                    out->fragment_id.family = FLOW_FAMILY_IPV6;
                    memcpy(out->fragment_id.src, out->key.src, 16);
                    memcpy(out->fragment_id.dst, out->key.dst, 16);
                    out->fragment_id.id = read_be32(f->data + offset + 4);
                }
            }
            if (later)
                return DECODE_FRAGMENT;
            protocol = f->data[offset];
            offset += 8;
            break;
        }
        default:
            return decode_other_transport(f, protocol, offset, limit, out);
        }
    }
}

static enum decode_result decode_ipv4(struct frame *f, uint64_t offset, struct decoded_packet *out)
{
    if (!frame_has(f, offset, 1, f->caplen))
        return DECODE_TRUNCATED;
    const uint8_t *ip = f->data + offset;
    if ((ip[0] >> 4) != 4)
        return DECODE_INVALID;
    uint32_t header_length = (uint32_t)(ip[0] & 0x0f) * 4;
    if (!frame_has(f, offset, 20, f->caplen))
        return DECODE_TRUNCATED;
    if (header_length < 20)
        return DECODE_INVALID;
    uint32_t total_length = read_be16(ip + 2);
    uint64_t limit = f->caplen; /* total length 0: segmentation offload, runs to the end */
    if (total_length != 0) {
        if (total_length < header_length)
            return DECODE_INVALID;
        if (offset + total_length < limit)
            limit = offset + total_length; /* Ethernet padding is not payload */
    }
    out->ip_offset = (uint32_t)offset;
    out->ip_length = total_length;
    out->key.family = FLOW_FAMILY_IPV4;
    memcpy(out->key.src, ip + 12, 4);
    memcpy(out->key.dst, ip + 16, 4);
    uint16_t flags_offset = read_be16(ip + 6);
    if ((flags_offset & 0x3fff) != 0) { /* more fragments, or an offset */
        out->fragment = (flags_offset & 0x1fff) ? DECODE_LATER_FRAGMENT : DECODE_FIRST_FRAGMENT;
        out->fragment_id.family = FLOW_FAMILY_IPV4;
        memcpy(out->fragment_id.src, ip + 12, 4);
        memcpy(out->fragment_id.dst, ip + 16, 4);
        out->fragment_id.id = read_be16(ip + 4);
        out->fragment_id.protocol = ip[9];
        if (out->fragment == DECODE_LATER_FRAGMENT)
            return DECODE_FRAGMENT;
    }
    if (!frame_has(f, offset, header_length, limit))
        return DECODE_TRUNCATED;
    return decode_transport(f, ip[9], offset + header_length, limit, 0, out);
}

static enum decode_result decode_ipv6(struct frame *f, uint64_t offset, struct decoded_packet *out)
{
    if (!frame_has(f, offset, 1, f->caplen))
        return DECODE_TRUNCATED;
    const uint8_t *ip = f->data + offset;
    if ((ip[0] >> 4) != 6)
        return DECODE_INVALID;
    if (!frame_has(f, offset, 40, f->caplen))
        return DECODE_TRUNCATED;
    uint32_t payload_length = read_be16(ip + 4);
    uint64_t limit = f->caplen; /* payload length 0: jumbogram or BIG TCP, runs to the end */
    if (payload_length != 0 && offset + 40 + payload_length < limit)
        limit = offset + 40 + payload_length;
    out->ip_offset = (uint32_t)offset;
    out->ip_length = payload_length != 0 ? payload_length + 40 : 0;
    out->key.family = FLOW_FAMILY_IPV6;
    memcpy(out->key.src, ip + 8, 16);
    memcpy(out->key.dst, ip + 24, 16);
    return decode_transport(f, ip[6], offset + 40, limit, 1, out);
}

/* IPv4 or IPv6 by the version nibble, where nothing else says which; any other nibble gives
 * `otherwise`. */
static enum decode_result decode_ip_by_version(struct frame *f, uint64_t offset,
                                               enum decode_result otherwise,
                                               struct decoded_packet *out)
{
    if (!frame_has(f, offset, 1, f->caplen))
        return DECODE_TRUNCATED;
    switch (f->data[offset] >> 4) {
    case 4:
        return decode_ipv4(f, offset, out);
    case 6:
        return decode_ipv6(f, offset, out);
    default:
        return otherwise;
    }
}

static enum decode_result decode_ppp_protocol(struct frame *f, uint16_t protocol, uint64_t offset,
                                              struct decoded_packet *out)
{
    switch (protocol) {
    case PPP_PROTOCOL_IPV4:
        return decode_ipv4(f, offset, out);
    case PPP_PROTOCOL_IPV6:
        return decode_ipv6(f, offset, out);
    default:
        return DECODE_NOT_IP;
    }
}

/* RFC 1661/1662 PPP: an optional HDLC address and control (ff 03), then the protocol, one byte
 * when compressed (odd first byte, RFC 1661 section 6.5) or two. */
static enum decode_result decode_ppp(struct frame *f, uint64_t offset, struct decoded_packet *out)
{
    if (!frame_has(f, offset, 1, f->caplen))
        return DECODE_TRUNCATED;
    if (f->data[offset] == 0xff) { /* the HDLC all-stations address, then control 03 */
        if (!frame_has(f, offset, 2, f->caplen))
            return DECODE_TRUNCATED;
        if (f->data[offset + 1] != 0x03)
            return DECODE_NOT_IP;
        offset += 2;
        if (!frame_has(f, offset, 1, f->caplen))
            return DECODE_TRUNCATED;
    }
    if (f->data[offset] & 1)
        return decode_ppp_protocol(f, f->data[offset], offset + 1, out);
    if (!frame_has(f, offset, 2, f->caplen))
        return DECODE_TRUNCATED;
    return decode_ppp_protocol(f, read_be16(f->data + offset), offset + 2, out);
}

/* RFC 2516 PPPoE session stage: version/type, code, session id, length, then PPP's protocol,
 * one byte when compressed (odd first byte, as in decode_ppp) or two. */
static enum decode_result decode_pppoe(struct frame *f, uint64_t offset, struct decoded_packet *out)
{
    if (!frame_has(f, offset, 7, f->caplen))
        return DECODE_TRUNCATED;
    if (f->data[offset + 6] & 1)
        return decode_ppp_protocol(f, f->data[offset + 6], offset + 7, out);
    if (!frame_has(f, offset, 8, f->caplen))
        return DECODE_TRUNCATED;
    return decode_ppp_protocol(f, read_be16(f->data + offset + 6), offset + 8, out);
}

/* Linux NFLOG (LINKTYPE_NFLOG): address family, version, resource id, then TLVs of a 2-byte
 * length (header included) and a 2-byte type, each padded to 4 bytes. Their fields are in the
 * capturing host's order, which libpcap turns into this host's when it reads a file of the
 * other order. The packet is the NFULA_PAYLOAD TLV's value (type 9), IPv4 or IPv6 as the family
 * says; a frame without one (cut by the snapshot length, or a log of headers only) has not
 * captured its packet: truncated. */
#define NFLOG_HEADER      4u
#define NFLOG_TLV_PAYLOAD 9u
static enum decode_result decode_nflog(struct frame *f, struct decoded_packet *out)
{
    if (!frame_has(f, 0, NFLOG_HEADER, f->caplen))
        return DECODE_TRUNCATED;
    uint8_t family = f->data[0];
    uint64_t offset = NFLOG_HEADER;
    for (;;) {
        if (!frame_has(f, offset, 4, f->caplen))
            return DECODE_TRUNCATED; /* the packet was not captured, or not logged */
        uint16_t length, type;
        memcpy(&length, f->data + offset, 2);
        memcpy(&type, f->data + offset + 2, 2);
        if (length < 4)
            return DECODE_INVALID;
        if (type == NFLOG_TLV_PAYLOAD)
            break;
        offset += ((uint64_t)length + 3) & ~(uint64_t)3;
    }
    offset += 4;
    switch (family) {
    case 2: /* AF_INET */
        return decode_ipv4(f, offset, out);
    case 10: /* AF_INET6 on Linux, the only system with NFLOG */
        return decode_ipv6(f, offset, out);
    default:
        return DECODE_NOT_IP;
    }
}

/* RFC 3032 label stack entries of 4 bytes up to the bottom-of-stack bit; the payload has no
 * type field, so IPv4 and IPv6 are told by their version nibble (anything else, such as a
 * pseudowire, is not IP here). */
static enum decode_result decode_mpls(struct frame *f, uint64_t offset, struct decoded_packet *out)
{
    for (int labels = 0;; labels++) {
        if (labels == DECODE_MAX_MPLS_LABELS)
            return DECODE_INVALID;
        if (!frame_has(f, offset, 4, f->caplen))
            return DECODE_TRUNCATED;
        int bottom = f->data[offset + 2] & 1;
        offset += 4;
        if (bottom)
            break;
    }
    return decode_ip_by_version(f, offset, DECODE_NOT_IP, out);
}

/* The EtherType at `type_offset` and any VLAN tags after it; the payload follows the last one. */
static enum decode_result decode_ethertype(struct frame *f, uint64_t type_offset,
                                           uint64_t payload_offset, struct decoded_packet *out)
{
    if (!frame_has(f, type_offset, 2, f->caplen))
        return DECODE_TRUNCATED;
    uint16_t type = read_be16(f->data + type_offset);
    for (int tags = 0;
         type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ || type == ETHERTYPE_QINQ_OLD; tags++) {
        if (tags == DECODE_MAX_VLAN_TAGS)
            return DECODE_INVALID;
        /* tag: 2 bytes TCI, then the next EtherType */
        if (!frame_has(f, payload_offset, 4, f->caplen))
            return DECODE_TRUNCATED;
        type = read_be16(f->data + payload_offset + 2);
        payload_offset += 4;
    }
    switch (type) {
    case ETHERTYPE_IPV4:
        return decode_ipv4(f, payload_offset, out);
    case ETHERTYPE_IPV6:
        return decode_ipv6(f, payload_offset, out);
    case ETHERTYPE_PPPOE_SESSION:
        return decode_pppoe(f, payload_offset, out);
    case ETHERTYPE_MPLS_UNICAST:
    case ETHERTYPE_MPLS_MULTICAST:
        return decode_mpls(f, payload_offset, out);
    default:
        return DECODE_NOT_IP;
    }
}

/* BSD loopback: AF_INET is 2 everywhere; AF_INET6 is 24, 28 or 30 depending on the BSD (macOS:
 * 30). Linux's 10 never appears in DLT_NULL captures and tshark does not take it either. */
static enum decode_result decode_address_family(struct frame *f, uint32_t family,
                                                struct decoded_packet *out)
{
    switch (family) {
    case 2:
        return decode_ipv4(f, 4, out);
    case 24:
    case 28:
    case 30:
        return decode_ipv6(f, 4, out);
    default:
        return DECODE_NOT_IP;
    }
}

enum decode_result decode_packet(enum decode_link link, const uint8_t *data, uint32_t caplen,
                                 struct decoded_packet *out)
{
    struct frame f = {data, caplen, 0};
    enum decode_result result;
    memset(&out->key, 0, sizeof out->key);
    memset(&out->fragment_id, 0, sizeof out->fragment_id);
    out->protocol = 0;
    out->tcp_flags = 0;
    out->ip_protocol = 0;
    out->transport = 0;
    out->transport_keyed = 0;
    out->fragment = DECODE_NOT_FRAGMENT;
    out->ip_offset = 0;
    out->ip_length = 0;
    switch (link) {
    case DECODE_LINK_ETHERNET:
        result = decode_ethertype(&f, 12, 14, out);
        break;
    case DECODE_LINK_SLL: /* 16-byte header, protocol last */
        result = decode_ethertype(&f, 14, 16, out);
        break;
    case DECODE_LINK_SLL2: /* 20-byte header, protocol first */
        result = decode_ethertype(&f, 0, 20, out);
        break;
    case DECODE_LINK_RAW:
        result = decode_ip_by_version(&f, 0, DECODE_INVALID, out);
        break;
    case DECODE_LINK_IPV4:
        result = decode_ipv4(&f, 0, out);
        break;
    case DECODE_LINK_IPV6:
        result = decode_ipv6(&f, 0, out);
        break;
    case DECODE_LINK_PPP:
        result = decode_ppp(&f, 0, out);
        break;
    case DECODE_LINK_PPPOE:
        result = decode_pppoe(&f, 0, out);
        break;
    case DECODE_LINK_CHDLC: /* address, control, then an EtherType */
        result = decode_ethertype(&f, 2, 4, out);
        break;
    case DECODE_LINK_NFLOG:
        result = decode_nflog(&f, out);
        break;
    case DECODE_LINK_NULL:
    case DECODE_LINK_LOOP:
        if (!frame_has(&f, 0, 4, caplen)) {
            result = DECODE_TRUNCATED;
            break;
        }
        if (link == DECODE_LINK_LOOP) {
            result = decode_address_family(&f, read_be32(data), out);
        } else {
            /* host order of the capturing machine: a value with only high bytes set is the
             * other byte order */
            uint32_t family = read_le32(data);
            if ((family & 0xffff0000u) != 0)
                family = read_be32(data);
            result = decode_address_family(&f, family, out);
        }
        break;
    case DECODE_LINK_UNSUPPORTED:
        result = DECODE_UNSUPPORTED_LINK;
        break;
    default:
        result = DECODE_NOT_IP;
        break;
    }
    out->span = f.span;
    return result;
}

enum decode_result decode_packet_keyed(enum decode_link link, const uint8_t *data, uint32_t caplen,
                                       int five_tuple, struct decoded_packet *out)
{
    enum decode_result result = decode_packet(link, data, caplen, out);
    if (!five_tuple || (result != DECODE_COUNTED && result != DECODE_NOT_TCP_UDP) ||
        !out->transport)
        return result;
    if (!out->transport_keyed)
        return DECODE_TRUNCATED; /* its type and code, or its ports, were not captured */
    if (out->ip_protocol == 0)
        return DECODE_NOT_TCP_UDP; /* IPv4 protocol 0 (IPv6's hop-by-hop): no key can say it */
    out->key.protocol = out->ip_protocol;
    if (result == DECODE_NOT_TCP_UDP)
        out->protocol = FLOW_PROTO_OTHER;
    return DECODE_COUNTED;
}

enum decode_link decode_link_from_dlt(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
        return DECODE_LINK_ETHERNET;
    case DLT_LINUX_SLL:
        return DECODE_LINK_SLL;
    case DLT_LINUX_SLL2:
        return DECODE_LINK_SLL2;
    case DLT_RAW:
        return DECODE_LINK_RAW;
    case DLT_IPV4:
        return DECODE_LINK_IPV4;
    case DLT_IPV6:
        return DECODE_LINK_IPV6;
    case DLT_NULL:
        return DECODE_LINK_NULL;
    case DLT_LOOP:
        return DECODE_LINK_LOOP;
    case DLT_PPP:
    case DLT_PPP_SERIAL:
        return DECODE_LINK_PPP;
    case DLT_PPP_ETHER:
        return DECODE_LINK_PPPOE;
    case DLT_C_HDLC:
        return DECODE_LINK_CHDLC;
    case DLT_NFLOG:
        return DECODE_LINK_NFLOG;
    default:
        return DECODE_LINK_UNSUPPORTED;
    }
}

const char *decode_result_name(enum decode_result result)
{
    static const char *const names[DECODE_RESULT_COUNT] = {
        [DECODE_COUNTED] = "counted",
        [DECODE_NOT_IP] = "not_ip",
        [DECODE_NOT_TCP_UDP] = "not_tcp_udp",
        [DECODE_FRAGMENT] = "fragment",
        [DECODE_TRUNCATED] = "truncated",
        [DECODE_INVALID] = "invalid",
        [DECODE_UNSUPPORTED_LINK] = "unsupported_link",
    };
    return (unsigned)result < DECODE_RESULT_COUNT ? names[result] : "unknown";
}
