/*
 * test_ipfix.c - unit tests of the IPFIX record sink (csrc/ipfix_export.c).
 *
 * The bytes are read back with a decoder written here from RFC 7011, not with libfixbuf, so
 * the test checks the wire format itself: message headers (version 10, length, observation
 * domain, sequence numbers = data records sent before the message), template sets (IDs 256
 * and 257, or 258 and 259 for biflows, with exactly the expected information elements, lengths
 * and enterprise numbers: RFC 5103's reverse elements are the only enterprise-specific ones
 * accepted, PEN 29305) and every field of every data record.
 *
 * Covers: a file target (file:///abs and file:relative) holding IPv4 and IPv6 records with all
 * four reasons, extreme ports and counters, and records with both TCP and UDP packets, which
 * become two data records (protocols 6 and 17) adding up to the record's totals; 5-tuple
 * records: ICMP (type 8 code 0, type 3 code 3) and ICMPv6 (type 128 code 0, type 1 code 4) with
 * icmpTypeCodeIPv4/IPv6 and the destination port type * 256 + code, source port 0, and TCP,
 * UDP and GRE ones with their ports and icmpTypeCode 0; biflows (RFC 5103) to a file: only
 * templates 258/259 sent, one data record per protocol with packets in either direction (one
 * where only the reverse sent, forward counts 0; TCP forward with UDP reverse; both protocols
 * both ways), the reverse counts, the reverse TCP flags in the TCP part's record only, an ICMP
 * biflow, a record with no packets counted but not sent, and the exact message lengths; the
 * smallest MTU, 256 bytes, one-way and biflow (to a file and over UDP), where every message is
 * at most 256 bytes (the biflow templates message is 236) and records straddle messages, still
 * counted once each; a write failure (RLIMIT_FSIZE) that drops and counts records and leaves a
 * file of whole messages only; a record split over two messages whose first is lost, counted
 * dropped once while the collector sees the gap in the sequence numbers; nothing written: a file
 * with the templates; UDP to a socket of the test over IPv4 and IPv6: the default 1400-byte
 * MTU, templates in a first datagram of their own, a partial message flushed by tick after 1 s
 * of wall time and not before, templates resent after template_resend_s; a collector that is
 * down (nobody on the port): every record dropped and counted, errors counted, the message says
 * "Connection refused", and no write or tick takes long; a collector that restarts, one-way and
 * biflow: the templates (the biflow ones in a biflow run) sent again before the next data; bad
 * targets and options (mtu 255 and 128 below the minimum of 256) failing at open with a message
 * naming the target and what is wrong; an unresolvable host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "flow_record.h"
#include "message.h"
#include "record_sink.h"

/* the IPFIX sink's kind (ipfix_export.c), as the registry (record_sinks.c) lists it */
extern const struct record_sink_kind ipfix_export_kind;

#define ERR_SIZE NASOONE_MESSAGE_SIZE
#define PATH_BUF 1024

/* ---------------------------------------------------------------------------------------- */
/* An IPFIX decoder (RFC 7011), independent of libfixbuf                                      */
/* ---------------------------------------------------------------------------------------- */

#define MAX_FIELDS 32

/* The private enterprise number of the RFC 5103 reverse information elements. */
#define PEN_REVERSE 29305

struct template_def {
    uint16_t id;
    uint16_t count;
    uint16_t element[MAX_FIELDS]; /* without the enterprise bit (0x8000) */
    uint16_t length[MAX_FIELDS];
    uint32_t enterprise[MAX_FIELDS]; /* 0: an IANA element */
};

/* One data record with the elements this exporter sends (the reverse ones: biflows only). */
struct data_record {
    uint16_t template_id;
    uint8_t src[16], dst[16];
    uint16_t src_port, dst_port;
    uint8_t protocol, reason;
    uint16_t tcp_flags;
    uint16_t icmp_type_code; /* icmpTypeCodeIPv4 (32) or icmpTypeCodeIPv6 (139) */
    uint32_t ingress;        /* ingressInterface (10) */
    uint64_t start_ms, end_ms, packets, ip_bytes, frame_bytes;
    uint16_t reverse_tcp_flags;
    uint64_t reverse_start_ms, reverse_end_ms, reverse_packets, reverse_ip_bytes,
        reverse_frame_bytes;
    size_t message; /* the message that held it (not compared) */
};

struct decoded {
    size_t messages;
    size_t template_sets;
    size_t max_length;
    uint32_t domain;
    struct template_def templates[4];
    size_t template_count;
    struct data_record *records;
    size_t count, capacity;
    uint64_t sequence; /* data records before the next message */
    int allow_loss;    /* messages may be missing: a sequence number may jump ahead */
    uint64_t last_sequence;
    /* per message: whether it held a template set, data records (for the UDP tests) */
    int message_had_templates[64];
    size_t message_records[64];
    size_t message_length[64];
};

static uint64_t get_be(const uint8_t *p, size_t length)
{
    uint64_t value = 0;
    for (size_t i = 0; i < length; i++)
        value = value << 8 | p[i];
    return value;
}

static void decoded_init(struct decoded *d) { memset(d, 0, sizeof *d); }

static void decoded_free(struct decoded *d)
{
    free(d->records);
    memset(d, 0, sizeof *d);
}

static const struct template_def *find_template(const struct decoded *d, uint16_t id)
{
    for (size_t i = 0; i < d->template_count; i++)
        if (d->templates[i].id == id)
            return &d->templates[i];
    return NULL;
}

static void decode_template_set(struct decoded *d, const uint8_t *p, size_t length)
{
    d->template_sets++;
    size_t at = 0;
    while (length - at >= 4) {
        struct template_def t;
        memset(&t, 0, sizeof t);
        t.id = (uint16_t)get_be(p + at, 2);
        t.count = (uint16_t)get_be(p + at + 2, 2);
        at += 4;
        CHECK(t.id >= 256);
        if (!CHECK(t.count <= MAX_FIELDS))
            return;
        for (uint16_t f = 0; f < t.count; f++) {
            if (!CHECK(length - at >= 4))
                return;
            uint16_t element = (uint16_t)get_be(p + at, 2);
            t.element[f] = element & 0x7fff;
            t.length[f] = (uint16_t)get_be(p + at + 2, 2);
            at += 4;
            if (element & 0x8000) { /* enterprise-specific: its number follows (RFC 7011 3.2) */
                if (!CHECK(length - at >= 4))
                    return;
                t.enterprise[f] = (uint32_t)get_be(p + at, 4);
                at += 4;
                /* the only ones this exporter sends: RFC 5103's reverse elements */
                CHECK_EQ(t.enterprise[f], PEN_REVERSE);
            }
        }
        size_t slot = d->template_count;
        for (size_t i = 0; i < d->template_count; i++)
            if (d->templates[i].id == t.id)
                slot = i;
        if (slot == d->template_count) {
            if (!CHECK(d->template_count < 4))
                return;
            d->template_count++;
        }
        d->templates[slot] = t;
    }
    CHECK_EQ(at, length);
}

static size_t template_record_length(const struct template_def *t)
{
    size_t total = 0;
    for (uint16_t f = 0; f < t->count; f++)
        total += t->length[f];
    return total;
}

static void decode_data_set(struct decoded *d, const struct template_def *t, const uint8_t *p,
                            size_t length, size_t *records_in_message)
{
    size_t record_length = template_record_length(t);
    if (!CHECK(record_length > 0))
        return;
    size_t at = 0;
    while (length - at >= record_length) {
        struct data_record r;
        memset(&r, 0, sizeof r);
        r.template_id = t->id;
        r.message = d->messages - 1;
        for (uint16_t f = 0; f < t->count; f++) {
            const uint8_t *v = p + at;
            uint16_t n = t->length[f];
            if (t->enterprise[f] == PEN_REVERSE) {
                switch (t->element[f]) {
                case 6: /* reverseTcpControlBits */
                    r.reverse_tcp_flags = (uint16_t)get_be(v, n);
                    break;
                case 152:
                    r.reverse_start_ms = get_be(v, n);
                    break;
                case 153:
                    r.reverse_end_ms = get_be(v, n);
                    break;
                case 2:
                    r.reverse_packets = get_be(v, n);
                    break;
                case 1:
                    r.reverse_ip_bytes = get_be(v, n);
                    break;
                case 352:
                    r.reverse_frame_bytes = get_be(v, n);
                    break;
                default:
                    CHECK(!"unexpected reverse information element in a data set");
                }
                at += n;
                continue;
            }
            if (!CHECK_EQ(t->enterprise[f], 0)) {
                at += n;
                continue;
            }
            switch (t->element[f]) {
            case 8: /* sourceIPv4Address */
            case 27:
                memcpy(r.src, v, n);
                break;
            case 12:
            case 28:
                memcpy(r.dst, v, n);
                break;
            case 7:
                r.src_port = (uint16_t)get_be(v, n);
                break;
            case 11:
                r.dst_port = (uint16_t)get_be(v, n);
                break;
            case 4:
                r.protocol = (uint8_t)get_be(v, n);
                break;
            case 136:
                r.reason = (uint8_t)get_be(v, n);
                break;
            case 6: /* tcpControlBits */
                r.tcp_flags = (uint16_t)get_be(v, n);
                break;
            case 10: /* ingressInterface */
                r.ingress = (uint32_t)get_be(v, n);
                break;
            case 32:  /* icmpTypeCodeIPv4 */
            case 139: /* icmpTypeCodeIPv6 */
                r.icmp_type_code = (uint16_t)get_be(v, n);
                break;
            case 152:
                r.start_ms = get_be(v, n);
                break;
            case 153:
                r.end_ms = get_be(v, n);
                break;
            case 2:
                r.packets = get_be(v, n);
                break;
            case 1:
                r.ip_bytes = get_be(v, n);
                break;
            case 352:
                r.frame_bytes = get_be(v, n);
                break;
            default:
                CHECK(!"unexpected information element in a data set");
            }
            at += n;
        }
        if (d->count == d->capacity) {
            d->capacity = d->capacity ? 2 * d->capacity : 64;
            d->records = realloc(d->records, d->capacity * sizeof *d->records);
            if (d->records == NULL)
                abort();
        }
        d->records[d->count++] = r;
        (*records_in_message)++;
    }
    CHECK(length - at < 4); /* only padding may follow the last record */
}

/* Decodes one message at p (at most `available` bytes); returns its length, 0 if broken. */
static size_t decode_message(struct decoded *d, const uint8_t *p, size_t available)
{
    if (!CHECK(available >= 16))
        return 0;
    CHECK_EQ(get_be(p, 2), 10);
    size_t length = (size_t)get_be(p + 2, 2);
    if (!CHECK(length >= 16 && length <= available))
        return 0;
    uint64_t export_time = get_be(p + 4, 4);
    CHECK(export_time + 3600 > (uint64_t)time(NULL) && export_time <= (uint64_t)time(NULL) + 1);
    uint64_t sequence = get_be(p + 8, 4);
    if (d->allow_loss && sequence > d->sequence)
        d->sequence = sequence; /* a lost message: the collector sees the gap */
    CHECK_EQ(sequence, d->sequence & 0xffffffffu);
    d->last_sequence = sequence;
    uint32_t domain = (uint32_t)get_be(p + 12, 4);
    if (d->messages == 0)
        d->domain = domain;
    CHECK_EQ(domain, d->domain);
    size_t message_index = d->messages++;
    if (length > d->max_length)
        d->max_length = length;
    size_t records = 0;
    int had_templates = 0;
    size_t at = 16;
    while (at < length) {
        if (!CHECK(length - at >= 4))
            return 0;
        uint16_t set_id = (uint16_t)get_be(p + at, 2);
        size_t set_length = (size_t)get_be(p + at + 2, 2);
        if (!CHECK(set_length >= 4 && set_length <= length - at))
            return 0;
        if (set_id == 2) {
            had_templates = 1;
            decode_template_set(d, p + at + 4, set_length - 4);
        } else {
            const struct template_def *t = find_template(d, set_id);
            if (CHECK(set_id >= 256 && t != NULL))
                decode_data_set(d, t, p + at + 4, set_length - 4, &records);
        }
        at += set_length;
    }
    if (message_index < 64) {
        d->message_had_templates[message_index] = had_templates;
        d->message_records[message_index] = records;
        d->message_length[message_index] = length;
    }
    d->sequence += records;
    return length;
}

/* Decodes a stream of whole messages (an IPFIX file). */
static void decode_stream(struct decoded *d, const uint8_t *bytes, size_t length)
{
    size_t at = 0;
    while (at < length) {
        size_t used = decode_message(d, bytes + at, length - at);
        if (used == 0)
            return;
        at += used;
    }
    CHECK_EQ(at, length);
}

static int decode_file(struct decoded *d, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!CHECK(f != NULL))
        return -1;
    static uint8_t bytes[16 << 20];
    size_t length = fread(bytes, 1, sizeof bytes, f);
    fclose(f);
    decode_stream(d, bytes, length);
    return 0;
}

/* The fields of each template, element id, length and enterprise number (0: IANA), in order.
 * A biflow template (RFC 5103) has the one-way fields, then reverseTcpControlBits before
 * ingressInterface, then the reverse counts: enterprise 29305 with the forward ids. */
#define REV PEN_REVERSE
static const uint32_t fields_v4[][3] = {
    {152, 8, 0}, {153, 8, 0}, {2, 8, 0},  {1, 8, 0}, {352, 8, 0}, {8, 4, 0}, {12, 4, 0},
    {32, 2, 0},  {7, 2, 0},   {11, 2, 0}, {4, 1, 0}, {136, 1, 0}, {6, 2, 0}, {10, 4, 0}};
static const uint32_t fields_v6[][3] = {
    {152, 8, 0}, {153, 8, 0}, {2, 8, 0},  {1, 8, 0}, {352, 8, 0}, {27, 16, 0}, {28, 16, 0},
    {139, 2, 0}, {7, 2, 0},   {11, 2, 0}, {4, 1, 0}, {136, 1, 0}, {6, 2, 0},   {10, 4, 0}};
static const uint32_t fields_biflow_v4[][3] = {
    {152, 8, 0}, {153, 8, 0},   {2, 8, 0},     {1, 8, 0},   {352, 8, 0}, {8, 4, 0},    {12, 4, 0},
    {32, 2, 0},  {7, 2, 0},     {11, 2, 0},    {4, 1, 0},   {136, 1, 0}, {6, 2, 0},    {6, 2, REV},
    {10, 4, 0},  {152, 8, REV}, {153, 8, REV}, {2, 8, REV}, {1, 8, REV}, {352, 8, REV}};
static const uint32_t fields_biflow_v6[][3] = {
    {152, 8, 0}, {153, 8, 0},   {2, 8, 0},     {1, 8, 0},   {352, 8, 0}, {27, 16, 0},  {28, 16, 0},
    {139, 2, 0}, {7, 2, 0},     {11, 2, 0},    {4, 1, 0},   {136, 1, 0}, {6, 2, 0},    {6, 2, REV},
    {10, 4, 0},  {152, 8, REV}, {153, 8, REV}, {2, 8, REV}, {1, 8, REV}, {352, 8, REV}};
#undef REV

/* One template as it must be: exactly these `count` fields. */
static void check_template(const struct decoded *d, uint16_t id, const uint32_t (*fields)[3],
                           int count)
{
    const struct template_def *t = find_template(d, id);
    check_set_context("template %u", id);
    if (!CHECK(t != NULL) || !CHECK_EQ(t->count, count)) {
        check_set_context("%s", "");
        return;
    }
    for (int f = 0; f < count; f++) {
        check_set_context("template %u field %d", id, f);
        CHECK_EQ(t->element[f], fields[f][0]);
        CHECK_EQ(t->length[f], fields[f][1]);
        CHECK_EQ(t->enterprise[f], fields[f][2]);
    }
    check_set_context("%s", "");
}

/* The templates a one-way run sends: 256 (IPv4) and 257 (IPv6), and no other. */
static void check_templates(const struct decoded *d)
{
    CHECK_EQ(d->template_count, 2);
    check_template(d, 256, fields_v4, 14);
    check_template(d, 257, fields_v6, 14);
}

/* The templates a biflow run sends: 258 (IPv4) and 259 (IPv6), and not the one-way ones. */
static void check_biflow_templates(const struct decoded *d)
{
    CHECK_EQ(d->template_count, 2);
    check_template(d, 258, fields_biflow_v4, 20);
    check_template(d, 259, fields_biflow_v6, 20);
    CHECK(find_template(d, 256) == NULL);
    CHECK(find_template(d, 257) == NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* Records                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void set_address(uint8_t *family, uint8_t out[16], const char *text)
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, out) == 1) {
        *family = FLOW_FAMILY_IPV4;
    } else if (inet_pton(AF_INET6, text, out) == 1) {
        *family = FLOW_FAMILY_IPV6;
    } else {
        fprintf(stderr, "test_ipfix: bad address in the test: %s\n", text);
        abort();
    }
}

static struct flow_record make_record(const char *src, uint16_t src_port, const char *dst,
                                      uint16_t dst_port, uint8_t reason)
{
    struct flow_record r;
    memset(&r, 0, sizeof r);
    set_address(&r.key.family, r.key.src, src);
    set_address(&r.key.family, r.key.dst, dst);
    r.key.src_port = src_port;
    r.key.dst_port = dst_port;
    r.reason = reason;
    return r;
}

static void set_part(struct flow_record *r, int part, uint64_t first, uint64_t last, uint64_t bytes,
                     uint64_t ip_bytes, uint64_t packets)
{
    r->part[part] = (struct flow_part){first, last, bytes, ip_bytes, packets};
    r->protocols |= part == FLOW_PART_TCP ? FLOW_PROTO_TCP : FLOW_PROTO_UDP;
}

/* A biflow's reverse direction: its packets of one protocol. */
static void set_reverse(struct flow_record *r, int part, uint64_t first, uint64_t last,
                        uint64_t bytes, uint64_t ip_bytes, uint64_t packets)
{
    r->biflow = 1;
    r->reverse[part] = (struct flow_part){first, last, bytes, ip_bytes, packets};
    r->reverse_protocols |= part == FLOW_PART_TCP ? FLOW_PROTO_TCP : FLOW_PROTO_UDP;
}

/* The fixed set: both families, all four reasons, both single-protocol kinds, two records
 * with both protocols, ports 0 and 65535, counters that need all 8 bytes. */
static size_t fixture_records(struct flow_record *out)
{
    size_t n = 0;
    out[n] = make_record("10.0.0.1", 12345, "192.168.1.2", 80, FLOW_END_IDLE);
    out[n].tcp_flags = 0x1b; /* FIN, SYN, PSH, ACK */
    set_part(&out[n++], FLOW_PART_TCP, 1700000000123, 1700000005456, 3 * 1514, 3 * 1500, 3);
    out[n] = make_record("2001:db8::1", 53, "2001:db8:ffff::2", 65535, FLOW_END_ACTIVE);
    set_part(&out[n++], FLOW_PART_UDP, 1700000001000, 1700001801999, UINT64_MAX - 1,
             0x123456789abcdef0u, 0xffffffff01u);
    out[n] = make_record("172.16.0.1", 0, "255.255.255.255", 443, FLOW_END_END);
    out[n].tcp_flags = 0xff; /* every flag: the UDP part still has none */
    set_part(&out[n], FLOW_PART_TCP, 1700000002000, 1700000009000, 6000, 5800, 10);
    set_part(&out[n++], FLOW_PART_UDP, 1700000001500, 1700000008500, 700, 658, 3);
    out[n] = make_record("fe80::1", 65535, "::ffff:1.2.3.4", 1, FLOW_END_CAPACITY);
    set_part(&out[n], FLOW_PART_TCP, 1700000003000, 1700000003000, 74, 60, 1);
    set_part(&out[n++], FLOW_PART_UDP, 1700000003001, 1700000004002, 200, 172, 2);
    out[n] = make_record("0.0.0.0", 65535, "1.2.3.4", 0, FLOW_END_CAPACITY);
    set_part(&out[n++], FLOW_PART_UDP, 0, 0, 60, 28, 1);
    return n;
}

/* The data records flow records must become: one per protocol with packets, in a biflow run
 * (biflow) one per protocol with packets in either direction, with the reverse counts. The
 * hand-written expectations of test_icmp and test_biflow_file check the same rules field by
 * field. */
static size_t expected_data(const struct flow_record *records, size_t count, int biflow,
                            struct data_record *out)
{
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        const struct flow_record *r = &records[i];
        int pair = biflow && r->biflow;
        for (int p = 0; p < FLOW_PART_COUNT; p++) {
            const struct flow_part *part = &r->part[p], *back = &r->reverse[p];
            if (part->packets == 0 && (!pair || back->packets == 0))
                continue;
            struct data_record *d = &out[n++];
            memset(d, 0, sizeof *d);
            int ipv4 = r->key.family == FLOW_FAMILY_IPV4;
            d->template_id = (uint16_t)((ipv4 ? 256 : 257) + (pair ? 2 : 0));
            memcpy(d->src, r->key.src, ipv4 ? 4 : 16);
            memcpy(d->dst, r->key.dst, ipv4 ? 4 : 16);
            d->src_port = r->key.src_port;
            d->dst_port = r->key.dst_port;
            d->protocol = r->key.protocol != 0 ? r->key.protocol : p == FLOW_PART_TCP ? 6 : 17;
            if (r->key.protocol == 1 || r->key.protocol == 58) {
                d->icmp_type_code = (uint16_t)(r->key.src_port * 256 + r->key.dst_port);
                d->src_port = 0;
                d->dst_port = d->icmp_type_code;
            }
            d->reason = r->reason;
            d->ingress = r->key.device;
            d->tcp_flags = p == FLOW_PART_TCP ? r->tcp_flags : 0;
            d->start_ms = part->first_ms;
            d->end_ms = part->last_ms;
            d->packets = part->packets;
            d->ip_bytes = part->ip_bytes;
            d->frame_bytes = part->bytes;
            if (pair) {
                d->reverse_tcp_flags = p == FLOW_PART_TCP ? r->reverse_tcp_flags : 0;
                d->reverse_start_ms = back->first_ms;
                d->reverse_end_ms = back->last_ms;
                d->reverse_packets = back->packets;
                d->reverse_ip_bytes = back->ip_bytes;
                d->reverse_frame_bytes = back->bytes;
            }
        }
    }
    return n;
}

static int data_equal(const struct data_record *a, const struct data_record *b)
{
    return a->template_id == b->template_id && memcmp(a->src, b->src, 16) == 0 &&
           memcmp(a->dst, b->dst, 16) == 0 && a->src_port == b->src_port &&
           a->dst_port == b->dst_port && a->protocol == b->protocol && a->reason == b->reason &&
           a->tcp_flags == b->tcp_flags && a->icmp_type_code == b->icmp_type_code &&
           a->ingress == b->ingress && a->start_ms == b->start_ms && a->end_ms == b->end_ms &&
           a->packets == b->packets && a->ip_bytes == b->ip_bytes &&
           a->frame_bytes == b->frame_bytes && a->reverse_tcp_flags == b->reverse_tcp_flags &&
           a->reverse_start_ms == b->reverse_start_ms && a->reverse_end_ms == b->reverse_end_ms &&
           a->reverse_packets == b->reverse_packets && a->reverse_ip_bytes == b->reverse_ip_bytes &&
           a->reverse_frame_bytes == b->reverse_frame_bytes;
}

static void print_data(const char *label, const struct data_record *d)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    int family = d->template_id == 256 || d->template_id == 258 ? AF_INET : AF_INET6;
    inet_ntop(family, d->src, src, sizeof src);
    inet_ntop(family, d->dst, dst, sizeof dst);
    fprintf(stderr,
            "    %s: t%u %s:%u > %s:%u p%u r%u f0x%x icmp0x%04x %llu-%llu pk%llu ip%llu l2%llu | "
            "reverse f0x%x %llu-%llu pk%llu ip%llu l2%llu\n",
            label, d->template_id, src, d->src_port, dst, d->dst_port, d->protocol, d->reason,
            d->tcp_flags, d->icmp_type_code, (unsigned long long)d->start_ms,
            (unsigned long long)d->end_ms, (unsigned long long)d->packets,
            (unsigned long long)d->ip_bytes, (unsigned long long)d->frame_bytes,
            d->reverse_tcp_flags, (unsigned long long)d->reverse_start_ms,
            (unsigned long long)d->reverse_end_ms, (unsigned long long)d->reverse_packets,
            (unsigned long long)d->reverse_ip_bytes, (unsigned long long)d->reverse_frame_bytes);
}

/* Every expected data record is decoded exactly once, and nothing else is. */
static void check_data_records(const struct decoded *d, const struct data_record *expected,
                               size_t count)
{
    CHECK_EQ(d->count, count);
    char *used = calloc(d->count + 1, 1);
    size_t missing = 0;
    for (size_t i = 0; i < count; i++) {
        size_t j = 0;
        while (j < d->count && (used[j] || !data_equal(&d->records[j], &expected[i])))
            j++;
        if (!CHECK(j < d->count)) {
            if (missing++ < 5)
                print_data("missing", &expected[i]);
            continue;
        }
        used[j] = 1;
    }
    size_t extra = 0;
    for (size_t j = 0; j < d->count && missing > 0; j++)
        if (!used[j] && extra++ < 5)
            print_data("decoded instead", &d->records[j]);
    free(used);
}

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static char folder[512];

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

static int open_sink(struct record_sink *sink, const char *url, uint32_t domain, uint32_t mtu,
                     uint32_t resend_s, char *err)
{
    memset(sink, 0, sizeof *sink);
    pthread_mutex_init(&sink->lock, NULL);
    const struct record_sink_kind *ipfix = &ipfix_export_kind;
    struct record_sink_settings settings;
    record_sink_settings_init(&settings, ipfix);
    record_sink_settings_put(&settings, "domain", domain);
    record_sink_settings_put(&settings, "mtu", mtu);
    record_sink_settings_put(&settings, "template_resend", resend_s);
    err[0] = '\0';
    return ipfix->open(sink, url, &settings, err, ERR_SIZE);
}

static void finish_sink(struct record_sink *sink)
{
    sink->ops->close(sink);
    sink->ops->destroy(sink);
}

static void destroy_sink(struct record_sink *sink) { pthread_mutex_destroy(&sink->lock); }

#define SENT(sink)    atomic_load(&(sink)->counters.sent)
#define DROPPED(sink) atomic_load(&(sink)->counters.dropped)
#define ERRORS(sink)  atomic_load(&(sink)->counters.errors)

/* A UDP socket of the test on loopback: the collector, on *port (0: any free port, written
 * back). */
static int open_receiver(int family, uint16_t *port)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int size = 8 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    struct sockaddr_storage address;
    memset(&address, 0, sizeof address);
    socklen_t length;
    if (family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&address;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a->sin_port = htons(*port);
        length = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&address;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        a->sin6_port = htons(*port);
        length = sizeof *a;
    }
    if (bind(fd, (struct sockaddr *)&address, length) != 0 ||
        getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
                                    : ((struct sockaddr_in6 *)&address)->sin6_port);
    return fd;
}

/* Decodes every datagram waiting on the receiver; returns how many there were. */
static size_t receive_all(int fd, struct decoded *d, size_t mtu)
{
    static uint8_t datagram[65536];
    size_t n = 0;
    for (;;) {
        ssize_t length = recv(fd, datagram, sizeof datagram, 0);
        if (length < 0)
            break;
        n++;
        CHECK((size_t)length <= mtu);
        CHECK_EQ(decode_message(d, datagram, (size_t)length), (size_t)length);
    }
    return n;
}

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_file_target(const char *url, const char *path)
{
    check_set_context("file target %s", url);
    struct flow_record records[8];
    size_t count = fixture_records(records);
    struct record_sink sink;
    char err[ERR_SIZE];
    if (!CHECK_EQ(open_sink(&sink, url, 7, 0, 0, err), 0)) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    CHECK_STR(sink.kind, "ipfix");
    CHECK_STR(sink.target, url);
    /* two writes with ticks between them, as the exporter thread does */
    sink.ops->write(&sink, records, 3);
    sink.ops->tick(&sink, 1000000, 0);
    sink.ops->write(&sink, records + 3, count - 3);
    sink.ops->tick(&sink, 1000100, 0);
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), count);
    CHECK_EQ(DROPPED(&sink), 0);
    CHECK_EQ(ERRORS(&sink), 0);
    CHECK_STR(sink.last_error, "");
    destroy_sink(&sink);

    struct decoded d;
    decoded_init(&d);
    decode_file(&d, path);
    CHECK_EQ(d.domain, 7);
    CHECK(d.messages >= 1);
    CHECK_EQ(d.template_sets, 1); /* a file gets its templates once */
    CHECK(d.message_had_templates[0]);
    check_templates(&d);
    struct data_record expected[16];
    size_t data_count = expected_data(records, count, 0, expected);
    CHECK_EQ(data_count, 7);
    check_data_records(&d, expected, data_count);

    /* the records with both protocols: two data records each, adding up to the totals */
    for (size_t i = 2; i <= 3; i++) {
        struct flow_part total = flow_record_total(&records[i]);
        uint64_t packets = 0, ip_bytes = 0, frame_bytes = 0, first = UINT64_MAX, last = 0;
        int protocols = 0;
        for (size_t j = 0; j < d.count; j++) {
            const struct data_record *r = &d.records[j];
            if (memcmp(r->src, records[i].key.src, 16) != 0 ||
                r->src_port != records[i].key.src_port)
                continue;
            protocols |= r->protocol == 6 ? 1 : r->protocol == 17 ? 2 : 4;
            packets += r->packets;
            ip_bytes += r->ip_bytes;
            frame_bytes += r->frame_bytes;
            first = r->start_ms < first ? r->start_ms : first;
            last = r->end_ms > last ? r->end_ms : last;
        }
        CHECK_EQ(protocols, 3);
        CHECK_EQ(packets, total.packets);
        CHECK_EQ(ip_bytes, total.ip_bytes);
        CHECK_EQ(frame_bytes, total.bytes);
        CHECK_EQ(first, total.first_ms);
        CHECK_EQ(last, total.last_ms);
    }
    decoded_free(&d);
    check_set_context("%s", "");
}

/* Pseudo-random records (deterministic): both families, a third with both protocols. */
static void make_many(struct flow_record *out, size_t count, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i < count; i++) {
        x = x * 1664525u + 1013904223u;
        char src[64], dst[64];
        if (i % 2 == 0) {
            snprintf(src, sizeof src, "10.%u.%u.%u", (x >> 8) & 255, (x >> 16) & 255,
                     (unsigned)i & 255);
            snprintf(dst, sizeof dst, "192.0.2.%u", (x >> 24) & 255);
        } else {
            snprintf(src, sizeof src, "2001:db8::%x:%x", (x >> 8) & 0xffff, (unsigned)i & 0xffff);
            snprintf(dst, sizeof dst, "2001:db8:1::%x", (x >> 16) & 0xffff);
        }
        out[i] = make_record(src, (uint16_t)(x >> 3), dst, (uint16_t)(i * 7), 1 + (uint8_t)(i % 2));
        uint64_t t = 1700000000000u + i * 1000;
        int kind = (int)(i % 3);
        if (kind != 1)
            set_part(&out[i], FLOW_PART_TCP, t, t + (x & 1023), 100 + i, 80 + i, 1 + (x & 7));
        if (kind != 0)
            set_part(&out[i], FLOW_PART_UDP, t + 1, t + 5000, 60 * (i + 1), 40 * (i + 1), 2 + i);
    }
}

/* Pseudo-random biflows (deterministic): make_many's records as the forward directions, most
 * with a reverse direction (TCP, UDP or both), every tenth with the reverse only. */
static void make_biflows(struct flow_record *out, size_t count, uint32_t seed)
{
    make_many(out, count, seed);
    for (size_t i = 0; i < count; i++) {
        struct flow_record *r = &out[i];
        r->biflow = 1;
        uint64_t t = 1700000000000u + i * 1000 + 7;
        if (r->part[FLOW_PART_TCP].packets != 0)
            r->tcp_flags = (uint8_t)(0x18 | (i & 3));
        if (i % 4 != 3) {
            set_reverse(r, FLOW_PART_TCP, t, t + 900, 1514 * (i % 5 + 1), 1500 * (i % 5 + 1),
                        1 + i % 5);
            r->reverse_tcp_flags = (uint8_t)(0x12 | (i & 1));
        }
        if (i % 3 == 0)
            set_reverse(r, FLOW_PART_UDP, t + 2, t + 3000, 0x100000000u + i, 0x80000000u + i,
                        0x10000 + i);
        if (i % 10 == 9) { /* only the reverse sent in this period */
            memset(r->part, 0, sizeof r->part);
            r->protocols = 0;
            r->tcp_flags = 0;
        }
    }
}

/* True when some flow record's data records are in two messages (it straddles them). */
static int some_record_straddles(const struct decoded *d)
{
    for (size_t j = 1; j < d->count; j++) {
        const struct data_record *a = &d->records[j - 1], *b = &d->records[j];
        if (a->message != b->message && memcmp(a->src, b->src, 16) == 0 &&
            memcmp(a->dst, b->dst, 16) == 0 && a->src_port == b->src_port &&
            a->dst_port == b->dst_port && a->template_id == b->template_id)
            return 1;
    }
    return 0;
}

/* The smallest MTU, 256 bytes: every message at most that, records that straddle two messages
 * (a third of them have both protocols) still counted once each. */
static void test_small_mtu(void)
{
    check_set_context("mtu 256");
    enum { COUNT = 1000 };
    static struct flow_record records[COUNT];
    static struct data_record expected[2 * COUNT];
    make_many(records, COUNT, 42);
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/small.ipfix", folder);
    snprintf(url, sizeof url, "file://%s", path);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0, 256, 0, err), 0)) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    for (size_t at = 0; at < COUNT; at += 100) {
        sink.ops->write(&sink, records + at, 100);
        sink.ops->tick(&sink, 5000 + at, 0);
    }
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), COUNT);
    CHECK_EQ(DROPPED(&sink), 0);
    CHECK_EQ(ERRORS(&sink), 0);
    destroy_sink(&sink);

    struct decoded d;
    decoded_init(&d);
    decode_file(&d, path);
    CHECK(d.max_length <= 256);
    /* 1333 data records of 58 (IPv4) or 82 (IPv6) bytes, at most 4 or 2 in a message */
    CHECK(d.messages > COUNT / 3);
    CHECK(some_record_straddles(&d));
    check_templates(&d);
    size_t data_count = expected_data(records, COUNT, 0, expected);
    CHECK_EQ(data_count, 1333);
    check_data_records(&d, expected, data_count);
    decoded_free(&d);
    check_set_context("%s", "");
}

/* The file cannot grow past a limit: messages past it are dropped and counted, and the file
 * holds whole messages only. Single-protocol records, so every sent record is whole in it. */
static void test_file_write_failure(void)
{
    check_set_context("write failure");
    enum { COUNT = 400, LIMIT = 4096 };
    static struct flow_record records[COUNT];
    make_many(records, COUNT, 7);
    for (size_t i = 0; i < COUNT; i++) { /* keep one protocol per record */
        if (records[i].part[FLOW_PART_TCP].packets != 0)
            memset(&records[i].part[FLOW_PART_UDP], 0, sizeof records[i].part[FLOW_PART_UDP]);
    }
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/limited.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", path);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 3, 1000, 0, err), 0))
        return;
    struct rlimit old, limited = {LIMIT, LIMIT};
    getrlimit(RLIMIT_FSIZE, &old);
    limited.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &limited);
    sink.ops->write(&sink, records, COUNT);
    sink.ops->close(&sink);
    setrlimit(RLIMIT_FSIZE, &old);
    sink.ops->destroy(&sink);
    CHECK_EQ(SENT(&sink) + DROPPED(&sink), COUNT);
    CHECK(SENT(&sink) > 0);
    CHECK(DROPPED(&sink) > 0);
    CHECK(ERRORS(&sink) > 0);
    CHECK(strstr(sink.last_error, "nasoone: cannot write IPFIX file ") == sink.last_error);
    CHECK(strstr(sink.last_error, "File too large") != NULL);
    destroy_sink(&sink);

    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size <= LIMIT);
    struct decoded d;
    decoded_init(&d);
    decode_file(&d, path);
    CHECK_EQ(d.count, SENT(&sink)); /* whole messages only, and exactly the sent records */
    decoded_free(&d);
    check_set_context("%s", "");
}

/* A record with both protocols split over two messages, the first of which is lost: the
 * record counts as dropped, once, though its second part is written. With a 256-byte MTU a
 * message holds two IPv6 data records (16 + 4 + 2 * 86 bytes): a single-protocol IPv6 record
 * first, and the mixed one's TCP part fills the message, its UDP part goes in the next. */
static void test_split_record_lost(void)
{
    check_set_context("split record, first message lost");
    struct flow_record records[8];
    fixture_records(records);
    struct flow_record pair[2] = {records[1], records[3]};
    const struct flow_record *single_v6 = &pair[0], *mixed_v6 = &pair[1];
    CHECK(single_v6->key.family == FLOW_FAMILY_IPV6 && !single_v6->part[0].packets &&
          single_v6->part[1].packets);
    CHECK(mixed_v6->key.family == FLOW_FAMILY_IPV6 && mixed_v6->part[0].packets &&
          mixed_v6->part[1].packets);
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/split.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", path);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0, 256, 0, err), 0))
        return;
    /* room for the templates message (16 + 4 + 2 * (4 + 14 * 4) bytes) and nothing more */
    struct rlimit old, limited;
    getrlimit(RLIMIT_FSIZE, &old);
    limited.rlim_cur = 140;
    limited.rlim_max = old.rlim_max;
    signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &limited);
    sink.ops->write(&sink, pair, 2);
    setrlimit(RLIMIT_FSIZE, &old);
    /* the single record is lost with the message; the mixed one counts with its last part's */
    CHECK_EQ(SENT(&sink), 0);
    CHECK_EQ(DROPPED(&sink), 1);
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), 0);
    CHECK_EQ(DROPPED(&sink), 2);
    CHECK_EQ(ERRORS(&sink), 1);
    destroy_sink(&sink);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 140 + 16 + 4 + 86);
    struct decoded d;
    decoded_init(&d);
    d.allow_loss = 1;
    decode_file(&d, path);
    check_templates(&d);
    CHECK_EQ(d.messages, 2);
    CHECK_EQ(d.message_length[0], 140);
    CHECK_EQ(d.last_sequence, 2); /* the lost message's two data records are in the count */
    CHECK_EQ(d.count, 1);         /* the mixed record's UDP part only */
    CHECK_EQ(d.count == 1 ? d.records[0].protocol : 0, 17);
    CHECK_EQ(d.count == 1 ? d.records[0].src_port : 0, mixed_v6->key.src_port);
    decoded_free(&d);
    check_set_context("%s", "");
}

static void test_udp(int family)
{
    check_set_context("udp %s", family == AF_INET ? "IPv4" : "IPv6");
    uint16_t port = 0;
    int receiver = open_receiver(family, &port);
    if (receiver < 0) {
        printf("test_ipfix: no %s loopback, UDP over it not tested\n",
               family == AF_INET ? "IPv4" : "IPv6");
        return;
    }
    char url[128], err[ERR_SIZE];
    snprintf(url, sizeof url, family == AF_INET ? "udp://127.0.0.1:%u" : "udp://[::1]:%u", port);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0x01020304, 0, 5, err), 0)) {
        fprintf(stderr, "    %s\n", err);
        close(receiver);
        return;
    }
    struct decoded d;
    decoded_init(&d);
    struct flow_record records[8];
    size_t count = fixture_records(records);
    uint64_t t0 = 1800000000000u;

    /* The templates go at the first record, in a message of their own (libfixbuf keeps
     * templates and data apart); the partial data message waits a second of wall time. */
    sink.ops->write(&sink, records, 3);
    CHECK_EQ(receive_all(receiver, &d, 1400), 1);
    CHECK(d.message_had_templates[0]);
    CHECK_EQ(d.message_records[0], 0);
    sink.ops->tick(&sink, t0, 0);
    sink.ops->tick(&sink, t0 + 999, 0);
    CHECK_EQ(receive_all(receiver, &d, 1400), 0);
    sink.ops->tick(&sink, t0 + 1000, 0);
    CHECK_EQ(receive_all(receiver, &d, 1400), 1);
    CHECK(!d.message_had_templates[1]);
    CHECK_EQ(d.message_records[1], 4);

    sink.ops->write(&sink, records + 3, count - 3);
    sink.ops->tick(&sink, t0 + 1500, 0);
    sink.ops->tick(&sink, t0 + 2400, 0);
    CHECK_EQ(receive_all(receiver, &d, 1400), 0);
    sink.ops->tick(&sink, t0 + 2500, 0);
    CHECK_EQ(receive_all(receiver, &d, 1400), 1);
    CHECK(!d.message_had_templates[2]);
    CHECK_EQ(d.message_records[2], 3);
    /* a datagram counts as sent at the next send or tick that finds no refusal */
    CHECK_EQ(SENT(&sink), 3);
    sink.ops->tick(&sink, t0 + 2600, 0);
    CHECK_EQ(SENT(&sink), count);

    /* template_resend_s = 5 after the first tick (t0): templates again, alone */
    sink.ops->tick(&sink, t0 + 4999, 0);
    CHECK_EQ(receive_all(receiver, &d, 1400), 0);
    sink.ops->tick(&sink, t0 + 5000, 0);
    CHECK_EQ(receive_all(receiver, &d, 1400), 1);
    CHECK(d.message_had_templates[3]);
    CHECK_EQ(d.message_records[3], 0);
    CHECK_EQ(d.template_sets, 2);

    /* a full batch: messages of at most the default 1400 bytes, all but the last nearly full */
    enum { MANY = 300 };
    static struct flow_record many[MANY];
    static struct data_record expected[2 * MANY + 16];
    make_many(many, MANY, 9);
    size_t before = d.messages;
    sink.ops->write(&sink, many, MANY);
    sink.ops->tick(&sink, t0 + 5100, 0);
    size_t received = receive_all(receiver, &d, 1400);
    /* 400 data records (a third of the records have both protocols), 70 bytes each on
     * average (58 for IPv4, 82 for IPv6): at least 20 datagrams of 1400 bytes */
    CHECK(received >= 20);
    CHECK(d.max_length > 1400 - 82);
    CHECK(d.messages == before + received);
    finish_sink(&sink);
    receive_all(receiver, &d, 1400);
    CHECK_EQ(SENT(&sink), count + MANY);
    CHECK_EQ(DROPPED(&sink), 0);
    CHECK_EQ(ERRORS(&sink), 0);
    destroy_sink(&sink);

    CHECK_EQ(d.domain, 0x01020304);
    check_templates(&d);
    size_t n = expected_data(records, count, 0, expected);
    n += expected_data(many, MANY, 0, expected + n);
    check_data_records(&d, expected, n);
    decoded_free(&d);
    close(receiver);
    check_set_context("%s", "");
}

/* Nobody listens: the kernel's "port unreachable" comes back as ECONNREFUSED. */
static void test_collector_down(void)
{
    check_set_context("collector down");
    uint16_t port = 0;
    int probe = open_receiver(AF_INET, &port);
    if (!CHECK(probe >= 0))
        return;
    close(probe); /* a port that was free a moment ago and has nobody now */
    char url[64], err[ERR_SIZE];
    snprintf(url, sizeof url, "udp://127.0.0.1:%u", port);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), 0))
        return;
    enum { BATCH = 50, BATCHES = 200 };
    static struct flow_record records[BATCH];
    make_many(records, BATCH, 3);
    uint64_t slowest_us = 0, start = now_ms();
    for (int b = 0; b < BATCHES; b++) {
        uint64_t t = now_us();
        sink.ops->write(&sink, records, BATCH);
        sink.ops->tick(&sink, 2000000 + (uint64_t)b * 10, 0);
        t = now_us() - t;
        if (t > slowest_us)
            slowest_us = t;
    }
    uint64_t t = now_us();
    finish_sink(&sink);
    t = now_us() - t;
    if (t > slowest_us)
        slowest_us = t;
    printf("test_ipfix: collector down: %d records in %llu ms, slowest write+tick %llu us, "
           "sent %llu, dropped %llu, errors %llu\n",
           BATCH * BATCHES, (unsigned long long)(now_ms() - start), (unsigned long long)slowest_us,
           (unsigned long long)SENT(&sink), (unsigned long long)DROPPED(&sink),
           (unsigned long long)ERRORS(&sink));
    CHECK(slowest_us < 50000); /* a few ms at most; 50 on a loaded machine */
    CHECK_EQ(SENT(&sink) + DROPPED(&sink), BATCH * BATCHES);
    /* on loopback each refusal arrives before the next send: every record counts as lost */
    CHECK_EQ(DROPPED(&sink), BATCH * BATCHES);
    CHECK(ERRORS(&sink) > 0);
    CHECK(strstr(sink.last_error, "Connection refused") != NULL);
    CHECK(strstr(sink.last_error, url) != NULL);
    destroy_sink(&sink);
    check_set_context("%s", "");
}

/* The target or option is wrong: -1 and a message that names it and says what is wrong. */
static void check_bad(const char *url, uint32_t mtu, const char *want_start, const char *want_part)
{
    check_set_context("bad target %s", url);
    struct record_sink sink;
    char err[ERR_SIZE];
    CHECK_EQ(open_sink(&sink, url, 0, mtu, 0, err), -1);
    if (!CHECK(strncmp(err, want_start, strlen(want_start)) == 0) ||
        !CHECK(strstr(err, want_part) != NULL))
        fprintf(stderr, "    message: %s\n", err);
    CHECK(sink.state == NULL && sink.ops == NULL);
    destroy_sink(&sink);
    check_set_context("%s", "");
}

static void test_bad_targets(void)
{
    const char *bad = "nasoone: bad IPFIX target ";
    const char *forms = "expected udp://HOST:PORT or file:PATH";
    check_bad("udp://x", 0, "nasoone: bad IPFIX target udp://x: no :PORT", forms);
    check_bad("udp://:4739", 0, "nasoone: bad IPFIX target udp://:4739: no host", forms);
    check_bad("udp://localhost:", 0, bad, "no port number");
    check_bad("udp://localhost:0", 0, bad, "the port must be 1 to 65535");
    check_bad("udp://localhost:65536", 0, bad, "the port must be 1 to 65535");
    check_bad("udp://localhost:999999", 0, bad, "the port must be 1 to 65535");
    check_bad("udp://localhost:47x", 0, bad, "no port number");
    check_bad("udp://localhost:4739/x", 0, bad, "a path after the port");
    check_bad("udp://::1:4739", 0, bad, "an IPv6 address goes in brackets");
    check_bad("udp://[::1:4739", 0, bad, "no ']'");
    check_bad("udp://[::1]4739", 0, bad, "no :PORT");
    check_bad("tcp://127.0.0.1:4739", 0,
              "nasoone: bad IPFIX target tcp://127.0.0.1:4739: ", "TCP is not supported");
    check_bad("http://127.0.0.1:4739", 0,
              "nasoone: bad IPFIX target http://127.0.0.1:4739: ", forms);
    check_bad("", 0, "nasoone: bad IPFIX target : ", forms);
    check_bad("127.0.0.1:4739", 0, bad, forms);
    check_bad("file:", 0, "nasoone: bad IPFIX target file:: no path", forms);
    check_bad("file://", 0, "nasoone: bad IPFIX target file://: a file URL names no host", forms);
    check_bad("file://host/x.ipfix", 0,
              "nasoone: bad IPFIX target file://host/x.ipfix: ", "names no host");
    check_bad("udp://nonexistent.invalid:4739", 0,
              "nasoone: cannot resolve IPFIX collector nonexistent.invalid in "
              "udp://nonexistent.invalid:4739: ",
              "");
    check_bad("file:/nonexistent-folder-for-nasoone/x.ipfix", 0,
              "nasoone: cannot create IPFIX file /nonexistent-folder-for-nasoone/x.ipfix: ",
              "No such file or directory");
    check_bad("udp://127.0.0.1:4739", 255, "nasoone: bad IPFIX option mtu = 255 for udp://",
              "must be 256 to 65507 bytes");
    check_bad("udp://127.0.0.1:4739", 128, "nasoone: bad IPFIX option mtu = 128 for udp://",
              "must be 256 to 65507 bytes");
    check_bad("udp://127.0.0.1:4739", 65508, "nasoone: bad IPFIX option mtu = 65508", "65507");
    char url[PATH_BUF];
    snprintf(url, sizeof url, "file:%s/x.ipfix", folder);
    check_bad(url, 65536, "nasoone: bad IPFIX option mtu = 65536", "must be 256 to 65535 bytes");
    check_bad(url, 255, "nasoone: bad IPFIX option mtu = 255", "must be 256 to 65535 bytes");
    check_set_context("nothing left by a failed open");
    char path[PATH_BUF];
    snprintf(path, sizeof path, "%s/x.ipfix", folder);
    CHECK(access(path, F_OK) != 0);
    check_set_context("%s", "");
}

/* Nothing written: a file that holds the templates, and nothing counted. */
static void test_empty_file(void)
{
    check_set_context("empty file");
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/empty.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", path);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), 0))
        return;
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), 0);
    CHECK_EQ(DROPPED(&sink), 0);
    destroy_sink(&sink);
    struct decoded d;
    decoded_init(&d);
    decode_file(&d, path);
    CHECK_EQ(d.messages, 1);
    CHECK_EQ(d.count, 0);
    check_templates(&d);
    decoded_free(&d);
    check_set_context("%s", "");
}

/* One protocol per record: a flow record is then one data record. */
static void single_protocol(struct flow_record *records, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (records[i].part[FLOW_PART_TCP].packets != 0)
            memset(&records[i].part[FLOW_PART_UDP], 0, sizeof records[i].part[FLOW_PART_UDP]);
    }
}

/* Hands records to the sink and ticks until the message is out (a tick finds it a second old). */
static void write_and_flush(struct record_sink *sink, const struct flow_record *records,
                            size_t count, uint64_t *wall)
{
    sink->ops->write(sink, records, count);
    sink->ops->tick(sink, *wall += 1000, 0);
    sink->ops->tick(sink, *wall += 1000, 0);
}

/* The collector goes away and comes back on the same port (a restart): what reaches the new
 * one starts with the templates, so it decodes every record counted sent from then on. The
 * scheduled resend is an hour away: only the refusals can have brought the templates. */
static void test_collector_restart(int biflow)
{
    check_set_context("collector restart%s", biflow ? ", biflows" : "");
    uint16_t port = 0;
    int receiver = open_receiver(AF_INET, &port);
    if (!CHECK(receiver >= 0))
        return;
    char url[64], err[ERR_SIZE];
    snprintf(url, sizeof url, "udp://127.0.0.1:%u", port);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 9, 0, 3600, err), 0))
        return;
    sink.biflow = biflow;
    if (!CHECK_EQ(sink.ops->start(&sink, err, sizeof err), 0))
        return;
    enum { BATCH = 60 };
    static struct flow_record records[BATCH];
    make_many(records, BATCH, 11);
    single_protocol(records, BATCH);
    for (size_t i = 0; biflow && i < BATCH; i++) { /* the reverse in the forward's protocol */
        int p = records[i].part[FLOW_PART_TCP].packets != 0 ? FLOW_PART_TCP : FLOW_PART_UDP;
        const struct flow_part *f = &records[i].part[p];
        set_reverse(&records[i], p, f->first_ms + 1, f->last_ms + 1, f->bytes * 2, f->ip_bytes * 2,
                    f->packets + 1);
        records[i].reverse_tcp_flags = p == FLOW_PART_TCP ? 0x12 : 0;
    }
    uint64_t wall = 1000000;
    write_and_flush(&sink, records, BATCH, &wall);
    struct decoded before;
    decoded_init(&before);
    receive_all(receiver, &before, 1400);
    CHECK_EQ(before.count, (size_t)BATCH);
    decoded_free(&before);
    close(receiver); /* down: every message is refused */
    for (int i = 0; i < 3; i++)
        write_and_flush(&sink, records, BATCH, &wall);
    CHECK_EQ(SENT(&sink), (uint64_t)BATCH);
    CHECK_EQ(DROPPED(&sink), (uint64_t)(3 * BATCH));
    receiver = open_receiver(AF_INET, &port); /* back, knowing no templates */
    if (!CHECK(receiver >= 0)) {
        finish_sink(&sink);
        destroy_sink(&sink);
        return;
    }
    for (int i = 0; i < 2; i++)
        write_and_flush(&sink, records, BATCH, &wall);
    finish_sink(&sink);
    struct decoded after;
    decoded_init(&after);
    after.allow_loss = 1; /* it starts in the middle of the sequence */
    receive_all(receiver, &after, 1400);
    close(receiver);
    CHECK_EQ(SENT(&sink), (uint64_t)(3 * BATCH));
    CHECK_EQ(DROPPED(&sink), (uint64_t)(3 * BATCH));
    CHECK(after.messages > 0 && after.message_had_templates[0]);
    CHECK_EQ(after.count, (size_t)(2 * BATCH)); /* every record counted sent since */
    if (biflow)                                 /* the templates sent again are the biflow ones */
        check_biflow_templates(&after);
    else
        check_templates(&after);
    static struct data_record expected[2 * BATCH];
    size_t n = expected_data(records, BATCH, biflow, expected);
    CHECK_EQ(n, (size_t)BATCH);
    memcpy(expected + n, expected, n * sizeof *expected);
    check_data_records(&after, expected, 2 * n);
    decoded_free(&after);
    destroy_sink(&sink);
    check_set_context("%s", "");
}

/* The file's folder is deleted while it is written: the loss is said and counted, and once the
 * folder is back a new file starts with the templates. */
static void test_file_removed(void)
{
    check_set_context("file removed");
    char sub[PATH_BUF], path[PATH_BUF + 16], url[PATH_BUF + 32], err[ERR_SIZE];
    snprintf(sub, sizeof sub, "%s/removed", folder);
    snprintf(path, sizeof path, "%s/flows.ipfix", sub);
    snprintf(url, sizeof url, "file:%s", path);
    if (!CHECK_EQ(mkdir(sub, 0700), 0))
        return;
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0, 1000, 0, err), 0) ||
        !CHECK_EQ(sink.ops->start(&sink, err, sizeof err), 0))
        return;
    enum { BATCH = 40 };
    static struct flow_record records[BATCH];
    make_many(records, BATCH, 5);
    single_protocol(records, BATCH);
    uint64_t wall = 1000000;
    write_and_flush(&sink, records, BATCH, &wall);
    CHECK_EQ(SENT(&sink), (uint64_t)BATCH);
    CHECK_EQ(unlink(path), 0);
    CHECK_EQ(rmdir(sub), 0);
    write_and_flush(&sink, records, BATCH, &wall);
    /* noticed before the first message after the removal: nothing more goes to the lost file */
    CHECK_EQ(SENT(&sink), (uint64_t)BATCH);
    CHECK_EQ(DROPPED(&sink), (uint64_t)BATCH);
    CHECK(ERRORS(&sink) >= 2);
    CHECK(strstr(sink.last_error, "nasoone: cannot create IPFIX file ") == sink.last_error);
    CHECK(strstr(sink.last_error, "No such file or directory") != NULL);
    CHECK_EQ(mkdir(sub, 0700), 0);
    write_and_flush(&sink, records, BATCH, &wall);
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), (uint64_t)(2 * BATCH));
    CHECK_EQ(DROPPED(&sink), (uint64_t)BATCH);
    struct decoded d;
    decoded_init(&d);
    d.allow_loss = 1;
    decode_file(&d, path); /* decodes only if the templates come first */
    CHECK(d.messages > 0 && d.message_had_templates[0]);
    CHECK_EQ(d.count, (size_t)BATCH);
    decoded_free(&d);
    destroy_sink(&sink);
    unlink(path);
    rmdir(sub);
    check_set_context("%s", "");
}

/* An export never truncates, replaces or writes through a file that exists: refused at open
 * (a file, a symbolic link, even a dangling one, a FIFO, a device), or at start when it
 * appeared since; a start that is undone removes only its own file. */
static void test_existing_file(void)
{
    check_set_context("existing file");
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE], link_path[PATH_BUF];
    snprintf(path, sizeof path, "%s/existing.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", path);
    FILE *f = fopen(path, "w");
    if (!CHECK(f != NULL))
        return;
    fputs("precious", f);
    fclose(f);
    struct record_sink sink;
    CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), -1);
    CHECK(strstr(err, "already exists") != NULL);
    CHECK(sink.error_code != NULL && strcmp(sink.error_code, "exists") == 0);
    destroy_sink(&sink);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 8);
    /* a symbolic link, to the file or to nowhere: never followed */
    snprintf(link_path, sizeof link_path, "%s/link.ipfix", folder);
    char missing[PATH_BUF + 16];
    snprintf(missing, sizeof missing, "%s/missing", folder);
    const char *targets[] = {path, missing};
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(symlink(targets[i], link_path), 0);
        snprintf(url, sizeof url, "file:%s", link_path);
        CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), -1);
        CHECK(strstr(err, "already exists") != NULL);
        destroy_sink(&sink);
        unlink(link_path);
    }
    CHECK(stat(path, &st) == 0 && st.st_size == 8);
    CHECK(access(missing, F_OK) != 0);
    /* a device, a FIFO: refused at once, never opened (a FIFO would block) */
    CHECK_EQ(open_sink(&sink, "file:/dev/full", 0, 0, 0, err), -1);
    CHECK(strstr(err, "/dev/full already exists") != NULL);
    destroy_sink(&sink);
    char fifo[PATH_BUF];
    snprintf(fifo, sizeof fifo, "%s/fifo.ipfix", folder);
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    snprintf(url, sizeof url, "file:%s", fifo);
    CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), -1);
    CHECK(strstr(err, "already exists") != NULL);
    destroy_sink(&sink);
    unlink(fifo);
    /* open creates nothing; a file that appears before start is not touched */
    char later[PATH_BUF];
    snprintf(later, sizeof later, "%s/later.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", later);
    if (CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), 0)) {
        CHECK(access(later, F_OK) != 0);
        f = fopen(later, "w");
        if (f != NULL) {
            fputs("theirs", f);
            fclose(f);
        }
        CHECK_EQ(sink.ops->start(&sink, err, sizeof err), -1);
        CHECK(strstr(err, "already exists") != NULL);
        CHECK(strcmp(sink.error_code, "exists") == 0);
        sink.ops->destroy(&sink);
        CHECK(stat(later, &st) == 0 && st.st_size == 6);
        unlink(later);
    }
    destroy_sink(&sink);
    /* a start that is undone: its own file goes */
    if (CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), 0)) {
        CHECK_EQ(sink.ops->start(&sink, err, sizeof err), 0);
        CHECK_EQ(access(later, F_OK), 0);
        sink.ops->abandon(&sink);
        CHECK(access(later, F_OK) != 0);
        sink.ops->destroy(&sink);
    }
    destroy_sink(&sink);
    unlink(path);
    check_set_context("%s", "");
}

/* The data record expected of one part of record r: its addresses and reason, the given
 * template, protocol and ports, the forward and reverse counts (NULL: none). The caller sets
 * the TCP flags. */
static struct data_record expect_data(const struct flow_record *r, uint16_t template_id,
                                      uint8_t protocol, uint16_t src_port, uint16_t dst_port,
                                      uint16_t icmp_type_code, const struct flow_part *forward,
                                      const struct flow_part *reverse)
{
    struct data_record d;
    memset(&d, 0, sizeof d);
    d.template_id = template_id;
    memcpy(d.src, r->key.src, 16);
    memcpy(d.dst, r->key.dst, 16);
    d.src_port = src_port;
    d.dst_port = dst_port;
    d.protocol = protocol;
    d.reason = r->reason;
    d.icmp_type_code = icmp_type_code;
    if (forward != NULL) {
        d.start_ms = forward->first_ms;
        d.end_ms = forward->last_ms;
        d.packets = forward->packets;
        d.ip_bytes = forward->ip_bytes;
        d.frame_bytes = forward->bytes;
    }
    if (reverse != NULL) {
        d.reverse_start_ms = reverse->first_ms;
        d.reverse_end_ms = reverse->last_ms;
        d.reverse_packets = reverse->packets;
        d.reverse_ip_bytes = reverse->ip_bytes;
        d.reverse_frame_bytes = reverse->bytes;
    }
    return d;
}

/* A 5-tuple record: the key has the IP protocol; ICMP's type and code stand in its ports, and
 * like any protocol but TCP its packets are in the "UDP" part (keeper.c). */
static struct flow_record make_5tuple(const char *src, uint16_t src_port, const char *dst,
                                      uint16_t dst_port, uint8_t protocol, uint8_t reason)
{
    struct flow_record r = make_record(src, src_port, dst, dst_port, reason);
    r.key.protocol = protocol;
    return r;
}

/* 5-tuple records: ICMP and ICMPv6 carry icmpTypeCode = type * 256 + code, the destination
 * port the same, the source port 0; other protocols icmpTypeCode 0 and their ports. */
static void test_icmp(void)
{
    check_set_context("icmp");
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/icmp.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", path);
    struct flow_record r[7];
    /* echo request: type 8 code 0 */
    r[0] = make_5tuple("10.1.1.1", 8, "10.2.2.2", 0, 1, FLOW_END_IDLE);
    set_part(&r[0], FLOW_PART_UDP, 1700000000000, 1700000003000, 4 * 98, 4 * 84, 4);
    /* ICMPv6 echo request: type 128 code 0 */
    r[1] = make_5tuple("2001:db8::1", 128, "2001:db8::2", 0, 58, FLOW_END_ACTIVE);
    set_part(&r[1], FLOW_PART_UDP, 1700000000500, 1700000001500, 2 * 118, 2 * 104, 2);
    /* destination unreachable, port unreachable (one-way): type 3 code 3 */
    r[2] = make_5tuple("192.0.2.1", 3, "198.51.100.7", 3, 1, FLOW_END_END);
    set_part(&r[2], FLOW_PART_UDP, 1700000002000, 1700000002000, 70, 56, 1);
    /* ICMPv6 destination unreachable, port unreachable: type 1 code 4 */
    r[3] = make_5tuple("fe80::1", 1, "fe80::2", 4, 58, FLOW_END_CAPACITY);
    set_part(&r[3], FLOW_PART_UDP, 1700000002100, 1700000002200, 2 * 94, 2 * 80, 2);
    /* not ICMP: TCP, UDP with the ports of an ICMP type 3 code 3, GRE without ports */
    r[4] = make_5tuple("10.0.0.1", 51000, "10.0.0.2", 443, 6, FLOW_END_IDLE);
    r[4].tcp_flags = 0x12;
    set_part(&r[4], FLOW_PART_TCP, 1700000003000, 1700000004000, 3 * 66, 3 * 52, 3);
    r[5] = make_5tuple("2001:db8::5", 3, "2001:db8::6", 3, 17, FLOW_END_IDLE);
    set_part(&r[5], FLOW_PART_UDP, 1700000005000, 1700000005001, 2 * 90, 2 * 76, 2);
    r[6] = make_5tuple("10.0.0.5", 0, "10.0.0.6", 0, 47, FLOW_END_END);
    set_part(&r[6], FLOW_PART_UDP, 1700000006000, 1700000007000, 5 * 200, 5 * 186, 5);
    /* a capture of several devices: seen on the second, ingressInterface 2 */
    r[4].key.device = 2;
    r[6].key.device = 1;
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 0, 0, 0, err), 0) ||
        !CHECK_EQ(sink.ops->start(&sink, err, sizeof err), 0))
        return;
    sink.ops->write(&sink, r, 7);
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), 7);
    CHECK_EQ(DROPPED(&sink), 0);
    CHECK_EQ(ERRORS(&sink), 0);
    destroy_sink(&sink);

    const int udp = FLOW_PART_UDP, tcp = FLOW_PART_TCP;
    struct data_record want[7] = {
        expect_data(&r[0], 256, 1, 0, 0x0800, 0x0800, &r[0].part[udp], NULL),
        expect_data(&r[1], 257, 58, 0, 0x8000, 0x8000, &r[1].part[udp], NULL),
        expect_data(&r[2], 256, 1, 0, 0x0303, 0x0303, &r[2].part[udp], NULL),
        expect_data(&r[3], 257, 58, 0, 0x0104, 0x0104, &r[3].part[udp], NULL),
        expect_data(&r[4], 256, 6, 51000, 443, 0, &r[4].part[tcp], NULL),
        expect_data(&r[5], 257, 17, 3, 3, 0, &r[5].part[udp], NULL),
        expect_data(&r[6], 256, 47, 0, 0, 0, &r[6].part[udp], NULL),
    };
    want[4].tcp_flags = 0x12;
    want[4].ingress = 2;
    want[6].ingress = 1;
    struct decoded d;
    decoded_init(&d);
    decode_file(&d, path);
    check_templates(&d); /* icmpTypeCodeIPv4 in 256, icmpTypeCodeIPv6 in 257 */
    check_data_records(&d, want, 7);
    /* the derived expectations agree with the hand-written ones */
    struct data_record derived[7];
    CHECK_EQ(expected_data(r, 7, 0, derived), 7);
    check_data_records(&d, derived, 7);
    decoded_free(&d);
    check_set_context("%s", "");
}

/* A biflow run (RFC 5103) to a file: templates 258 and 259 only, one data record per protocol
 * with packets in either direction, the reverse counts in the reverse elements, the reverse TCP
 * flags in the TCP part's record only. */
static void test_biflow_file(void)
{
    check_set_context("biflow file");
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/biflow.ipfix", folder);
    snprintf(url, sizeof url, "file:%s", path);
    const int tcp = FLOW_PART_TCP, udp = FLOW_PART_UDP;
    struct flow_record r[8];
    /* IPv4 TCP both ways, flags both ways */
    r[0] = make_record("10.0.0.1", 40000, "10.0.0.2", 443, FLOW_END_IDLE);
    r[0].tcp_flags = 0x1b;         /* FIN SYN PSH ACK */
    r[0].reverse_tcp_flags = 0x16; /* SYN RST ACK */
    set_part(&r[0], tcp, 1700000000100, 1700000004100, 5 * 1000, 5 * 980, 5);
    set_reverse(&r[0], tcp, 1700000000150, 1700000004050, 4 * 1514, 4 * 1500, 4);
    /* IPv6, only the reverse sent in the period, counters that need 8 bytes */
    r[1] = make_record("2001:db8::10", 5353, "2001:db8::20", 5354, FLOW_END_ACTIVE);
    set_reverse(&r[1], udp, 1700000010000, 1700001810999, UINT64_MAX - 7, 0xfedcba9876543210u,
                0x100000001u);
    /* IPv4 TCP, only the reverse sent: its flags still in the record */
    r[2] = make_record("10.0.0.3", 80, "10.0.0.4", 50000, FLOW_END_END);
    r[2].reverse_tcp_flags = 0x11; /* FIN ACK */
    set_reverse(&r[2], tcp, 1700000020000, 1700000020300, 3 * 60, 3 * 40, 3);
    /* IPv6 4-tuple, TCP and UDP both ways: two data records */
    r[3] = make_record("2001:db8::a", 53, "2001:db8::b", 53, FLOW_END_CAPACITY);
    r[3].tcp_flags = 0x18;
    r[3].reverse_tcp_flags = 0x10;
    set_part(&r[3], tcp, 1700000030000, 1700000030100, 2 * 80, 2 * 60, 2);
    set_part(&r[3], udp, 1700000030001, 1700000030201, 3 * 90, 3 * 70, 3);
    set_reverse(&r[3], tcp, 1700000030050, 1700000030150, 1 * 74, 1 * 54, 1);
    set_reverse(&r[3], udp, 1700000030002, 1700000030402, 6 * 500, 6 * 480, 6);
    /* IPv4: TCP forward only, UDP reverse only: two data records, each one-sided */
    r[4] = make_record("172.16.0.1", 1234, "172.16.0.2", 5678, FLOW_END_IDLE);
    r[4].tcp_flags = 0x02;
    set_part(&r[4], tcp, 1700000040000, 1700000040000, 74, 60, 1);
    set_reverse(&r[4], udp, 1700000040010, 1700000040020, 2 * 100, 2 * 86, 2);
    /* IPv4 ICMP echo, 5-tuple, both ways */
    r[5] = make_5tuple("10.9.9.1", 8, "10.9.9.2", 0, 1, FLOW_END_IDLE);
    set_part(&r[5], udp, 1700000050000, 1700000052000, 3 * 98, 3 * 84, 3);
    set_reverse(&r[5], udp, 1700000050001, 1700000052001, 3 * 98, 3 * 84, 3);
    /* IPv6 with no packets either way (the keeper makes none): counted, no data record */
    r[6] = make_record("2001:db8::e", 1, "2001:db8::f", 2, FLOW_END_END);
    r[6].biflow = 1;
    /* IPv6 UDP, forward only: the reverse counts 0 */
    r[7] = make_record("2001:db8::c", 123, "2001:db8::d", 123, FLOW_END_END);
    r[7].biflow = 1;
    set_part(&r[7], udp, 1700000060000, 1700000061000, 2 * 90, 2 * 76, 2);

    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 11, 0, 0, err), 0))
        return;
    sink.biflow = 1;
    if (!CHECK_EQ(sink.ops->start(&sink, err, sizeof err), 0)) {
        fprintf(stderr, "    %s\n", err);
        return;
    }
    sink.ops->write(&sink, r, 8);
    sink.ops->tick(&sink, 1000000, 0);
    finish_sink(&sink);
    CHECK_EQ(SENT(&sink), 8);
    CHECK_EQ(DROPPED(&sink), 0);
    CHECK_EQ(ERRORS(&sink), 0);
    CHECK_STR(sink.last_error, "");
    destroy_sink(&sink);

    struct data_record want[9] = {
        expect_data(&r[0], 258, 6, 40000, 443, 0, &r[0].part[tcp], &r[0].reverse[tcp]),
        expect_data(&r[1], 259, 17, 5353, 5354, 0, NULL, &r[1].reverse[udp]),
        expect_data(&r[2], 258, 6, 80, 50000, 0, NULL, &r[2].reverse[tcp]),
        expect_data(&r[3], 259, 6, 53, 53, 0, &r[3].part[tcp], &r[3].reverse[tcp]),
        expect_data(&r[3], 259, 17, 53, 53, 0, &r[3].part[udp], &r[3].reverse[udp]),
        expect_data(&r[4], 258, 6, 1234, 5678, 0, &r[4].part[tcp], NULL),
        expect_data(&r[4], 258, 17, 1234, 5678, 0, NULL, &r[4].reverse[udp]),
        expect_data(&r[5], 258, 1, 0, 0x0800, 0x0800, &r[5].part[udp], &r[5].reverse[udp]),
        expect_data(&r[7], 259, 17, 123, 123, 0, &r[7].part[udp], NULL),
    };
    want[0].tcp_flags = 0x1b;
    want[0].reverse_tcp_flags = 0x16;
    want[2].reverse_tcp_flags = 0x11;
    want[3].tcp_flags = 0x18;
    want[3].reverse_tcp_flags = 0x10;
    want[5].tcp_flags = 0x02;

    struct decoded d;
    decoded_init(&d);
    decode_file(&d, path);
    CHECK_EQ(d.domain, 11);
    CHECK_EQ(d.template_sets, 1);
    check_biflow_templates(&d);
    /* the templates alone (16 + 4 + 2 * (4 + 13 * 4 + 6 * 8) bytes), then one message: an IPv4
     * set of 6 records of 100 bytes, an IPv6 set of 4 of 124 */
    CHECK_EQ(d.messages, 2);
    CHECK(d.message_had_templates[0]);
    CHECK_EQ(d.message_length[0], 236);
    CHECK_EQ(d.message_records[1], 9);
    CHECK_EQ(d.message_length[1], 16 + 4 + 5 * 104 + 4 + 4 * 128);
    for (size_t i = 0; i < d.count; i++)
        CHECK(d.records[i].template_id == 258 || d.records[i].template_id == 259);
    check_data_records(&d, want, 9);
    struct data_record derived[9];
    CHECK_EQ(expected_data(r, 8, 1, derived), 9);
    check_data_records(&d, derived, 9);
    decoded_free(&d);
    check_set_context("%s", "");
}

/* A biflow run at the smallest MTU, to a file or over UDP: the biflow templates (236 bytes)
 * fit, every message is at most 256 bytes, and an IPv6 biflow with both protocols (two data
 * records of 124 bytes) straddles two messages and still counts once. */
static void test_biflow_small_mtu(int udp)
{
    check_set_context("biflow mtu 256 %s", udp ? "udp" : "file");
    enum { COUNT = 600, BATCH = 50 };
    static struct flow_record records[COUNT];
    static struct data_record expected[2 * COUNT];
    make_biflows(records, COUNT, 17);
    char path[PATH_BUF], url[PATH_BUF + 16], err[ERR_SIZE];
    snprintf(path, sizeof path, "%s/biflow-small.ipfix", folder);
    int receiver = -1;
    if (udp) {
        uint16_t port = 0;
        receiver = open_receiver(AF_INET, &port);
        if (!CHECK(receiver >= 0))
            return;
        snprintf(url, sizeof url, "udp://127.0.0.1:%u", port);
    } else {
        snprintf(url, sizeof url, "file:%s", path);
    }
    struct decoded d;
    decoded_init(&d);
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, url, 5, 256, 3600, err), 0)) {
        fprintf(stderr, "    %s\n", err);
        if (receiver >= 0)
            close(receiver);
        return;
    }
    sink.biflow = 1;
    if (!CHECK_EQ(sink.ops->start(&sink, err, sizeof err), 0)) {
        fprintf(stderr, "    %s\n", err);
        sink.ops->destroy(&sink);
        destroy_sink(&sink);
        if (receiver >= 0)
            close(receiver);
        return;
    }
    uint64_t wall = 1000000;
    for (size_t at = 0; at < COUNT; at += BATCH) {
        write_and_flush(&sink, records + at, BATCH, &wall);
        if (udp) /* taken as it comes, so the socket buffer never fills */
            receive_all(receiver, &d, 256);
    }
    finish_sink(&sink);
    if (udp) {
        receive_all(receiver, &d, 256);
        close(receiver);
    } else {
        decode_file(&d, path);
        unlink(path);
    }
    CHECK_EQ(SENT(&sink), COUNT);
    CHECK_EQ(DROPPED(&sink), 0);
    CHECK_EQ(ERRORS(&sink), 0);
    CHECK_STR(sink.last_error, "");
    destroy_sink(&sink);

    CHECK_EQ(d.domain, 5);
    CHECK(d.max_length <= 256);
    CHECK(d.messages > COUNT / 2);
    CHECK(d.message_had_templates[0]);
    CHECK_EQ(d.message_length[0], 236);
    CHECK_EQ(d.message_records[0], 0);
    check_biflow_templates(&d);
    CHECK(some_record_straddles(&d));
    size_t n = expected_data(records, COUNT, 1, expected);
    CHECK(n > COUNT);
    check_data_records(&d, expected, n);
    decoded_free(&d);
    check_set_context("%s", "");
}

static void remove_folder(void)
{
    const char *names[] = {"abs.ipfix",     "rel.ipfix",    "small.ipfix",
                           "limited.ipfix", "split.ipfix",  "empty.ipfix",
                           "icmp.ipfix",    "biflow.ipfix", "biflow-small.ipfix"};
    char path[PATH_BUF];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", folder, names[i]);
        unlink(path);
    }
    rmdir(folder);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(folder, sizeof folder, "%s/test_ipfix.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(folder) == NULL) {
        perror("test_ipfix: mkdtemp");
        return 1;
    }
    char path[PATH_BUF], url[PATH_BUF + 16];
    snprintf(path, sizeof path, "%s/abs.ipfix", folder);
    snprintf(url, sizeof url, "file://%s", path);
    test_file_target(url, path);

    char cwd[PATH_BUF];
    if (getcwd(cwd, sizeof cwd) != NULL && chdir(folder) == 0) {
        test_file_target("file:rel.ipfix", "rel.ipfix");
        if (chdir(cwd) != 0)
            perror("test_ipfix: chdir back");
    }
    test_empty_file();
    test_small_mtu();
    test_file_write_failure();
    test_split_record_lost();
    test_icmp();
    test_biflow_file();
    test_biflow_small_mtu(0);
    test_biflow_small_mtu(1);
    test_udp(AF_INET);
    test_udp(AF_INET6);
    test_collector_down();
    test_collector_restart(0);
    test_collector_restart(1);
    test_file_removed();
    test_existing_file();
    test_bad_targets();
    remove_folder();
    return check_finish("test_ipfix");
}
