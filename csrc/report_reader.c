/*
 * report_reader.c - a report file read back for `nasoone view` (see report_reader.h).
 *
 * The file is read in 1 MiB chunks and parsed line by line into compact rows (a struct
 * nasoone_row and a few flags): addresses as bytes when they are addresses in their canonical
 * spelling, and the file's own text beside them only when they are not (a report nasoone did
 * not write). The report's order is nasoone_compare_rows' (the engine's): a file nasoone wrote
 * is in it already, which one pass checks. Other orders sort small items (a 64-bit value and
 * the row's place in the report's order), and only the entries that will be shown are put in
 * order: a terminal's screenful is a heap of that many over all rows, not a sort of all rows.
 */
#include "report_reader.h"
#include "nasoone.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE   REPORT_READER_MAX_LINE
#define READ_CHUNK (1024 * 1024)
/* Room for one cell: an endpoint of a line's whole text, brackets and a port. */
#define CELL_SIZE (MAX_LINE + 64)

enum column {
    COLUMN_SOURCE,
    COLUMN_DESTINATION,
    COLUMN_PROTOCOLS,
    COLUMN_FIRST,
    COLUMN_LAST,
    COLUMN_DURATION,
    COLUMN_BYTES,
    COLUMN_PACKETS,
    COLUMN_IP_BYTES,
    COLUMN_RATE,
    COLUMN_KEY,
    COLUMN_ROWS,
    COLUMN_SHARE,
    COLUMN_TCP_FLAGS,
    COLUMN_REVERSE_BYTES, /* a biflow's reverse direction (empty in a one-way report) */
    COLUMN_REVERSE_PACKETS,
    COLUMN_REVERSE_IP_BYTES,
    COLUMN_REVERSE_TCP_FLAGS,
    COLUMN_INTERFACE, /* a capture of several devices': the one the row was seen on */
};

static const char *const column_names[REPORT_READER_COLUMNS] = {
    "source",
    "destination",
    "protocols",
    "first",
    "last",
    "duration",
    "bytes",
    "packets",
    "ip_bytes",
    "rate",
    "key",
    "rows",
    "share",
    "tcp_flags",
    "reverse_bytes",
    "reverse_packets",
    "reverse_ip_bytes",
    "reverse_tcp_flags",
    "interface",
};

/* What entries are ordered by. */
enum sort {
    SORT_REPORT, /* the report's order (groups: their key's) */
    SORT_SOURCE, /* address then port */
    SORT_DESTINATION,
    SORT_SOURCE_IP,
    SORT_DESTINATION_IP,
    SORT_SOURCE_PORT,
    SORT_DESTINATION_PORT,
    SORT_PROTOCOLS,
    SORT_FIRST,
    SORT_LAST,
    SORT_DURATION,
    SORT_BYTES,
    SORT_PACKETS,
    SORT_IP_BYTES,
    SORT_RATE,
    SORT_ROWS,
    SORT_REVERSE_BYTES,
    SORT_REVERSE_PACKETS,
    SORT_REVERSE_IP_BYTES,
    SORT_TOTAL_BYTES, /* both directions' */
    SORT_TOTAL_PACKETS,
    SORT_INTERFACE, /* by name (a row without one first) */
};

static const struct {
    const char *name;
    enum sort sort;
} sort_names[] = {
    {"source", SORT_SOURCE},
    {"destination", SORT_DESTINATION},
    {"source_ip", SORT_SOURCE_IP},
    {"destination_ip", SORT_DESTINATION_IP},
    {"source_port", SORT_SOURCE_PORT},
    {"destination_port", SORT_DESTINATION_PORT},
    {"protocols", SORT_PROTOCOLS},
    {"first", SORT_FIRST},
    {"last", SORT_LAST},
    {"duration", SORT_DURATION},
    {"bytes", SORT_BYTES},
    {"packets", SORT_PACKETS},
    {"ip_bytes", SORT_IP_BYTES},
    {"rate", SORT_RATE},
    {"rows", SORT_ROWS},
    {"reverse_bytes", SORT_REVERSE_BYTES},
    {"reverse_packets", SORT_REVERSE_PACKETS},
    {"reverse_ip_bytes", SORT_REVERSE_IP_BYTES},
    {"total_bytes", SORT_TOTAL_BYTES},
    {"total_packets", SORT_TOTAL_PACKETS},
    {"interface", SORT_INTERFACE},
};

enum group_by {
    BY_NONE,
    BY_SOURCE,
    BY_DESTINATION,
    BY_ADDRESS,
    BY_PORT,
    BY_SOURCE_PORT,
    BY_DESTINATION_PORT,
    BY_PROTOCOLS,
    BY_INTERFACE,
};

static const char *const by_names[] = {NULL,    "src",   "dst",   "ip",       "port",
                                       "sport", "dport", "proto", "interface"};

enum format { FORMAT_EMPTY, FORMAT_CSV, FORMAT_JSONL, FORMAT_CSV_EXTENDED, FORMAT_CSV_BIFLOW };

/* The biflow CSV's columns after the extended CSV's (report.h's REPORT_HEADER_BIFLOW_FIELDS:
 * this file is built against the public header alone). */
#define BIFLOW_HEADER_COLUMNS                                                                      \
    "; reverse first; reverse last; reverse bytes; reverse packets; reverse ip bytes; "            \
    "reverse tcp flags"

enum row_flags {
    ROW_ORDERED = 1,  /* both addresses are addresses of one family, both ports ports: the row
                         has a place in the report's order (row.r.family is set) */
    ROW_IP_BYTES = 2, /* the row has ip_bytes (JSON lines, the extended CSV) */
};

struct row {
    struct nasoone_row r; /* addresses as bytes where they are addresses */
    uint32_t index;       /* its place in the file */
    uint32_t extra;       /* 1 + its index in extras, or 0: addresses in their canonical
                             spelling, one family, ports under 65536 */
    uint32_t interface;   /* 1 + its interface's index in interfaces, or 0: the report has none
                             (nasoone_row.device is a capture's number: a file has only names) */
    uint8_t family[2];    /* source, destination: 4, 6, or 0 (the text is not an address) */
    uint8_t flags;
};

/* What a row nasoone did not write needs beside its bytes: the file's text of its addresses
 * and ports of any size. */
struct extra {
    uint64_t port[2];
    size_t text[2]; /* offsets in reader->text */
    uint32_t length[2];
};

/* The longest interface name a report holds (NASOONE_DEVICE_NAME_MAX: this file is built against
 * the public header alone). */
#define INTERFACE_NAME_MAX 63

/* An interface a report names, once however many rows have it. */
struct interface {
    char name[INTERFACE_NAME_MAX + 1];
    uint8_t length;
    uint8_t wanted;   /* the filter keeps its rows */
    uint8_t selected; /* some row the filters keep has it */
    uint32_t rank;    /* 1 + its place among the report's names in byte order */
    uint64_t hash;
};

struct item {
    uint64_t value; /* the sorted column's value, as bits that order as numbers (desc: negated) */
    uint32_t rank;  /* place in the report's order (groups: key order) */
    uint32_t id;    /* the row or the group */
};

struct group {
    uint64_t rows, bytes, packets, ip_bytes, first, last;
    uint64_t reverse_bytes, reverse_packets, reverse_ip_bytes;
    uint64_t hash;
    uint64_t key; /* a port or a protocols set; for an address, the row whose address it is */
    uint32_t rank;
    uint8_t side;   /* the side of that row (0 source, 1 destination) */
    uint8_t family; /* an address group: its family, 0 when the text is not an address */
    uint8_t address[16];
    uint8_t protocols, has_ip_bytes, biflow;
};

/* A second's local time as text, cached by format_time. */
#define TIME_CACHE 4096
struct time_text {
    time_t seconds;
    uint8_t valid, length;
    char text[30];
};

struct totals {
    uint64_t rows, bytes, packets, ip_bytes, first, last, earliest, latest;
    uint64_t reverse_bytes, reverse_packets, reverse_ip_bytes;
    uint64_t interfaces; /* how many interfaces the rows were seen on */
    uint8_t protocols;
};

struct report_reader {
    int fd;
    char *buffer;  /* READ_CHUNK + MAX_LINE + 1 */
    char *scratch; /* a JSON line's decoded strings; a cell */
    char *cell;
    char *out;
    size_t out_capacity;

    enum format format;
    unsigned csv_columns; /* a CSV's: 9, or the extended one's (11, or more from a later version) */
    int biflow;           /* some row is a biflow (the biflow CSV; JSON lines with reverse_*) */
    /* The report says each row's interface (a capture of several devices): the CSV's column of
     * that name (its index), JSON lines' "interface" field (the first row says whether the
     * rows have it: then all have it, else none). */
    int has_interfaces;
    unsigned interface_column; /* a CSV's; 0: none */
    struct interface *interfaces;
    size_t interface_count, interface_capacity;
    uint32_t *interface_slots; /* their hash table: 1 + an interface's index, 0 free */
    size_t interface_slot_count;
    struct row *rows;
    size_t count, capacity;
    struct extra *extras;
    size_t extra_count, extra_capacity;
    char *text;
    size_t text_length, text_capacity;

    /* the selection */
    struct report_reader_options options;
    enum sort sort;
    enum group_by by;
    int ip_family;
    uint8_t ip[16];
    uint32_t *order; /* rows in the report's order */
    uint32_t *rank;  /* each row's place in it */
    struct group *groups;
    size_t group_count, group_capacity;
    uint32_t *slots; /* the groups' hash table: 1 + a group's index, 0 free */
    size_t slot_count;
    struct item *items;
    size_t item_count;
    uint32_t *shown;
    size_t shown_count;
    uint64_t selected;
    struct totals totals;
    int multiday;
    struct time_text *times; /* TIME_CACHE of them */

    /* why it failed */
    const char *error;
    uint64_t error_line;
    char *error_text;
    size_t error_length;
};

/* ---- the reader ---------------------------------------------------------------------------- */

struct report_reader *report_reader_new(void)
{
    struct report_reader *reader = calloc(1, sizeof *reader);
    if (reader == NULL)
        return NULL;
    reader->fd = -1;
    return reader;
}

void report_reader_free(struct report_reader *reader)
{
    if (reader == NULL)
        return;
    if (reader->fd >= 0)
        close(reader->fd);
    free(reader->buffer);
    free(reader->scratch);
    free(reader->cell);
    free(reader->out);
    free(reader->rows);
    free(reader->extras);
    free(reader->text);
    free(reader->order);
    free(reader->rank);
    free(reader->groups);
    free(reader->slots);
    free(reader->items);
    free(reader->shown);
    free(reader->error_text);
    free(reader->times);
    free(reader->interfaces);
    free(reader->interface_slots);
    free(reader);
}

static int fail(struct report_reader *reader, const char *kind, uint64_t line, const char *text,
                size_t length)
{
    reader->error = kind;
    reader->error_line = line;
    free(reader->error_text);
    reader->error_text = malloc(length + 1);
    if (reader->error_text != NULL) {
        memcpy(reader->error_text, text, length);
        reader->error_text[length] = '\0';
        reader->error_length = length;
    } else {
        reader->error_length = 0;
    }
    return -1;
}

static int fail_errno(struct report_reader *reader, const char *kind, int error)
{
    const char *text = strerror(error);
    return fail(reader, kind, 0, text, strlen(text));
}

static int fail_memory(struct report_reader *reader) { return fail(reader, "memory", 0, "", 0); }

const char *report_reader_error(const struct report_reader *reader, uint64_t *line,
                                const char **text, size_t *length)
{
    *line = reader->error_line;
    *text = reader->error_text != NULL ? reader->error_text : "";
    *length = reader->error_length;
    return reader->error != NULL ? reader->error : "memory";
}

/* `array` (of `size`-byte elements, `*capacity` of them) with room for `needed`: the same
 * array, a larger one (the old one freed), or NULL when out of memory (the old one kept). */
static void *grow(void *array, size_t *capacity, size_t needed, size_t size)
{
    if (needed <= *capacity && array != NULL)
        return array;
    size_t next = *capacity < 1024 ? 1024 : *capacity + *capacity / 2;
    if (next < needed)
        next = needed;
    if (next > SIZE_MAX / size)
        return NULL;
    void *grown = realloc(array, next * size);
    if (grown != NULL)
        *capacity = next;
    return grown;
}

/* GROW(array, capacity, needed): 0, or -1 when out of memory. */
#define GROW(array, capacity, needed)                                                              \
    grow_into((void *)&(array), grow((array), &(capacity), (needed), sizeof *(array)))

static int grow_into(void *pointer, void *grown)
{
    if (grown == NULL)
        return -1;
    memcpy(pointer, &grown, sizeof grown);
    return 0;
}

/* ---- text ----------------------------------------------------------------------------------- */

/* The code point of the UTF-8 sequence at text (n bytes), as Lua's utf8.codepoint reads it
 * (strict: no overlong forms, surrogates or code points above U+10FFFF), and its length; 0 when
 * the bytes are not one. */
static size_t utf8_decode(const unsigned char *text, size_t n, uint32_t *code)
{
    static const uint32_t limits[] = {~(uint32_t)0, 0x80, 0x800, 0x10000u, 0x200000u, 0x4000000u};
    unsigned c = text[0];
    uint32_t result = 0;
    size_t count = 0;
    if (c < 0x80) {
        *code = c;
        return 1;
    }
    for (; c & 0x40; c <<= 1) {
        if (++count >= n || count > 5 || (text[count] & 0xC0) != 0x80)
            return 0;
        result = (result << 6) | (text[count] & 0x3F);
    }
    result |= (uint32_t)(c & 0x7F) << (count * 5);
    if (result > 0x7FFFFFFFu || result < limits[count])
        return 0;
    if (result > 0x10FFFFu || (result >= 0xD800u && result <= 0xDFFFu))
        return 0;
    *code = result;
    return count + 1;
}

/* `text` with every byte a terminal could take for a command as "?": C0 controls, DEL, C1
 * controls (U+0080 to U+009F) and bytes that are not UTF-8; what the command's printable does
 * (lua/nasoone/cli/view.lua). Writes at most `length` bytes to out; returns how many. */
static size_t printable(const char *text, size_t length, char *out)
{
    const unsigned char *in = (const unsigned char *)text;
    size_t i = 0, o = 0;
    while (i < length) {
        unsigned b = in[i];
        if (b < 0x20 || b == 0x7f) {
            out[o++] = '?';
            i++;
        } else if (b < 0x80) {
            out[o++] = (char)b;
            i++;
        } else {
            uint32_t code;
            size_t size = utf8_decode(in + i, length - i, &code);
            if (size == 0) {
                out[o++] = '?';
                i++;
            } else if (code < 0xa0) {
                out[o++] = '?';
                i += size;
            } else {
                memcpy(out + o, in + i, size);
                o += size;
                i += size;
            }
        }
    }
    return o;
}

/* ---- hashes (the interfaces' table, the groups') ------------------------------------------ */

static uint64_t hash_bytes(const uint8_t *bytes, size_t length, uint64_t hash)
{
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ bytes[i]) * UINT64_C(0x100000001b3);
    return hash;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return x;
}

/* ---- interfaces ----------------------------------------------------------------------------- */

/* Whether `text` can name an interface in a report: 1 to 63 printable ASCII bytes, none of them
 * a space, '"', ';' or '\\' (what a capture of several devices accepts, and writes as it is in a
 * CSV cell or a JSON string). */
static int interface_name(const char *text, size_t length)
{
    if (length == 0 || length > INTERFACE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c >= 127 || c == '"' || c == ';' || c == '\\')
            return 0;
    }
    return 1;
}

static void interface_slot(uint32_t *table, size_t slots, uint64_t hash, uint32_t id)
{
    size_t at = hash & (slots - 1);
    while (table[at] != 0)
        at = (at + 1) & (slots - 1);
    table[at] = id;
}

/* The interface named `text` (a name interface_name takes): 1 + its index in
 * reader->interfaces, the name added when it is new and `add` says so; 0 when it is new and not
 * added, or out of memory. */
static uint32_t interface_id(struct report_reader *reader, const char *text, size_t length, int add)
{
    uint64_t hash = mix(hash_bytes((const uint8_t *)text, length, UINT64_C(0xcbf29ce484222325)));
    size_t slots = reader->interface_slot_count;
    for (size_t at = hash & (slots - 1); slots > 0 && reader->interface_slots[at] != 0;
         at = (at + 1) & (slots - 1)) {
        uint32_t id = reader->interface_slots[at];
        const struct interface *known = &reader->interfaces[id - 1];
        if (known->hash == hash && known->length == length &&
            memcmp(known->name, text, length) == 0)
            return id;
    }
    if (!add || reader->interface_count >= UINT32_MAX - 1 ||
        GROW(reader->interfaces, reader->interface_capacity, reader->interface_count + 1) != 0)
        return 0;
    if ((reader->interface_count + 1) * 2 > slots) { /* the table at most half full */
        size_t more = slots > 0 ? slots * 2 : 16;
        uint32_t *table = calloc(more, sizeof *table);
        if (table == NULL)
            return 0;
        for (size_t i = 0; i < reader->interface_count; i++)
            interface_slot(table, more, reader->interfaces[i].hash, (uint32_t)i + 1);
        free(reader->interface_slots);
        reader->interface_slots = table;
        reader->interface_slot_count = slots = more;
    }
    struct interface *added = &reader->interfaces[reader->interface_count++];
    memset(added, 0, sizeof *added);
    memcpy(added->name, text, length);
    added->length = (uint8_t)length;
    added->hash = hash;
    interface_slot(reader->interface_slots, slots, hash, (uint32_t)reader->interface_count);
    return (uint32_t)reader->interface_count;
}

static int compare_interfaces(const void *a, const void *b, void *context)
{
    const struct report_reader *reader = context;
    return strcmp(reader->interfaces[*(const uint32_t *)a].name,
                  reader->interfaces[*(const uint32_t *)b].name);
}

/* Each interface's rank: its place among the report's names in byte order. */
static int rank_interfaces(struct report_reader *reader)
{
    size_t n = reader->interface_count;
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    if (ids == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)i;
    qsort_r(ids, n, sizeof *ids, compare_interfaces, reader);
    for (size_t i = 0; i < n; i++)
        reader->interfaces[ids[i]].rank = (uint32_t)i + 1;
    free(ids);
    return 0;
}

/* The next name of a list of names separated by spaces (options.interface), from *at: its
 * length, 0 at the end. */
static size_t next_name(const char **at)
{
    while (**at == ' ')
        (*at)++;
    size_t length = 0;
    while ((*at)[length] != '\0' && (*at)[length] != ' ')
        length++;
    return length;
}

/* options.interface: one name or more, each one an interface can have; 0 or -1. */
static int check_interface_filter(const char *list)
{
    size_t count = 0, length;
    for (const char *at = list; (length = next_name(&at)) > 0; at += length, count++)
        if (!interface_name(at, length))
            return -1;
    return count > 0 ? 0 : -1;
}

/* The interfaces the filter names: wanted (a name the report does not have keeps no row). */
static void want_interfaces(struct report_reader *reader)
{
    size_t length;
    for (const char *at = reader->options.interface; (length = next_name(&at)) > 0; at += length) {
        uint32_t id = interface_id(reader, at, length, 0);
        if (id != 0)
            reader->interfaces[id - 1].wanted = 1;
    }
}

/* ---- rows ----------------------------------------------------------------------------------- */

/* A row as parsed, before it is stored. */
struct parsed {
    const char *address[2];
    size_t address_length[2];
    uint64_t port[2], first, last, bytes, packets, ip_bytes;
    int has_ip_bytes;
    unsigned protocols;
    uint8_t tcp_flags;
    uint8_t protocol; /* a 5-tuple row's other protocol than TCP or UDP, else 0 */
    int biflow;       /* the reverse_ fields are the row's other direction */
    uint64_t reverse_first, reverse_last, reverse_bytes, reverse_packets, reverse_ip_bytes;
    int reverse_tcp; /* the reverse direction had TCP (its flags are given) */
    uint8_t reverse_tcp_flags;
    const char *interface; /* the interface the row was seen on (a valid name), or NULL */
    size_t interface_length;
};

/* The protocols a biflow's reverse direction sent, as far as the file tells (it gives only
 * their TCP flags): none when it sent nothing; TCP when it had TCP flags; else the forward's
 * other than TCP (a 5-tuple row's one protocol, or UDP: a 4-tuple row's packets are TCP or
 * UDP). A 4-tuple reverse of both TCP and UDP is TCP alone here. */
static uint8_t reverse_protocols(const struct parsed *p)
{
    if (!p->biflow || p->reverse_packets == 0)
        return 0;
    if (p->reverse_tcp)
        return NASOONE_TCP;
    return p->protocols & NASOONE_OTHER ? NASOONE_OTHER : NASOONE_UDP;
}

/* The address in `text`, as the binding's report_key reads it (a ':' makes it IPv6): its
 * family (4, 6; 0 when it is not an address), its bytes in out and whether `text` is its
 * canonical spelling (what the report writes). */
static int parse_address(const char *text, size_t length, uint8_t out[16], int *canonical)
{
    char copy[64];
    memset(out, 0, 16);
    *canonical = 0;
    if (length == 0 || length >= sizeof copy || memchr(text, '\0', length) != NULL)
        return 0;
    memcpy(copy, text, length);
    copy[length] = '\0';
    int six = memchr(copy, ':', length) != NULL;
    if (inet_pton(six ? AF_INET6 : AF_INET, copy, out) != 1)
        return 0;
    struct nasoone_row row;
    memset(&row, 0, sizeof row);
    row.family = six ? 6 : 4;
    memcpy(row.source, out, 16);
    char formatted[NASOONE_ADDRESS_SIZE];
    nasoone_format_address(&row, 1, formatted);
    *canonical = strlen(formatted) == length && memcmp(formatted, text, length) == 0;
    return row.family;
}

static int add_text(struct report_reader *reader, const char *text, size_t length, size_t *offset)
{
    if (GROW(reader->text, reader->text_capacity, reader->text_length + length) != 0)
        return -1;
    memcpy(reader->text + reader->text_length, text, length);
    *offset = reader->text_length;
    reader->text_length += length;
    return 0;
}

static int store_row(struct report_reader *reader, const struct parsed *p)
{
    if (reader->count >= UINT32_MAX - 1 ||
        GROW(reader->rows, reader->capacity, reader->count + 1) != 0)
        return -1;
    struct row *row = &reader->rows[reader->count];
    memset(row, 0, sizeof *row);
    int canonical[2];
    uint8_t *bytes[2] = {row->r.source, row->r.destination};
    for (int side = 0; side < 2; side++)
        row->family[side] = (uint8_t)parse_address(p->address[side], p->address_length[side],
                                                   bytes[side], &canonical[side]);
    int ports = p->port[0] <= 65535 && p->port[1] <= 65535;
    if (row->family[0] != 0 && row->family[0] == row->family[1] && ports) {
        row->flags |= ROW_ORDERED;
        row->r.family = row->family[0];
    }
    if (ports) {
        row->r.source_port = (uint16_t)p->port[0];
        row->r.destination_port = (uint16_t)p->port[1];
    }
    row->r.protocols = (uint8_t)p->protocols;
    row->r.first_ms = p->first;
    row->r.last_ms = p->last;
    row->r.bytes = p->bytes;
    row->r.packets = p->packets;
    row->r.ip_bytes = p->ip_bytes;
    row->r.tcp_flags = p->tcp_flags;
    row->r.protocol = p->protocol;
    if (p->biflow) {
        row->r.biflow = 1;
        row->r.reverse_first_ms = p->reverse_first;
        row->r.reverse_last_ms = p->reverse_last;
        row->r.reverse_bytes = p->reverse_bytes;
        row->r.reverse_packets = p->reverse_packets;
        row->r.reverse_ip_bytes = p->reverse_ip_bytes;
        row->r.reverse_protocols = reverse_protocols(p);
        row->r.reverse_tcp_flags = p->reverse_tcp_flags;
        reader->biflow = 1;
    }
    if (p->has_ip_bytes)
        row->flags |= ROW_IP_BYTES;
    if (p->interface != NULL &&
        (row->interface = interface_id(reader, p->interface, p->interface_length, 1)) == 0)
        return -1;
    row->index = (uint32_t)reader->count;
    if (!(row->flags & ROW_ORDERED) || !canonical[0] || !canonical[1]) {
        if (reader->extra_count >= UINT32_MAX - 1 ||
            GROW(reader->extras, reader->extra_capacity, reader->extra_count + 1) != 0)
            return -1;
        struct extra *extra = &reader->extras[reader->extra_count];
        for (int side = 0; side < 2; side++) {
            extra->port[side] = p->port[side];
            extra->length[side] = (uint32_t)p->address_length[side];
            if (add_text(reader, p->address[side], p->address_length[side], &extra->text[side]) !=
                0)
                return -1;
        }
        row->extra = (uint32_t)++reader->extra_count;
    }
    reader->count++;
    return 0;
}

static uint64_t row_port(const struct report_reader *reader, const struct row *row, int side)
{
    if (row->extra != 0)
        return reader->extras[row->extra - 1].port[side];
    return side == 0 ? row->r.source_port : row->r.destination_port;
}

/* The digits of a count (an integer Lua can hold: at most 2^63 - 1); 0 or -1. */
static int parse_count(const char *text, size_t length, uint64_t *value)
{
    if (length == 0)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < length; i++) {
        unsigned digit = (unsigned char)text[i] - '0';
        if (digit > 9 || v > ((uint64_t)INT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *value = v;
    return 0;
}

/* The extended CSV's TCP flags: "-" (no TCP), or nfdump's eight letters or dots. */
static int parse_tcp_flags(const char *text, size_t length)
{
    if (length == 1 && text[0] == '-')
        return 0;
    if (length != 8)
        return -1;
    char letters[9];
    nasoone_format_tcp_flags(0xff, letters);
    int flags = 0;
    for (int i = 0; i < 8; i++) {
        if (text[i] == letters[i])
            flags |= 0x80 >> i;
        else if (text[i] != '.')
            return -1;
    }
    return flags;
}

/* A 5-tuple report's protocols cell of one other protocol: "[ICMP]", "[GRE]", "[253]". */
static int protocol_cell(const char *text, size_t length, struct parsed *p)
{
    if (length < 3 || text[0] != '[' || text[length - 1] != ']')
        return -1;
    int number = nasoone_protocol_number(text + 1, length - 2);
    if (number < 0 || number == 6 || number == 17)
        return -1;
    p->protocols = NASOONE_OTHER;
    p->protocol = (uint8_t)number;
    return 0;
}

/* A CSV row: `columns` fields separated by "; " (report_format_row: nine; the extended CSV's
 * two more; the biflow CSV's six more after those, its reverse direction's; a capture of
 * several devices' interface, at `interface_column` (0: none); and any a later version adds
 * after them, which are not read). */
#define CSV_MAX_COLUMNS 64
static int parse_csv(const char *line, size_t length, unsigned columns, int biflow,
                     unsigned interface_column, struct parsed *p)
{
    const char *field[CSV_MAX_COLUMNS];
    size_t size[CSV_MAX_COLUMNS];
    size_t n = 0;
    const char *at = line, *end = line + length;
    for (;;) {
        const char *separator = at;
        while ((separator = memchr(separator, ';', (size_t)(end - separator))) != NULL &&
               (separator + 1 >= end || separator[1] != ' '))
            separator++;
        if (n == columns)
            return -1;
        field[n] = at;
        if (separator == NULL) {
            size[n++] = (size_t)(end - at);
            break;
        }
        size[n++] = (size_t)(separator - at);
        at = separator + 2;
    }
    if (n != columns)
        return -1;
    p->protocol = 0; /* but for a 5-tuple row of another protocol (protocol_cell) */
    if (size[4] == 5 && memcmp(field[4], "[TCP]", 5) == 0)
        p->protocols = NASOONE_TCP;
    else if (size[4] == 5 && memcmp(field[4], "[UDP]", 5) == 0)
        p->protocols = NASOONE_UDP;
    else if (size[4] == 10 && memcmp(field[4], "[TCP, UDP]", 10) == 0)
        p->protocols = NASOONE_TCP | NASOONE_UDP;
    else if (protocol_cell(field[4], size[4], p) != 0)
        return -1;
    if (parse_count(field[1], size[1], &p->port[0]) != 0 ||
        parse_count(field[3], size[3], &p->port[1]) != 0 ||
        parse_count(field[5], size[5], &p->first) != 0 ||
        parse_count(field[6], size[6], &p->last) != 0 ||
        parse_count(field[7], size[7], &p->bytes) != 0 ||
        parse_count(field[8], size[8], &p->packets) != 0)
        return -1;
    p->address[0] = field[0];
    p->address_length[0] = size[0];
    p->address[1] = field[2];
    p->address_length[1] = size[2];
    p->ip_bytes = 0;
    p->has_ip_bytes = 0;
    p->tcp_flags = 0;
    if (columns > 9) { /* the extended CSV */
        int flags = parse_tcp_flags(field[10], size[10]);
        if (parse_count(field[9], size[9], &p->ip_bytes) != 0 || flags < 0)
            return -1;
        p->has_ip_bytes = 1;
        p->tcp_flags = (uint8_t)flags;
    }
    p->biflow = biflow;
    if (biflow) { /* reverse first, last, bytes, packets, ip bytes, tcp flags */
        int flags = parse_tcp_flags(field[16], size[16]);
        if (parse_count(field[11], size[11], &p->reverse_first) != 0 ||
            parse_count(field[12], size[12], &p->reverse_last) != 0 ||
            parse_count(field[13], size[13], &p->reverse_bytes) != 0 ||
            parse_count(field[14], size[14], &p->reverse_packets) != 0 ||
            parse_count(field[15], size[15], &p->reverse_ip_bytes) != 0 || flags < 0)
            return -1;
        p->reverse_tcp = size[16] != 1; /* not "-" */
        p->reverse_tcp_flags = (uint8_t)flags;
    }
    if (interface_column > 0) {
        if (!interface_name(field[interface_column], size[interface_column]))
            return -1;
        p->interface = field[interface_column];
        p->interface_length = size[interface_column];
    }
    return 0;
}

/* ---- JSON lines ----------------------------------------------------------------------------- */

/* A JSON row: an object of strings, counts and one array, as report_format_json writes it, in
 * any order and spacing, with escapes; what the command's Lua decoder took. A value is nested
 * at most one level (the protocols array): deeper is refused as soon as it opens. */
struct json {
    const char *at, *end;
    char *decoded; /* the line's decoded strings, one after the other */
    size_t used;
};

enum json_type { JSON_NONE, JSON_OTHER, JSON_STRING, JSON_COUNT, JSON_PROTOCOLS };

struct json_value {
    enum json_type type;
    const char *text;
    size_t length;
    uint64_t count;
    unsigned protocols;
    uint8_t protocol; /* one other protocol than TCP and UDP (a 5-tuple row) */
};

static void json_space(struct json *j)
{
    while (j->at < j->end && (*j->at == ' ' || *j->at == '\t' || *j->at == '\r' || *j->at == '\n'))
        j->at++;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The string at j->at (its '"'), decoded: \uXXXX as UTF-8 (Lua's utf8.char: a surrogate too). */
static int json_string(struct json *j, const char **text, size_t *length)
{
    char *out = j->decoded + j->used, *o = out;
    j->at++;
    while (j->at < j->end) {
        char c = *j->at++;
        if (c == '"') {
            *text = out;
            *length = (size_t)(o - out);
            j->used += *length;
            return 0;
        }
        if (c != '\\') {
            *o++ = c;
            continue;
        }
        if (j->at >= j->end)
            return -1;
        c = *j->at++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            *o++ = c;
            break;
        case 'b':
            *o++ = '\b';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 't':
            *o++ = '\t';
            break;
        case 'u': {
            if (j->end - j->at < 4)
                return -1;
            uint32_t code = 0;
            for (int i = 0; i < 4; i++) {
                int digit = hex_digit(j->at[i]);
                if (digit < 0)
                    return -1;
                code = code << 4 | (uint32_t)digit;
            }
            j->at += 4;
            if (code < 0x80) {
                *o++ = (char)code;
            } else if (code < 0x800) {
                *o++ = (char)(0xC0 | code >> 6);
                *o++ = (char)(0x80 | (code & 0x3F));
            } else {
                *o++ = (char)(0xE0 | code >> 12);
                *o++ = (char)(0x80 | ((code >> 6) & 0x3F));
                *o++ = (char)(0x80 | (code & 0x3F));
            }
            break;
        }
        default:
            return -1;
        }
    }
    return -1;
}

/* A number as the Lua decoder matched it (-?digits, then .digits, e, sign, digits, each
 * optional): a count when it is a whole number from 0 to 2^63 - 1 ("1e3" is 1000). */
static int json_number(struct json *j, struct json_value *v)
{
    const char *start = j->at, *p = j->at;
    if (p < j->end && *p == '-')
        p++;
    const char *digits = p;
    while (p < j->end && *p >= '0' && *p <= '9')
        p++;
    if (p == digits)
        return -1;
    int plain = *start != '-';
    const char *integer_end = p;
    if (p < j->end && *p == '.')
        p++;
    while (p < j->end && *p >= '0' && *p <= '9')
        p++;
    if (p < j->end && (*p == 'e' || *p == 'E'))
        p++;
    if (p < j->end && (*p == '-' || *p == '+'))
        p++;
    while (p < j->end && *p >= '0' && *p <= '9')
        p++;
    j->at = p;
    v->type = JSON_OTHER;
    if (plain && p == integer_end) {
        if (parse_count(start, (size_t)(p - start), &v->count) == 0)
            v->type = JSON_COUNT;
        return 0;
    }
    char copy[64];
    size_t length = (size_t)(p - start);
    if (length >= sizeof copy)
        return 0;
    memcpy(copy, start, length);
    copy[length] = '\0';
    char *parsed_end;
    double number = strtod(copy, &parsed_end);
    if (parsed_end == copy + length && number >= 0 && number < 9223372036854775808.0 &&
        number == (double)(uint64_t)number) {
        v->type = JSON_COUNT;
        v->count = (uint64_t)number;
    }
    return 0;
}

static int json_word(struct json *j, const char *word, size_t length)
{
    if ((size_t)(j->end - j->at) < length || memcmp(j->at, word, length) != 0)
        return -1;
    j->at += length;
    return 0;
}

static int json_value(struct json *j, int depth, struct json_value *v);

/* An object or an array at j->at; an array of "TCP" and "UDP" strings is a protocols set. */
static int json_container(struct json *j, int depth, struct json_value *v)
{
    int object = *j->at == '{';
    char close = object ? '}' : ']';
    unsigned protocols = 0;
    int all_protocols = 1, other = -1;
    size_t count = 0;
    v->type = JSON_OTHER;
    j->at++;
    json_space(j);
    if (j->at < j->end && *j->at == close) {
        j->at++;
        return 0;
    }
    for (;;) {
        if (object) {
            const char *key;
            size_t key_length;
            if (j->at >= j->end || *j->at != '"' || json_string(j, &key, &key_length) != 0)
                return -1;
            json_space(j);
            if (j->at >= j->end || *j->at != ':')
                return -1;
            j->at++;
        }
        struct json_value element;
        if (json_value(j, depth + 1, &element) != 0)
            return -1;
        count++;
        if (element.type == JSON_STRING && element.length == 3 &&
            memcmp(element.text, "TCP", 3) == 0)
            protocols |= NASOONE_TCP;
        else if (element.type == JSON_STRING && element.length == 3 &&
                 memcmp(element.text, "UDP", 3) == 0)
            protocols |= NASOONE_UDP;
        else if (element.type == JSON_STRING &&
                 (other = nasoone_protocol_number(element.text, element.length)) > 0)
            protocols |= NASOONE_OTHER;
        else
            all_protocols = 0;
        json_space(j);
        if (j->at >= j->end)
            return -1;
        if (*j->at == close) {
            j->at++;
            break;
        }
        if (*j->at != ',')
            return -1;
        j->at++;
        json_space(j);
    }
    /* TCP, UDP or both; or one other protocol alone (a 5-tuple row) */
    if (!object && all_protocols && count > 0 &&
        (!(protocols & NASOONE_OTHER) || (protocols == NASOONE_OTHER && count == 1))) {
        v->type = JSON_PROTOCOLS;
        v->protocols = protocols;
        v->protocol = protocols == NASOONE_OTHER ? (uint8_t)other : 0;
    }
    return 0;
}

static int json_value(struct json *j, int depth, struct json_value *v)
{
    json_space(j);
    if (j->at >= j->end)
        return -1;
    v->type = JSON_OTHER;
    switch (*j->at) {
    case '{':
    case '[':
        return depth > 1 ? -1 : json_container(j, depth, v);
    case '"':
        v->type = JSON_STRING;
        return json_string(j, &v->text, &v->length);
    case 't':
        return json_word(j, "true", 4);
    case 'f':
        return json_word(j, "false", 5);
    case 'n':
        return json_word(j, "null", 4);
    default:
        return json_number(j, v);
    }
}

enum json_field {
    FIELD_SOURCE_IP,
    FIELD_SOURCE_PORT,
    FIELD_DESTINATION_IP,
    FIELD_DESTINATION_PORT,
    FIELD_PROTOCOLS,
    FIELD_FIRST,
    FIELD_LAST,
    FIELD_BYTES,
    FIELD_PACKETS,
    FIELD_IP_BYTES,
    FIELD_TCP_FLAGS,
    FIELD_REVERSE_FIRST, /* a biflow's (the five counts, all or none) */
    FIELD_REVERSE_LAST,
    FIELD_REVERSE_BYTES,
    FIELD_REVERSE_PACKETS,
    FIELD_REVERSE_IP_BYTES,
    FIELD_REVERSE_TCP_FLAGS, /* when the reverse direction had TCP */
    FIELD_INTERFACE,         /* a capture of several devices' */
    FIELD_COUNT
};

/* Any other field (community_id, reason, ...) is passed over. */
static const char *const json_fields[FIELD_COUNT] = {
    "source_ip",
    "source_port",
    "destination_ip",
    "destination_port",
    "protocols",
    "first",
    "last",
    "bytes",
    "packets",
    "ip_bytes",
    "tcp_flags",
    "reverse_first",
    "reverse_last",
    "reverse_bytes",
    "reverse_packets",
    "reverse_ip_bytes",
    "reverse_tcp_flags",
    "interface",
};

static int parse_json(struct report_reader *reader, const char *line, size_t length,
                      struct parsed *p)
{
    struct json j = {line, line + length, reader->scratch, 0};
    struct json_value fields[FIELD_COUNT];
    memset(fields, 0, sizeof fields);
    json_space(&j);
    if (j.at >= j.end || *j.at != '{')
        return -1;
    j.at++;
    json_space(&j);
    if (j.at < j.end && *j.at == '}')
        return -1; /* no protocols */
    for (;;) {
        const char *key;
        size_t key_length;
        if (j.at >= j.end || *j.at != '"' || json_string(&j, &key, &key_length) != 0)
            return -1;
        json_space(&j);
        if (j.at >= j.end || *j.at != ':')
            return -1;
        j.at++;
        struct json_value value;
        if (json_value(&j, 1, &value) != 0)
            return -1;
        for (int f = 0; f < FIELD_COUNT; f++)
            if (strlen(json_fields[f]) == key_length &&
                memcmp(json_fields[f], key, key_length) == 0)
                fields[f] = value; /* a key given twice: the last one, as a Lua table has it */
        json_space(&j);
        if (j.at >= j.end)
            return -1;
        if (*j.at == '}') {
            j.at++;
            break;
        }
        if (*j.at != ',')
            return -1;
        j.at++;
        json_space(&j);
    }
    json_space(&j);
    if (j.at != j.end)
        return -1;
    if (fields[FIELD_PROTOCOLS].type != JSON_PROTOCOLS ||
        fields[FIELD_SOURCE_IP].type != JSON_STRING ||
        fields[FIELD_DESTINATION_IP].type != JSON_STRING)
        return -1;
    static const enum json_field counts[] = {FIELD_SOURCE_PORT, FIELD_DESTINATION_PORT,
                                             FIELD_FIRST,       FIELD_LAST,
                                             FIELD_BYTES,       FIELD_PACKETS};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (fields[counts[i]].type != JSON_COUNT)
            return -1;
    if (fields[FIELD_IP_BYTES].type != JSON_NONE && fields[FIELD_IP_BYTES].type != JSON_COUNT)
        return -1;
    p->address[0] = fields[FIELD_SOURCE_IP].text;
    p->address_length[0] = fields[FIELD_SOURCE_IP].length;
    p->address[1] = fields[FIELD_DESTINATION_IP].text;
    p->address_length[1] = fields[FIELD_DESTINATION_IP].length;
    p->port[0] = fields[FIELD_SOURCE_PORT].count;
    p->port[1] = fields[FIELD_DESTINATION_PORT].count;
    p->protocols = fields[FIELD_PROTOCOLS].protocols;
    p->protocol = fields[FIELD_PROTOCOLS].protocol;
    p->first = fields[FIELD_FIRST].count;
    p->last = fields[FIELD_LAST].count;
    p->bytes = fields[FIELD_BYTES].count;
    p->packets = fields[FIELD_PACKETS].count;
    p->has_ip_bytes = fields[FIELD_IP_BYTES].type == JSON_COUNT;
    p->ip_bytes = p->has_ip_bytes ? fields[FIELD_IP_BYTES].count : 0;
    p->tcp_flags = fields[FIELD_TCP_FLAGS].type == JSON_COUNT && fields[FIELD_TCP_FLAGS].count < 256
                       ? (uint8_t)fields[FIELD_TCP_FLAGS].count
                       : 0;
    const struct json_value *interface = &fields[FIELD_INTERFACE];
    if (interface->type != JSON_NONE) {
        if (interface->type != JSON_STRING || !interface_name(interface->text, interface->length))
            return -1;
        p->interface = interface->text;
        p->interface_length = interface->length;
    }
    /* a biflow: the five reverse counts, and its TCP flags when the reverse had TCP */
    static const enum json_field reverse[] = {FIELD_REVERSE_FIRST, FIELD_REVERSE_LAST,
                                              FIELD_REVERSE_BYTES, FIELD_REVERSE_PACKETS,
                                              FIELD_REVERSE_IP_BYTES};
    size_t given = 0;
    for (size_t i = 0; i < sizeof reverse / sizeof reverse[0]; i++)
        given += fields[reverse[i]].type != JSON_NONE;
    const struct json_value *flags = &fields[FIELD_REVERSE_TCP_FLAGS];
    p->biflow = given > 0;
    p->reverse_tcp = flags->type != JSON_NONE;
    if (!p->biflow)
        return p->reverse_tcp ? -1 : 0;
    for (size_t i = 0; i < sizeof reverse / sizeof reverse[0]; i++)
        if (fields[reverse[i]].type != JSON_COUNT)
            return -1;
    if (p->reverse_tcp && (flags->type != JSON_COUNT || flags->count > 255))
        return -1;
    p->reverse_first = fields[FIELD_REVERSE_FIRST].count;
    p->reverse_last = fields[FIELD_REVERSE_LAST].count;
    p->reverse_bytes = fields[FIELD_REVERSE_BYTES].count;
    p->reverse_packets = fields[FIELD_REVERSE_PACKETS].count;
    p->reverse_ip_bytes = fields[FIELD_REVERSE_IP_BYTES].count;
    p->reverse_tcp_flags = p->reverse_tcp ? (uint8_t)flags->count : 0;
    return 0;
}

/* ---- reading -------------------------------------------------------------------------------- */

/* Line `number` of the file: the first says the format, each other non-empty one is a row. */
static int read_line(struct report_reader *reader, const char *line, size_t length, uint64_t number)
{
    if (number == 1) {
        const char *header = nasoone_report_header();
        if (length == strlen(header) && memcmp(line, header, length) == 0) {
            reader->format = FORMAT_CSV;
            reader->csv_columns = 9;
            return 0;
        }
        /* the extended CSV, perhaps with columns a later version added after its own: the
         * biflow CSV's reverse ones, perhaps with more after those */
        const char *extended = nasoone_report_header_extended();
        size_t known = strlen(extended);
        if (length >= known && memcmp(line, extended, known) == 0 &&
            (length == known || (length > known + 2 && line[known] == ';'))) {
            unsigned columns = 1;
            for (size_t i = 0; i < length; i++)
                columns += line[i] == ';';
            if (columns > CSV_MAX_COLUMNS)
                return fail(reader, "not_report", 1, "", 0);
            size_t reverse = sizeof BIFLOW_HEADER_COLUMNS - 1, end = known + reverse;
            int biflow = length >= end &&
                         memcmp(line + known, BIFLOW_HEADER_COLUMNS, reverse) == 0 &&
                         (length == end || (length > end + 2 && line[end] == ';'));
            reader->format = biflow ? FORMAT_CSV_BIFLOW : FORMAT_CSV_EXTENDED;
            reader->biflow = biflow; /* its rows are, even when it has none */
            reader->csv_columns = columns;
            /* a capture of several devices': the column "interface" after the CSV's own */
            unsigned own = biflow ? 17 : 11, column = 0;
            for (const char *at = line, *stop = line + length;; column++) {
                const char *separator = memchr(at, ';', (size_t)(stop - at));
                size_t size = (size_t)((separator != NULL ? separator : stop) - at);
                if (column >= own && size == 9 && memcmp(at, "interface", 9) == 0) {
                    reader->interface_column = column;
                    reader->has_interfaces = 1;
                    break;
                }
                if (separator == NULL)
                    break;
                at = separator + 1;
                if (at < stop && *at == ' ')
                    at++;
            }
            return 0;
        }
        size_t i = 0; /* Lua's %s: space, \t, \n, \v, \f, \r */
        while (i < length && (line[i] == ' ' || (line[i] >= '\t' && line[i] <= '\r')))
            i++;
        if (i == length || line[i] != '{')
            return fail(reader, "not_report", 1, "", 0);
        reader->format = FORMAT_JSONL;
    }
    if (length == 0)
        return 0;
    struct parsed p;
    memset(&p, 0, sizeof p); /* the reverse counters stay 0 in a row that is no biflow */
    int csv = reader->format == FORMAT_CSV || reader->format == FORMAT_CSV_EXTENDED ||
              reader->format == FORMAT_CSV_BIFLOW;
    int parsed = csv ? parse_csv(line, length, reader->csv_columns,
                                 reader->format == FORMAT_CSV_BIFLOW, reader->interface_column, &p)
                     : parse_json(reader, line, length, &p);
    /* JSON lines: the first row says whether the rows have an interface, the others agree */
    if (parsed == 0 && !csv && reader->count == 0)
        reader->has_interfaces = p.interface != NULL;
    else if (parsed == 0 && !csv && (p.interface != NULL) != reader->has_interfaces)
        parsed = -1;
    if (parsed != 0)
        return fail(reader, csv ? "bad_csv_row" : "bad_jsonl_row", number, line, length);
    if (store_row(reader, &p) != 0)
        return fail_memory(reader);
    return 0;
}

static const char *file_type(mode_t mode)
{
    if (S_ISDIR(mode))
        return "directory";
    if (S_ISFIFO(mode))
        return "fifo";
    if (S_ISCHR(mode))
        return "char";
    if (S_ISBLK(mode))
        return "block";
    if (S_ISSOCK(mode))
        return "socket";
    return "other";
}

static int read_file(struct report_reader *reader, const char *path)
{
    /* O_NONBLOCK: a FIFO put at the path since the command looked is not waited for */
    reader->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (reader->fd < 0)
        return fail_errno(reader, "open", errno);
    struct stat st;
    if (fstat(reader->fd, &st) != 0)
        return fail_errno(reader, "read", errno);
    if (!S_ISREG(st.st_mode)) {
        const char *type = file_type(st.st_mode);
        return fail(reader, "not_file", 0, type, strlen(type));
    }
    size_t capacity = READ_CHUNK + MAX_LINE + 1;
    reader->buffer = malloc(capacity);
    reader->scratch = malloc(MAX_LINE + 1);
    if (reader->buffer == NULL || reader->scratch == NULL)
        return fail_memory(reader);
    uint64_t total = st.st_size > 0 ? (uint64_t)st.st_size : 0, done = 0, number = 0;
    size_t start = 0, end = 0;
    int any = 0;
    for (;;) {
        char *newline = memchr(reader->buffer + start, '\n', end - start);
        if (newline != NULL) {
            size_t length = (size_t)(newline - (reader->buffer + start));
            if (length > MAX_LINE)
                break;
            if (read_line(reader, reader->buffer + start, length, ++number) != 0)
                return -1;
            start += length + 1;
            continue;
        }
        if (end - start > MAX_LINE)
            break;
        memmove(reader->buffer, reader->buffer + start, end - start);
        end -= start;
        start = 0;
        ssize_t n = read(reader->fd, reader->buffer + end, capacity - end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail_errno(reader, "read", errno);
        if (n == 0) {
            if (end > 0 && read_line(reader, reader->buffer, end, ++number) != 0)
                return -1;
            if (!any)
                reader->format = FORMAT_EMPTY; /* a JSON-lines report of no rows */
            close(reader->fd);
            reader->fd = -1;
            return 0;
        }
        any = 1;
        end += (size_t)n;
        done += (uint64_t)n;
        if (reader->options.progress != NULL)
            reader->options.progress(reader->options.context, "reading", done,
                                     done > total ? done : total);
    }
    return fail(reader, "too_long", number + 1, "", 0);
}

/* ---- the report's order --------------------------------------------------------------------- */

/* The text by which a row that has no place in the report's order is ordered at `side`: the
 * address's family and bytes (as nasoone.report_key gives them) or, when it is not an address,
 * the file's text; compared as strings, as the command's Lua did. */
static const uint8_t *side_key(const struct report_reader *reader, const struct row *row, int side,
                               uint8_t buffer[17], size_t *length)
{
    if (row->family[side] != 0) {
        buffer[0] = row->family[side];
        memcpy(buffer + 1, side == 0 ? row->r.source : row->r.destination, 16);
        *length = 17;
        return buffer;
    }
    const struct extra *extra = &reader->extras[row->extra - 1];
    *length = extra->length[side];
    return (const uint8_t *)reader->text + extra->text[side];
}

static int compare_bytes(const uint8_t *a, size_t a_length, const uint8_t *b, size_t b_length)
{
    int d = memcmp(a, b, a_length < b_length ? a_length : b_length);
    if (d != 0)
        return d < 0 ? -1 : 1;
    return a_length < b_length ? -1 : a_length > b_length;
}

static int compare_side(const struct report_reader *reader, const struct row *a,
                        const struct row *b, int side)
{
    uint8_t a_buffer[17], b_buffer[17];
    size_t a_length, b_length;
    const uint8_t *a_key = side_key(reader, a, side, a_buffer, &a_length);
    const uint8_t *b_key = side_key(reader, b, side, b_buffer, &b_length);
    return compare_bytes(a_key, a_length, b_key, b_length);
}

static int compare_u64(uint64_t a, uint64_t b) { return a < b ? -1 : a > b; }

static int compare_ordered(const void *a, const void *b, void *context)
{
    const struct report_reader *reader = context;
    const struct row *x = &reader->rows[*(const uint32_t *)a];
    const struct row *y = &reader->rows[*(const uint32_t *)b];
    int d = nasoone_compare_rows(&x->r, &y->r);
    return d != 0 ? d : compare_u64(x->index, y->index);
}

/* Rows without a place in the report's order: by source, source port, destination,
 * destination port, then the file's order. */
static int compare_unordered(const void *a, const void *b, void *context)
{
    const struct report_reader *reader = context;
    const struct row *x = &reader->rows[*(const uint32_t *)a];
    const struct row *y = &reader->rows[*(const uint32_t *)b];
    int d = compare_side(reader, x, y, 0);
    if (d == 0)
        d = compare_u64(row_port(reader, x, 0), row_port(reader, y, 0));
    if (d == 0)
        d = compare_side(reader, x, y, 1);
    if (d == 0)
        d = compare_u64(row_port(reader, x, 1), row_port(reader, y, 1));
    return d != 0 ? d : compare_u64(x->index, y->index);
}

static void progress(struct report_reader *reader, const char *phase, uint64_t n)
{
    if (reader->options.progress != NULL && n >= 100000)
        reader->options.progress(reader->options.context, phase, n, n);
}

/* reader->order: every row in the report's order (those that have none after, by their text),
 * and reader->rank, each row's place in it. A file nasoone wrote is in order already. */
static int order_rows(struct report_reader *reader)
{
    size_t count = reader->count;
    reader->order = malloc((count + 1) * sizeof *reader->order);
    reader->rank = malloc((count + 1) * sizeof *reader->rank);
    if (reader->order == NULL || reader->rank == NULL)
        return -1;
    size_t ordered = 0;
    for (size_t i = 0; i < count; i++)
        if (reader->rows[i].flags & ROW_ORDERED)
            reader->order[ordered++] = (uint32_t)i;
    int sorted = 1;
    for (size_t i = 1; i < ordered && sorted; i++)
        sorted = compare_ordered(&reader->order[i - 1], &reader->order[i], reader) < 0;
    if (!sorted) {
        progress(reader, "sorting", ordered);
        qsort_r(reader->order, ordered, sizeof *reader->order, compare_ordered, reader);
    }
    size_t all = ordered;
    for (size_t i = 0; i < count; i++)
        if (!(reader->rows[i].flags & ROW_ORDERED))
            reader->order[all++] = (uint32_t)i;
    qsort_r(reader->order + ordered, all - ordered, sizeof *reader->order, compare_unordered,
            reader);
    for (size_t i = 0; i < count; i++)
        reader->rank[reader->order[i]] = (uint32_t)i;
    return 0;
}

/* ---- selection ------------------------------------------------------------------------------ */

/* A row's protocols: a biflow's both directions'. */
static unsigned row_protocols(const struct nasoone_row *r)
{
    return (unsigned)r->protocols | r->reverse_protocols;
}

/* A row's first and last packet times: a biflow's over both directions (the connection's). */
static uint64_t row_first(const struct nasoone_row *r)
{
    return r->reverse_packets > 0 && r->reverse_first_ms < r->first_ms ? r->reverse_first_ms
                                                                       : r->first_ms;
}

static uint64_t row_last(const struct nasoone_row *r)
{
    return r->reverse_packets > 0 && r->reverse_last_ms > r->last_ms ? r->reverse_last_ms
                                                                     : r->last_ms;
}

static int selected(const struct report_reader *reader, const struct row *row)
{
    const struct report_reader_options *o = &reader->options;
    if (reader->ip_family != 0) {
        int source =
            row->family[0] == reader->ip_family && memcmp(row->r.source, reader->ip, 16) == 0;
        int destination =
            row->family[1] == reader->ip_family && memcmp(row->r.destination, reader->ip, 16) == 0;
        if (!source && !destination)
            return 0;
    }
    if (o->port >= 0 && row_port(reader, row, 0) != (uint64_t)o->port &&
        row_port(reader, row, 1) != (uint64_t)o->port)
        return 0;
    if (o->protocol != NULL) {
        unsigned wanted = strcmp(o->protocol, "tcp") == 0 ? NASOONE_TCP : NASOONE_UDP;
        if (!(row_protocols(&row->r) & wanted))
            return 0;
    }
    if (o->interface != NULL &&
        (row->interface == 0 || !reader->interfaces[row->interface - 1].wanted))
        return 0;
    return 1;
}

static void add_totals(struct report_reader *reader, const struct row *row)
{
    struct totals *t = &reader->totals;
    if (row->interface != 0 && !reader->interfaces[row->interface - 1].selected) {
        reader->interfaces[row->interface - 1].selected = 1;
        t->interfaces++;
    }
    uint64_t first = row_first(&row->r), last = row_last(&row->r);
    uint64_t earliest = first < last ? first : last;
    uint64_t latest = first < last ? last : first;
    if (t->rows == 0) {
        t->first = first;
        t->last = last;
        t->earliest = earliest;
        t->latest = latest;
    }
    t->rows++;
    t->bytes += row->r.bytes;
    t->packets += row->r.packets;
    t->ip_bytes += row->r.ip_bytes;
    t->reverse_bytes += row->r.reverse_bytes;
    t->reverse_packets += row->r.reverse_packets;
    t->reverse_ip_bytes += row->r.reverse_ip_bytes;
    t->protocols |= row_protocols(&row->r);
    if (first < t->first)
        t->first = first;
    if (last > t->last)
        t->last = last;
    if (earliest < t->earliest)
        t->earliest = earliest;
    if (latest > t->latest)
        t->latest = latest;
}

/* Bits of a double that order as the numbers do (for numbers >= 0). */
static uint64_t double_bits(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* Bits per second over a duration in milliseconds; negative when there is no duration. */
static double rate_of(uint64_t bytes, uint64_t first, uint64_t last)
{
    if (last <= first)
        return -1;
    return (double)bytes * 8000.0 / (double)(last - first);
}

/* The protocols sets in the order their text sorts: "TCP", "TCP, UDP", "UDP". */
static uint64_t protocols_order(unsigned protocols)
{
    static const uint8_t order[8] = {0, 1, 5, 2, 7, 4, 6, 3}; /* as their text sorts */
    return order[protocols & 7];
}

/* The value a row is sorted by in a number column (address columns compare otherwise): the
 * value its cell shows (a biflow's times and rate are over both directions, its bytes and
 * packets the forward direction's, the reverse's and their sum in columns of their own). */
static uint64_t row_value(const struct report_reader *reader, const struct row *row, enum sort s)
{
    const struct nasoone_row *r = &row->r;
    uint64_t first = row_first(r), last = row_last(r);
    switch (s) {
    case SORT_SOURCE_PORT:
        return row_port(reader, row, 0);
    case SORT_DESTINATION_PORT:
        return row_port(reader, row, 1);
    case SORT_PROTOCOLS:
        return protocols_order(row_protocols(r));
    case SORT_FIRST:
        return first;
    case SORT_LAST:
        return last;
    case SORT_DURATION: /* a last before the first is a negative duration */
        return (last - first) ^ (UINT64_C(1) << 63);
    case SORT_BYTES:
        return r->bytes;
    case SORT_PACKETS:
        return r->packets;
    case SORT_IP_BYTES: /* none: before 0 */
        return row->flags & ROW_IP_BYTES ? r->ip_bytes + 1 : 0;
    case SORT_RATE: {
        double rate = rate_of(r->bytes + r->reverse_bytes, first, last);
        return rate < 0 ? 0 : double_bits(rate) + 1;
    }
    case SORT_REVERSE_BYTES:
        return r->reverse_bytes;
    case SORT_REVERSE_PACKETS:
        return r->reverse_packets;
    case SORT_REVERSE_IP_BYTES: /* none (not a biflow): before 0 */
        return r->biflow ? r->reverse_ip_bytes + 1 : 0;
    case SORT_TOTAL_BYTES: /* 2 * (2^63 - 1) at most: no overflow */
        return r->bytes + r->reverse_bytes;
    case SORT_TOTAL_PACKETS:
        return r->packets + r->reverse_packets;
    case SORT_INTERFACE: /* none: before any */
        return row->interface != 0 ? reader->interfaces[row->interface - 1].rank : 0;
    default:
        return 0;
    }
}

static uint64_t group_value(const struct group *g, enum sort s)
{
    switch (s) {
    case SORT_FIRST:
        return g->first;
    case SORT_LAST:
        return g->last;
    case SORT_DURATION:
        return (g->last - g->first) ^ (UINT64_C(1) << 63);
    case SORT_BYTES:
        return g->bytes;
    case SORT_PACKETS:
        return g->packets;
    case SORT_IP_BYTES:
        return g->has_ip_bytes ? g->ip_bytes + 1 : 0;
    case SORT_RATE: {
        double rate = rate_of(g->bytes + g->reverse_bytes, g->first, g->last);
        return rate < 0 ? 0 : double_bits(rate) + 1;
    }
    case SORT_ROWS:
        return g->rows;
    case SORT_REVERSE_BYTES:
        return g->reverse_bytes;
    case SORT_REVERSE_PACKETS:
        return g->reverse_packets;
    case SORT_REVERSE_IP_BYTES:
        return g->biflow ? g->reverse_ip_bytes + 1 : 0;
    case SORT_TOTAL_BYTES:
        return g->bytes + g->reverse_bytes;
    case SORT_TOTAL_PACKETS:
        return g->packets + g->reverse_packets;
    default: /* the key */
        return g->rank;
    }
}

struct sort_context {
    const struct report_reader *reader;
    int address_side; /* -1: compare values; 0 or 1: that side's address (then its port) */
    int with_port;
    int desc;
};

static int compare_items(const struct item *a, const struct item *b, const struct sort_context *c)
{
    if (c->address_side >= 0) {
        const struct report_reader *reader = c->reader;
        const struct row *x = &reader->rows[a->id], *y = &reader->rows[b->id];
        int d = compare_side(reader, x, y, c->address_side);
        if (d == 0 && c->with_port)
            d = compare_u64(row_port(reader, x, c->address_side),
                            row_port(reader, y, c->address_side));
        if (d != 0)
            return c->desc ? -d : d;
    } else if (a->value != b->value) {
        return a->value < b->value ? -1 : 1;
    }
    return compare_u64(a->rank, b->rank);
}

static int compare_items_qsort(const void *a, const void *b, void *context)
{
    return compare_items(a, b, context);
}

/* The `keep` first items in order, at the start of items (keep < count): a heap of the best
 * seen, its worst on top, then sorted. */
static void keep_first(struct item *items, size_t count, size_t keep, const struct sort_context *c)
{
    for (size_t i = 0; i < count; i++) {
        struct item item = items[i];
        size_t at;
        if (i < keep) {
            at = i; /* sift up */
            while (at > 0 && compare_items(&items[(at - 1) / 2], &item, c) < 0) {
                items[at] = items[(at - 1) / 2];
                at = (at - 1) / 2;
            }
            items[at] = item;
            continue;
        }
        if (compare_items(&item, &items[0], c) >= 0)
            continue;
        at = 0; /* the worst replaced: sift down */
        for (;;) {
            size_t child = 2 * at + 1;
            if (child >= keep)
                break;
            if (child + 1 < keep && compare_items(&items[child + 1], &items[child], c) > 0)
                child++;
            if (compare_items(&items[child], &item, c) <= 0)
                break;
            items[at] = items[child];
            at = child;
        }
        items[at] = item;
    }
    qsort_r(items, keep, sizeof *items, compare_items_qsort, (void *)(uintptr_t)c);
}

/* items[0..count) put in order, the first `keep` of them at least (0: all); reader->shown. */
static int order_items(struct report_reader *reader, size_t count, const struct sort_context *c)
{
    size_t keep = reader->options.keep > 0 && reader->options.keep < count
                      ? (size_t)reader->options.keep
                      : count;
    progress(reader, "sorting", count);
    if (keep < count)
        keep_first(reader->items, count, keep, c);
    else
        qsort_r(reader->items, count, sizeof *reader->items, compare_items_qsort,
                (void *)(uintptr_t)c);
    reader->shown = malloc((keep + 1) * sizeof *reader->shown);
    if (reader->shown == NULL)
        return -1;
    for (size_t i = 0; i < keep; i++)
        reader->shown[i] = reader->items[i].id;
    reader->shown_count = keep;
    return 0;
}

static int select_rows(struct report_reader *reader)
{
    size_t count = reader->count;
    reader->items = malloc((count + 1) * sizeof *reader->items);
    if (reader->items == NULL)
        return -1;
    size_t n = 0;
    for (size_t k = 0; k < count; k++) {
        uint32_t id = reader->order[k];
        const struct row *row = &reader->rows[id];
        if (!selected(reader, row))
            continue;
        add_totals(reader, row);
        struct item *item = &reader->items[n++];
        item->rank = (uint32_t)k;
        item->id = id;
        item->value = 0;
    }
    reader->selected = n;
    reader->item_count = n;
    uint64_t keep = reader->options.keep > 0 && reader->options.keep < n ? reader->options.keep : n;
    if (reader->sort == SORT_REPORT) { /* in order already: the first (or, reversed, the last) */
        reader->shown = malloc((keep + 1) * sizeof *reader->shown);
        if (reader->shown == NULL)
            return -1;
        for (size_t i = 0; i < keep; i++)
            reader->shown[i] = reader->items[reader->options.desc ? n - 1 - i : i].id;
        reader->shown_count = keep;
        return 0;
    }
    struct sort_context c = {reader, -1, 0, reader->options.desc};
    enum sort s = reader->sort;
    if (s == SORT_SOURCE || s == SORT_SOURCE_IP || s == SORT_DESTINATION ||
        s == SORT_DESTINATION_IP) {
        c.address_side = s == SORT_SOURCE || s == SORT_SOURCE_IP ? 0 : 1;
        c.with_port = s == SORT_SOURCE || s == SORT_DESTINATION;
    } else {
        for (size_t i = 0; i < n; i++) {
            uint64_t value = row_value(reader, &reader->rows[reader->items[i].id], s);
            reader->items[i].value = reader->options.desc ? ~value : value;
        }
    }
    return order_items(reader, n, &c);
}

/* ---- groups --------------------------------------------------------------------------------- */

/* The group key of a row's side: its address (bytes, or the text), or a number. */
struct group_key {
    uint64_t number;
    const uint8_t *bytes;
    size_t length;
    uint8_t family;
    uint32_t row;
    uint8_t side;
};

static int address_group(enum group_by by) { return by <= BY_ADDRESS; }

static struct group_key key_of(const struct report_reader *reader, uint32_t id, int side,
                               uint8_t buffer[17])
{
    const struct row *row = &reader->rows[id];
    struct group_key key = {0, NULL, 0, 0, id, (uint8_t)side};
    if (address_group(reader->by)) {
        key.bytes = side_key(reader, row, side, buffer, &key.length);
        key.family = row->family[side];
    } else if (reader->by == BY_PROTOCOLS) {
        key.number = row_protocols(&row->r);
    } else if (reader->by == BY_INTERFACE) {
        key.number = row->interface;
    } else {
        key.number = row_port(reader, row, side);
    }
    return key;
}

static uint64_t hash_key(const struct group_key *key)
{
    if (key->bytes != NULL && key->family != 0) { /* family and 16 bytes: two words */
        uint64_t a, b;
        memcpy(&a, key->bytes + 1, 8);
        memcpy(&b, key->bytes + 9, 8);
        return mix(mix(a ^ key->family) ^ b);
    }
    if (key->bytes != NULL)
        return mix(hash_bytes(key->bytes, key->length, UINT64_C(0xcbf29ce484222325)));
    return mix(key->number + 1);
}

static int same_key(const struct report_reader *reader, const struct group *g,
                    const struct group_key *key)
{
    if (key->bytes == NULL)
        return g->key == key->number;
    if (g->family != key->family)
        return 0;
    if (g->family != 0)
        return memcmp(g->address, key->bytes + 1, 16) == 0;
    uint8_t buffer[17];
    size_t length;
    const uint8_t *bytes = side_key(reader, &reader->rows[g->key], g->side, buffer, &length);
    return length == key->length && memcmp(bytes, key->bytes, length) == 0;
}

static int rehash(struct report_reader *reader, size_t slots)
{
    uint32_t *table = calloc(slots, sizeof *table);
    if (table == NULL)
        return -1;
    for (size_t i = 0; i < reader->group_count; i++) {
        size_t at = reader->groups[i].hash & (slots - 1);
        while (table[at] != 0)
            at = (at + 1) & (slots - 1);
        table[at] = (uint32_t)i + 1;
    }
    free(reader->slots);
    reader->slots = table;
    reader->slot_count = slots;
    return 0;
}

static int add_to_group(struct report_reader *reader, uint32_t id, int side)
{
    uint8_t buffer[17];
    struct group_key key = key_of(reader, id, side, buffer);
    size_t mask = reader->slot_count - 1;
    uint64_t hash = hash_key(&key);
    size_t at = hash & mask;
    struct group *g = NULL;
    while (reader->slots[at] != 0) {
        struct group *candidate = &reader->groups[reader->slots[at] - 1];
        if (candidate->hash == hash && same_key(reader, candidate, &key)) {
            g = candidate;
            break;
        }
        at = (at + 1) & mask;
    }
    const struct row *row = &reader->rows[id];
    if (g == NULL) {
        if (GROW(reader->groups, reader->group_capacity, reader->group_count + 1) != 0)
            return -1;
        g = &reader->groups[reader->group_count];
        memset(g, 0, sizeof *g);
        g->hash = hash;
        if (key.bytes != NULL) {
            g->key = id;
            g->side = (uint8_t)side;
            g->family = key.family;
            if (key.family != 0)
                memcpy(g->address, side == 0 ? row->r.source : row->r.destination, 16);
        } else {
            g->key = key.number;
        }
        g->first = row_first(&row->r);
        g->last = row_last(&row->r);
        reader->slots[at] = (uint32_t)++reader->group_count;
        if (reader->group_count * 2 > reader->slot_count &&
            rehash(reader, reader->slot_count * 2) != 0)
            return -1;
        g = &reader->groups[reader->group_count - 1];
    }
    g->rows++;
    g->bytes += row->r.bytes;
    g->packets += row->r.packets;
    g->ip_bytes += row->r.ip_bytes;
    g->has_ip_bytes |= (row->flags & ROW_IP_BYTES) != 0;
    g->reverse_bytes += row->r.reverse_bytes;
    g->reverse_packets += row->r.reverse_packets;
    g->reverse_ip_bytes += row->r.reverse_ip_bytes;
    g->biflow |= row->r.biflow;
    g->protocols |= (uint8_t)row_protocols(&row->r);
    uint64_t first = row_first(&row->r), last = row_last(&row->r);
    if (first < g->first)
        g->first = first;
    if (last > g->last)
        g->last = last;
    return 0;
}

/* An interface's rank (interface_id's number; 0, none, first). */
static uint64_t interface_rank(const struct report_reader *reader, uint64_t id)
{
    return id != 0 ? reader->interfaces[id - 1].rank : 0;
}

/* Groups in their key's order: addresses (by family, then numerically) before texts that are
 * not addresses, ports numerically, protocols sets as their text sorts, interfaces by name. */
static int compare_groups(const void *a, const void *b, void *context)
{
    const struct report_reader *reader = context;
    const struct group *x = &reader->groups[*(const uint32_t *)a];
    const struct group *y = &reader->groups[*(const uint32_t *)b];
    if (!address_group(reader->by)) {
        if (reader->by == BY_PROTOCOLS)
            return compare_u64(protocols_order((unsigned)x->key),
                               protocols_order((unsigned)y->key));
        if (reader->by == BY_INTERFACE)
            return compare_u64(interface_rank(reader, x->key), interface_rank(reader, y->key));
        return compare_u64(x->key, y->key);
    }
    if ((x->family != 0) != (y->family != 0))
        return x->family != 0 ? -1 : 1;
    uint8_t x_buffer[17], y_buffer[17];
    size_t x_length, y_length;
    const uint8_t *x_key = side_key(reader, &reader->rows[x->key], x->side, x_buffer, &x_length);
    const uint8_t *y_key = side_key(reader, &reader->rows[y->key], y->side, y_buffer, &y_length);
    return compare_bytes(x_key, x_length, y_key, y_length);
}

static int select_groups(struct report_reader *reader)
{
    if (rehash(reader, 1024) != 0)
        return -1;
    progress(reader, "grouping", reader->count);
    for (size_t k = 0; k < reader->count; k++) {
        uint32_t id = reader->order[k];
        const struct row *row = &reader->rows[id];
        if (!selected(reader, row))
            continue;
        add_totals(reader, row);
        int both = reader->by == BY_ADDRESS || reader->by == BY_PORT;
        int first_side = reader->by == BY_DESTINATION || reader->by == BY_DESTINATION_PORT;
        if (add_to_group(reader, id, first_side) != 0)
            return -1;
        if (both) {
            uint8_t a[17], b[17];
            struct group_key x = key_of(reader, id, 0, a), y = key_of(reader, id, 1, b);
            int same = x.bytes != NULL ? x.family == y.family && x.length == y.length &&
                                             memcmp(x.bytes, y.bytes, x.length) == 0
                                       : x.number == y.number;
            if (!same && add_to_group(reader, id, 1) != 0)
                return -1;
        }
    }
    reader->selected = reader->totals.rows;
    size_t n = reader->group_count;
    uint32_t *ids = malloc((n + 1) * sizeof *ids);
    reader->items = malloc((n + 1) * sizeof *reader->items);
    if (ids == NULL || reader->items == NULL) {
        free(ids);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = (uint32_t)i;
    qsort_r(ids, n, sizeof *ids, compare_groups, reader);
    for (size_t i = 0; i < n; i++)
        reader->groups[ids[i]].rank = (uint32_t)i;
    free(ids);
    /* without a column: the most bytes first */
    enum sort s = reader->sort == SORT_REPORT ? SORT_BYTES : reader->sort;
    int desc = reader->sort == SORT_REPORT ? 1 : reader->options.desc;
    for (size_t i = 0; i < n; i++) {
        uint64_t value = group_value(&reader->groups[i], s);
        reader->items[i].value = desc ? ~value : value;
        reader->items[i].rank = reader->groups[i].rank;
        reader->items[i].id = (uint32_t)i;
    }
    reader->item_count = n;
    struct sort_context c = {reader, -1, 0, desc};
    return order_items(reader, n, &c);
}

/* ---- loading -------------------------------------------------------------------------------- */

static int option_error(struct report_reader *reader, const char *text)
{
    return fail(reader, "option", 0, text, strlen(text));
}

int report_reader_load(struct report_reader *reader, const char *path,
                       const struct report_reader_options *options)
{
    reader->options = *options;
    reader->sort = SORT_REPORT;
    if (options->sort != NULL) {
        size_t i = 0, n = sizeof sort_names / sizeof sort_names[0];
        while (i < n && strcmp(sort_names[i].name, options->sort) != 0)
            i++;
        if (i == n)
            return option_error(reader, "sort: not a column");
        reader->sort = sort_names[i].sort;
    }
    reader->by = BY_NONE;
    if (options->by != NULL) {
        size_t i = 1, n = sizeof by_names / sizeof by_names[0];
        while (i < n && strcmp(by_names[i], options->by) != 0)
            i++;
        if (i == n)
            return option_error(
                reader, "by: src, dst, ip, port, sport, dport, proto or interface expected");
        reader->by = (enum group_by)i;
    }
    if (options->protocol != NULL && strcmp(options->protocol, "tcp") != 0 &&
        strcmp(options->protocol, "udp") != 0)
        return option_error(reader, "protocol: tcp or udp expected");
    if (options->port > 65535)
        return option_error(reader, "port: a port from 0 to 65535 expected");
    if (options->interface != NULL && check_interface_filter(options->interface) != 0)
        return option_error(reader,
                            "interface: names of interfaces, separated by spaces, expected");
    if (options->ip != NULL) {
        int canonical;
        reader->ip_family = parse_address(options->ip, strlen(options->ip), reader->ip, &canonical);
        if (reader->ip_family == 0)
            return option_error(reader, "ip: an IPv4 or IPv6 address expected");
    }
    reader->cell = malloc(CELL_SIZE);
    reader->times = calloc(TIME_CACHE, sizeof *reader->times);
    if (reader->cell == NULL || reader->times == NULL)
        return fail_memory(reader);
    if (read_file(reader, path) != 0)
        return -1;
    if (rank_interfaces(reader) != 0)
        return fail_memory(reader);
    if (options->interface != NULL)
        want_interfaces(reader);
    if (order_rows(reader) != 0)
        return fail_memory(reader);
    if ((reader->by == BY_NONE ? select_rows(reader) : select_groups(reader)) != 0)
        return fail_memory(reader);
    /* times of day, or dates too when the rows span more than one */
    if (reader->totals.rows > 0) {
        time_t a = (time_t)(reader->totals.earliest / 1000),
               b = (time_t)(reader->totals.latest / 1000);
        struct tm x, y;
        if (localtime_r(&a, &x) != NULL && localtime_r(&b, &y) != NULL)
            reader->multiday = x.tm_year != y.tm_year || x.tm_yday != y.tm_yday;
    }
    return 0;
}

void report_reader_summarize(const struct report_reader *reader,
                             struct report_reader_summary *summary)
{
    static const char *const formats[] = {"empty", "csv", "jsonl", "csv-extended", "csv-biflow"};
    summary->format =
        reader->format == FORMAT_JSONL && reader->biflow ? "jsonl-biflow" : formats[reader->format];
    summary->rows = reader->count;
    summary->selected = reader->selected;
    summary->entries = reader->item_count;
    summary->shown = reader->shown_count;
    summary->has_times = reader->totals.rows > 0;
    summary->first = reader->totals.first;
    summary->last = reader->totals.last;
}

const char *report_reader_column_name(int column)
{
    return column >= 0 && column < REPORT_READER_COLUMNS ? column_names[column] : NULL;
}

int report_reader_column(const char *name)
{
    for (int i = 0; i < REPORT_READER_COLUMNS; i++)
        if (strcmp(column_names[i], name) == 0)
            return i;
    return -1;
}

/* ---- cells ---------------------------------------------------------------------------------- */

/* The decimal digits of value and a NUL (sprintf's "%" PRIu64, without its cost: a table of
 * 200,000 rows has a million numbers). */
static size_t format_u64(char *out, uint64_t value)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value > 0);
    for (size_t i = 0; i < n; i++)
        out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

static size_t format_number(char *out, uint64_t value, int human)
{
    if (!human || value < 1000)
        return format_u64(out, value);
    static const char units[] = "kMGTPE";
    double x = (double)value;
    int unit = -1;
    while (x >= 999.95 && unit < 5) {
        x /= 1000;
        unit++;
    }
    return (size_t)sprintf(out, "%.1f %c", x, units[unit]);
}

/* Milliseconds from first to last: seconds to the millisecond ("12.060"), or in words
 * ("250 ms", "12.1 s", "3m20s", "2h05m", "3d04h"); "-" when last is before first. */
static size_t format_duration(char *out, uint64_t first, uint64_t last, int human)
{
    if (last < first)
        return (size_t)sprintf(out, "-");
    uint64_t ms = last - first;
    if (!human) {
        size_t n = format_u64(out, ms / 1000);
        out[n] = '.';
        out[n + 1] = (char)('0' + ms % 1000 / 100);
        out[n + 2] = (char)('0' + ms % 100 / 10);
        out[n + 3] = (char)('0' + ms % 10);
        out[n + 4] = '\0';
        return n + 4;
    }
    if (ms < 1000)
        return (size_t)sprintf(out, "%u ms", (unsigned)ms);
    if (ms < 59950)
        return (size_t)sprintf(out, "%.1f s", (double)ms / 1000);
    uint64_t s = (ms + 500) / 1000;
    if (s < 3600)
        return (size_t)sprintf(out, "%um%02us", (unsigned)(s / 60), (unsigned)(s % 60));
    if (s < 86400)
        return (size_t)sprintf(out, "%uh%02um", (unsigned)(s / 3600), (unsigned)(s % 3600 / 60));
    return (size_t)sprintf(out, "%" PRIu64 "d%02uh", s / 86400, (unsigned)(s % 86400 / 3600));
}

/* Bits per second over the span from first to last; "-" when it is no time. */
static size_t format_rate(char *out, uint64_t bytes, uint64_t first, uint64_t last, int human)
{
    if (last <= first)
        return (size_t)sprintf(out, "-");
    unsigned __int128 bits = (unsigned __int128)bytes * 8000u / (last - first);
    return format_number(out, bits > UINT64_MAX ? UINT64_MAX : (uint64_t)bits, human);
}

/* Local time to the millisecond, as os.date gives it: "13:20:21.050", or with the date when the
 * selection spans more than one. The seconds' texts are cached (a report's rows are within
 * minutes or hours of one another). */
static size_t format_time(struct report_reader *reader, char *out, uint64_t ms)
{
    time_t seconds = (time_t)(ms / 1000);
    struct time_text *cached = &reader->times[(uint64_t)seconds % TIME_CACHE];
    if (!cached->valid || cached->seconds != seconds) {
        struct tm tm;
        size_t n = 0;
        if (localtime_r(&seconds, &tm) != NULL)
            n = reader->multiday
                    ? strftime(cached->text, sizeof cached->text, "%Y-%m-%d %H:%M:%S", &tm)
                    : strftime(cached->text, sizeof cached->text, "%H:%M:%S", &tm);
        if (n == 0)
            strcpy(cached->text, "?");
        cached->length = (uint8_t)strlen(cached->text);
        cached->seconds = seconds;
        cached->valid = 1;
    }
    size_t n = cached->length;
    memcpy(out, cached->text, n);
    out[n] = '.';
    out[n + 1] = (char)('0' + ms % 1000 / 100);
    out[n + 2] = (char)('0' + ms % 100 / 10);
    out[n + 3] = (char)('0' + ms % 10);
    out[n + 4] = '\0';
    return n + 4;
}

/* A set of protocols ("other": of a 5-tuple report, any but TCP and UDP), or with `protocol`,
 * the one other protocol of a 5-tuple row by its name. */
static size_t format_protocols(char *out, unsigned protocols, uint8_t protocol)
{
    if (protocol != 0) {
        nasoone_protocol_name(protocol, out);
        return strlen(out);
    }
    static const char *const sets[8] = {"",      "TCP",        "UDP",        "TCP, UDP",
                                        "other", "TCP, other", "UDP, other", "TCP, UDP, other"};
    const char *text = sets[protocols & 7];
    size_t length = strlen(text);
    memcpy(out, text, length + 1);
    return length;
}

/* An address as the file has it (shown through printable), or formatted from its bytes. */
static size_t format_address(const struct report_reader *reader, const struct row *row, int side,
                             char *out)
{
    if (row->extra != 0) {
        const struct extra *extra = &reader->extras[row->extra - 1];
        return printable(reader->text + extra->text[side], extra->length[side], out);
    }
    nasoone_format_address(&row->r, side == 0, out);
    return strlen(out);
}

/* "192.0.2.1:53", "[2001:db8::1]:443": an address with a ':' is bracketed. */
static size_t format_endpoint(const struct report_reader *reader, const struct row *row, int side,
                              char *out)
{
    size_t n = format_address(reader, row, side, out + 1);
    int bracket = memchr(out + 1, ':', n) != NULL;
    if (bracket) {
        out[0] = '[';
        out[++n] = ']';
        n++;
    } else {
        memmove(out, out + 1, n);
    }
    out[n++] = ':';
    return n + format_u64(out + n, row_port(reader, row, side));
}

/* A row's interface (interface_id's number) as the report names it; "-" for none. */
static size_t format_interface(const struct report_reader *reader, uint64_t id, char *out)
{
    if (id == 0) {
        memcpy(out, "-", 2);
        return 1;
    }
    const struct interface *i = &reader->interfaces[id - 1];
    memcpy(out, i->name, (size_t)i->length + 1);
    return i->length;
}

static size_t format_group_key(const struct report_reader *reader, const struct group *g, char *out)
{
    if (!address_group(reader->by)) {
        if (reader->by == BY_PROTOCOLS)
            return format_protocols(out, (unsigned)g->key, 0);
        if (reader->by == BY_INTERFACE)
            return format_interface(reader, g->key, out);
        return format_u64(out, g->key);
    }
    if (g->family == 0)
        return format_address(reader, &reader->rows[g->key], g->side, out);
    struct nasoone_row row;
    memset(&row, 0, sizeof row);
    row.family = g->family;
    memcpy(row.source, g->address, 16);
    nasoone_format_address(&row, 1, out);
    return strlen(out);
}

static size_t format_share(char *out, uint64_t part, uint64_t whole)
{
    if (whole == 0)
        return (size_t)sprintf(out, "-");
    return (size_t)sprintf(out, "%.1f%%", (double)part * 100.0 / (double)whole);
}

/* The report has ip bytes and TCP flags: JSON lines, the extended and the biflow CSV. */
static int has_ip_bytes(const struct report_reader *reader)
{
    return reader->format == FORMAT_JSONL || reader->format == FORMAT_CSV_EXTENDED ||
           reader->format == FORMAT_CSV_BIFLOW;
}

/* A cell of the totals row: "" for the columns the command fills (the labels) and for times
 * when no row is selected. A biflow report's rate is both directions' bytes over the span. */
static size_t total_cell(struct report_reader *reader, int column, char *out)
{
    const struct totals *t = &reader->totals;
    int human = reader->options.human, any = t->rows > 0;
    out[0] = '\0';
    switch (column) {
    case COLUMN_PROTOCOLS:
        return format_protocols(out, t->protocols, 0);
    case COLUMN_FIRST:
        return any ? format_time(reader, out, t->first) : 0;
    case COLUMN_LAST:
        return any ? format_time(reader, out, t->last) : 0;
    case COLUMN_DURATION:
        return any ? format_duration(out, t->first, t->last, human) : 0;
    case COLUMN_BYTES:
        return format_number(out, t->bytes, human);
    case COLUMN_PACKETS:
        return format_number(out, t->packets, human);
    case COLUMN_IP_BYTES:
        return has_ip_bytes(reader) ? format_number(out, t->ip_bytes, human) : 0;
    case COLUMN_RATE:
        return any ? format_rate(out, t->bytes + t->reverse_bytes, t->first, t->last, human) : 0;
    case COLUMN_REVERSE_BYTES:
        return reader->biflow ? format_number(out, t->reverse_bytes, human) : 0;
    case COLUMN_REVERSE_PACKETS:
        return reader->biflow ? format_number(out, t->reverse_packets, human) : 0;
    case COLUMN_REVERSE_IP_BYTES:
        return reader->biflow ? format_number(out, t->reverse_ip_bytes, human) : 0;
    case COLUMN_ROWS:
        return format_number(out, t->rows, human);
    case COLUMN_SHARE:
        return t->bytes > 0 ? (size_t)sprintf(out, "100.0%%") : 0;
    case COLUMN_INTERFACE: /* also how the table knows the report has interfaces */
        if (!reader->has_interfaces)
            return 0;
        return (size_t)sprintf(out, "%" PRIu64 " interface%s", t->interfaces,
                               t->interfaces == 1 ? "" : "s");
    default:
        return 0;
    }
}

/* What a row and a group both show: protocols, times, counters; a biflow's reverse counters. */
struct cell_counts {
    uint64_t first, last, bytes, packets, ip_bytes;
    uint8_t protocols, has_ip_bytes;
    uint8_t protocol; /* a row's one other protocol (5-tuple), or 0 */
    uint8_t biflow;   /* the reverse counters are there */
    uint64_t reverse_bytes, reverse_packets, reverse_ip_bytes;
};

/* The cell of `column` made of `c` (an empty one for any other column). */
static size_t counts_cell(struct report_reader *reader, const struct cell_counts *c, int column,
                          char *out)
{
    int human = reader->options.human;
    switch (column) {
    case COLUMN_PROTOCOLS:
        return format_protocols(out, c->protocols, c->protocol);
    case COLUMN_FIRST:
        return format_time(reader, out, c->first);
    case COLUMN_LAST:
        return format_time(reader, out, c->last);
    case COLUMN_DURATION:
        return format_duration(out, c->first, c->last, human);
    case COLUMN_BYTES:
        return format_number(out, c->bytes, human);
    case COLUMN_PACKETS:
        return format_number(out, c->packets, human);
    case COLUMN_IP_BYTES:
        return c->has_ip_bytes ? format_number(out, c->ip_bytes, human) : 0;
    case COLUMN_RATE: /* both directions of a biflow */
        return format_rate(out, c->bytes + c->reverse_bytes, c->first, c->last, human);
    case COLUMN_REVERSE_BYTES:
        return c->biflow ? format_number(out, c->reverse_bytes, human) : 0;
    case COLUMN_REVERSE_PACKETS:
        return c->biflow ? format_number(out, c->reverse_packets, human) : 0;
    case COLUMN_REVERSE_IP_BYTES:
        return c->biflow ? format_number(out, c->reverse_ip_bytes, human) : 0;
    default:
        return 0;
    }
}

/* TCP flags as the extended CSV writes them: "...AP.SF", or "-" without TCP. */
static size_t format_flags(unsigned protocols, uint8_t flags, char *out)
{
    if (!(protocols & NASOONE_TCP)) {
        memcpy(out, "-", 2);
        return 1;
    }
    nasoone_format_tcp_flags(flags, out);
    return 8;
}

static size_t row_cell(struct report_reader *reader, const struct row *row, int column, char *out)
{
    const struct nasoone_row *r = &row->r;
    out[0] = '\0';
    if (column == COLUMN_SOURCE || column == COLUMN_DESTINATION)
        return format_endpoint(reader, row, column == COLUMN_DESTINATION, out);
    /* nothing in a report that does not say them (the seed's CSV; a row that is no biflow) */
    if (column == COLUMN_TCP_FLAGS)
        return has_ip_bytes(reader) ? format_flags(r->protocols, r->tcp_flags, out) : 0;
    if (column == COLUMN_REVERSE_TCP_FLAGS)
        return r->biflow ? format_flags(r->reverse_protocols, r->reverse_tcp_flags, out) : 0;
    if (column == COLUMN_INTERFACE)
        return row->interface != 0 ? format_interface(reader, row->interface, out) : 0;
    struct cell_counts counts = {row_first(r),
                                 row_last(r),
                                 r->bytes,
                                 r->packets,
                                 r->ip_bytes,
                                 (uint8_t)row_protocols(r),
                                 (row->flags & ROW_IP_BYTES) != 0,
                                 r->protocol,
                                 r->biflow,
                                 r->reverse_bytes,
                                 r->reverse_packets,
                                 r->reverse_ip_bytes};
    return counts_cell(reader, &counts, column, out);
}

static size_t group_cell(struct report_reader *reader, const struct group *g, int column, char *out)
{
    out[0] = '\0';
    if (column == COLUMN_KEY)
        return format_group_key(reader, g, out);
    if (column == COLUMN_ROWS)
        return format_number(out, g->rows, reader->options.human);
    if (column == COLUMN_SHARE)
        return format_share(out, g->bytes, reader->totals.bytes);
    struct cell_counts counts = {
        g->first,    g->last,          g->bytes,           g->packets,
        g->ip_bytes, g->protocols,     g->has_ip_bytes,    0,
        g->biflow,   g->reverse_bytes, g->reverse_packets, g->reverse_ip_bytes};
    return counts_cell(reader, &counts, column, out);
}

static size_t cell(struct report_reader *reader, size_t entry, int column, char *out)
{
    if (entry == REPORT_READER_TOTAL)
        return total_cell(reader, column, out);
    if (reader->by != BY_NONE)
        return group_cell(reader, &reader->groups[reader->shown[entry]], column, out);
    return row_cell(reader, &reader->rows[reader->shown[entry]], column, out);
}

const char *report_reader_cell(struct report_reader *reader, size_t entry, int column,
                               size_t *length)
{
    if (column < 0 || column >= REPORT_READER_COLUMNS ||
        (entry != REPORT_READER_TOTAL && entry >= reader->shown_count)) {
        *length = 0;
        return "";
    }
    *length = cell(reader, entry, column, reader->cell);
    return reader->cell;
}

void report_reader_widths(struct report_reader *reader, size_t first, size_t last,
                          size_t widths[REPORT_READER_COLUMNS])
{
    int grouped = reader->by != BY_NONE;
    /* one pass over the entries, all their cells (an entry is read from memory once) */
    int columns[REPORT_READER_COLUMNS], count = 0, times = 0;
    for (int c = 0; c < REPORT_READER_COLUMNS; c++) {
        widths[c] = 0;
        if ((grouped && (c == COLUMN_SOURCE || c == COLUMN_DESTINATION || c == COLUMN_INTERFACE)) ||
            (!grouped && (c == COLUMN_KEY || c == COLUMN_ROWS || c == COLUMN_SHARE)))
            continue; /* not a column of this table */
        if (c == COLUMN_FIRST || c == COLUMN_LAST)
            times = 1;
        else
            columns[count++] = c;
    }
    if (last > reader->shown_count)
        last = reader->shown_count;
    if (first >= last)
        return;
    if (times) { /* every time is as wide as the first (as wide or "?": localtime cannot) */
        widths[COLUMN_FIRST] = cell(reader, first, COLUMN_FIRST, reader->cell);
        widths[COLUMN_LAST] = cell(reader, first, COLUMN_LAST, reader->cell);
        if (widths[COLUMN_FIRST] <= 1 || widths[COLUMN_LAST] <= 1) {
            columns[count++] = COLUMN_FIRST;
            columns[count++] = COLUMN_LAST;
        }
    }
    for (size_t i = first; i < last; i++)
        for (int c = 0; c < count; c++) {
            size_t n = cell(reader, i, columns[c], reader->cell);
            if (n > widths[columns[c]])
                widths[columns[c]] = n;
        }
}

const char *report_reader_lines(struct report_reader *reader, size_t first, size_t last,
                                const struct report_reader_layout *columns, size_t count,
                                size_t cut, size_t *length)
{
    if (last > reader->shown_count)
        last = reader->shown_count;
    size_t used = 0;
    for (size_t i = first; i < last; i++) {
        size_t start = used;
        if (GROW(reader->out, reader->out_capacity, used + 1) != 0)
            return NULL;
        for (size_t c = 0; c < count; c++) {
            int column = columns[c].column;
            size_t n = column >= 0 && column < REPORT_READER_COLUMNS
                           ? cell(reader, i, column, reader->cell)
                           : 0;
            size_t width = columns[c].width > n ? columns[c].width : n;
            /* the cell, its padding, the separator and the newline */
            if (GROW(reader->out, reader->out_capacity, used + width + 3) != 0)
                return NULL;
            if (c > 0) {
                reader->out[used++] = ' ';
                reader->out[used++] = ' ';
            }
            size_t pad = width - n;
            if (columns[c].right) {
                memset(reader->out + used, ' ', pad);
                used += pad;
            }
            memcpy(reader->out + used, reader->cell, n);
            used += n;
            if (!columns[c].right && c + 1 < count) {
                memset(reader->out + used, ' ', pad);
                used += pad;
            }
        }
        if (cut > 0 && used - start > cut)
            used = start + cut;
        reader->out[used++] = '\n';
    }
    *length = used;
    return reader->out != NULL ? reader->out : "";
}
