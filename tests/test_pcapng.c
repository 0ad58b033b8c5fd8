/*
 * test_pcapng.c - pcapng.c against libpcap itself.
 *
 * The producer reads pcapng files with pcapng.c instead of libpcap's reader, so every record it
 * makes must be the record libpcap would hand out (time, lengths, bytes) and every file libpcap
 * refuses part-way must stop at the same record with the same words. Each capture given on the
 * command line is read both ways from memory: a pcapng file as it is and cut at its block
 * boundaries and at every length over its last two blocks; a classic pcap file's records
 * written here as pcapng images in both byte orders, with every time resolution and offset,
 * two interfaces, Simple and obsolete Packet Blocks, blocks the reader passes over, a second
 * section, and corrupted. Where libpcap refuses what tshark reads (interfaces of different link
 * types or snapshot lengths, sections of both byte orders, a packet longer than its interface's
 * snapshot length) and for the time of a Simple Packet Block, pcapng.c is checked on its own.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "decode.h"
#include "pcapng.h"

/* the most bytes the reader is given at once (the producer's batch) */
#define HOLD (1u << 20)

#define BLOCK_SHB    0x0A0D0D0Au
#define BLOCK_IDB    1u
#define BLOCK_PB     2u
#define BLOCK_SPB    3u
#define BLOCK_NRB    4u
#define BLOCK_ISB    5u
#define BLOCK_EPB    6u
#define BLOCK_DSB    0x0000000Au
#define BLOCK_CUSTOM 0x00000BADu

struct record {
    struct pcap_pkthdr header;
    const uint8_t *data;
    uint8_t *owned; /* libpcap's records: a copy (its buffer is reused), freed with the reading */
    uint32_t interface; /* pcapng.c's: the packet's interface, */
    int dlt;            /* its link type */
    int section;        /* its section (1 for the first), */
    uint32_t block;     /* and its block's type */
};

/* What one reader made of a file: its records, and how it ended: "" at the end of the file, or
 * the error text. pcapng.c's reading keeps its copy of the bytes (its records point into it)
 * and its format (the interfaces it read). */
struct reading {
    struct record *records;
    size_t count, capacity;
    char end[PCAP_ERRBUF_SIZE];
    uint8_t *buffer;
    struct pcapng_format format;
    int dlt;           /* libpcap's: pcap_datalink */
    uint32_t snapshot; /* libpcap's: pcap_snapshot */
};

static void reading_add(struct reading *reading, const struct pcap_pkthdr *header,
                        const uint8_t *data, int copy, uint32_t interface)
{
    if (reading->count == reading->capacity) {
        reading->capacity = reading->capacity ? reading->capacity * 2 : 256;
        reading->records = realloc(reading->records, reading->capacity * sizeof *reading->records);
        if (reading->records == NULL)
            abort();
    }
    struct record *record = &reading->records[reading->count++];
    record->header = *header;
    record->data = data;
    record->owned = NULL;
    record->interface = interface;
    record->dlt = 0;
    record->section = 0;
    record->block = 0;
    if (copy) {
        record->owned = malloc(header->caplen ? header->caplen : 1);
        if (record->owned == NULL)
            abort();
        memcpy(record->owned, data, header->caplen);
        record->data = record->owned;
    }
}

static void reading_free(struct reading *reading)
{
    for (size_t i = 0; i < reading->count; i++)
        free(reading->records[i].owned);
    free(reading->records);
    free(reading->buffer);
    pcapng_clear(&reading->format);
    memset(reading, 0, sizeof *reading);
}

/* libpcap's reading of bytes[0 .. size), or -1 when it refuses the file's first blocks. */
static int read_with_libpcap(const uint8_t *bytes, size_t size, struct reading *reading)
{
    memset(reading, 0, sizeof *reading);
    pcapng_init(&reading->format);
    if (size == 0)
        return -1;
    /* fmemopen takes a non-const buffer; "rb" never writes to it */
    FILE *file = fmemopen((void *)(uintptr_t)bytes, size, "rb");
    if (file == NULL)
        abort();
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pcap = pcap_fopen_offline(file, err);
    if (pcap == NULL) {
        fclose(file);
        return -1;
    }
    reading->dlt = pcap_datalink(pcap);
    reading->snapshot = (uint32_t)pcap_snapshot(pcap);
    struct pcap_pkthdr *header;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pcap, &header, &data)) == 1)
        reading_add(reading, header, data, 1, 0);
    if (rc == PCAP_ERROR)
        snprintf(reading->end, sizeof reading->end, "%s", pcap_geterr(pcap));
    pcap_close(pcap);
    return 0;
}

/* pcapng.c's reading of the same bytes, as the producer walks them (here all at once: the
 * producer's batch boundaries only decide where a block waits for more bytes). */
static void read_with_pcapng(const uint8_t *bytes, size_t size, struct reading *reading)
{
    memset(reading, 0, sizeof *reading);
    /* a private, writable copy: NFLOG headers are turned in place */
    reading->buffer = malloc(size ? size : 1);
    if (reading->buffer == NULL)
        abort();
    memcpy(reading->buffer, bytes, size);
    uint8_t *buffer = reading->buffer;
    pcapng_init(&reading->format);
    size_t at = 0;
    for (;;) {
        struct pcapng_packet packet;
        size_t block_size = 0;
        size_t need = pcapng_block_need(&reading->format, buffer + at, size - at, HOLD);
        enum pcapng_step step = pcapng_next(&reading->format, buffer + at, size - at, HOLD, &packet,
                                            &block_size, reading->end, sizeof reading->end);
        switch (step) {
        case PCAPNG_PACKET:
            CHECK((size_t)packet.data + packet.header.caplen <= block_size);
            CHECK(packet.interface < reading->format.count);
            reading_add(reading, &packet.header, buffer + at + packet.data, 0, packet.interface);
            reading->records[reading->count - 1].dlt =
                reading->format.interfaces[packet.interface].dlt;
            reading->records[reading->count - 1].section = reading->format.sections;
            uint32_t type;
            memcpy(&type, buffer + at, sizeof type);
            reading->records[reading->count - 1].block =
                reading->format.swapped ? __builtin_bswap32(type) : type;
            /* fall through */
        case PCAPNG_INTERFACE:
        case PCAPNG_OTHER:
            /* what pcapng_block_need said this block takes, and it was all there */
            CHECK_EQ(need, block_size);
            CHECK(block_size <= size - at);
            at += block_size;
            break;
        case PCAPNG_PASS_OVER:
            CHECK_EQ(need, 8); /* its header is enough */
            CHECK(block_size > HOLD);
            if (block_size > size - at) { /* the file ends inside it */
                pcapng_truncated(&reading->format, buffer + at, size - at, reading->end,
                                 sizeof reading->end);
                return;
            }
            at += block_size;
            break;
        case PCAPNG_NEED_MORE:
            /* the producer waits for more bytes: it must ask for more than it has */
            CHECK(need > size - at);
            if (at < size)
                pcapng_truncated(&reading->format, buffer + at, size - at, reading->end,
                                 sizeof reading->end);
            return;
        case PCAPNG_INVALID:
            CHECK(reading->end[0] != '\0');
            return;
        }
    }
}

static unsigned long compared_files, compared_records, designed_files;

/* libpcap's refusals of what tshark and pcapng.c read (see pcapng.h) */
static int designed_difference(const char *end)
{
    static const char *const messages[] = {
        "different from the type of the first interface",
        "different from the snapshot length of the first interface",
        "sections with different byte orders",
        "bigger than snaplen of",
    };
    for (size_t i = 0; i < sizeof messages / sizeof *messages; i++)
        if (strstr(end, messages[i]) != NULL)
            return 1;
    return 0;
}

/* The first n records of both readings agree. */
static void compare_records(const char *what, const struct reading *actual,
                            const struct reading *expected, size_t n, int times)
{
    for (size_t i = 0; i < n && i < actual->count && i < expected->count; i++) {
        const struct pcap_pkthdr *a = &actual->records[i].header;
        const struct pcap_pkthdr *e = &expected->records[i].header;
        check_set_context("%s, record %zu", what, i);
        if (times && actual->records[i].block == BLOCK_SPB) {
            /* no time: 0, where libpcap adds if_tsoffset to 0 */
            CHECK_EQ((long long)a->ts.tv_sec, 0);
            CHECK_EQ((long long)a->ts.tv_usec, (long long)e->ts.tv_usec);
        } else if (times) {
            CHECK_EQ((long long)a->ts.tv_sec, (long long)e->ts.tv_sec);
            CHECK_EQ((long long)a->ts.tv_usec, (long long)e->ts.tv_usec);
        }
        CHECK_EQ(a->caplen, e->caplen);
        CHECK_EQ(a->len, e->len);
        if (a->caplen == e->caplen)
            CHECK_MEM(actual->records[i].data, expected->records[i].data, a->caplen);
        compared_records++;
    }
    check_set_context("%s", what);
}

/* Both readings of bytes[0 .. size) agree record for record and in how they end; with
 * must_fail, libpcap must refuse the bytes part-way (a corrupted image). */
static void compare(const char *what, const uint8_t *bytes, size_t size, int must_fail)
{
    struct reading expected, actual;
    check_set_context("%s", what);
    if (read_with_libpcap(bytes, size, &expected) != 0) {
        /* no first blocks libpcap takes: the engine never gets this far */
        if (must_fail)
            CHECK(!"libpcap opens the corrupted image");
        reading_free(&expected);
        return;
    }
    read_with_pcapng(bytes, size, &actual);
    compared_files++;
    check_set_context("%s", what);
    if (must_fail)
        CHECK(expected.end[0] != '\0');
    if (designed_difference(expected.end)) {
        /* libpcap stops where pcapng.c goes on: the records it gave are ours */
        designed_files++;
        CHECK(actual.count >= expected.count);
        compare_records(what, &actual, &expected, expected.count, 1);
    } else {
        CHECK_EQ(actual.count, expected.count);
        compare_records(what, &actual, &expected, expected.count, 1);
        CHECK_STR(actual.end, expected.end);
    }
    reading_free(&expected);
    reading_free(&actual);
}

static uint32_t load_u32(const uint8_t *at, int big)
{
    if (big)
        return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
    return (uint32_t)at[3] << 24 | (uint32_t)at[2] << 16 | (uint32_t)at[1] << 8 | at[0];
}

static void store_u16(uint8_t *at, uint16_t value, int big)
{
    at[big ? 0 : 1] = (uint8_t)(value >> 8);
    at[big ? 1 : 0] = (uint8_t)value;
}

static void store_u32(uint8_t *at, uint32_t value, int big)
{
    for (int i = 0; i < 4; i++)
        at[big ? 3 - i : i] = (uint8_t)(value >> (8 * i));
}

static void store_u64(uint8_t *at, uint64_t value, int big)
{
    for (int i = 0; i < 8; i++)
        at[big ? 7 - i : i] = (uint8_t)(value >> (8 * i));
}

static int host_big(void)
{
    uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 0;
}

/* Where the blocks of a pcapng file start (walked by their total lengths, each section in its
 * own byte order, said in *orders when asked), up to the first that does not fit. */
static size_t block_offsets(const uint8_t *bytes, size_t size, size_t **offsets, int **orders)
{
    size_t count = 0;
    *offsets = malloc((size / 12 + 1) * sizeof **offsets);
    int *bigs = malloc((size / 12 + 1) * sizeof *bigs);
    if (*offsets == NULL || bigs == NULL)
        abort();
    int big = 0;
    for (size_t at = 0; size - at >= 12;) {
        if (load_u32(bytes + at, 0) == PCAPNG_SECTION_HEADER) {
            if (load_u32(bytes + at + 8, 0) == 0x1A2B3C4Du)
                big = 0;
            else if (load_u32(bytes + at + 8, 1) == 0x1A2B3C4Du)
                big = 1;
            else
                break;
        }
        uint32_t length = load_u32(bytes + at + 4, big);
        if (length < 12 || length % 4 != 0)
            break;
        bigs[count] = big;
        (*offsets)[count++] = at;
        if (length > size - at)
            break;
        at += length;
    }
    if (orders != NULL)
        *orders = bigs;
    else
        free(bigs);
    return count;
}

/* The bytes as they are, cut at every length over their last two blocks, and at every
 * block's start, 7 and 9 bytes into it (and half way into a long one). */
static void compare_cuts(const char *name, const uint8_t *bytes, size_t size)
{
    char what[512];
    snprintf(what, sizeof what, "%s", name);
    compare(what, bytes, size, 0);
    size_t *offsets;
    size_t blocks = block_offsets(bytes, size, &offsets, NULL);
    size_t from = blocks >= 2 ? offsets[blocks - 2] : 0;
    for (size_t cut = from; cut < size; cut++) {
        snprintf(what, sizeof what, "%s, cut at %zu", name, cut);
        compare(what, bytes, cut, 0);
    }
    for (size_t b = 0; b < blocks; b++) {
        size_t next = b + 1 < blocks ? offsets[b + 1] : size;
        size_t cuts[] = {offsets[b], offsets[b] + 7, offsets[b] + 9,
                         offsets[b] + (next - offsets[b]) / 2};
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            if (cuts[c] >= from || (c == 3 && next - offsets[b] < 4096))
                continue;
            snprintf(what, sizeof what, "%s, cut at %zu", name, cuts[c]);
            compare(what, bytes, cuts[c], 0);
        }
    }
    free(offsets);
}

/* ---- a small pcapng writer ---- */

struct block {
    size_t at;
    uint32_t type;
};

struct image {
    uint8_t *bytes;
    size_t size, capacity;
    int big;     /* the section being written is big-endian */
    size_t open; /* where the block being written starts */
    struct block *blocks;
    size_t block_count, block_capacity;
};

static void image_put(struct image *image, const void *data, size_t length)
{
    if (image->size + length > image->capacity) {
        while (image->size + length > image->capacity)
            image->capacity = image->capacity ? image->capacity * 2 : 4096;
        image->bytes = realloc(image->bytes, image->capacity);
        if (image->bytes == NULL)
            abort();
    }
    if (length != 0)
        memcpy(image->bytes + image->size, data, length);
    image->size += length;
}

static void image_u16(struct image *image, uint16_t value)
{
    uint8_t bytes[2];
    store_u16(bytes, value, image->big);
    image_put(image, bytes, 2);
}

static void image_u32(struct image *image, uint32_t value)
{
    uint8_t bytes[4];
    store_u32(bytes, value, image->big);
    image_put(image, bytes, 4);
}

static void image_u64(struct image *image, uint64_t value)
{
    uint8_t bytes[8];
    store_u64(bytes, value, image->big);
    image_put(image, bytes, 8);
}

static void image_pad(struct image *image)
{
    static const uint8_t zeros[4];
    image_put(image, zeros, (4 - image->size % 4) % 4);
}

static void image_free(struct image *image)
{
    free(image->bytes);
    free(image->blocks);
    memset(image, 0, sizeof *image);
}

static void block_begin(struct image *image, uint32_t type)
{
    if (image->block_count == image->block_capacity) {
        image->block_capacity = image->block_capacity ? image->block_capacity * 2 : 64;
        image->blocks = realloc(image->blocks, image->block_capacity * sizeof *image->blocks);
        if (image->blocks == NULL)
            abort();
    }
    image->blocks[image->block_count++] = (struct block){image->size, type};
    image->open = image->size;
    image_u32(image, type);
    image_u32(image, 0); /* its length, when it is written */
}

/* Pads the block to 4 bytes, writes its trailer and its length in its header. */
static void block_end(struct image *image)
{
    image_pad(image);
    uint32_t length = (uint32_t)(image->size - image->open + 4);
    image_u32(image, length);
    store_u32(image->bytes + image->open + 4, length, image->big);
}

static void option(struct image *image, uint16_t code, uint16_t length, const void *value)
{
    image_u16(image, code);
    image_u16(image, length);
    image_put(image, value, length);
    image_pad(image);
}

static void option_string(struct image *image, uint16_t code, const char *text)
{
    option(image, code, (uint16_t)strlen(text), text);
}

static void option_u32(struct image *image, uint16_t code, uint32_t value)
{
    image_u16(image, code);
    image_u16(image, 4);
    image_u32(image, value);
}

static void option_u64(struct image *image, uint16_t code, uint64_t value)
{
    image_u16(image, code);
    image_u16(image, 8);
    image_u64(image, value);
}

static void option_end(struct image *image) { option(image, 0, 0, NULL); }

static void write_section_header(struct image *image, int big, uint16_t major)
{
    image->big = big;
    block_begin(image, BLOCK_SHB);
    image_u32(image, 0x1A2B3C4Du);
    image_u16(image, major);
    image_u16(image, 0);
    image_u64(image, UINT64_MAX); /* section length not given */
    option_string(image, 4, "test_pcapng");
    option_end(image);
    block_end(image);
}

/* An interface's description, and the broken ones libpcap refuses. */
enum idb_fault {
    IDB_GOOD,
    IDB_TSRESOL_LENGTH_2,
    IDB_TSRESOL_TWICE,
    IDB_TSRESOL_10_20,
    IDB_TSRESOL_2_64,
    IDB_TSOFFSET_LENGTH_4,
    IDB_TSOFFSET_TWICE,
    IDB_ENDOFOPT_LENGTH,
    IDB_SHORT,
    IDB_FAULTS
};

static const char *const idb_fault_names[IDB_FAULTS] = {
    "good",
    "if_tsresol of length 2",
    "two if_tsresol",
    "if_tsresol 10^-20",
    "if_tsresol 2^-64",
    "if_tsoffset of length 4",
    "two if_tsoffset",
    "opt_endofopt of length 4",
    "block length 16",
};

struct interface_spec {
    uint16_t linktype;
    uint32_t snaplen;
    int tsresol; /* the option's byte, or -1 for none (microseconds) */
    int has_offset;
    int64_t offset;
};

static void write_interface(struct image *image, const struct interface_spec *spec,
                            enum idb_fault fault)
{
    static const uint8_t zeros[8];
    block_begin(image, BLOCK_IDB);
    image_u16(image, spec->linktype);
    image_u16(image, 0);
    if (fault == IDB_SHORT) {
        block_end(image);
        return;
    }
    image_u32(image, spec->snaplen);
    option_string(image, 2, "eth0"); /* if_name */
    uint8_t resolution = (uint8_t)spec->tsresol;
    switch (fault) {
    case IDB_TSRESOL_LENGTH_2: {
        uint8_t value[2] = {6, 0};
        option(image, 9, 2, value);
        break;
    }
    case IDB_TSRESOL_TWICE:
        option(image, 9, 1, &(uint8_t){6});
        option(image, 9, 1, &(uint8_t){6});
        break;
    case IDB_TSRESOL_10_20:
        option(image, 9, 1, &(uint8_t){20});
        break;
    case IDB_TSRESOL_2_64:
        option(image, 9, 1, &(uint8_t){0xC0});
        break;
    case IDB_TSOFFSET_LENGTH_4:
        option(image, 14, 4, zeros);
        break;
    case IDB_TSOFFSET_TWICE:
        option_u64(image, 14, 0);
        option_u64(image, 14, 0);
        break;
    case IDB_ENDOFOPT_LENGTH:
        option(image, 0, 4, zeros);
        break;
    default:
        if (spec->tsresol >= 0)
            option(image, 9, 1, &resolution);
        if (spec->has_offset)
            option_u64(image, 14, (uint64_t)spec->offset);
        break;
    }
    option_string(image, 1, "an interface"); /* opt_comment, after the time options */
    option_u64(image, 8, 1000000000u);       /* if_speed */
    option_end(image);
    block_end(image);
}

/* Blocks the reader reads and passes over. */
static void write_others(struct image *image, size_t i)
{
    /* Name Resolution Block: an IPv4 record, the end record, options */
    block_begin(image, BLOCK_NRB);
    image_u16(image, 1);
    image_u16(image, 4 + 12);
    uint8_t address[4] = {192, 0, 2, (uint8_t)i};
    image_put(image, address, 4);
    image_put(image, "example.org", 12);
    image_u16(image, 0);
    image_u16(image, 0);
    option_string(image, 1, "names");
    option_end(image);
    block_end(image);
    /* Interface Statistics Block */
    block_begin(image, BLOCK_ISB);
    image_u32(image, 0);
    image_u32(image, 0x5e3);
    image_u32(image, 0x12345678u);
    option_u64(image, 4, 1000 + i); /* isb_ifrecv */
    option_u64(image, 5, 3);        /* isb_ifdrop */
    option_end(image);
    block_end(image);
    /* a custom block: a Private Enterprise Number, then anything */
    block_begin(image, BLOCK_CUSTOM);
    image_u32(image, 32473);
    image_put(image, "custom data, of no interest", 27);
    block_end(image);
    /* Decryption Secrets Block: TLS key log */
    const char *secrets = "CLIENT_RANDOM 00 11\n";
    block_begin(image, BLOCK_DSB);
    image_u32(image, 0x544c534bu);
    image_u32(image, (uint32_t)strlen(secrets));
    image_put(image, secrets, strlen(secrets));
    image_pad(image);
    option_end(image);
    block_end(image);
}

/* A custom block longer than HOLD: passed over unread. */
static void write_huge(struct image *image)
{
    block_begin(image, BLOCK_CUSTOM);
    image_u32(image, 32473);
    size_t length = HOLD + 1000;
    uint8_t *body = calloc(1, length);
    if (body == NULL)
        abort();
    image_put(image, body, length);
    free(body);
    block_end(image);
}

/* libpcap's swap_nflog_header the other way: the TLV headers of a frame in this host's order
 * into the other order, as a host of that order wrote them. */
static void nflog_other_order(uint8_t *data, uint32_t caplen, uint32_t length)
{
    if (caplen < 4 || length < 4 || data[1] != 0)
        return;
    caplen -= 4;
    length -= 4;
    data += 4;
    while (caplen >= 4) {
        uint16_t tlv_length, tlv_type;
        memcpy(&tlv_length, data, 2);
        memcpy(&tlv_type, data + 2, 2);
        uint16_t swapped_length = __builtin_bswap16(tlv_length);
        uint16_t swapped_type = __builtin_bswap16(tlv_type);
        memcpy(data, &swapped_length, 2);
        memcpy(data + 2, &swapped_type, 2);
        uint32_t size = ((uint32_t)tlv_length + 3) / 4 * 4;
        if (size < 4 || caplen < size || length < size)
            return;
        caplen -= size;
        length -= size;
        data += size;
    }
}

/* What libpcap gave for a classic pcap file. */
struct capture {
    struct reading reading;
    uint16_t linktype; /* the LINKTYPE_ of its DLT_ */
    uint32_t snaplen;  /* at least each record's caplen */
};

enum packet_kind { KIND_EPB, KIND_SPB, KIND_PB };

struct layout {
    int big; /* the first section's byte order */
    enum packet_kind kind;
    unsigned interfaces; /* 1 or 2: packets alternate between them */
    struct interface_spec iface[2];
    int others;     /* non-packet blocks between packets */
    int huge;       /* a custom block longer than HOLD a third of the way */
    int sections;   /* 2: a second section half way, with its own interfaces */
    int second_big; /* the second section's byte order */
    uint16_t second_major;
    /* a faulty second interface description after the first packet */
    enum idb_fault fault;
    /* a block too short for its fixed part after the first packet (its type), 0 for none */
    uint32_t short_block;
};

static uint64_t units_of(int tsresol)
{
    if (tsresol < 0)
        return 1000000;
    if (tsresol & 0x80)
        return (uint64_t)1 << (tsresol & 0x7f);
    uint64_t units = 1;
    for (int i = 0; i < tsresol; i++)
        units *= 10;
    return units;
}

/* A record's time in an interface's units, less its offset (modulo 2^64). */
static uint64_t packet_time(const struct pcap_pkthdr *header, const struct interface_spec *spec)
{
    uint64_t units = units_of(spec->tsresol);
    __int128 seconds = (__int128)(int64_t)header->ts.tv_sec - (spec->has_offset ? spec->offset : 0);
    __int128 t = seconds * (__int128)units + (__int128)header->ts.tv_usec * units / 1000000;
    return (uint64_t)(unsigned __int128)t;
}

static void write_sections_start(struct image *image, const struct layout *layout, int big,
                                 uint16_t major)
{
    write_section_header(image, big, major);
    for (unsigned i = 0; i < layout->interfaces; i++)
        write_interface(image, &layout->iface[i], IDB_GOOD);
}

static void write_packet(struct image *image, const struct layout *layout,
                         const struct record *record, size_t index)
{
    unsigned interface = layout->interfaces == 2 ? index % 2 : 0;
    const struct interface_spec *spec = &layout->iface[interface];
    uint32_t caplen = record->header.caplen, length = record->header.len;
    if (layout->kind == KIND_SPB) { /* the bytes of min(length, snapshot) */
        uint32_t snapshot = layout->iface[0].snaplen ? layout->iface[0].snaplen : 262144;
        caplen = length < snapshot ? length : snapshot;
    }
    uint8_t *data = calloc(1, caplen ? caplen : 1);
    if (data == NULL)
        abort();
    memcpy(data, record->data, caplen < record->header.caplen ? caplen : record->header.caplen);
    if (spec->linktype == 239 /* LINKTYPE_NFLOG */ && image->big != host_big())
        nflog_other_order(data, caplen, length);
    uint64_t t = packet_time(&record->header, spec);
    switch (layout->kind) {
    case KIND_SPB:
        block_begin(image, BLOCK_SPB);
        image_u32(image, length);
        image_put(image, data, caplen);
        block_end(image);
        break;
    case KIND_EPB:
    case KIND_PB:
        block_begin(image, layout->kind == KIND_EPB ? BLOCK_EPB : BLOCK_PB);
        if (layout->kind == KIND_EPB) {
            image_u32(image, interface);
        } else {
            image_u16(image, (uint16_t)interface);
            image_u16(image, (uint16_t)index); /* drops count */
        }
        image_u32(image, (uint32_t)(t >> 32));
        image_u32(image, (uint32_t)t);
        image_u32(image, caplen);
        image_u32(image, length);
        image_put(image, data, caplen);
        image_pad(image);
        if (index % 2 == 0) { /* options on every other packet */
            option_string(image, 1, "a packet");
            option_u32(image, 2, 1); /* epb_flags / pack_flags: inbound */
            option_end(image);
        }
        block_end(image);
        break;
    }
    free(data);
}

/* A block of a packet type too short for its fixed part, or a section header with its
 * byte order magic alone. */
static void write_short_block(struct image *image, uint32_t type)
{
    block_begin(image, type);
    if (type == BLOCK_SHB)
        image_u32(image, 0x1A2B3C4Du);
    else if (type != BLOCK_SPB)
        image_put(image, "0123456789ab", 12);
    block_end(image);
}

static void write_image(const struct capture *capture, const struct layout *layout,
                        struct image *image)
{
    memset(image, 0, sizeof *image);
    const struct reading *records = &capture->reading;
    write_sections_start(image, layout, layout->big, 1);
    size_t half = records->count / 2, third = records->count / 3;
    for (size_t i = 0; i < records->count; i++) {
        if (layout->sections == 2 && i == half && i > 0)
            write_sections_start(image, layout, layout->second_big, layout->second_major);
        if (layout->others && i % 3 == 1)
            write_others(image, i);
        if (layout->huge && i == third && i > 0)
            write_huge(image);
        write_packet(image, layout, &records->records[i], i);
        if (i == 0 && layout->fault != IDB_GOOD)
            write_interface(image, &layout->iface[0], layout->fault);
        if (i == 0 && layout->short_block != 0)
            write_short_block(image, layout->short_block);
    }
}

/* LINKTYPE_ of a DLT_ (libpcap's dlt_to_linktype for the values that differ). */
static uint16_t linktype_of(int dlt)
{
    if (dlt == DLT_RAW)
        return 101;
    if (dlt == DLT_ATM_RFC1483)
        return 100;
    if (dlt == DLT_SLIP_BSDOS)
        return 102;
    if (dlt == DLT_PPP_BSDOS)
        return 103;
    return (uint16_t)dlt;
}

static struct layout base_layout(const struct capture *capture)
{
    struct layout layout;
    memset(&layout, 0, sizeof layout);
    layout.kind = KIND_EPB;
    layout.interfaces = 1;
    for (int i = 0; i < 2; i++)
        layout.iface[i] = (struct interface_spec){capture->linktype, capture->snaplen, -1, 0, 0};
    layout.sections = 1;
    layout.second_major = 1;
    return layout;
}

/* The image of a layout compared as it is and cut. */
static void compare_layout(const char *path, const char *name, const struct capture *capture,
                           const struct layout *layout)
{
    struct image image;
    write_image(capture, layout, &image);
    char what[512];
    snprintf(what, sizeof what, "%s written %s (%s)", path, name,
             layout->big ? "big-endian" : "little-endian");
    compare_cuts(what, image.bytes, image.size);
    image_free(&image);
}

/* pcapng.c's records of a layout are the capture's own (data, lengths; times when asked). */
static void check_against_capture(const char *what, const struct reading *actual,
                                  const struct capture *capture, int times)
{
    check_set_context("%s", what);
    CHECK_EQ(actual->count, capture->reading.count);
    CHECK_STR(actual->end, "");
    compare_records(what, actual, &capture->reading, capture->reading.count, times);
}

static void compare_written(const char *path, const struct capture *capture)
{
    char name[256];
    for (int big = 0; big <= 1; big++) {
        struct layout layout = base_layout(capture);
        layout.big = big;
        compare_layout(path, "with EPBs", capture, &layout);

        /* byte order (NFLOG headers too): the records are the capture's */
        struct image image;
        write_image(capture, &layout, &image);
        struct reading actual;
        read_with_pcapng(image.bytes, image.size, &actual);
        snprintf(name, sizeof name, "%s written with EPBs (%s), against the capture", path,
                 big ? "big-endian" : "little-endian");
        check_against_capture(name, &actual, capture, 1);
        reading_free(&actual);
        image_free(&image);

        /* time resolutions */
        static const int resolutions[] = {6,         9,         3,         0,    12,      19,
                                          0x80 | 20, 0x80 | 30, 0x80 | 40, 0x80, 0x80 | 1};
        for (size_t r = 0; r < sizeof resolutions / sizeof *resolutions; r++) {
            layout = base_layout(capture);
            layout.big = big;
            layout.iface[0].tsresol = resolutions[r];
            snprintf(name, sizeof name, "with if_tsresol 0x%02x", resolutions[r]);
            compare_layout(path, name, capture, &layout);
        }

        /* time offsets */
        static const int64_t offsets[] = {0, 1000000, -5};
        for (size_t o = 0; o < sizeof offsets / sizeof *offsets; o++) {
            layout = base_layout(capture);
            layout.big = big;
            layout.iface[0].tsresol = o == 2 ? 9 : -1;
            layout.iface[0].has_offset = 1;
            layout.iface[0].offset = offsets[o];
            snprintf(name, sizeof name, "with if_tsoffset %lld", (long long)offsets[o]);
            compare_layout(path, name, capture, &layout);
        }

        /* two interfaces of the same link type and snapshot length, other times */
        layout = base_layout(capture);
        layout.big = big;
        layout.interfaces = 2;
        layout.iface[1].tsresol = 9;
        layout.iface[1].has_offset = 1;
        layout.iface[1].offset = -5;
        compare_layout(path, "with two interfaces", capture, &layout);

        /* Simple Packet Blocks: the snapshot length, and one below the packets' lengths */
        layout = base_layout(capture);
        layout.big = big;
        layout.kind = KIND_SPB;
        compare_layout(path, "with SPBs", capture, &layout);
        layout.iface[0].snaplen = 64;
        compare_layout(path, "with SPBs, snaplen 64", capture, &layout);
        layout.iface[0].snaplen = 0;
        compare_layout(path, "with SPBs, snaplen 0", capture, &layout);

        /* obsolete Packet Blocks, on one and two interfaces */
        layout = base_layout(capture);
        layout.big = big;
        layout.kind = KIND_PB;
        compare_layout(path, "with PBs", capture, &layout);
        layout.interfaces = 2;
        layout.iface[1].tsresol = 0x80 | 20;
        compare_layout(path, "with PBs on two interfaces", capture, &layout);

        /* blocks passed over between packets */
        layout = base_layout(capture);
        layout.big = big;
        layout.others = 1;
        compare_layout(path, "with other blocks", capture, &layout);
        if (capture->reading.count >= 4) {
            layout.huge = 1;
            compare_layout(path, "with other blocks and one longer than HOLD", capture, &layout);
        }

        /* a second section of the same byte order */
        layout = base_layout(capture);
        layout.big = big;
        layout.sections = 2;
        layout.second_big = big;
        compare_layout(path, "with two sections", capture, &layout);
        layout.interfaces = 2;
        layout.iface[1].tsresol = 3;
        layout.others = 1;
        compare_layout(path, "with two sections of two interfaces", capture, &layout);

        /* snapshot length 0: the link type's maximum */
        layout = base_layout(capture);
        layout.big = big;
        layout.iface[0].snaplen = 0;
        compare_layout(path, "with snaplen 0", capture, &layout);

        /* all at once */
        layout = base_layout(capture);
        layout.big = big;
        layout.interfaces = 2;
        layout.iface[0].tsresol = 0x80 | 30;
        layout.iface[0].has_offset = 1;
        layout.iface[0].offset = 1000000;
        layout.iface[1].tsresol = 9;
        layout.others = 1;
        layout.sections = 2;
        layout.second_big = big;
        compare_layout(path, "with everything", capture, &layout);
    }
}

/* The capture's records written as packets of link types whose headers libpcap turns into this
 * host's order too (Linux USB), in both byte orders. A designed difference: nasoone decodes no
 * USB, so pcapng.c turns NFLOG's headers alone and hands USB frames out as they were written:
 * compared with libpcap in this host's order, with the capture's own bytes in the other. */
static void compare_relabelled(const char *path, const struct capture *capture)
{
    static const uint16_t linktypes[] = {189 /* USB_LINUX */, 220 /* USB_LINUX_MMAPPED */};
    for (int big = 0; big <= 1; big++) {
        for (size_t l = 0; l < sizeof linktypes / sizeof *linktypes; l++) {
            struct layout layout = base_layout(capture);
            layout.big = big;
            layout.iface[0].linktype = linktypes[l];
            struct image image;
            write_image(capture, &layout, &image);
            char what[512];
            snprintf(what, sizeof what, "%s written as LINKTYPE %u (%s)", path, linktypes[l],
                     big ? "big-endian" : "little-endian");
            if (big == host_big()) {
                compare(what, image.bytes, image.size, 0);
            } else {
                struct reading actual;
                read_with_pcapng(image.bytes, image.size, &actual);
                check_against_capture(what, &actual, capture, 1);
                reading_free(&actual);
            }
            image_free(&image);
        }
    }
}

/* A copy of an image with one 32-bit field changed (in the image's first byte order). */
static void compare_patched(const char *path, const char *name, const struct image *image, int big,
                            size_t at, uint32_t value, int width)
{
    uint8_t *bytes = malloc(image->size);
    if (bytes == NULL)
        abort();
    memcpy(bytes, image->bytes, image->size);
    if (width == 2)
        store_u16(bytes + at, (uint16_t)value, big);
    else
        store_u32(bytes + at, value, big);
    char what[512];
    snprintf(what, sizeof what, "%s written %s (%s)", path, name,
             big ? "big-endian" : "little-endian");
    compare(what, bytes, image->size, 1);
    /* and cut inside the faulty block: the fault or the end of the file, as libpcap says */
    for (size_t cut = at + 1; cut <= at + 9 && cut < image->size; cut += 4) {
        snprintf(what, sizeof what, "%s written %s (%s), cut at %zu", path, name,
                 big ? "big-endian" : "little-endian", cut);
        compare(what, bytes, cut, 0);
    }
    free(bytes);
}

static const struct block *find_block(const struct image *image, uint32_t type, size_t nth)
{
    for (size_t b = 0; b < image->block_count; b++)
        if (image->blocks[b].type == type && nth-- == 0)
            return &image->blocks[b];
    return NULL;
}

static uint32_t block_length(const struct image *image, const struct block *block, int big)
{
    return load_u32(image->bytes + block->at + 4, big);
}

static void compare_corruptions(const char *path, const struct capture *capture)
{
    if (capture->reading.count < 3)
        return;
    char name[256];
    for (int big = 0; big <= 1; big++) {
        struct layout layout = base_layout(capture);
        layout.big = big;
        layout.others = 1;
        struct image image;
        write_image(capture, &layout, &image);
        size_t packets = capture->reading.count;
        const struct block *middle = find_block(&image, BLOCK_EPB, packets / 2);
        uint32_t length = block_length(&image, middle, big);
        compare_patched(path, "with block length 8", &image, big, middle->at + 4, 8, 4);
        compare_patched(path, "with block length 14", &image, big, middle->at + 4, 14, 4);
        compare_patched(path, "with block length 0x7ffffffc", &image, big, middle->at + 4,
                        0x7ffffffcu, 4);
        compare_patched(path, "with a trailer length that differs", &image, big,
                        middle->at + length - 4, length + 4, 4);
        const struct block *names = find_block(&image, BLOCK_NRB, 0);
        if (names != NULL) {
            uint32_t names_length = block_length(&image, names, big);
            compare_patched(path, "with an NRB's trailer length that differs", &image, big,
                            names->at + names_length - 4, names_length - 4, 4);
            compare_patched(path, "with an NRB of length 14", &image, big, names->at + 4, 14, 4);
        }
        compare_patched(path, "with an EPB on interface 5", &image, big, middle->at + 8, 5, 4);
        /* the smallest packet: a caplen one byte over what its block holds, not over the
         * snapshot length (libpcap says "bigger than snaplen" first) */
        const struct block *smallest = NULL;
        for (size_t p = 0; p < packets; p++) {
            const struct block *block = find_block(&image, BLOCK_EPB, p);
            if (smallest == NULL ||
                block_length(&image, block, big) < block_length(&image, smallest, big))
                smallest = block;
        }
        uint32_t over = block_length(&image, smallest, big) - 32 + 1;
        snprintf(name, sizeof name, "with an EPB caplen %u over its block", over);
        if (over <= capture->snaplen)
            compare_patched(path, name, &image, big, smallest->at + 20, over, 4);
        image_free(&image);

        /* faulty interface descriptions, after the first packet */
        for (int fault = IDB_GOOD + 1; fault < IDB_FAULTS; fault++) {
            layout = base_layout(capture);
            layout.big = big;
            layout.fault = (enum idb_fault)fault;
            write_image(capture, &layout, &image);
            const struct block *idb = find_block(&image, BLOCK_IDB, 1);
            snprintf(name, sizeof name, "with a second IDB with %s", idb_fault_names[fault]);
            /* patching its reserved field (nothing reads it) leaves it as written */
            compare_patched(path, name, &image, big, idb->at + 10, 0, 2);
            image_free(&image);
        }

        /* packet blocks and a section header too short for their fixed parts */
        static const uint32_t shorts[] = {BLOCK_EPB, BLOCK_SPB, BLOCK_PB, BLOCK_SHB};
        for (size_t s = 0; s < sizeof shorts / sizeof *shorts; s++) {
            layout = base_layout(capture);
            layout.big = big;
            layout.short_block = shorts[s];
            write_image(capture, &layout, &image);
            const struct block *block = find_block(&image, shorts[s], shorts[s] == BLOCK_SHB);
            snprintf(name, sizeof name, "with a short block of type %u", shorts[s]);
            /* patching its length with its own length leaves it as written */
            compare_patched(path, name, &image, big, block->at + 4,
                            block_length(&image, block, big), 4);
            image_free(&image);
        }

        /* a second section header libpcap refuses: major version 2, a bad magic */
        layout = base_layout(capture);
        layout.big = big;
        layout.sections = 2;
        layout.second_big = big;
        write_image(capture, &layout, &image);
        const struct block *second = find_block(&image, BLOCK_SHB, 1);
        compare_patched(path, "with a second section of major version 2", &image, big,
                        second->at + 12, 2, 2);
        compare_patched(path, "with a second section with a bad byte order magic", &image, big,
                        second->at + 8, 0x1A2B3C4Eu, 4);
        /* and with a length libpcap refuses first, or one longer than the file */
        store_u32(image.bytes + second->at + 8, 0x1A2B3C4Eu, big);
        compare_patched(path, "with a second section with a bad byte order magic and length 14",
                        &image, big, second->at + 4, 14, 4);
        compare_patched(path,
                        "with a second section with a bad byte order magic and length 0x100000",
                        &image, big, second->at + 4, 0x100000, 4);
        compare_patched(path, "with a second section with a bad byte order magic and length 4",
                        &image, big, second->at + 4, 4, 4);
        uint32_t second_length = block_length(&image, second, big);
        compare_patched(path,
                        "with a second section with a bad byte order magic and a trailer length "
                        "that differs",
                        &image, big, second->at + second_length - 4, second_length + 4, 4);
        image_free(&image);
    }
}

/* libpcap's and pcapng.c's readings of one layout, for the checks of designed differences. */
static void read_layout(const struct capture *capture, const struct layout *layout,
                        struct reading *expected, struct reading *actual)
{
    struct image image;
    write_image(capture, layout, &image);
    if (expected != NULL && read_with_libpcap(image.bytes, image.size, expected) != 0)
        CHECK(!"libpcap opens the image");
    if (actual != NULL)
        read_with_pcapng(image.bytes, image.size, actual);
    image_free(&image);
}

/* Where libpcap refuses what tshark reads, pcapng.c reads it (see pcapng.h). */
static void check_designed(const char *path, const struct capture *capture)
{
    char what[512];
    struct reading expected, actual, reference;
    size_t count = capture->reading.count;
    uint32_t largest = 0;
    for (size_t i = 0; i < count; i++)
        if (capture->reading.records[i].header.caplen > largest)
            largest = capture->reading.records[i].header.caplen;

    /* (i) packets longer than their interface's snapshot length: handed out whole */
    if (largest > 64) {
        struct layout layout = base_layout(capture);
        layout.iface[0].snaplen = 64;
        read_layout(capture, &layout, &expected, &actual);
        snprintf(what, sizeof what, "%s written with snaplen 64 under its packets", path);
        check_set_context("%s", what);
        CHECK(strstr(expected.end, "bigger than snaplen of 64") != NULL);
        CHECK_EQ(actual.format.interfaces[0].snapshot, 64);
        check_against_capture(what, &actual, capture, 1);
        reading_free(&expected);
        reading_free(&actual);
    }

    /* (ii) two interfaces of different link types; (iii) of different snapshot lengths: each
     * packet says its own, and the records are those of two interfaces of the same */
    for (int kind = 0; kind < 2; kind++) {
        struct layout layout = base_layout(capture);
        layout.interfaces = 2;
        layout.iface[1].tsresol = 9;
        read_layout(capture, &layout, &reference, NULL);
        int other_dlt = capture->reading.dlt == DLT_EN10MB ? DLT_RAW : DLT_EN10MB;
        if (kind == 0)
            layout.iface[1].linktype = linktype_of(other_dlt);
        else
            layout.iface[1].snaplen = capture->snaplen + 1000;
        read_layout(capture, &layout, &expected, &actual);
        snprintf(what, sizeof what, "%s written on two interfaces of different %s", path,
                 kind == 0 ? "link types" : "snapshot lengths");
        check_set_context("%s", what);
        /* (of a DLT_RAW capture libpcap refuses even the same link type: it compares the
         * first interface's DLT_ with the next one's LINKTYPE_) */
        if (count >= 2)
            CHECK(designed_difference(expected.end));
        CHECK_EQ(actual.count, count);
        CHECK_STR(actual.end, "");
        if (CHECK_EQ(actual.format.count, 2)) {
            const struct pcapng_interface *ifaces = actual.format.interfaces;
            CHECK_EQ(ifaces[0].dlt, capture->reading.dlt);
            CHECK_EQ(ifaces[0].link, decode_link_from_dlt(capture->reading.dlt));
            CHECK_EQ(ifaces[0].snapshot, capture->snaplen);
            CHECK_EQ(ifaces[1].dlt, kind == 0 ? other_dlt : capture->reading.dlt);
            CHECK_EQ(ifaces[1].link,
                     decode_link_from_dlt(kind == 0 ? other_dlt : capture->reading.dlt));
            CHECK_EQ(ifaces[1].snapshot, kind == 0 ? capture->snaplen : capture->snaplen + 1000);
            CHECK_EQ(ifaces[0].units, 1000000);
            CHECK_EQ(ifaces[1].units, 1000000000);
        }
        for (size_t i = 0; i < actual.count; i++)
            CHECK_EQ(actual.records[i].interface, i % 2);
        /* libpcap reads the same-interfaces file whole, unless it refuses that too */
        if (reference.end[0] == '\0')
            CHECK_EQ(reference.count, count);
        compare_records(what, &actual, &reference, reference.count, 1);
        reading_free(&reference);
        reading_free(&expected);
        reading_free(&actual);
    }

    /* (iv) a second section in the other byte order: read as if it were of the same */
    if (count >= 2) {
        for (int big = 0; big <= 1; big++) {
            struct layout layout = base_layout(capture);
            layout.big = big;
            layout.sections = 2;
            layout.second_big = big;
            layout.others = 1;
            read_layout(capture, &layout, &reference, NULL);
            layout.second_big = !big;
            read_layout(capture, &layout, &expected, &actual);
            snprintf(what, sizeof what, "%s written in sections %s then %s", path,
                     big ? "big-endian" : "little-endian", big ? "little-endian" : "big-endian");
            check_set_context("%s", what);
            /* libpcap reads the header of the second section's block in the first one's
             * order: its length, swapped, is more than its maximum block ("pcapng block size
             * 805306368 > maximum 16777216"), before the byte order magic it would refuse */
            CHECK_EQ(expected.count, count / 2);
            CHECK(strstr(expected.end, "pcapng block size ") != NULL);
            CHECK_EQ(actual.format.sections, 2);
            CHECK_EQ(actual.format.swapped, host_big() == big);
            check_against_capture(what, &actual, capture, 1);
            if (CHECK_STR(reference.end, ""))
                CHECK_EQ(reference.count, count);
            compare_records(what, &actual, &reference, reference.count, 1);
            reading_free(&reference);
            reading_free(&expected);
            reading_free(&actual);
        }
    }

    /* (v) a Simple Packet Block has no time: 0, where libpcap adds if_tsoffset to 0 */
    {
        struct layout layout = base_layout(capture);
        layout.kind = KIND_SPB;
        layout.iface[0].has_offset = 1;
        layout.iface[0].offset = 1000000;
        read_layout(capture, &layout, &expected, &actual);
        snprintf(what, sizeof what, "%s written with SPBs and if_tsoffset 1000000", path);
        check_set_context("%s", what);
        CHECK_EQ(actual.count, expected.count);
        CHECK_STR(actual.end, expected.end);
        compare_records(what, &actual, &expected, expected.count, 0);
        for (size_t i = 0; i < actual.count && i < expected.count; i++) {
            check_set_context("%s, record %zu", what, i);
            CHECK_EQ((long long)actual.records[i].header.ts.tv_sec, 0);
            CHECK_EQ((long long)actual.records[i].header.ts.tv_usec, 0);
            CHECK_EQ((long long)expected.records[i].header.ts.tv_sec, 1000000);
            CHECK_EQ((long long)expected.records[i].header.ts.tv_usec, 0);
        }
        reading_free(&expected);
        reading_free(&actual);
    }
}

/* A file libpcap refuses part-way for a designed difference (interfaces of different link types
 * or snapshot lengths, sections of both byte orders): pcapng.c's records of each section are
 * libpcap's of that section alone with every interface made of one link type and one snapshot
 * length (each link type of the section in turn: the bytes of an NFLOG frame of the other byte
 * order are compared when the interfaces are made NFLOG). */
static void compare_normalized(const char *path, const uint8_t *bytes, size_t size)
{
    struct reading expected, actual;
    if (read_with_libpcap(bytes, size, &expected) != 0 || !designed_difference(expected.end)) {
        reading_free(&expected);
        return;
    }
    reading_free(&expected);
    read_with_pcapng(bytes, size, &actual);
    size_t *offsets;
    int *orders;
    size_t blocks = block_offsets(bytes, size, &offsets, &orders);
    uint8_t *normal = malloc(size);
    if (normal == NULL)
        abort();
    char what[512];
    int section = 0;
    for (size_t b = 0; b < blocks; b++) {
        if (load_u32(bytes + offsets[b], 0) != BLOCK_SHB)
            continue;
        section++;
        size_t end = b + 1;
        while (end < blocks && load_u32(bytes + offsets[end], 0) != BLOCK_SHB)
            end++;
        size_t start = offsets[b], stop = end < blocks ? offsets[end] : size;
        int big = orders[b];
        /* the section's records, by pcapng.c, and their largest caplen */
        size_t first = 0, count = 0;
        uint32_t largest = 0;
        for (size_t r = 0; r < actual.count; r++) {
            if (actual.records[r].section != section)
                continue;
            if (count++ == 0)
                first = r;
            if (actual.records[r].header.caplen > largest)
                largest = actual.records[r].header.caplen;
        }
        /* its interfaces' link types, and the first one's snapshot length */
        uint16_t linktypes[64];
        size_t kinds = 0;
        uint32_t snaplen = UINT32_MAX;
        for (size_t d = b; d < end; d++) {
            const uint8_t *block = bytes + offsets[d];
            if (load_u32(block, big) != BLOCK_IDB || size - offsets[d] < 16)
                continue;
            uint16_t linktype = (uint16_t)(block[big ? 9 : 8] | block[big ? 8 : 9] << 8);
            if (snaplen == UINT32_MAX)
                snaplen = load_u32(block + 12, big);
            size_t k = 0;
            while (k < kinds && linktypes[k] != linktype)
                k++;
            if (k == kinds && kinds < 64)
                linktypes[kinds++] = linktype;
        }
        if (snaplen == 0 || snaplen > INT32_MAX || snaplen < largest)
            snaplen = 0; /* the largest; a Simple Packet Block's caplen may then differ */
        for (size_t k = 0; k < kinds; k++) {
            memcpy(normal, bytes + start, stop - start);
            /* LINKTYPE_RAW as DLT_RAW's own value: libpcap compares the first interface's
             * DLT_ with the next ones' LINKTYPE_ */
            uint16_t linktype = linktypes[k] == 101 ? DLT_RAW : linktypes[k];
            for (size_t d = b; d < end; d++) {
                uint8_t *block = normal + offsets[d] - start;
                if (load_u32(block, big) != BLOCK_IDB || size - offsets[d] < 16)
                    continue;
                store_u16(block + 8, linktype, big);
                store_u32(block + 12, snaplen, big);
            }
            snprintf(what, sizeof what, "%s, section %d, its interfaces made LINKTYPE %u", path,
                     section, linktypes[k]);
            check_set_context("%s", what);
            if (!CHECK(read_with_libpcap(normal, stop - start, &expected) == 0)) {
                reading_free(&expected);
                continue;
            }
            compared_files++;
            /* the end of the file is the end of the section, unless the section's end is */
            if (end == blocks)
                CHECK_STR(actual.end, expected.end);
            else
                CHECK_STR(expected.end, "");
            CHECK_EQ(count, expected.count);
            for (size_t i = 0; i < count && i < expected.count; i++) {
                const struct record *a = &actual.records[first + i];
                const struct record *e = &expected.records[i];
                check_set_context("%s, record %zu", what, first + i);
                CHECK_EQ(a->section, section);
                if (a->block == BLOCK_SPB) /* no time: 0 (libpcap: if_tsoffset) */
                    CHECK_EQ((long long)a->header.ts.tv_sec, 0);
                else
                    CHECK_EQ((long long)a->header.ts.tv_sec, (long long)e->header.ts.tv_sec);
                CHECK_EQ((long long)a->header.ts.tv_usec, (long long)e->header.ts.tv_usec);
                CHECK_EQ(a->header.caplen, e->header.caplen);
                CHECK_EQ(a->header.len, e->header.len);
                if (a->dlt == expected.dlt && a->header.caplen == e->header.caplen) {
                    CHECK_MEM(a->data, e->data, a->header.caplen);
                    compared_records++;
                }
            }
            reading_free(&expected);
        }
    }
    free(offsets);
    free(orders);
    free(normal);
    reading_free(&actual);
}

static void compare_file(const char *path)
{
    size_t size;
    uint8_t *bytes = check_load_file(path, &size);
    if (pcapng_is_pcapng(bytes, size)) {
        compare_cuts(path, bytes, size);
        compare_normalized(path, bytes, size);
        free(bytes);
        return;
    }
    /* a classic pcap file: its records, as libpcap reads them, written as pcapng here */
    struct capture capture;
    memset(&capture, 0, sizeof capture);
    check_set_context("%s", path);
    if (!CHECK(read_with_libpcap(bytes, size, &capture.reading) == 0)) {
        free(bytes);
        return;
    }
    capture.linktype = linktype_of(capture.reading.dlt);
    capture.snaplen = capture.reading.snapshot;
    for (size_t i = 0; i < capture.reading.count; i++)
        if (capture.reading.records[i].header.caplen > capture.snaplen)
            capture.snaplen = capture.reading.records[i].header.caplen;
    compare_written(path, &capture);
    compare_corruptions(path, &capture);
    check_designed(path, &capture);
    compare_relabelled(path, &capture);
    reading_free(&capture.reading);
    free(bytes);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_pcapng FILE.pcapng|FILE.pcap...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        compare_file(argv[i]);
    printf("test_pcapng: %lu readings (%lu where libpcap refuses what pcapng.c reads), %lu "
           "records compared with libpcap\n",
           compared_files, designed_files, compared_records);
    CHECK(compared_files > 0);
    return check_finish("test_pcapng");
}
