/*
 * pcapng.c - see pcapng.h. Follows libpcap 1.10's sf-pcapng.c (read_block, add_interface,
 * process_idb_options, pcap_ng_next_packet) and the pcapng specification
 * (draft-ietf-opsawg-pcapng) where libpcap stops short of what tshark reads.
 */
#include "pcapng.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"

#define BLOCK_SHB 0x0A0D0D0Au
#define BLOCK_IDB 1u
#define BLOCK_PB  2u /* obsolete Packet Block */
#define BLOCK_SPB 3u
#define BLOCK_EPB 6u

#define BYTE_ORDER_MAGIC 0x1A2B3C4Du
#define BLOCK_HEADER     8u  /* type, total length */
#define BLOCK_TRAILER    4u  /* total length again */
#define BLOCK_MIN        12u /* header and trailer */

#define OPTION_END      0
#define OPTION_TSRESOL  9
#define OPTION_TSOFFSET 14

static uint32_t load_u32(const uint8_t *bytes, int swapped)
{
    uint32_t value;
    memcpy(&value, bytes, sizeof value);
    return swapped ? __builtin_bswap32(value) : value;
}

static uint16_t load_u16(const uint8_t *bytes, int swapped)
{
    uint16_t value;
    memcpy(&value, bytes, sizeof value);
    return swapped ? __builtin_bswap16(value) : value;
}

static uint64_t load_u64(const uint8_t *bytes, int swapped)
{
    uint64_t value;
    memcpy(&value, bytes, sizeof value);
    return swapped ? __builtin_bswap64(value) : value;
}

static void store_u16(uint8_t *bytes, uint16_t value) { memcpy(bytes, &value, sizeof value); }

int pcapng_is_pcapng(const uint8_t *bytes, size_t size)
{
    return size >= 4 && load_u32(bytes, 0) == BLOCK_SHB;
}

void pcapng_init(struct pcapng_format *format)
{
    memset(format, 0, sizeof *format);
    format->max_block = PCAPNG_MAX_BLOCK;
}

void pcapng_clear(struct pcapng_format *format)
{
    free(format->interfaces);
    pcapng_init(format);
}

/* The byte order of the fields of the block at `bytes` (8 bytes at least): a Section Header
 * Block says its own by its magic; any other block, or one whose magic is neither order (then
 * *bad_magic, told once the block is read whole, as libpcap does) or not there yet, is read in
 * the current section's order. */
static int block_order(const struct pcapng_format *format, const uint8_t *bytes, size_t available,
                       int *bad_magic)
{
    *bad_magic = 0;
    if (load_u32(bytes, 0) != BLOCK_SHB || available < BLOCK_HEADER + 4)
        return format->swapped;
    uint32_t magic = load_u32(bytes + BLOCK_HEADER, 0);
    if (magic == BYTE_ORDER_MAGIC)
        return 0;
    if (magic == __builtin_bswap32(BYTE_ORDER_MAGIC))
        return 1;
    *bad_magic = 1;
    return format->swapped;
}

/* Whether a block of this type is read whole (the others may be passed over). */
static int block_needed(uint32_t type)
{
    return type == BLOCK_SHB || type == BLOCK_IDB || type == BLOCK_EPB || type == BLOCK_SPB ||
           type == BLOCK_PB;
}

/* libpcap's checks of a block's length, before it reads the block (and a block pcapng_next
 * needs whole must fit in `hold`). Returns 0, or -1 with the words in err. */
static int length_refused(const struct pcapng_format *format, uint32_t type, uint32_t length,
                          size_t hold, char *err, size_t err_size)
{
    if (length < BLOCK_MIN)
        message_format(err, err_size, "block in pcapng dump file has a length of %u < %u", length,
                       BLOCK_MIN);
    else if (length % 4 != 0)
        message_format(err, err_size,
                       "block in pcapng dump file has a length of %u that is not a multiple of 4",
                       length);
    else if (length > format->max_block || (length > hold && block_needed(type)))
        message_format(err, err_size, "pcapng block size %u > maximum %u", length,
                       length > format->max_block ? format->max_block : (uint32_t)hold);
    else
        return 0;
    return -1;
}

size_t pcapng_block_need(const struct pcapng_format *format, const uint8_t *bytes, size_t available,
                         size_t hold)
{
    if (available < BLOCK_HEADER)
        return BLOCK_HEADER;
    if (load_u32(bytes, 0) == BLOCK_SHB && available < BLOCK_HEADER + 4)
        return BLOCK_HEADER + 4; /* its magic says the order of its length */
    int bad_magic;
    int swapped = block_order(format, bytes, available, &bad_magic);
    uint32_t type = load_u32(bytes, swapped), length = load_u32(bytes + 4, swapped);
    char unused[8];
    if (length_refused(format, type, length, hold, unused, sizeof unused) != 0 ||
        (length > hold && !block_needed(type)))
        return BLOCK_HEADER; /* refused, or passed over: the header is enough */
    return length;
}

void pcapng_truncated(const struct pcapng_format *format, const uint8_t *bytes, size_t available,
                      char *err, size_t err_size)
{
    if (available < BLOCK_HEADER) {
        message_format(err, err_size,
                       "truncated pcapng dump file; tried to read %u bytes, only got %zu",
                       BLOCK_HEADER, available);
        return;
    }
    int bad_magic;
    int swapped = block_order(format, bytes, available, &bad_magic);
    uint32_t type = load_u32(bytes, swapped), length = load_u32(bytes + 4, swapped);
    /* a length libpcap refuses is told before the block is read (a section header cut before
     * its magic, whose order pcapng_next waited to know) */
    if (length_refused(format, type, length, SIZE_MAX, err, err_size) != 0)
        return;
    message_format(err, err_size,
                   "truncated pcapng dump file; tried to read %u bytes, only got %zu",
                   length - BLOCK_HEADER, available - BLOCK_HEADER);
}

/* A block's body: what follows its header, up to its trailer (libpcap's block_cursor). */
struct cursor {
    uint8_t *data;
    size_t remaining;
    uint32_t type;
};

/* The next `size` bytes of the block, or NULL with libpcap's words when it is too short. */
static uint8_t *cursor_take(struct cursor *cursor, size_t size, char *err, size_t err_size)
{
    if (cursor->remaining < size) {
        message_format(err, err_size, "block of type %u in pcapng dump file is too short",
                       cursor->type);
        return NULL;
    }
    uint8_t *data = cursor->data;
    cursor->data += size;
    cursor->remaining -= size;
    return data;
}

/* libpcap's max_snaplen_for_dlt and pcap_adjust_snapshot */
static uint32_t adjusted_snapshot(int dlt, uint32_t snaplen)
{
    if (snaplen != 0 && snaplen <= INT_MAX)
        return snaplen;
    switch (dlt) {
    case DLT_DBUS:
        return 128u * 1024u * 1024u;
    case DLT_EBHSCR:
        return 8u * 1024u * 1024u;
    case DLT_USBPCAP:
        return 1024u * 1024u;
    default:
        return PCAPNG_MAX_CAPLEN;
    }
}

/* libpcap's linktype_to_dlt for the LINKTYPE_ values that differ from their DLT_ value on
 * this system (the ones below 104 that BSDs numbered differently). */
static int linktype_dlt(uint16_t linktype)
{
    switch (linktype) {
    case 100:
        return DLT_ATM_RFC1483;
    case 101:
        return DLT_RAW;
    case 102:
        return DLT_SLIP_BSDOS;
    case 103:
        return DLT_PPP_BSDOS;
    default:
        return linktype;
    }
}

/* The timestamp options of an Interface Description Block (libpcap's process_idb_options). */
static int interface_options(struct cursor *cursor, int swapped, struct pcapng_interface *iface,
                             char *err, size_t err_size)
{
    int saw_tsresol = 0, saw_tsoffset = 0;
    while (cursor->remaining != 0) {
        uint8_t *header = cursor_take(cursor, 4, err, err_size);
        if (header == NULL)
            return -1;
        uint16_t code = load_u16(header, swapped);
        uint16_t length = load_u16(header + 2, swapped);
        uint8_t *value = cursor_take(cursor, ((size_t)length + 3) / 4 * 4, err, err_size);
        if (value == NULL)
            return -1;
        switch (code) {
        case OPTION_END:
            if (length != 0)
                return message_format(err, err_size,
                                      "Interface Description Block has opt_endofopt option with "
                                      "length %u != 0",
                                      length);
            return 0;
        case OPTION_TSRESOL:
            if (length != 1)
                return message_format(err, err_size,
                                      "Interface Description Block has if_tsresol option with "
                                      "length %u != 1",
                                      length);
            if (saw_tsresol)
                return message_format(
                    err, err_size,
                    "Interface Description Block has more than one if_tsresol option");
            saw_tsresol = 1;
            if (value[0] & 0x80) { /* a negative power of 2 */
                unsigned shift = value[0] & 0x7f;
                if (shift > 63)
                    return message_format(err, err_size,
                                          "Interface Description Block if_tsresol option "
                                          "resolution 2^-%u is too high",
                                          shift);
                iface->units = (uint64_t)1 << shift;
            } else { /* a negative power of 10 */
                if (value[0] > 19)
                    return message_format(err, err_size,
                                          "Interface Description Block if_tsresol option "
                                          "resolution 10^-%u is too high",
                                          value[0]);
                iface->units = 1;
                for (unsigned i = 0; i < value[0]; i++)
                    iface->units *= 10;
            }
            break;
        case OPTION_TSOFFSET:
            if (length != 8)
                return message_format(err, err_size,
                                      "Interface Description Block has if_tsoffset option with "
                                      "length %u != 8",
                                      length);
            if (saw_tsoffset)
                return message_format(
                    err, err_size,
                    "Interface Description Block has more than one if_tsoffset option");
            saw_tsoffset = 1;
            iface->offset = load_u64(value, swapped);
            break;
        default:
            break;
        }
    }
    return 0;
}

static enum pcapng_step read_interface(struct pcapng_format *format, struct cursor *cursor,
                                       char *err, size_t err_size)
{
    uint8_t *fixed = cursor_take(cursor, 8, err, err_size); /* link type, reserved, snaplen */
    if (fixed == NULL)
        return PCAPNG_INVALID;
    if (format->count == format->capacity) {
        uint32_t capacity = format->capacity ? format->capacity * 2 : 4;
        struct pcapng_interface *grown =
            capacity > format->capacity
                ? realloc(format->interfaces, (size_t)capacity * sizeof *grown)
                : NULL;
        if (grown == NULL) {
            message_format(err, err_size,
                           "out of memory for per-interface information (%u interfaces)",
                           format->count + 1);
            return PCAPNG_INVALID;
        }
        format->interfaces = grown;
        format->capacity = capacity;
    }
    struct pcapng_interface *iface = &format->interfaces[format->count];
    memset(iface, 0, sizeof *iface);
    iface->dlt = linktype_dlt(load_u16(fixed, format->swapped));
    iface->link = decode_link_from_dlt(iface->dlt);
    iface->snapshot = adjusted_snapshot(iface->dlt, load_u32(fixed + 4, format->swapped));
    iface->units = 1000000; /* microseconds, absolute, unless the options say otherwise */
    if (interface_options(cursor, format->swapped, iface, err, err_size) != 0)
        return PCAPNG_INVALID;
    if (format->sections == 1 && format->count == 0) {
        /* libpcap raises its maximum for the file's first interface: an Enhanced Packet Block
         * of the longest frame of its link type, with 128 KiB of options */
        uint64_t longest = 28u + (uint64_t)adjusted_snapshot(iface->dlt, 0) + 131072u + 4u;
        if (longest > format->max_block)
            format->max_block = (uint32_t)longest;
    }
    format->count++;
    return PCAPNG_INTERFACE;
}

static enum pcapng_step read_section(struct pcapng_format *format, struct cursor *cursor,
                                     int swapped, int bad_magic, char *err, size_t err_size)
{
    /* byte order magic, major and minor version, section length */
    uint8_t *fixed = cursor_take(cursor, 16, err, err_size);
    if (fixed == NULL)
        return PCAPNG_INVALID;
    if (bad_magic) {
        message_format(err, err_size, "the file has a section with a bad byte order magic field");
        return PCAPNG_INVALID;
    }
    uint16_t major = load_u16(fixed + 4, swapped);
    if (major != 1) {
        message_format(err, err_size, "unknown pcapng savefile major version number %u", major);
        return PCAPNG_INVALID;
    }
    /* a section has interfaces of its own, and may be of the other byte order (libpcap
     * refuses that; the specification and tshark do not) */
    format->swapped = swapped;
    format->count = 0;
    format->sections++;
    return PCAPNG_OTHER;
}

/* libpcap's swap_nflog_header: the TLVs' length and type, written in the capturing host's
 * order, into this host's. */
static void nflog_to_host_order(uint8_t *data, uint32_t caplen, uint32_t length)
{
    if (caplen < 4 || length < 4 || data[1] != 0) /* header; version 0 only */
        return;
    caplen -= 4;
    length -= 4;
    data += 4;
    while (caplen >= 4) {
        uint16_t tlv_length = __builtin_bswap16(load_u16(data, 0));
        store_u16(data, tlv_length);
        store_u16(data + 2, __builtin_bswap16(load_u16(data + 2, 0)));
        uint32_t size = ((uint32_t)tlv_length + 3) / 4 * 4;
        if (size < 4 || caplen < size || length < size)
            return;
        caplen -= size;
        length -= size;
        data += size;
    }
}

/* The time of a packet as libpcap gives it: seconds plus the interface's offset (modulo 2^64,
 * the offset is signed), the fraction in microseconds rounded down (exactly: libpcap's
 * multiplication overflows for binary resolutions finer than about 2^-44). */
static void packet_time(const struct pcapng_interface *iface, uint64_t t, struct timeval *ts)
{
    uint64_t seconds = t / iface->units + iface->offset;
    uint64_t fraction = t % iface->units;
    ts->tv_sec = (time_t)seconds;
    ts->tv_usec = (suseconds_t)(uint64_t)(((unsigned __int128)fraction * 1000000u) / iface->units);
}

enum pcapng_step pcapng_next(struct pcapng_format *format, uint8_t *bytes, size_t available,
                             size_t hold, struct pcapng_packet *packet, size_t *block_size,
                             char *err, size_t err_size)
{
    if (available < BLOCK_HEADER)
        return PCAPNG_NEED_MORE;
    if (load_u32(bytes, 0) == BLOCK_SHB && available < BLOCK_HEADER + 4)
        return PCAPNG_NEED_MORE; /* its magic says the order of its length */
    int bad_magic;
    int swapped = block_order(format, bytes, available, &bad_magic);
    uint32_t type = load_u32(bytes, swapped), length = load_u32(bytes + 4, swapped);
    if (length_refused(format, type, length, hold, err, err_size) != 0)
        return PCAPNG_INVALID;
    *block_size = length;
    if (length > hold) { /* not needed, and too long to hold: its trailer goes unchecked */
        format->blocks++;
        return PCAPNG_PASS_OVER;
    }
    if (available < length)
        return PCAPNG_NEED_MORE;
    /* (libpcap's opening reads the first section header without looking at its trailer) */
    if (load_u32(bytes + length - BLOCK_TRAILER, swapped) != length &&
        !(type == BLOCK_SHB && format->sections == 0)) {
        message_format(err, err_size, "block total length in header and trailer don't match");
        return PCAPNG_INVALID;
    }
    struct cursor cursor = {bytes + BLOCK_HEADER, length - BLOCK_MIN, type};
    uint32_t interface = 0, caplen, wire_length;
    uint64_t time = 0;
    switch (type) {
    case BLOCK_SHB: {
        enum pcapng_step step = read_section(format, &cursor, swapped, bad_magic, err, err_size);
        format->blocks += step != PCAPNG_INVALID;
        return step;
    }
    case BLOCK_IDB: {
        enum pcapng_step step = read_interface(format, &cursor, err, err_size);
        format->blocks += step != PCAPNG_INVALID;
        return step;
    }
    case BLOCK_EPB:
    case BLOCK_PB: {
        uint8_t *fixed = cursor_take(&cursor, 20, err, err_size);
        if (fixed == NULL)
            return PCAPNG_INVALID;
        /* interface: 4 bytes, or 2 and a drop count in the obsolete block */
        interface = type == BLOCK_EPB ? load_u32(fixed, swapped) : load_u16(fixed, swapped);
        time = (uint64_t)load_u32(fixed + 4, swapped) << 32 | load_u32(fixed + 8, swapped);
        caplen = load_u32(fixed + 12, swapped);
        wire_length = load_u32(fixed + 16, swapped);
        break;
    }
    case BLOCK_SPB: {
        uint8_t *fixed = cursor_take(&cursor, 4, err, err_size);
        if (fixed == NULL)
            return PCAPNG_INVALID;
        /* the first interface's; no time; the captured length is the snapshot's */
        wire_length = load_u32(fixed, swapped);
        caplen = wire_length;
        if (format->count > 0 && caplen > format->interfaces[0].snapshot)
            caplen = format->interfaces[0].snapshot;
        break;
    }
    default:
        format->blocks++;
        return PCAPNG_OTHER;
    }
    if (interface >= format->count) {
        message_format(err, err_size,
                       "a packet arrived on interface %u, but there's no Interface Description "
                       "Block for that interface",
                       interface);
        return PCAPNG_INVALID;
    }
    const struct pcapng_interface *iface = &format->interfaces[interface];
    /* Longer than the interface's snapshot length: libpcap refuses it, tshark reads it whole
     * (and so does this reader), up to what a frame of the link type can be. */
    if (iface->link != DECODE_LINK_UNSUPPORTED && caplen > PCAPNG_MAX_CAPLEN) {
        message_format(err, err_size, "invalid packet capture length %u, bigger than maximum of %u",
                       caplen, PCAPNG_MAX_CAPLEN);
        return PCAPNG_INVALID;
    }
    uint8_t *data = cursor_take(&cursor, caplen, err, err_size);
    if (data == NULL)
        return PCAPNG_INVALID;
    packet->header.caplen = caplen;
    packet->header.len = wire_length;
    packet_time(iface, time, &packet->header.ts);
    if (type == BLOCK_SPB) /* no time at all: tshark says 0, libpcap the interface's offset */
        packet->header.ts.tv_sec = 0;
    packet->data = (uint32_t)(data - bytes);
    packet->interface = interface;
    if (format->swapped && iface->dlt == DLT_NFLOG)
        nflog_to_host_order(data, caplen, wire_length);
    format->blocks++;
    return PCAPNG_PACKET;
}
