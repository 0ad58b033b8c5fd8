/*
 * classic_pcap.h - records of a classic pcap file (not pcapng) parsed from memory.
 *
 * libpcap reads a capture file through stdio: two fread() calls per record, each a copy, after
 * the kernel's copy into the stdio buffer. On the benchmark capture that was about a third of
 * the reader thread. For the common case (the file in this host's byte order, version 2.4,
 * microsecond or nanosecond magic) the file source (source_file.c) instead reads it with large
 * read()s straight into the batches, and this parser finds the records there: one copy (the
 * kernel's), and the parsers decode the packets where they landed. Everything else (pcapng, a
 * swapped file, old versions, the patched Kuznetzov format) stays with libpcap.
 *
 * Records come out exactly as libpcap 1.10's sf-pcap.c hands them out (header fields, the
 * timestamp scaled to microseconds, a record longer than the snapshot length cut to it) and a
 * bad or truncated record gives libpcap's own error text: tests/test_classic_pcap.c compares
 * the two on every capture the project has and on cut and corrupted copies of them.
 */
#ifndef NASOONE_CLASSIC_PCAP_H
#define NASOONE_CLASSIC_PCAP_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of the file header and of a record header. */
#define CLASSIC_PCAP_FILE_HEADER   24u
#define CLASSIC_PCAP_RECORD_HEADER 16u
/* libpcap's MAXIMUM_SNAPLEN: the largest record it takes for the link types nasoone decodes */
#define CLASSIC_PCAP_MAX_CAPLEN 262144u

struct classic_pcap_format {
    int nanosecond;    /* the file's fractions are nanoseconds (scaled down as libpcap does) */
    uint32_t snapshot; /* pcap_snapshot() of the opened file: longer records are cut to it */
};

/* Whether the file header `header` (its first 24 bytes) is one this parser reads as libpcap
 * would; fills `format` then. `snapshot` is libpcap's pcap_snapshot() for the file. */
int classic_pcap_probe(const uint8_t header[CLASSIC_PCAP_FILE_HEADER], uint32_t snapshot,
                       struct classic_pcap_format *format);

enum classic_pcap_step {
    CLASSIC_PCAP_RECORD,    /* a record: *header and *record_size filled */
    CLASSIC_PCAP_NEED_MORE, /* the record at the start of the bytes is not all there yet */
    CLASSIC_PCAP_INVALID,   /* a record libpcap refuses (its message in err) */
};

/* The record at the start of bytes[0 .. available): its pcap header (caplen already cut to the
 * snapshot; its data starts CLASSIC_PCAP_RECORD_HEADER bytes in) and how many bytes the whole
 * record takes in the file. */
enum classic_pcap_step classic_pcap_next(const struct classic_pcap_format *format,
                                         const uint8_t *bytes, size_t available,
                                         struct pcap_pkthdr *header, size_t *record_size, char *err,
                                         size_t err_size);

/* The bytes the record at the start of bytes[0 .. available) takes whole, as far as its first
 * bytes tell: its header's size until the header is there, and a length libpcap refuses counts
 * as the header alone (classic_pcap_next then fails on it). */
size_t classic_pcap_record_need(const uint8_t *bytes, size_t available);

/* libpcap's message for a file that ends `available` bytes into a record (0 < available, and
 * not a whole record): "truncated dump file; tried to read ...". */
void classic_pcap_truncated(const struct classic_pcap_format *format, const uint8_t *bytes,
                            size_t available, char *err, size_t err_size);

#endif
