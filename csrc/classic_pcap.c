/*
 * classic_pcap.c - see classic_pcap.h. Follows libpcap 1.10's sf-pcap.c (pcap_check_header,
 * pcap_next_packet) for the files it accepts.
 */
#include "classic_pcap.h"

#include <string.h>

#include "message.h"

#define MAGIC_MICROSECONDS 0xa1b2c3d4u
#define MAGIC_NANOSECONDS  0xa1b23c4du

static uint32_t load_u32(const uint8_t *bytes)
{
    uint32_t value;
    memcpy(&value, bytes, sizeof value); /* this host's byte order: swapped files go to libpcap */
    return value;
}

int classic_pcap_probe(const uint8_t header[CLASSIC_PCAP_FILE_HEADER], uint32_t snapshot,
                       struct classic_pcap_format *format)
{
    uint32_t magic = load_u32(header);
    uint16_t major, minor;
    memcpy(&major, header + 4, sizeof major);
    memcpy(&minor, header + 6, sizeof minor);
    /* 2.4 only: older minors may have caplen and len the other way round (libpcap guesses) */
    if ((magic != MAGIC_MICROSECONDS && magic != MAGIC_NANOSECONDS) || major != 2 || minor != 4)
        return 0;
    if (snapshot == 0 || snapshot > CLASSIC_PCAP_MAX_CAPLEN)
        return 0;
    format->nanosecond = magic == MAGIC_NANOSECONDS;
    format->snapshot = snapshot;
    return 1;
}

enum classic_pcap_step classic_pcap_next(const struct classic_pcap_format *format,
                                         const uint8_t *bytes, size_t available,
                                         struct pcap_pkthdr *header, size_t *record_size, char *err,
                                         size_t err_size)
{
    if (available < CLASSIC_PCAP_RECORD_HEADER)
        return CLASSIC_PCAP_NEED_MORE;
    uint32_t caplen = load_u32(bytes + 8);
    if (caplen > CLASSIC_PCAP_MAX_CAPLEN) {
        /* libpcap's snapshot is never above the maximum, so it names the snapshot */
        message_format(err, err_size, "invalid packet capture length %u, bigger than snaplen of %u",
                       caplen, format->snapshot);
        return CLASSIC_PCAP_INVALID;
    }
    if (available - CLASSIC_PCAP_RECORD_HEADER < caplen)
        return CLASSIC_PCAP_NEED_MORE;
    /* both fields are signed 32-bit in the file and sign-extended into the timeval */
    header->ts.tv_sec = (int32_t)load_u32(bytes);
    header->ts.tv_usec = (int32_t)load_u32(bytes + 4);
    if (format->nanosecond)
        header->ts.tv_usec /= 1000;
    header->len = load_u32(bytes + 12);
    /* a record longer than the snapshot is read whole and handed out cut to it */
    header->caplen = caplen > format->snapshot ? format->snapshot : caplen;
    *record_size = CLASSIC_PCAP_RECORD_HEADER + (size_t)caplen;
    return CLASSIC_PCAP_RECORD;
}

size_t classic_pcap_record_need(const uint8_t *bytes, size_t available)
{
    if (available < CLASSIC_PCAP_RECORD_HEADER)
        return CLASSIC_PCAP_RECORD_HEADER;
    uint32_t caplen = load_u32(bytes + 8);
    if (caplen > CLASSIC_PCAP_MAX_CAPLEN)
        return CLASSIC_PCAP_RECORD_HEADER;
    return CLASSIC_PCAP_RECORD_HEADER + (size_t)caplen;
}

void classic_pcap_truncated(const struct classic_pcap_format *format, const uint8_t *bytes,
                            size_t available, char *err, size_t err_size)
{
    if (available < CLASSIC_PCAP_RECORD_HEADER) {
        message_format(err, err_size,
                       "truncated dump file; tried to read %u header bytes, only got %zu",
                       CLASSIC_PCAP_RECORD_HEADER, available);
        return;
    }
    uint32_t caplen = load_u32(bytes + 8);
    size_t data = available - CLASSIC_PCAP_RECORD_HEADER;
    /* past the snapshot, libpcap first reads the snapshot's bytes, then discards the rest */
    if (caplen > format->snapshot && data < format->snapshot)
        message_format(err, err_size,
                       "truncated dump file; tried to read %u captured bytes, only got %zu",
                       format->snapshot, data);
    else
        message_format(err, err_size,
                       "truncated dump file; tried to read %u captured bytes, only got %zu", caplen,
                       data);
}
