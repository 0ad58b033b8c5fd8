/*
 * ipfix_export.c - the "ipfix" record sink: flow records to an IPFIX collector (RFC 7011) over
 * UDP, or to an IPFIX file (RFC 5655). Exporter thread only (see record_sink.h).
 *
 * libfixbuf encodes: the IPv4 and IPv6 templates, each record transcoded into a data set,
 * message headers, sequence numbers, the observation domain. The transport is ours: libfixbuf
 * copies each finished message into `message` (fbExporterAllocBuffer) and this file sends or
 * writes it. libfixbuf 2.4.1's own transports do not fit a sink that must count what it loses
 * and never stall (measured): its UDP exporter reports a failed send as a success (1000
 * messages to a closed port: 0 failures returned, one g_warning on stderr per process), so no
 * drop could be counted; its UDP messages are fixed at 1420 bytes (no MTU setting); its TCP
 * exporter connects and writes with blocking calls, so a slow collector would hold the
 * exporter thread. TCP is therefore not offered: a stream needs whole messages or nothing and
 * a reconnect needs templates first, and nfcapd takes UDP only.
 *
 * Messages: at most `mtu` bytes. A message goes out when the next record does not fit, or
 * when tick finds it a second old (wall time), or at close. libfixbuf keeps templates in
 * messages of their own: at the start, and over UDP again every template_resend_s (default
 * 10 s). A copy of the first templates message is kept, and goes out again (its export time and
 * sequence number those of the data message it precedes) before the next data message whenever
 * the collector may have lost them: over UDP after any refusal (a collector that was down and
 * restarts knows no templates, and would throw away every data record until the next scheduled
 * resend: 51,982 of 51,982 records once), and at the start of an IPFIX file created anew.
 *
 * Files: add_export only checks (no file has the name: an export never truncates, replaces or
 * writes through a file that existed before, be it the capture's own input, a FIFO or a
 * symbolic link); start creates the file (O_EXCL | O_NOFOLLOW). A file removed while it is
 * written (its folder deleted) is noticed before the next message: the error says how many
 * records were lost with it, and the next messages go to a new file at the path, if one can be
 * created there, or are dropped (counted).
 *
 * Counting: `sent` and `dropped` count flow records, not IPFIX data records. A record with
 * both TCP and UDP packets becomes two data records (one per protocol, so a collector adds
 * up exactly) and still counts once: in the message that holds its last data record, and as
 * dropped if any message holding a part of it was lost. Over UDP "sent" means the datagram
 * went out and no refusal (ICMP port unreachable, reported by the kernel as ECONNREFUSED on
 * the next call) came back before the next send or tick: exact with a collector on this host,
 * where the refusal comes back at once; a remote collector's late refusals count as errors.
 * A collector that is up but too slow loses datagrams in its own socket buffer, which only it
 * can see (nfcapd: "Sequence Errors").
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <fixbuf/public.h>

#include "flow_record.h"
#include "message.h"
#include "record_sink.h"
#include "report.h"

/* Template IDs (the first ones RFC 7011 allows for data sets), internal and external alike. */
enum {
    IPFIX_TEMPLATE_IPV4 = 256,
    IPFIX_TEMPLATE_IPV6 = 257,
    IPFIX_TEMPLATE_BIFLOW_IPV4 = 258,
    IPFIX_TEMPLATE_BIFLOW_IPV6 = 259
};

/* Message sizes. A message must hold its header (16 bytes) with its two templates (a set
 * header and 120 bytes; the biflow ones 216), or with one IPv6 data record in a set (94 bytes;
 * a biflow's 136): 256 leaves room for any. 65507 is the largest UDP payload over IPv4; 65535
 * the largest IPFIX message. */
#define IPFIX_MTU_MIN          256
#define IPFIX_MTU_MAX          65535
#define IPFIX_MTU_MAX_UDP      65507
#define IPFIX_MTU_DEFAULT_UDP  1400
#define IPFIX_MTU_DEFAULT_FILE 65535

/* A partly filled message goes out once it is this old (wall time), so a quiet link still
 * reaches the collector within about a second. */
#define IPFIX_FLUSH_MS                  1000
#define IPFIX_TEMPLATE_RESEND_DEFAULT_S 10

/* A file capture makes its records much faster than any link: unpaced, the 5M-packet benchmark
 * sent 191,892 records in about 8,200 datagrams within 1-2 s, and a collector with default
 * socket buffers (nfacctd) lost 83,049 of them, silently. Over UDP a file capture's messages
 * are therefore paced to `rate` flow records a second (its keeper waits meanwhile: nothing is
 * lost here); 0 sends unpaced. A live capture is never paced (it never waits): its records
 * come at the pace of its traffic. */
#define IPFIX_RATE_DEFAULT 50000

/* IANA protocol numbers of flow_record.part[FLOW_PART_TCP] and [FLOW_PART_UDP]. */
static const uint8_t part_protocol[FLOW_PART_COUNT] = {6, 17};

/* One data record as libfixbuf reads it from memory: the internal template, in this order.
 * Addresses and ports in host byte order (libfixbuf writes them big-endian), IPv6 addresses as
 * their 16 bytes. The exported record is the same elements without the padding. A one-way
 * record is the struct up to `reverse` (its template pads over reverse_tcp_flags); a biflow's
 * (RFC 5103) the whole, the reverse counts in the reverse elements (enterprise 29305). */
struct ipfix_counts {
    uint64_t start_ms;    /* flowStartMilliseconds (152) */
    uint64_t end_ms;      /* flowEndMilliseconds (153) */
    uint64_t packets;     /* packetDeltaCount (2) */
    uint64_t ip_bytes;    /* octetDeltaCount (1): IP header plus payload */
    uint64_t frame_bytes; /* layer2OctetDeltaCount (352): what the report counts */
};

struct ipfix_record_v4 {
    struct ipfix_counts counts;
    uint32_t source;      /* sourceIPv4Address (8) */
    uint32_t destination; /* destinationIPv4Address (12) */
    /* icmpTypeCodeIPv4 (32): type * 256 + code; 0 but for ICMP. Before the ports: nfdump
     * stores it as the destination port whatever the protocol, so the port must come later */
    uint16_t icmp_type_code;
    uint16_t source_port;        /* sourceTransportPort (7) */
    uint16_t destination_port;   /* destinationTransportPort (11) */
    uint8_t protocol;            /* protocolIdentifier (4) */
    uint8_t reason;              /* flowEndReason (136) */
    uint16_t tcp_flags;          /* tcpControlBits (6): the TCP part's, 0 for UDP */
    uint16_t reverse_tcp_flags;  /* biflow: reverseTcpControlBits */
    uint32_t ingress_interface;  /* ingressInterface (10): the device, from 1; 0 for one */
    struct ipfix_counts reverse; /* biflow: reverseFlowStartMilliseconds ... */
};

struct ipfix_record_v6 {
    struct ipfix_counts counts;
    uint8_t source[16];      /* sourceIPv6Address (27) */
    uint8_t destination[16]; /* destinationIPv6Address (28) */
    uint16_t icmp_type_code; /* icmpTypeCodeIPv6 (139) */
    uint16_t source_port;
    uint16_t destination_port;
    uint8_t protocol;
    uint8_t reason;
    uint16_t tcp_flags;
    uint16_t reverse_tcp_flags;
    uint32_t ingress_interface;
    struct ipfix_counts reverse;
};

/* Flag of the spec entries that only the internal templates have (struct padding). */
#define SPEC_INTERNAL 1u

_Static_assert(offsetof(struct ipfix_record_v4, reverse_tcp_flags) == 58 &&
                   offsetof(struct ipfix_record_v4, reverse) == 64 &&
                   offsetof(struct ipfix_record_v6, reverse_tcp_flags) == 82 &&
                   offsetof(struct ipfix_record_v6, reverse) == 88 &&
                   offsetof(struct ipfix_record_v4, ingress_interface) == 60 &&
                   offsetof(struct ipfix_record_v6, ingress_interface) == 84,
               "the internal templates below describe these layouts");

static fbInfoElementSpec_t spec_v4[] = {
    {"flowStartMilliseconds", 8, 0},  {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},       {"octetDeltaCount", 8, 0},
    {"layer2OctetDeltaCount", 8, 0},  {"sourceIPv4Address", 4, 0},
    {"destinationIPv4Address", 4, 0}, {"icmpTypeCodeIPv4", 2, 0},
    {"sourceTransportPort", 2, 0},    {"destinationTransportPort", 2, 0},
    {"protocolIdentifier", 1, 0},     {"flowEndReason", 1, 0},
    {"tcpControlBits", 2, 0},         {"paddingOctets", 2, SPEC_INTERNAL},
    {"ingressInterface", 4, 0},       FB_IESPEC_NULL,
};

static fbInfoElementSpec_t spec_biflow_v4[] = {
    {"flowStartMilliseconds", 8, 0},
    {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},
    {"octetDeltaCount", 8, 0},
    {"layer2OctetDeltaCount", 8, 0},
    {"sourceIPv4Address", 4, 0},
    {"destinationIPv4Address", 4, 0},
    {"icmpTypeCodeIPv4", 2, 0},
    {"sourceTransportPort", 2, 0},
    {"destinationTransportPort", 2, 0},
    {"protocolIdentifier", 1, 0},
    {"flowEndReason", 1, 0},
    {"tcpControlBits", 2, 0},
    {"reverseTcpControlBits", 2, 0},
    {"ingressInterface", 4, 0},
    {"reverseFlowStartMilliseconds", 8, 0},
    {"reverseFlowEndMilliseconds", 8, 0},
    {"reversePacketDeltaCount", 8, 0},
    {"reverseOctetDeltaCount", 8, 0},
    {"reverseLayer2OctetDeltaCount", 8, 0},
    FB_IESPEC_NULL,
};

static fbInfoElementSpec_t spec_biflow_v6[] = {
    {"flowStartMilliseconds", 8, 0},
    {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},
    {"octetDeltaCount", 8, 0},
    {"layer2OctetDeltaCount", 8, 0},
    {"sourceIPv6Address", 16, 0},
    {"destinationIPv6Address", 16, 0},
    {"icmpTypeCodeIPv6", 2, 0},
    {"sourceTransportPort", 2, 0},
    {"destinationTransportPort", 2, 0},
    {"protocolIdentifier", 1, 0},
    {"flowEndReason", 1, 0},
    {"tcpControlBits", 2, 0},
    {"reverseTcpControlBits", 2, 0},
    {"ingressInterface", 4, 0},
    {"reverseFlowStartMilliseconds", 8, 0},
    {"reverseFlowEndMilliseconds", 8, 0},
    {"reversePacketDeltaCount", 8, 0},
    {"reverseOctetDeltaCount", 8, 0},
    {"reverseLayer2OctetDeltaCount", 8, 0},
    FB_IESPEC_NULL,
};

static fbInfoElementSpec_t spec_v6[] = {
    {"flowStartMilliseconds", 8, 0},   {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},        {"octetDeltaCount", 8, 0},
    {"layer2OctetDeltaCount", 8, 0},   {"sourceIPv6Address", 16, 0},
    {"destinationIPv6Address", 16, 0}, {"icmpTypeCodeIPv6", 2, 0},
    {"sourceTransportPort", 2, 0},     {"destinationTransportPort", 2, 0},
    {"protocolIdentifier", 1, 0},      {"flowEndReason", 1, 0},
    {"tcpControlBits", 2, 0},          {"paddingOctets", 2, SPEC_INTERNAL},
    {"ingressInterface", 4, 0},        FB_IESPEC_NULL,
};

enum ipfix_transport { IPFIX_UDP, IPFIX_FILE };

struct ipfix_exporter {
    enum ipfix_transport transport;
    fbInfoModel_t *model; /* outlives fbuf, which refers to it */
    fBuf_t *fbuf;         /* owns the session and the buffer exporter */
    uint8_t *message;     /* mtu bytes: where fBufEmit puts each finished message */
    uint16_t mtu;
    uint32_t domain;       /* the observation domain */
    int biflow;            /* the encoder has the biflow templates (start, for a biflow run) */
    int fd;                /* UDP: connected and non-blocking; file: the file (-1: none) */
    char path[4096];       /* file: the path, for messages */
    off_t file_length;     /* file: bytes of whole messages written */
    int file_failed;       /* file: a write failed, the tail past file_length is junk */
    int file_errno;        /* file: why the first write that failed did */
    uint64_t file_records; /* file: records in it */
    /* The first templates message, as it went out (templates_length 0 before): sent again,
     * updated, before a data message when templates_due. */
    uint8_t *templates;
    size_t templates_length;
    int building_templates;   /* the message being built holds the templates */
    int templates_due;        /* the collector may have lost them (a refusal, a new file) */
    uint16_t template_id;     /* the template fbuf has set, 0 before the first record */
    int message_empty;        /* nothing appended since the last emit */
    uint64_t message_records; /* flow records whose last data record is in this message */
    uint64_t message_doomed;  /* flow records in it that an earlier lost message cut */
    uint64_t message_seen_ms; /* wall clock when a tick first saw this message (0: not yet) */
    /* UDP: the records of the last datagram, counted as sent once no refusal came back (the
     * collector's "port unreachable" is reported on the socket's next call). */
    uint64_t unconfirmed;
    const char *open_code;       /* why open failed (record_sink.error_code) */
    uint64_t templates_ms;       /* wall clock of the last template export (0: at open) */
    uint64_t template_resend_ms; /* UDP: how often; 0 for a file */
    uint32_t rate;               /* UDP, a file capture: flow records a second (0: unpaced) */
    uint64_t pace_next_ns;       /* monotonic time the next data message may go out */
};

static void count_sent(struct record_sink *sink, uint64_t records)
{
    if (records > 0)
        atomic_fetch_add_explicit(&sink->counters.sent, records, memory_order_relaxed);
}

static void count_dropped(struct record_sink *sink, uint64_t records)
{
    if (records > 0)
        atomic_fetch_add_explicit(&sink->counters.dropped, records, memory_order_relaxed);
}

/* ---------------------------------------------------------------------------------------- */
/* Transport                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/* A refusal came back (ECONNREFUSED): the last datagram was not taken, and the collector may
 * have lost the templates (it may be restarting). */
static void udp_refused(struct record_sink *sink, struct ipfix_exporter *exporter, int error)
{
    count_dropped(sink, exporter->unconfirmed);
    exporter->unconfirmed = 0;
    exporter->templates_due = 1;
    record_sink_set_error(sink, "nasoone: IPFIX collector %s did not take a message: %s",
                          sink->target, strerror(error));
}

/* Counts the last datagram's records: dropped if the socket holds a refusal, sent otherwise. */
static void udp_settle(struct record_sink *sink, struct ipfix_exporter *exporter)
{
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(exporter->fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error != 0) {
        udp_refused(sink, exporter, error);
    } else {
        count_sent(sink, exporter->unconfirmed);
        exporter->unconfirmed = 0;
    }
}

/* The kept templates message, given the export time and sequence number of the message that
 * follows it (header bytes 4 to 11: a templates message carries the sequence number of the next
 * data record, RFC 7011 section 3.1). */
static const uint8_t *templates_before(struct ipfix_exporter *exporter, const uint8_t *message)
{
    memcpy(exporter->templates + 4, message + 4, 8);
    return exporter->templates;
}

/* Sends one datagram, never waiting. Returns 0, or the errno. */
static int udp_send_one(struct ipfix_exporter *exporter, const uint8_t *bytes, size_t length)
{
    ssize_t written = send(exporter->fd, bytes, length, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (written != (ssize_t)length)
        return written < 0 ? errno : EMSGSIZE;
    return 0;
}

/* Waits until a data message of `records` flow records may go out at the paced rate, and
 * books its share of time (a file capture only: see IPFIX_RATE_DEFAULT). */
static void udp_pace(struct record_sink *sink, struct ipfix_exporter *exporter, uint64_t records)
{
    if (!sink->may_wait || exporter->rate == 0 || records == 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    if (exporter->pace_next_ns > now_ns) {
        uint64_t wait = exporter->pace_next_ns - now_ns;
        struct timespec pause = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
        now_ns = exporter->pace_next_ns;
    }
    exporter->pace_next_ns = now_ns + records * 1000000000u / exporter->rate;
}

/* The message in exporter->message as one datagram, never waiting (a full socket buffer or a
 * refusing collector loses it), after the templates when they are due. A refusal reported by
 * a send answers an earlier datagram, and that send did not happen: it is tried again (the
 * pending refusal is consumed), templates first. Returns 1 when it went out. */
static int udp_send(struct record_sink *sink, struct ipfix_exporter *exporter, size_t length,
                    uint64_t records)
{
    int is_templates = exporter->building_templates;
    if (!is_templates)
        udp_pace(sink, exporter, records);
    for (int attempt = 0; attempt < 3; attempt++) {
        int error = 0;
        if (exporter->templates_due && !is_templates && exporter->templates_length > 0) {
            error = udp_send_one(exporter, templates_before(exporter, exporter->message),
                                 exporter->templates_length);
            if (error == 0) {
                /* the previous datagram drew no refusal before this one: it was taken */
                count_sent(sink, exporter->unconfirmed);
                exporter->unconfirmed = 0;
                exporter->templates_due = 0;
            }
        }
        if (error == 0)
            error = udp_send_one(exporter, exporter->message, length);
        if (error == 0) {
            count_sent(sink, exporter->unconfirmed);
            exporter->unconfirmed = records;
            if (is_templates)
                exporter->templates_due = 0;
            return 1;
        }
        if (error == ECONNREFUSED) {
            udp_refused(sink, exporter, error);
            continue;
        }
        record_sink_set_error(sink, "nasoone: cannot send IPFIX to %s: %s", sink->target,
                              strerror(error));
        return 0;
    }
    return 0;
}

/* Creates the IPFIX file: only where no file is (O_EXCL), never through a symbolic link. */
static int file_create(struct ipfix_exporter *exporter)
{
    exporter->fd = open(exporter->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (exporter->fd < 0)
        return -1;
    exporter->file_length = 0;
    exporter->file_failed = 0;
    exporter->file_records = 0;
    return 0;
}

/* pwrite of length bytes at the end of the last whole message. Returns 0, or the errno. */
static int file_append(struct ipfix_exporter *exporter, const uint8_t *bytes, size_t length)
{
    size_t done = 0;
    while (done < length) {
        ssize_t written =
            pwrite(exporter->fd, bytes + done, length - done, exporter->file_length + (off_t)done);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            int error = written < 0 ? errno : EIO;
            if (!exporter->file_failed)
                exporter->file_errno = error;
            exporter->file_failed = 1;
            return error;
        }
        done += (size_t)written;
    }
    exporter->file_length += (off_t)length;
    return 0;
}

/* Appends one whole message to the file. pwrite at the end of the last whole message, so
 * after a failed write (a full disk) the next message overwrites the partial one and close
 * cuts the file there: a reader never meets half a message past close. A file removed since
 * the last message (its folder deleted) is replaced by a new one at the path, templates first.
 * Returns 1 on success. */
static int file_write(struct record_sink *sink, struct ipfix_exporter *exporter, size_t length,
                      uint64_t records)
{
    struct stat st;
    if (exporter->fd >= 0 && fstat(exporter->fd, &st) == 0 && st.st_nlink == 0) {
        record_sink_set_error(sink,
                              "nasoone: the IPFIX file %s was removed while it was written (its "
                              "folder deleted?): its %llu records are lost",
                              exporter->path, (unsigned long long)exporter->file_records);
        close(exporter->fd);
        exporter->fd = -1;
    }
    if (exporter->fd < 0) {
        if (file_create(exporter) != 0) {
            record_sink_set_error(sink, "nasoone: cannot create IPFIX file %s: %s", exporter->path,
                                  strerror(errno));
            return 0;
        }
        exporter->templates_due = 1;
    }
    int error = 0;
    if (exporter->templates_due && !exporter->building_templates && exporter->templates_length > 0)
        error = file_append(exporter, templates_before(exporter, exporter->message),
                            exporter->templates_length);
    if (error == 0)
        exporter->templates_due = 0;
    if (error == 0)
        error = file_append(exporter, exporter->message, length);
    if (error != 0) {
        record_sink_set_error(sink, "nasoone: cannot write IPFIX file %s: %s", exporter->path,
                              strerror(error));
        return 0;
    }
    exporter->file_records += records;
    return 1;
}

/* Finishes the message being built and hands it on; counts its records. Returns 1 when the
 * message went out (or there was none), 0 when it was lost. */
static int emit_message(struct record_sink *sink, struct ipfix_exporter *exporter)
{
    if (exporter->message_empty)
        return 1;
    uint64_t records = exporter->message_records;
    count_dropped(sink, exporter->message_doomed);
    exporter->message_empty = 1;
    exporter->message_records = 0;
    exporter->message_doomed = 0;
    exporter->message_seen_ms = 0;

    GError *error = NULL;
    if (!fBufEmit(exporter->fbuf, &error)) {
        record_sink_set_error(sink, "nasoone: IPFIX export to %s: cannot finish a message: %s",
                              sink->target, error->message);
        g_clear_error(&error);
        count_dropped(sink, records);
        return 0;
    }
    size_t length = fbExporterGetMsgLen(fBufGetExporter(exporter->fbuf));
    if (exporter->building_templates && exporter->templates_length == 0) {
        memcpy(exporter->templates, exporter->message, length);
        exporter->templates_length = length;
    }
    int sent;
    if (exporter->transport == IPFIX_UDP) {
        /* counted as sent when the next send or tick sees no refusal (udp_settle) */
        sent = udp_send(sink, exporter, length, records);
    } else {
        sent = file_write(sink, exporter, length, records);
        if (sent)
            count_sent(sink, records);
    }
    exporter->building_templates = 0;
    if (!sent)
        count_dropped(sink, records);
    return sent;
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/* Puts both templates in a message of their own: libfixbuf never mixes templates and data in
 * one message (it answers FB_ERROR_EOM at the switch, in either direction), so the message
 * being built is finished first, and the first data record after the templates finishes theirs. */
static void export_templates(struct record_sink *sink, struct ipfix_exporter *exporter)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        emit_message(sink, exporter);
        GError *error = NULL;
        if (fbSessionExportTemplates(fBufGetSession(exporter->fbuf), &error)) {
            exporter->message_empty = 0;
            exporter->building_templates = 1;
            return;
        }
        int retry = attempt == 0 && g_error_matches(error, FB_ERROR_DOMAIN, FB_ERROR_EOM);
        if (!retry)
            record_sink_set_error(sink, "nasoone: IPFIX export to %s: cannot add the templates: %s",
                                  sink->target, error->message);
        g_clear_error(&error);
        if (!retry)
            return;
    }
}

static int use_template(struct record_sink *sink, struct ipfix_exporter *exporter, uint16_t id)
{
    if (exporter->template_id == id)
        return 1;
    GError *error = NULL;
    if (!fBufSetInternalTemplate(exporter->fbuf, id, &error) ||
        !fBufSetExportTemplate(exporter->fbuf, id, &error)) {
        record_sink_set_error(sink, "nasoone: IPFIX export to %s: cannot use template %u: %s",
                              sink->target, id, error->message);
        g_clear_error(&error);
        exporter->template_id = 0;
        return 0;
    }
    exporter->template_id = id;
    return 1;
}

/* Appends one data record, starting a new message when this one is full. Returns 1 when it is
 * in the message; *full_message_lost is set when finishing the full message lost it. */
static int append_data(struct record_sink *sink, struct ipfix_exporter *exporter, void *data,
                       size_t size, int *full_message_lost)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        GError *error = NULL;
        if (fBufAppend(exporter->fbuf, data, size, &error)) {
            exporter->message_empty = 0;
            return 1;
        }
        int full = g_error_matches(error, FB_ERROR_DOMAIN, FB_ERROR_EOM);
        if (!full || attempt > 0) {
            record_sink_set_error(sink, "nasoone: IPFIX export to %s: cannot add a record: %s",
                                  sink->target, error->message);
            g_clear_error(&error);
            return 0;
        }
        g_clear_error(&error);
        if (!emit_message(sink, exporter))
            *full_message_lost = 1;
    }
    return 0;
}

static void fill_counts(struct ipfix_counts *counts, const struct flow_part *part)
{
    counts->start_ms = part->first_ms;
    counts->end_ms = part->last_ms;
    counts->packets = part->packets;
    counts->ip_bytes = part->ip_bytes;
    counts->frame_bytes = part->bytes;
}

/* Appends the data records of one flow record, one per protocol with packets (in either
 * direction, for a biflow), and counts the flow record in the message that holds its last one. */
static void append_record(struct record_sink *sink, struct ipfix_exporter *exporter,
                          const struct flow_record *record)
{
    struct ipfix_record_v4 v4;
    struct ipfix_record_v6 v6;
    struct ipfix_counts *counts, *reverse;
    uint8_t *protocol;
    uint16_t *tcp_flags, *reverse_tcp_flags;
    void *data;
    size_t size;
    uint16_t template_id;
    /* A 5-tuple ICMP row's key has the type and code as its ports: icmpTypeCode says them, and
     * the destination port too, type * 256 + code, as NetFlow put them (nfdump shows "3.3"),
     * source port 0 */
    uint16_t source_port = record->key.src_port, destination_port = record->key.dst_port;
    uint16_t icmp_type_code = 0;
    if (record->key.protocol == 1 || record->key.protocol == 58) {
        icmp_type_code = (uint16_t)(source_port << 8 | (destination_port & 0xff));
        destination_port = icmp_type_code;
        source_port = 0;
    }
    int biflow = record->biflow && exporter->biflow;
    if (record->key.family == FLOW_FAMILY_IPV4) {
        const uint8_t *s = record->key.src, *d = record->key.dst;
        memset(&v4, 0, sizeof v4);
        v4.source = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
        v4.destination = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
        v4.source_port = source_port;
        v4.destination_port = destination_port;
        v4.reason = record->reason;
        v4.icmp_type_code = icmp_type_code;
        v4.ingress_interface = record->key.device;
        counts = &v4.counts, protocol = &v4.protocol, data = &v4;
        reverse = &v4.reverse, reverse_tcp_flags = &v4.reverse_tcp_flags;
        size = biflow ? sizeof v4 : offsetof(struct ipfix_record_v4, reverse);
        tcp_flags = &v4.tcp_flags;
        template_id = biflow ? IPFIX_TEMPLATE_BIFLOW_IPV4 : IPFIX_TEMPLATE_IPV4;
    } else {
        memset(&v6, 0, sizeof v6);
        memcpy(v6.source, record->key.src, 16);
        memcpy(v6.destination, record->key.dst, 16);
        v6.source_port = source_port;
        v6.destination_port = destination_port;
        v6.reason = record->reason;
        v6.icmp_type_code = icmp_type_code;
        v6.ingress_interface = record->key.device;
        counts = &v6.counts, protocol = &v6.protocol, data = &v6;
        reverse = &v6.reverse, reverse_tcp_flags = &v6.reverse_tcp_flags;
        size = biflow ? sizeof v6 : offsetof(struct ipfix_record_v6, reverse);
        tcp_flags = &v6.tcp_flags;
        template_id = biflow ? IPFIX_TEMPLATE_BIFLOW_IPV6 : IPFIX_TEMPLATE_IPV6;
    }
    if (!use_template(sink, exporter, template_id)) {
        count_dropped(sink, 1);
        return;
    }
    int parts = 0, lost = 0, last_appended = 0;
    for (int i = 0; i < FLOW_PART_COUNT; i++) {
        const struct flow_part *part = &record->part[i];
        const struct flow_part *back = &record->reverse[i];
        if (part->packets == 0 && (!biflow || back->packets == 0))
            continue;
        fill_counts(counts, part);
        fill_counts(reverse, back); /* zero without a biflow, and not sent */
        *protocol = record->key.protocol != 0 ? record->key.protocol : part_protocol[i];
        *tcp_flags = i == FLOW_PART_TCP ? record->tcp_flags : 0;
        *reverse_tcp_flags = i == FLOW_PART_TCP ? record->reverse_tcp_flags : 0;
        int full_message_lost = 0;
        last_appended = append_data(sink, exporter, data, size, &full_message_lost);
        /* a full message finished here held this record's earlier part */
        if ((full_message_lost && parts > 0) || !last_appended)
            lost = 1;
        parts++;
    }
    if (parts == 0) /* no packets (none are expected): nothing to send */
        count_sent(sink, 1);
    else if (!last_appended) /* its last part is in no message: lost now */
        count_dropped(sink, 1);
    else if (lost)
        exporter->message_doomed++;
    else
        exporter->message_records++;
}

/* ---------------------------------------------------------------------------------------- */
/* Sink operations                                                                           */
/* ---------------------------------------------------------------------------------------- */

static void ipfix_write(struct record_sink *sink, const struct flow_record *records, size_t count)
{
    struct ipfix_exporter *exporter = sink->state;
    /* IPv4 records first, then IPv6: one set per family per message instead of a new set (4
     * bytes) at every change of family; a collector does not care about the order. */
    for (int want_ipv4 = 1; want_ipv4 >= 0; want_ipv4--) {
        for (size_t i = 0; i < count; i++) {
            if ((records[i].key.family == FLOW_FAMILY_IPV4) == want_ipv4)
                append_record(sink, exporter, &records[i]);
        }
    }
}

static void ipfix_tick(struct record_sink *sink, uint64_t wall_ms, uint64_t capture_ms)
{
    (void)capture_ms; /* IPFIX times are the records' own; messages go by the wall clock */
    struct ipfix_exporter *exporter = sink->state;
    if (exporter->transport == IPFIX_UDP) {
        udp_settle(sink, exporter);
        if (exporter->templates_ms == 0) {
            exporter->templates_ms = wall_ms;
        } else if (wall_ms - exporter->templates_ms >= exporter->template_resend_ms) {
            /* UDP loses messages and collectors restart: templates again, in a message of
             * their own that goes out now */
            export_templates(sink, exporter);
            emit_message(sink, exporter);
            exporter->templates_ms = wall_ms;
        }
    }
    if (exporter->message_empty)
        return;
    if (exporter->message_seen_ms == 0)
        exporter->message_seen_ms = wall_ms;
    else if (wall_ms - exporter->message_seen_ms >= IPFIX_FLUSH_MS)
        emit_message(sink, exporter);
}

static void ipfix_close(struct record_sink *sink)
{
    struct ipfix_exporter *exporter = sink->state;
    emit_message(sink, exporter);
    if (exporter->transport == IPFIX_UDP) {
        udp_settle(sink, exporter);
        close(exporter->fd);
    } else if (exporter->fd >= 0) {
        /* the write error stays the one said: the cut is only how its damage is undone */
        if (exporter->file_failed && ftruncate(exporter->fd, exporter->file_length) != 0)
            record_sink_set_error(sink,
                                  "nasoone: cannot write IPFIX file %s: %s (and cannot cut it back "
                                  "to its last whole message: %s)",
                                  exporter->path, strerror(exporter->file_errno), strerror(errno));
        if (close(exporter->fd) != 0)
            record_sink_set_error(sink, "nasoone: cannot close IPFIX file %s: %s", exporter->path,
                                  strerror(errno));
    }
    exporter->fd = -1;
}

static void free_exporter(struct ipfix_exporter *exporter)
{
    if (exporter == NULL)
        return;
    if (exporter->fbuf != NULL)
        fBufFree(exporter->fbuf); /* with its session, templates and exporter */
    if (exporter->model != NULL)
        fbInfoModelFree(exporter->model);
    if (exporter->fd >= 0)
        close(exporter->fd);
    free(exporter->message);
    free(exporter->templates);
    free(exporter);
}

static void ipfix_destroy(struct record_sink *sink)
{
    free_exporter(sink->state);
    sink->state = NULL;
}

static int open_encoder(struct ipfix_exporter *exporter, int biflow, char *err, size_t err_size,
                        const char *url);

/* A biflow run's records take the biflow templates: the encoder open made is made again with
 * them, before anything went out. Returns 0, or -1 with a message in err. */
static int use_biflow_templates(struct record_sink *sink, char *err, size_t err_size)
{
    struct ipfix_exporter *exporter = sink->state;
    fBufFree(exporter->fbuf);
    fbInfoModelFree(exporter->model);
    exporter->fbuf = NULL;
    exporter->model = NULL;
    exporter->template_id = 0;
    exporter->message_empty = 1;
    exporter->building_templates = 0;
    if (open_encoder(exporter, 1, err, err_size, sink->target) != 0) {
        sink->error_code = "out_of_memory";
        return -1;
    }
    export_templates(sink, exporter);
    return 0;
}

/* A file: created now, only where no file is. */
static int ipfix_start(struct record_sink *sink, char *err, size_t err_size)
{
    struct ipfix_exporter *exporter = sink->state;
    if (sink->biflow && !exporter->biflow && use_biflow_templates(sink, err, err_size) != 0)
        return -1;
    if (exporter->transport != IPFIX_FILE || file_create(exporter) == 0)
        return 0;
    int error = errno;
    /* O_NOFOLLOW on a symbolic link says ELOOP: it exists, and is never written through */
    if (error == ELOOP)
        error = EEXIST;
    sink->error_code = error == EEXIST ? "exists" : error == ENOENT ? "not_found" : "io_error";
    if (error == EEXIST)
        return message_format(err, err_size,
                              "nasoone: IPFIX file %s already exists: an export never writes over "
                              "a file",
                              exporter->path);
    return message_format(err, err_size, "nasoone: cannot create IPFIX file %s: %s", exporter->path,
                          strerror(error));
}

/* The capture did not start: the file start created goes, if it is still the one at the path. */
static void ipfix_abandon(struct record_sink *sink)
{
    struct ipfix_exporter *exporter = sink->state;
    if (exporter->transport != IPFIX_FILE || exporter->fd < 0)
        return;
    struct stat ours, there;
    if (fstat(exporter->fd, &ours) == 0 && lstat(exporter->path, &there) == 0 &&
        ours.st_dev == there.st_dev && ours.st_ino == there.st_ino)
        unlink(exporter->path);
    close(exporter->fd);
    exporter->fd = -1;
}

static const struct record_sink_ops ipfix_ops = {
    .start = ipfix_start,
    .abandon = ipfix_abandon,
    .write = ipfix_write,
    .tick = ipfix_tick,
    .close = ipfix_close,
    .destroy = ipfix_destroy,
};

/* ---------------------------------------------------------------------------------------- */
/* Opening                                                                                   */
/* ---------------------------------------------------------------------------------------- */

#define TARGET_FORMS "expected udp://HOST:PORT or file:PATH"

/* Splits "HOST:PORT" or "[V6]:PORT" (after "udp://") into host and port. Returns NULL or why
 * it cannot. */
static const char *split_host_port(const char *text, char *host, size_t host_size, char *port)
{
    const char *colon;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return "no ']' after the IPv6 address";
        if (close[1] != ':')
            return "no :PORT after the address";
        if ((size_t)(close - text - 1) >= host_size)
            return "the host is too long";
        memcpy(host, text + 1, (size_t)(close - text - 1));
        host[close - text - 1] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return "no :PORT";
        if (memchr(text, ':', (size_t)(colon - text)) != NULL)
            return "an IPv6 address goes in brackets, as in udp://[::1]:4739";
        if ((size_t)(colon - text) >= host_size)
            return "the host is too long";
        memcpy(host, text, (size_t)(colon - text));
        host[colon - text] = '\0';
    }
    if (host[0] == '\0')
        return "no host";
    const char *digits = colon + 1;
    size_t length = strspn(digits, "0123456789");
    if (length == 0 || digits[length] != '\0')
        return digits[length] == '/' && length > 0 ? "a path after the port" : "no port number";
    unsigned long value = length <= 5 ? strtoul(digits, NULL, 10) : 0;
    if (value < 1 || value > 65535)
        return "the port must be 1 to 65535";
    snprintf(port, 6, "%lu", value);
    return NULL;
}

static int open_udp(struct ipfix_exporter *exporter, const char *url, char *err, size_t err_size)
{
    char host[256], port[6];
    const char *why = split_host_port(url + strlen("udp://"), host, sizeof host, port);
    if (why != NULL)
        return message_format(err, err_size, "nasoone: bad IPFIX target %s: %s; " TARGET_FORMS, url,
                              why);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *found = NULL;
    int rc = getaddrinfo(host, port, &hints, &found);
    exporter->open_code = "unreachable"; /* the network's answer, not the user's syntax */
    if (rc != 0)
        return message_format(err, err_size, "nasoone: cannot resolve IPFIX collector %s in %s: %s",
                              host, url, rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
    /* Connected, so the kernel reports the collector's refusals (ECONNREFUSED) and sends
     * need no address; the address is resolved once, here. */
    int saved = 0;
    for (struct addrinfo *a = found; a != NULL; a = a->ai_next) {
        int fd =
            socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            exporter->fd = fd;
            break;
        }
        saved = errno;
        close(fd);
    }
    freeaddrinfo(found);
    if (exporter->fd < 0)
        return message_format(err, err_size, "nasoone: cannot reach IPFIX collector %s: %s", url,
                              strerror(saved));
    exporter->transport = IPFIX_UDP;
    return 0;
}

/* A file target: checked now (the folder is there and writable, nothing has the name),
 * created at start (ipfix_start). */
static int open_file(struct ipfix_exporter *exporter, const char *url, char *err, size_t err_size)
{
    const char *path = url + strlen("file:");
    if (strncmp(path, "//", 2) == 0) {
        if (path[2] != '/')
            return message_format(err, err_size,
                                  "nasoone: bad IPFIX target %s: a file URL names no host (file:///"
                                  "PATH or file:PATH); " TARGET_FORMS,
                                  url);
        path += 2;
    }
    if (path[0] == '\0')
        return message_format(err, err_size, "nasoone: bad IPFIX target %s: no path; " TARGET_FORMS,
                              url);
    char folder[PATH_MAX];
    const char *name;
    exporter->open_code = "invalid_path";
    if (strlen(path) >= sizeof exporter->path ||
        report_split_path(path, folder, sizeof folder, &name) != 0 || strlen(name) > NAME_MAX)
        return message_format(err, err_size, "nasoone: cannot create IPFIX file %s: %s", path,
                              strerror(ENAMETOOLONG));
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return message_format(err, err_size, "nasoone: IPFIX file %s names a folder, not a file",
                              path);
    strcpy(exporter->path, path);
    exporter->transport = IPFIX_FILE;
    struct stat st;
    if (lstat(path, &st) == 0) {
        exporter->open_code = "exists";
        return message_format(err, err_size,
                              "nasoone: IPFIX file %s already exists: an export never writes over "
                              "a file",
                              path);
    }
    int error = 0;
    if (stat(folder, &st) != 0)
        error = errno;
    else if (!S_ISDIR(st.st_mode))
        error = ENOTDIR;
    else if (access(folder, W_OK | X_OK) != 0)
        error = errno;
    if (error == 0)
        return 0;
    exporter->open_code = error == ENOENT || error == ENOTDIR ? "not_found"
                          : error == EACCES || error == EPERM || error == EROFS
                              ? "permission_denied"
                              : "io_error";
    return message_format(err, err_size, "nasoone: cannot create IPFIX file %s: %s", path,
                          strerror(error));
}

static int add_template(fbSession_t *session, fbInfoModel_t *model, fbInfoElementSpec_t *spec,
                        int internal, uint16_t id, GError **error)
{
    fbTemplate_t *template = fbTemplateAlloc(model);
    if (!fbTemplateAppendSpecArray(template, spec, internal ? SPEC_INTERNAL : 0, error) ||
        fbSessionAddTemplate(session, internal ? TRUE : FALSE, id, template, error) == 0) {
        fbTemplateFreeUnused(template);
        return -1;
    }
    return 0;
}

/* The encoder: model, session with the four templates (internal and external, per family; the
 * biflow ones for a biflow run) in the observation domain, and the buffer in manual mode so that
 * a full message comes back to us (FB_ERROR_EOM) instead of being sent by libfixbuf. */
static int open_encoder(struct ipfix_exporter *exporter, int biflow, char *err, size_t err_size,
                        const char *url)
{
    GError *error = NULL;
    exporter->model = fbInfoModelAlloc();
    exporter->biflow = biflow;
    fbSession_t *session = fbSessionAlloc(exporter->model);
    fbSessionSetDomain(session, exporter->domain);
    fbInfoElementSpec_t *v4 = biflow ? spec_biflow_v4 : spec_v4;
    fbInfoElementSpec_t *v6 = biflow ? spec_biflow_v6 : spec_v6;
    uint16_t id4 = biflow ? IPFIX_TEMPLATE_BIFLOW_IPV4 : IPFIX_TEMPLATE_IPV4;
    uint16_t id6 = biflow ? IPFIX_TEMPLATE_BIFLOW_IPV6 : IPFIX_TEMPLATE_IPV6;
    if (add_template(session, exporter->model, v4, 1, id4, &error) != 0 ||
        add_template(session, exporter->model, v4, 0, id4, &error) != 0 ||
        add_template(session, exporter->model, v6, 1, id6, &error) != 0 ||
        add_template(session, exporter->model, v6, 0, id6, &error) != 0) {
        message_format(err, err_size, "nasoone: IPFIX export to %s: cannot make the templates: %s",
                       url, error->message);
        g_clear_error(&error);
        fbSessionFree(session);
        return -1;
    }
    if (exporter->message == NULL)
        exporter->message = malloc(exporter->mtu);
    if (exporter->templates == NULL)
        exporter->templates = malloc(exporter->mtu);
    if (exporter->message == NULL || exporter->templates == NULL) {
        fbSessionFree(session);
        return message_format(err, err_size, "nasoone: IPFIX export to %s: %s", url,
                              strerror(ENOMEM));
    }
    exporter->fbuf =
        fBufAllocForExport(session, fbExporterAllocBuffer(exporter->message, exporter->mtu));
    fBufSetAutomaticMode(exporter->fbuf, FALSE);
    return 0;
}

static int ipfix_export_open(struct record_sink *sink, const char *url,
                             const struct record_sink_settings *settings, char *err,
                             size_t err_size)
{
    uint32_t mtu_given = record_sink_setting(settings, "mtu");
    uint32_t resend_given = record_sink_setting(settings, "template_resend");
    sink->error_code = "invalid_argument";
    int udp = strncmp(url, "udp://", 6) == 0;
    if (!udp && strncmp(url, "file:", 5) != 0) {
        if (strncmp(url, "tcp://", 6) == 0)
            return message_format(err, err_size,
                                  "nasoone: bad IPFIX target %s: IPFIX over TCP is not supported; "
                                  "expected udp://HOST:PORT or file:PATH",
                                  url);
        return message_format(err, err_size, "nasoone: bad IPFIX target %s: " TARGET_FORMS, url);
    }
    if (strlen(url) >= sizeof sink->target)
        return message_format(err, err_size, "nasoone: bad IPFIX target %s: longer than %zu bytes",
                              url, sizeof sink->target - 1);
    uint32_t mtu = mtu_given != 0 ? mtu_given
                   : udp          ? IPFIX_MTU_DEFAULT_UDP
                                  : IPFIX_MTU_DEFAULT_FILE;
    uint32_t mtu_max = udp ? IPFIX_MTU_MAX_UDP : IPFIX_MTU_MAX;
    if (mtu < IPFIX_MTU_MIN || mtu > mtu_max)
        return message_format(err, err_size,
                              "nasoone: bad IPFIX option mtu = %u for %s: must be %u to %u bytes",
                              (unsigned)mtu, url, (unsigned)IPFIX_MTU_MIN, (unsigned)mtu_max);

    struct ipfix_exporter *exporter = calloc(1, sizeof *exporter);
    if (exporter == NULL)
        return message_format(err, err_size, "nasoone: IPFIX export to %s: %s", url,
                              strerror(ENOMEM));
    exporter->fd = -1;
    exporter->open_code = "invalid_argument";
    exporter->mtu = (uint16_t)mtu;
    exporter->message_empty = 1;
    uint32_t resend_s = resend_given != 0 ? resend_given : IPFIX_TEMPLATE_RESEND_DEFAULT_S;
    exporter->rate = record_sink_setting(settings, "rate");
    exporter->template_resend_ms = udp ? (uint64_t)resend_s * 1000 : 0;
    int failed = (udp ? open_udp(exporter, url, err, err_size)
                      : open_file(exporter, url, err, err_size)) != 0;
    if (!failed) {
        exporter->open_code = "out_of_memory";
        exporter->domain = record_sink_setting(settings, "domain");
        failed = open_encoder(exporter, 0, err, err_size, url) != 0;
    }
    if (failed) {
        sink->error_code = exporter->open_code;
        free_exporter(exporter);
        return -1;
    }

    snprintf(sink->kind, sizeof sink->kind, "ipfix");
    snprintf(sink->target, sizeof sink->target, "%s", url);
    sink->ops = &ipfix_ops;
    sink->state = exporter;
    /* templates first, in the first message: it goes out with the first records, or alone
     * within about a second (tick) */
    export_templates(sink, exporter);
    return 0;
}

/* domain: the observation domain id; mtu: the largest message in bytes (0: 1400 over UDP,
 * 65535 in a file); template_resend: seconds between templates over UDP */
const struct record_sink_kind ipfix_export_kind = {
    "ipfix",
    ipfix_export_open,
    {{"domain", 0, UINT32_MAX, 0},
     {"mtu", IPFIX_MTU_MIN, 65535, 0},
     {"template_resend", 1, 86400, IPFIX_TEMPLATE_RESEND_DEFAULT_S},
     {"rate", 0, 100000000, IPFIX_RATE_DEFAULT},
     {NULL, 0, 0, 0}}};
