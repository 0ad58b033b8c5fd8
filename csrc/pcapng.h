/*
 * pcapng.h - blocks of a pcapng file parsed from memory: nasoone's own reader, as classic_pcap.h
 * is for classic pcap files.
 *
 * libpcap's API has one link type and one snapshot length per capture, so its pcapng reader
 * refuses a file whose interfaces differ in either ("an interface has a type 0 different from
 * the type of the first interface"): what Wireshark writes when it captures on several
 * interfaces, what mergecap makes of captures of different link types. This reader keeps every
 * interface of the section: its link type, snapshot length, if_tsresol and if_tsoffset; each
 * packet says its interface, so decoding dispatches per packet. It reads sections in either byte
 * order (several in one file, each with its own interfaces), Enhanced, Simple and obsolete
 * Packet Blocks, and passes over every other block.
 *
 * Records come out as libpcap 1.10's sf-pcapng.c hands them out (the time scaled to
 * microseconds, an NFLOG frame's TLV headers in this host's order; the Linux USB headers that
 * libpcap also turns around are left as written: nasoone decodes no USB), and where libpcap
 * fails this reader fails with libpcap's words: tests/test_pcapng.c compares the two on every
 * pcapng file the project has and on hundreds of thousands of written, cut and corrupted
 * images. One limit of its own: a section header, interface or packet block is read whole into
 * a batch, so one longer than `hold` (1 MiB; libpcap takes 16) is refused; any other block of
 * any length is passed over. Where libpcap refuses a file that
 * tshark reads (interfaces that differ, sections of both byte orders, a packet longer than its
 * interface's snapshot length), this reader follows tshark, the project's oracle; so it does for
 * the time of a Simple Packet Block, which has none: 0, where libpcap adds if_tsoffset to 0.
 */
#ifndef NASOONE_PCAPNG_H
#define NASOONE_PCAPNG_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

#include "decode.h"

/* The first four bytes of a pcapng file (the Section Header Block's type, either order). */
#define PCAPNG_SECTION_HEADER 0x0A0D0D0Au
/* libpcap's largest block (INITIAL_MAX_BLOCKSIZE, more when the file's first interface is of a
 * link type whose frames can be longer): a longer one is refused. */
#define PCAPNG_MAX_BLOCK (16u * 1024u * 1024u)
/* The largest captured length of a frame of a link type nasoone decodes (libpcap's). */
#define PCAPNG_MAX_CAPLEN 262144u

struct pcapng_interface {
    int dlt; /* the DLT_ value of its LINKTYPE_ */
    enum decode_link link;
    uint32_t snapshot; /* as libpcap adjusts it: 0 means the link type's maximum */
    uint64_t units;    /* of its timestamps, per second (if_tsresol) */
    uint64_t offset;   /* seconds added to them (if_tsoffset, signed: added modulo 2^64) */
    unsigned filter;   /* the reader's: which of its compiled filters applies */
};

struct pcapng_format {
    int swapped;                         /* the current section is in the other byte order */
    int sections;                        /* Section Header Blocks read */
    struct pcapng_interface *interfaces; /* of the current section */
    uint32_t count, capacity;
    uint64_t blocks;    /* blocks read whole or passed over: the next is number blocks + 1 */
    uint32_t max_block; /* the longest block taken, as libpcap's */
};

enum pcapng_step {
    PCAPNG_PACKET,    /* a packet: *packet and *block_size filled */
    PCAPNG_INTERFACE, /* an Interface Description Block: interfaces[count - 1] is new */
    PCAPNG_OTHER,     /* any other block, read (a section header, statistics, names, ...) */
    PCAPNG_PASS_OVER, /* a block not needed, longer than `hold`: *block_size bytes to pass over */
    PCAPNG_NEED_MORE, /* the block at the start of the bytes is not all there yet */
    PCAPNG_INVALID,   /* a block libpcap refuses too (its words in err) */
};

struct pcapng_packet {
    struct pcap_pkthdr header; /* time in microseconds; caplen as the block says */
    uint32_t data;             /* where its bytes start, from the block's start */
    uint32_t interface;        /* index in format->interfaces */
};

void pcapng_init(struct pcapng_format *format);
void pcapng_clear(struct pcapng_format *format);

/* The block at the start of bytes[0 .. available): a packet, an interface, or another block
 * read. `hold` is the most bytes the caller can give at once: a block that is not needed and
 * longer than that is passed over unread. An NFLOG frame of a section of the other byte order
 * is turned into this host's order in place (as libpcap does). */
enum pcapng_step pcapng_next(struct pcapng_format *format, uint8_t *bytes, size_t available,
                             size_t hold, struct pcapng_packet *packet, size_t *block_size,
                             char *err, size_t err_size);

/* The bytes the block at the start of bytes[0 .. available) takes whole, as far as its first
 * bytes tell (its header's size until they are there; a length pcapng_next refuses or passes
 * over counts as the header alone). */
size_t pcapng_block_need(const struct pcapng_format *format, const uint8_t *bytes, size_t available,
                         size_t hold);

/* libpcap's message for a file that ends `available` bytes into a block (0 < available, and
 * not a whole block): "truncated pcapng dump file; tried to read ...". */
void pcapng_truncated(const struct pcapng_format *format, const uint8_t *bytes, size_t available,
                      char *err, size_t err_size);

/* Whether the first bytes of a file are a pcapng Section Header Block's (4 at least). */
int pcapng_is_pcapng(const uint8_t *bytes, size_t size);

#endif
