/*
 * report.c - report order, rendering (CSV and JSON lines) and atomic rewrite (see report.h).
 * The writer thread renders and rewrites reports; the exporter thread renders flow records
 * (record_jsonl.c). Nothing here keeps state between calls.
 */
#include "report.h"
#include "nasoone.h"
#include "message.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- order ------------------------------------------------------------------------------ */

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t value;
    memcpy(&value, p, sizeof value);
    return __builtin_bswap64(value);
}

static inline uint32_t load_be32(const uint8_t *p)
{
    uint32_t value;
    memcpy(&value, p, sizeof value);
    return __builtin_bswap32(value);
}

/* The report order of two keys: family, source address (numeric), source port, destination
 * address, destination port, protocol (5-tuple mode; 0 otherwise). Big-endian words instead of
 * memcmp: the addresses compare as numbers in two loads each, with no library call in the sort's
 * inner loop. */
static inline int compare_keys(const struct flow_key *x, const struct flow_key *y)
{
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    uint64_t a = load_be64(x->src), b = load_be64(y->src);
    if (a == b)
        a = load_be64(x->src + 8), b = load_be64(y->src + 8);
    if (a != b)
        return a < b ? -1 : 1;
    if (x->src_port != y->src_port)
        return x->src_port < y->src_port ? -1 : 1;
    a = load_be64(x->dst), b = load_be64(y->dst);
    if (a == b)
        a = load_be64(x->dst + 8), b = load_be64(y->dst + 8);
    if (a != b)
        return a < b ? -1 : 1;
    if (x->dst_port != y->dst_port)
        return x->dst_port < y->dst_port ? -1 : 1;
    if (x->protocol != y->protocol) /* 5-tuple mode */
        return x->protocol < y->protocol ? -1 : 1;
    if (x->device != y->device) /* several devices: in the order they were given */
        return x->device < y->device ? -1 : 1;
    return 0;
}

void report_order_key(const struct flow_key *key, uint8_t out[REPORT_ORDER_KEY_SIZE])
{
    out[0] = key->family;
    memcpy(out + 1, key->src, 16);
    out[17] = (uint8_t)(key->src_port >> 8);
    out[18] = (uint8_t)key->src_port;
    memcpy(out + 19, key->dst, 16);
    out[35] = (uint8_t)(key->dst_port >> 8);
    out[36] = (uint8_t)key->dst_port;
    out[37] = key->protocol;
}

/* A public row's key (nasoone.h), as the report's rows have it. */
static struct flow_key key_of_public_row(const struct nasoone_row *row)
{
    struct flow_key key;
    memset(&key, 0, sizeof key);
    memcpy(key.src, row->source, 16);
    memcpy(key.dst, row->destination, 16);
    key.src_port = row->source_port;
    key.dst_port = row->destination_port;
    key.family = row->family;
    key.protocol = row->protocol;
    return key;
}

int nasoone_compare_rows(const struct nasoone_row *a, const struct nasoone_row *b)
{
    struct flow_key x = key_of_public_row(a), y = key_of_public_row(b);
    return compare_keys(&x, &y);
}

void nasoone_order_key(const struct nasoone_row *row, uint8_t *out)
{
    struct flow_key key = key_of_public_row(row);
    report_order_key(&key, out);
}

const char *nasoone_report_header(void) { return REPORT_HEADER_FIELDS; }
const char *nasoone_report_header_extended(void) { return REPORT_HEADER_EXTENDED_FIELDS; }

int report_compare_rows(const void *a, const void *b)
{
    return compare_keys(&(*(const struct flow_row *const *)a)->key,
                        &(*(const struct flow_row *const *)b)->key);
}

/* A row in the sort: 12 bytes of its order key as numbers, and its index. Sorting these
 * 16-byte items, not row pointers, keeps the sort in one sequential array instead of reaching
 * into a row (a cache miss each, the rows being in arrival order) at every comparison.
 * An IPv4 order key is exactly 12 bytes (source address and port, destination address and
 * port), so IPv4 items never tie. An IPv6 order key is 36 bytes, held 12 at a time: items are
 * sorted on the first 12 (stage 0), and each group that ties on those is given its next 12
 * bytes and sorted again (servers of one /96 as sources are the common case). Families are
 * sorted apart. */
struct sort_item {
    uint64_t high;
    uint32_t low;
    uint32_t index;
};

/* Below this many items a bucket is finished by insertion sort. */
#define SORT_SMALL 32
/* Bytes of order key an item holds: high's 8 then low's 4, most significant first. */
#define SORT_KEY_BYTES 12
/* An IPv6 order key is SORT_IPV6_STAGES items' worth of bytes. */
#define SORT_IPV6_STAGES 3

/* The item of `key` at `stage` (always 0 for IPv4). */
static struct sort_item sort_item_of(const struct flow_key *key, uint32_t index, unsigned stage)
{
    struct sort_item item;
    if (key->family == FLOW_FAMILY_IPV4) {
        uint32_t dst = load_be32(key->dst);
        item.high = (uint64_t)load_be32(key->src) << 32 | (uint64_t)key->src_port << 16 | dst >> 16;
        item.low = dst << 16 | key->dst_port;
    } else if (stage == 0) { /* source address bytes 0-11 */
        item.high = load_be64(key->src);
        item.low = load_be32(key->src + 8);
    } else if (stage == 1) { /* source address bytes 12-15, source port, destination 0-5 */
        item.high = (uint64_t)load_be32(key->src + 12) << 32 | (uint64_t)key->src_port << 16 |
                    (uint64_t)key->dst[0] << 8 | key->dst[1];
        item.low = load_be32(key->dst + 2);
    } else { /* destination address bytes 6-15, destination port */
        item.high = load_be64(key->dst + 6);
        item.low = (uint32_t)key->dst[14] << 24 | (uint32_t)key->dst[15] << 16 | key->dst_port;
    }
    item.index = index;
    return item;
}

static inline unsigned sort_item_byte(const struct sort_item *item, unsigned byte)
{
    return byte < 8 ? (unsigned)(item->high >> (56 - 8 * byte)) & 255
                    : (item->low >> (24 - 8 * (byte - 8))) & 255;
}

/* Items of one family and stage (whose earlier stages tie): the numbers first, the whole keys
 * when those tie too. */
static inline int compare_items(const struct sort_item *x, const struct sort_item *y,
                                const struct flow_row *rows)
{
    if (x->high != y->high)
        return x->high < y->high ? -1 : 1;
    if (x->low != y->low)
        return x->low < y->low ? -1 : 1;
    return compare_keys(&rows[x->index].key, &rows[y->index].key);
}

static int compare_items_qsort(const void *a, const void *b, void *rows)
{
    return compare_items(a, b, rows);
}

static void insertion_sort_items(struct sort_item *items, size_t count, const struct flow_row *rows)
{
    for (size_t i = 1; i < count; i++) {
        struct sort_item item = items[i];
        size_t j = i;
        while (j > 0 && compare_items(&item, &items[j - 1], rows) < 0) {
            items[j] = items[j - 1];
            j--;
        }
        items[j] = item;
    }
}

/* In-place most-significant-byte radix sort (American flag sort) of one family's items, from
 * key byte `byte` on. Random addresses spread over 256 buckets per byte, so two or three
 * passes leave buckets small enough for insertion sort; a byte every item shares (the
 * 2001:db8 of an IPv6 prefix) costs one counting pass and no moves. */
static void radix_sort_items(struct sort_item *items, size_t count, unsigned byte, unsigned stage,
                             const struct flow_row *rows)
{
    while (count > SORT_SMALL && byte < SORT_KEY_BYTES) {
        size_t counts[256] = {0};
        for (size_t i = 0; i < count; i++)
            counts[sort_item_byte(&items[i], byte)]++;
        if (counts[sort_item_byte(&items[0], byte)] == count) {
            byte++; /* one bucket: nothing to move at this byte */
            continue;
        }
        size_t next[256], end[256], start = 0;
        for (unsigned b = 0; b < 256; b++) {
            next[b] = start;
            start += counts[b];
            end[b] = start;
        }
        /* each item is moved straight to its bucket, displacing one that is moved next */
        for (unsigned b = 0; b < 256; b++) {
            while (next[b] < end[b]) {
                struct sort_item item = items[next[b]];
                unsigned digit = sort_item_byte(&item, byte);
                while (digit != b) {
                    struct sort_item displaced = items[next[digit]];
                    items[next[digit]++] = item;
                    item = displaced;
                    digit = sort_item_byte(&item, byte);
                }
                items[next[b]++] = item;
            }
        }
        size_t offset = 0;
        for (unsigned b = 0; b < 256; offset += counts[b], b++)
            if (counts[b] > 1)
                radix_sort_items(items + offset, counts[b], byte + 1, stage, rows);
        return;
    }
    if (count <= SORT_SMALL) {
        insertion_sort_items(items, count, rows);
    } else if (stage + 1 < SORT_IPV6_STAGES) {
        /* IPv6 items that tie on this stage's 12 bytes (distinct IPv4 keys never tie) */
        for (size_t i = 0; i < count; i++)
            items[i] = sort_item_of(&rows[items[i].index].key, items[i].index, stage + 1);
        radix_sort_items(items, count, 0, stage + 1, rows);
    } else { /* equal keys: not in a table, but sorted all the same */
        qsort_r(items, count, sizeof *items, compare_items_qsort, (void *)(uintptr_t)rows);
    }
}

/* The rows rows[first .. first + count) as items in report order (IPv4 first), in a new
 * array the caller frees; NULL when it does not fit in memory (or count is 0). */
static struct sort_item *sort_row_range(const struct flow_row *rows, uint32_t first, uint32_t count)
{
    struct sort_item *items = count > 0 ? malloc((size_t)count * sizeof *items) : NULL;
    if (items == NULL)
        return NULL;
    /* The first radix pass is made while the items are built: counted over the rows, then each
     * item written straight into its bucket (IPv4 buckets first). Out of place, so this pass,
     * the only one over the whole array, streams instead of swapping at random. */
    size_t counts[2][256] = {{0}};
    for (uint32_t i = first; i < first + count; i++) /* an item's first byte: src[0] */
        counts[rows[i].key.family != FLOW_FAMILY_IPV4][rows[i].key.src[0]]++;
    size_t next[2][256], offset = 0;
    for (int family = 0; family < 2; family++) {
        for (unsigned b = 0; b < 256; b++) {
            next[family][b] = offset;
            offset += counts[family][b];
        }
    }
    for (uint32_t i = first; i < first + count; i++) {
        const struct flow_key *key = &rows[i].key;
        items[next[key->family != FLOW_FAMILY_IPV4][key->src[0]]++] = sort_item_of(key, i, 0);
    }
    offset = 0;
    for (int family = 0; family < 2; family++) {
        for (unsigned b = 0; b < 256; offset += counts[family][b], b++)
            if (counts[family][b] > 1)
                radix_sort_items(items + offset, counts[family][b], 1, 0, rows);
    }
    return items;
}

/* qsort_r comparator over row indices; context: the rows array. */
static int compare_row_indices(const void *a, const void *b, void *rows)
{
    const struct flow_row *base = rows;
    return compare_keys(&base[*(const uint32_t *)a].key, &base[*(const uint32_t *)b].key);
}

void report_sort_rows(const struct flow_table *table, const struct flow_row **sorted)
{
    if (table->count == 0)
        return; /* sorted may be NULL then */
    struct sort_item *items = sort_row_range(table->rows, 0, table->count);
    if (items != NULL) {
        for (uint32_t i = 0; i < table->count; i++)
            sorted[i] = &table->rows[items[i].index];
        free(items);
        return;
    }
    for (uint32_t i = 0; i < table->count; i++) /* out of memory: the slower sort */
        sorted[i] = &table->rows[i];
    qsort(sorted, table->count, sizeof *sorted, report_compare_rows);
}

/* How far ahead the merge and the renderer prefetch rows: rows are visited in report order,
 * scattered over the table, so each would otherwise be a cache miss. */
#define ROW_PREFETCH_DISTANCE 12

static inline void prefetch_row(const struct flow_row *row)
{
    __builtin_prefetch(row);
    __builtin_prefetch((const char *)row + sizeof *row - 1); /* a row may span two lines */
}

void report_order_extend(const struct flow_table *table, uint32_t *order, uint32_t sorted_count,
                         uint32_t *scratch)
{
    uint32_t count = table->count;
    if (sorted_count >= count)
        return;
    /* sort the rows added since, in scratch */
    uint32_t added = count - sorted_count;
    struct sort_item *items = sort_row_range(table->rows, sorted_count, added);
    if (items != NULL) {
        for (uint32_t i = 0; i < added; i++)
            scratch[i] = items[i].index;
        free(items);
    } else { /* out of memory: the slower sort */
        for (uint32_t i = 0; i < added; i++)
            scratch[i] = sorted_count + i;
        qsort_r(scratch, added, sizeof *scratch, compare_row_indices, table->rows);
    }
    /* merge from the back, so order[] can be written in place */
    int64_t old = (int64_t)sorted_count - 1, new = (int64_t)added - 1;
    for (int64_t out = (int64_t)count - 1; new >= 0; out--) {
        if (old >= ROW_PREFETCH_DISTANCE)
            prefetch_row(&table->rows[order[old - ROW_PREFETCH_DISTANCE]]);
        if (new >= ROW_PREFETCH_DISTANCE)
            prefetch_row(&table->rows[scratch[new - ROW_PREFETCH_DISTANCE]]);
        if (old >= 0 && compare_row_indices(&order[old], &scratch[new], table->rows) > 0)
            order[out] = order[old--];
        else
            order[out] = scratch[new --];
    }
}

/* ---- text --------------------------------------------------------------------------------- */

/* "00".."99": decimal numbers are written two digits per division. */
static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes exactly 8 digits (leading zeros included) of value < 10^8: two independent halves of
 * 32-bit arithmetic. */
static inline char *append_8_digits(char *p, uint32_t value)
{
    uint32_t high = value / 10000, low = value % 10000;
    memcpy(p, &digit_pairs[2 * (high / 100)], 2);
    memcpy(p + 2, &digit_pairs[2 * (high % 100)], 2);
    memcpy(p + 4, &digit_pairs[2 * (low / 100)], 2);
    memcpy(p + 6, &digit_pairs[2 * (low % 100)], 2);
    return p + 8;
}

/* Writes value < 10^8 without leading zeros. */
static inline char *append_u32_small(char *p, uint32_t value)
{
    int length = value < 10000 ? (value < 10     ? 1
                                  : value < 100  ? 2
                                  : value < 1000 ? 3
                                                 : 4)
                               : (value < 100000     ? 5
                                  : value < 1000000  ? 6
                                  : value < 10000000 ? 7
                                                     : 8);
    char *end = p + length, *q = end;
    while (value >= 100) {
        q -= 2;
        memcpy(q, &digit_pairs[2 * (value % 100)], 2);
        value /= 100;
    }
    if (value >= 10)
        memcpy(q - 2, &digit_pairs[2 * value], 2);
    else
        q[-1] = (char)('0' + value);
    return end;
}

/* Decimal text of any 64-bit number, 8 digits at a time: counts and millisecond timestamps
 * (13 digits) are most of a row's text. */
static inline char *append_u64(char *p, uint64_t value)
{
    if (value < 100000000u)
        return append_u32_small(p, (uint32_t)value);
    uint64_t high = value / 100000000u;
    uint32_t low = (uint32_t)(value % 100000000u);
    if (high < 100000000u) {
        p = append_u32_small(p, (uint32_t)high);
    } else { /* 17 digits or more */
        p = append_u32_small(p, (uint32_t)(high / 100000000u));
        p = append_8_digits(p, (uint32_t)(high % 100000000u));
    }
    return append_8_digits(p, low);
}

/* Appends a string literal (its length known at compile time: memcpy of a constant size). */
#define APPEND_LITERAL(p, literal)                                                                 \
    (memcpy((p), (literal), sizeof(literal) - 1), (p) + sizeof(literal) - 1)

/* The text of each octet value and its length, built by the compiler: an octet is one load
 * and one 4-byte store, without the branches on its digit count that random addresses would
 * mispredict. */
struct octet_text {
    char text[3];
    uint8_t length;
};
_Static_assert(sizeof(struct octet_text) == 4, "an octet is copied as 4 bytes");
#define OCTET(n)                                                                                   \
    {                                                                                              \
        {(char)((n) >= 100  ? '0' + (n) / 100                                                      \
                : (n) >= 10 ? '0' + (n) / 10                                                       \
                            : '0' + (n)),                                                          \
         (char)((n) >= 100  ? '0' + (n) / 10 % 10                                                  \
                : (n) >= 10 ? '0' + (n) % 10                                                       \
                            : 0),                                                                  \
         (char)((n) >= 100 ? '0' + (n) % 10 : 0)},                                                 \
            (uint8_t)(1 + ((n) >= 10) + ((n) >= 100))                                              \
    }
#define OCTETS_4(n)  OCTET(n), OCTET((n) + 1), OCTET((n) + 2), OCTET((n) + 3)
#define OCTETS_16(n) OCTETS_4(n), OCTETS_4((n) + 4), OCTETS_4((n) + 8), OCTETS_4((n) + 12)
#define OCTETS_64(n) OCTETS_16(n), OCTETS_16((n) + 16), OCTETS_16((n) + 32), OCTETS_16((n) + 48)
static const struct octet_text octet_texts[256] = {OCTETS_64(0), OCTETS_64(64), OCTETS_64(128),
                                                   OCTETS_64(192)};

/* Dotted quad. Writes up to 3 bytes past the end it returns (the buffer has room: see
 * REPORT_ROW_MAX), which the text that follows overwrites. */
static inline char *append_ipv4(char *p, const uint8_t *address)
{
    for (int i = 0; i < 4; i++) {
        const struct octet_text *octet = &octet_texts[address[i]];
        memcpy(p, octet, sizeof *octet); /* the length byte too: overwritten below or later */
        p += octet->length;
        *p++ = '.';
    }
    return p - 1;
}

/* RFC 5952 text, byte for byte what glibc's inet_ntop writes (which the report has always
 * used): lowercase hex without leading zeros, the longest run of two or more zero groups (the
 * first of equal runs) as "::", and the last 32 bits dotted after "::ffff:" or a "::" of six
 * zero groups (IPv4-mapped and IPv4-compatible addresses). By hand because inet_ntop formats
 * each group through sprintf. */
static char *append_ipv6(char *p, const uint8_t *address)
{
    static const char hex[] = "0123456789abcdef";
    unsigned words[8];
    for (int i = 0; i < 8; i++)
        words[i] = (unsigned)address[2 * i] << 8 | address[2 * i + 1];
    int best = -1, best_length = 0;
    for (int i = 0; i < 8;) {
        if (words[i] != 0) {
            i++;
            continue;
        }
        int run = i;
        while (i < 8 && words[i] == 0)
            i++;
        if (i - run > best_length)
            best = run, best_length = i - run;
    }
    if (best_length < 2)
        best = -1;
    for (int i = 0; i < 8; i++) {
        if (best >= 0 && i >= best && i < best + best_length) {
            if (i == best)
                *p++ = ':';
            continue;
        }
        if (i != 0)
            *p++ = ':';
        if (i == 6 && best == 0 && (best_length == 6 || (best_length == 5 && words[5] == 0xffff)))
            return append_ipv4(p, address + 12);
        unsigned word = words[i];
        if (word >= 0x1000)
            *p++ = hex[word >> 12];
        if (word >= 0x100)
            *p++ = hex[(word >> 8) & 15];
        if (word >= 0x10)
            *p++ = hex[(word >> 4) & 15];
        *p++ = hex[word & 15];
    }
    if (best >= 0 && best + best_length == 8)
        *p++ = ':';
    return p;
}

static inline char *append_address(char *p, const struct flow_key *key, int source)
{
    const uint8_t *address = source ? key->src : key->dst;
    return key->family == FLOW_FAMILY_IPV4 ? append_ipv4(p, address) : append_ipv6(p, address);
}

void report_format_address(const struct flow_key *key, int source, char *buf)
{
    *append_address(buf, key, source) = '\0';
}

/* IANA's keywords for the protocols a capture point sees most; any other by its number. */
static const struct {
    uint8_t number;
    char name[9];
} protocol_names[] = {
    {1, "ICMP"},  {2, "IGMP"},  {4, "IPv4"},   {6, "TCP"},    {17, "UDP"},    {33, "DCCP"},
    {41, "IPv6"}, {47, "GRE"},  {50, "ESP"},   {51, "AH"},    {58, "ICMPv6"}, {88, "EIGRP"},
    {89, "OSPF"}, {103, "PIM"}, {112, "VRRP"}, {115, "L2TP"}, {132, "SCTP"},  {136, "UDP-Lite"},
};

const char *nasoone_protocol_name(unsigned number, char *buf)
{
    for (size_t i = 0; i < sizeof protocol_names / sizeof *protocol_names; i++) {
        if (protocol_names[i].number == number) {
            memcpy(buf, protocol_names[i].name, sizeof protocol_names[i].name);
            return buf;
        }
    }
    *append_u64(buf, number) = '\0';
    return buf;
}

int nasoone_protocol_number(const char *name, size_t length)
{
    for (size_t i = 0; i < sizeof protocol_names / sizeof *protocol_names; i++)
        if (strlen(protocol_names[i].name) == length &&
            memcmp(protocol_names[i].name, name, length) == 0)
            return protocol_names[i].number;
    unsigned value = 0;
    if (length == 0 || length > 3)
        return -1;
    for (size_t i = 0; i < length; i++) {
        if (name[i] < '0' || name[i] > '9' || (i == 0 && name[i] == '0' && length > 1))
            return -1;
        value = value * 10 + (unsigned)(name[i] - '0');
    }
    /* 1 to 255, and only one without a name (a named one is said by its name) */
    char named[12];
    if (value == 0 || value > 255)
        return -1;
    nasoone_protocol_name(value, named);
    return strlen(named) == length && memcmp(named, name, length) == 0 ? (int)value : -1;
}

/* A 5-tuple row's protocols cell: its one protocol, "[ICMP]" (or ["ICMP"] in JSON). */
static char *append_protocol(char *p, uint8_t number, int json)
{
    char name[12];
    nasoone_protocol_name(number, name);
    *p++ = '[';
    if (json)
        *p++ = '"';
    size_t length = strlen(name);
    memcpy(p, name, length);
    p += length;
    if (json)
        *p++ = '"';
    *p++ = ']';
    return p;
}

size_t report_format_row(const struct flow_row *row, char *buf)
{
    static const struct {
        char text[11];
        uint8_t length;
    } protocol_sets[4] = {{"[]", 2}, {"[TCP]", 5}, {"[UDP]", 5}, {"[TCP, UDP]", 10}};
    char *p = buf;
    p = append_address(p, &row->key, 1);
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->key.src_port);
    p = APPEND_LITERAL(p, "; ");
    p = append_address(p, &row->key, 0);
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->key.dst_port);
    p = APPEND_LITERAL(p, "; ");
    if (row->key.protocol != 0) {
        p = append_protocol(p, row->key.protocol, 0);
    } else {
        unsigned set = row->counters.protocols & 3;
        memcpy(p, protocol_sets[set].text, sizeof protocol_sets[set].text); /* cut to length */
        p += protocol_sets[set].length;
    }
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->counters.first_ms);
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->counters.last_ms);
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->counters.bytes);
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->counters.packets);
    *p++ = '\n';
    *p = '\0';
    return (size_t)(p - buf);
}

/* Appends a CSV cell of TCP flags: nfdump's letters, or "-" without TCP. */
static char *append_tcp_flags_cell(char *p, const struct flow_counters *counters)
{
    if (counters->protocols & FLOW_PROTO_TCP) {
        nasoone_format_tcp_flags(counters->tcp_flags, p);
        return p + 8;
    }
    *p++ = '-'; /* no TCP: no flags */
    return p;
}

/* The Community ID of a 5-tuple key ("1:" and 28 base64 digits). */
static size_t key_community_id(const struct flow_key *key, int seed, char *out)
{
    struct nasoone_row row = {.source_port = key->src_port,
                              .destination_port = key->dst_port,
                              .family = key->family,
                              .protocol = key->protocol};
    memcpy(row.source, key->src, sizeof row.source);
    memcpy(row.destination, key->dst, sizeof row.destination);
    return nasoone_community_id(&row, (uint16_t)seed, out);
}

/* The JSON names of one direction's counts (prefix "" or "reverse_"), as append_json_counts
 * writes them. */
#define JSON_COUNT_NAMES(prefix)                                                                   \
    {                                                                                              \
        ",\"" prefix "first\":", ",\"" prefix "last\":", ",\"" prefix "bytes\":",                  \
            ",\"" prefix "ip_bytes\":", ",\"" prefix "packets\":", ",\"" prefix "tcp_flags\":"     \
    }

/* One direction's counts as JSON fields named by `names` (JSON_COUNT_NAMES); tcp_flags only for
 * a direction with TCP, where flags mean something. */
static char *append_json_counts(char *p, const char *const names[6],
                                const struct flow_counters *counters)
{
    const uint64_t values[5] = {counters->first_ms, counters->last_ms, counters->bytes,
                                counters->ip_bytes, counters->packets};
    for (int i = 0; i < 5; i++) {
        size_t length = strlen(names[i]);
        memcpy(p, names[i], length);
        p = append_u64(p + length, values[i]);
    }
    if (counters->protocols & FLOW_PROTO_TCP) {
        size_t length = strlen(names[5]);
        memcpy(p, names[5], length);
        p = append_u64(p + length, counters->tcp_flags);
    }
    return p;
}

size_t report_format_json_extra(const struct flow_key *key, const struct flow_counters *counters,
                                const struct report_json_extra *extra, const char *reason,
                                char *buf)
{
    static const struct {
        char text[14];
        uint8_t length;
    } protocol_sets[4] = {{"[]", 2}, {"[\"TCP\"]", 7}, {"[\"UDP\"]", 7}, {"[\"TCP\",\"UDP\"]", 13}};
    char *p = buf;
    p = APPEND_LITERAL(p, "{\"source_ip\":\"");
    p = append_address(p, key, 1);
    p = APPEND_LITERAL(p, "\",\"source_port\":");
    p = append_u64(p, key->src_port);
    p = APPEND_LITERAL(p, ",\"destination_ip\":\"");
    p = append_address(p, key, 0);
    p = APPEND_LITERAL(p, "\",\"destination_port\":");
    p = append_u64(p, key->dst_port);
    p = APPEND_LITERAL(p, ",\"protocols\":");
    if (key->protocol != 0) {
        p = append_protocol(p, key->protocol, 1);
    } else {
        unsigned set = counters->protocols & 3;
        memcpy(p, protocol_sets[set].text, sizeof protocol_sets[set].text);
        p += protocol_sets[set].length;
    }
    if (extra != NULL && extra->device_name != NULL) { /* a name that needs no escaping */
        p = APPEND_LITERAL(p, ",\"interface\":\"");
        size_t length = strnlen(extra->device_name, NASOONE_DEVICE_NAME_MAX);
        memcpy(p, extra->device_name, length);
        p += length;
        *p++ = '"';
    }
    static const char *const forward_names[] = JSON_COUNT_NAMES("");
    static const char *const reverse_names[] = JSON_COUNT_NAMES("reverse_");
    p = append_json_counts(p, forward_names, counters);
    if (extra != NULL && extra->reverse != NULL)
        p = append_json_counts(p, reverse_names, extra->reverse);
    if (extra != NULL && extra->community_seed >= 0 && key->protocol != 0) {
        p = APPEND_LITERAL(p, ",\"community_id\":\"");
        p += key_community_id(key, extra->community_seed, p);
        *p++ = '"';
    }
    if (reason != NULL) {
        p = APPEND_LITERAL(p, ",\"reason\":\"");
        size_t length = strnlen(reason, REPORT_REASON_MAX); /* the row stays in bounds */
        memcpy(p, reason, length);
        p += length;
        *p++ = '"';
    }
    p = APPEND_LITERAL(p, "}\n");
    *p = '\0';
    return (size_t)(p - buf);
}

size_t report_format_json(const struct flow_key *key, const struct flow_counters *counters,
                          const char *reason, char *buf)
{
    return report_format_json_extra(key, counters, NULL, reason, buf);
}

/* The counters of a direction that sent nothing. */
static const struct flow_counters no_counters;

/* The name of a key's device, or NULL without several devices. */
static const char *device_name(const struct report_format *format, const struct flow_key *key)
{
    return format->device_names != NULL && key->device != 0 ? format->device_names[key->device - 1]
                                                            : NULL;
}

static size_t format_json_row(const struct report_format *format, const struct flow_row *row,
                              const struct flow_row *reverse, char *buf)
{
    struct report_json_extra extra = {.reverse = !format->biflow   ? NULL
                                                 : reverse != NULL ? &reverse->counters
                                                                   : &no_counters,
                                      .community_seed = format->community_seed,
                                      .device_name = device_name(format, &row->key)};
    return report_format_json_extra(&row->key, &row->counters, &extra, NULL, buf);
}

void nasoone_format_tcp_flags(unsigned flags, char *out)
{
    static const char letters[8] = {'C', 'E', 'U', 'A', 'P', 'R', 'S', 'F'};
    for (int i = 0; i < 8; i++)
        out[i] = (flags >> (7 - i)) & 1 ? letters[i] : '.';
    out[8] = '\0';
}

/* The extended CSV's row: the seed's, then "; ip bytes; tcp flags"; a biflow's then the
 * reverse counts. */
static size_t format_extended_row(const struct report_format *format, const struct flow_row *row,
                                  const struct flow_row *reverse, char *buf)
{
    char *p = buf + report_format_row(row, buf) - 1; /* over its newline */
    p = APPEND_LITERAL(p, "; ");
    p = append_u64(p, row->counters.ip_bytes);
    p = APPEND_LITERAL(p, "; ");
    p = append_tcp_flags_cell(p, &row->counters);
    if (format->biflow) {
        const struct flow_counters *r = reverse != NULL ? &reverse->counters : &no_counters;
        const uint64_t counts[] = {r->first_ms, r->last_ms, r->bytes, r->packets, r->ip_bytes};
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
            p = APPEND_LITERAL(p, "; ");
            p = append_u64(p, counts[i]);
        }
        p = APPEND_LITERAL(p, "; ");
        p = append_tcp_flags_cell(p, r);
    }
    const char *name = device_name(format, &row->key);
    if (name != NULL) { /* a name without ';' or a line end (source_devices.c) */
        p = APPEND_LITERAL(p, "; ");
        size_t length = strnlen(name, NASOONE_DEVICE_NAME_MAX);
        memcpy(p, name, length);
        p += length;
    }
    *p++ = '\n';
    *p = '\0';
    return (size_t)(p - buf);
}

static size_t format_seed_row(const struct report_format *format, const struct flow_row *row,
                              const struct flow_row *reverse, char *buf)
{
    (void)format;
    (void)reverse;
    return report_format_row(row, buf);
}

const struct report_format report_format_csv = {
    .name = "csv", .header = REPORT_HEADER, .format_row = format_seed_row, .community_seed = -1};
const struct report_format report_format_csv_extended = {.name = "csv-extended",
                                                         .header = REPORT_HEADER_EXTENDED,
                                                         .format_row = format_extended_row,
                                                         .community_seed = -1};
const struct report_format report_format_jsonl = {
    .name = "jsonl", .header = "", .format_row = format_json_row, .community_seed = -1};

struct report_format report_format_for(const struct report_format *base, int biflow,
                                       int community_seed, const char *const *device_names)
{
    struct report_format format = *base;
    format.biflow = biflow;
    format.community_seed = community_seed;
    format.device_names = device_names;
    if (base->format_row == format_json_row || (!biflow && device_names == NULL))
        return format;
    format.name = biflow ? "csv-biflow" : "csv-extended";
    format.format_row = format_extended_row;
    snprintf(format.header, sizeof format.header, "%s%s\n",
             biflow ? REPORT_HEADER_BIFLOW_FIELDS : REPORT_HEADER_EXTENDED_FIELDS,
             device_names != NULL ? "; interface" : "");
    return format;
}

const char *flow_end_reason_name(enum flow_end_reason reason)
{
    switch (reason) {
    case FLOW_END_IDLE:
        return "idle";
    case FLOW_END_ACTIVE:
        return "active";
    case FLOW_END_END:
        return "end";
    case FLOW_END_CAPACITY:
        return "capacity";
    }
    return "unknown";
}

/* Writes all of buf, retrying short writes and EINTR. */
static int write_all(int fd, const char *buf, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, buf, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Temporary names: "." + the file's name (cut to TEMP_NAME_PREFIX_MAX bytes, so any valid
 * name gives a valid temporary name) + "." + 16 random hex digits + a suffix (".tmp" for the
 * report's rewrites, ".flows.tmp" for the flow log's open files). Random, so nobody can plant
 * files at the next names; tied to the file's name and kind, so the leftovers of a crashed run
 * can be recognised (report_remove_leftovers, the flow log's recovery) and never mistaken for
 * the other kind's. */
#define TEMP_NAME_PREFIX_MAX (NAME_MAX - 2 - TEMP_RANDOM_DIGITS - REPORT_TEMP_SUFFIX_MAX)
#define TEMP_RANDOM_DIGITS   16
#define REPORT_TEMP_SUFFIX   ".tmp"

/* 64 unpredictable bits: getrandom, or (never in practice) a mix of clocks and addresses. */
static uint64_t random_u64(void)
{
    uint64_t value;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) == (ssize_t)sizeof value)
        return value;
    static atomic_uint_fast64_t fallback = 0x9e3779b97f4a7c15u;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    value = atomic_fetch_add(&fallback, 0x9e3779b97f4a7c15u) ^ (uint64_t)now.tv_nsec ^
            ((uint64_t)now.tv_sec << 32) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&now;
    value *= 0xbf58476d1ce4e5b9u;
    return value ^ (value >> 31);
}

int report_split_path(const char *path, char *folder, size_t folder_size, const char **name)
{
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    int length;
    if (slash == NULL)
        length = snprintf(folder, folder_size, ".");
    else if (slash == path)
        length = snprintf(folder, folder_size, "/");
    else
        length = snprintf(folder, folder_size, "%.*s", (int)(slash - path), path);
    if (length < 0 || (size_t)length >= folder_size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int report_open_folder(const char *path)
{
    char folder[PATH_MAX];
    const char *name;
    if (report_split_path(path, folder, sizeof folder, &name) != 0)
        return -1;
    /* O_PATH: a folder we may write and search but not list is still a folder we can use */
    return open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

int report_temporary_name_as(const char *path, const char *suffix, char *temporary, size_t size)
{
    const char *slash = strrchr(path, '/');
    int folder_length = slash ? (int)(slash - path + 1) : 0;
    const char *name = slash ? slash + 1 : path;
    int name_length = (int)strnlen(name, TEMP_NAME_PREFIX_MAX);
    int length = snprintf(temporary, size, "%.*s.%.*s.%016llx%s", folder_length, path, name_length,
                          name, (unsigned long long)random_u64(), suffix);
    if (length < 0 || (size_t)length >= size || strlen(suffix) > REPORT_TEMP_SUFFIX_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

int report_temporary_name(const char *path, char *temporary, size_t size)
{
    return report_temporary_name_as(path, REPORT_TEMP_SUFFIX, temporary, size);
}

int report_is_temporary_of(const char *entry, const char *name, const char *suffix)
{
    size_t prefix = strnlen(name, TEMP_NAME_PREFIX_MAX);
    if (entry[0] != '.' || strncmp(entry + 1, name, prefix) != 0 || entry[1 + prefix] != '.')
        return 0;
    const char *digits = entry + 2 + prefix;
    for (int i = 0; i < TEMP_RANDOM_DIGITS; i++)
        if (!isxdigit((unsigned char)digits[i]))
            return 0;
    return strcmp(digits + TEMP_RANDOM_DIGITS, suffix) == 0;
}

int report_lock_temporary(int fd)
{
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

int report_open_leftover(int folder_fd, const char *entry, int flags)
{
    /* only regular files of this user: never follow a link, never touch another's file, never
     * block on a FIFO planted at the name */
    int fd = openat(folder_fd, entry, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        report_lock_temporary(fd) != 0) {
        close(fd); /* locked: a running capture's file */
        return -1;
    }
    return fd;
}

int report_remove_leftovers(const char *path)
{
    char folder[PATH_MAX];
    const char *name;
    DIR *dir = report_split_path(path, folder, sizeof folder, &name) == 0 ? opendir(folder) : NULL;
    if (dir == NULL)
        return 0;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (!report_is_temporary_of(entry->d_name, name, REPORT_TEMP_SUFFIX))
            continue;
        int fd = report_open_leftover(dirfd(dir), entry->d_name, O_RDONLY);
        if (fd < 0)
            continue;
        if (unlinkat(dirfd(dir), entry->d_name, 0) == 0)
            removed++;
        close(fd);
    }
    closedir(dir);
    return removed;
}

/* The temporary file a report is written into before it takes the report's name. */
struct temporary {
    int fd;
    int named;               /* 0 while an O_TMPFILE file has no name yet */
    char name[NAME_MAX + 1]; /* its name in the folder, once it has one */
};

/* A fresh temporary name for the report called `name`, without a folder. */
static int temporary_name(const char *name, char *out, size_t size)
{
    if (strlen(name) > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return report_temporary_name(name, out, size);
}

/* Opens an unnamed file in the report's folder (O_TMPFILE: a crash or kill -9 at any moment
 * before it is published leaves nothing behind), or, where the file system cannot, a file
 * under a fresh random name. Mode 0666 less the umask, like a report a user would create.
 * Either holds a lock (flock) for as long as it is open, so that another capture's
 * report_remove_leftovers never takes it for a crashed run's. */
static int temporary_open(struct temporary *temp, int folder_fd, const char *name)
{
    temp->named = 0;
    temp->fd = -1;
    if (strlen(name) > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* An unnamed file is given its name through /proc/self/fd (linkat with AT_EMPTY_PATH
     * would need CAP_DAC_READ_SEARCH): without /proc, a named file from the start. */
    if (access("/proc/self/fd", X_OK) == 0) {
        temp->fd = openat(folder_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
        if (temp->fd >= 0) {
            report_lock_temporary(temp->fd);
            return 0;
        }
        /* EOPNOTSUPP, EISDIR (kernel or file system without O_TMPFILE): a named file */
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return -1;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        if (temporary_name(name, temp->name, sizeof temp->name) != 0)
            return -1;
        temp->fd = openat(folder_fd, temp->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (temp->fd >= 0) {
            report_lock_temporary(temp->fd);
            temp->named = 1;
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* Gives an unnamed temporary a (random) name in the report's folder, so it can be renamed. */
static int temporary_link(struct temporary *temp, int folder_fd, const char *name)
{
    if (temp->named)
        return 0;
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", temp->fd);
    for (int attempt = 0; attempt < 8; attempt++) {
        if (temporary_name(name, temp->name, sizeof temp->name) != 0)
            return -1;
        if (linkat(AT_FDCWD, self, folder_fd, temp->name, AT_SYMLINK_FOLLOW) == 0) {
            temp->named = 1;
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* Gives the temporary the permission bits of the report it replaces, so a chmod made while the
 * capture runs holds across rewrites, and its owner where this process may (root). Only a
 * regular file at the name counts: a symbolic link planted there is never followed, and the
 * set-user-ID and set-group-ID bits are never copied (a report is no program). A report that
 * is not there yet keeps the new file's mode. */
static int temporary_copy_mode(const struct temporary *temp, int folder_fd, const char *name)
{
    struct stat st;
    if (fstatat(folder_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
        return 0;
    if (fchown(temp->fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
        return -1;
    return fchmod(temp->fd, st.st_mode & 01777); /* after fchown, which may clear set-id bits */
}

/* Publishes the written temporary under `name`: over the report (rename) or, for a new report,
 * only if nothing has the name (link, which never replaces). */
static int temporary_publish(struct temporary *temp, int folder_fd, const char *name, int replace)
{
    if (replace)
        return renameat(folder_fd, temp->name, folder_fd, name);
    if (!temp->named) {
        /* an unnamed file goes straight to its name: no temporary name is ever seen */
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", temp->fd);
        return linkat(AT_FDCWD, self, folder_fd, name, AT_SYMLINK_FOLLOW);
    }
    if (linkat(folder_fd, temp->name, folder_fd, name, 0) != 0)
        return -1;
    unlinkat(folder_fd, temp->name, 0);
    temp->named = 0;
    return 0;
}

int report_write_at(int folder_fd, const char *path, const struct report_format *format,
                    const struct flow_row *const *rows, const struct flow_row *const *reverse,
                    size_t count, int replace, char *err, size_t err_size)
{
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    struct temporary temp;
    if (temporary_open(&temp, folder_fd, name) != 0) {
        /* a folder removed since start: O_TMPFILE says EPERM there, which would mislead */
        struct stat st;
        int saved_errno = errno;
        if (fstatat(folder_fd, "", &st, AT_EMPTY_PATH) == 0 && st.st_nlink == 0)
            saved_errno = ENOENT;
        message_format(err, err_size, "nasoone: cannot create a temporary file beside %s: %s", path,
                       strerror(saved_errno));
        errno = saved_errno;
        return -1;
    }
    /* Rows are rendered into a buffer and written a chunk at a time: one write() per MiB. */
    enum { CHUNK = 1 << 20 };
    char *chunk = malloc(CHUNK);
    int failed = chunk == NULL;
    size_t used = 0;
    off_t written = 0;
    if (!failed) {
        used = strlen(format->header);
        memcpy(chunk, format->header, used);
    }
    for (size_t i = 0; i < count && !failed; i++) {
        if (i + ROW_PREFETCH_DISTANCE < count)
            prefetch_row(rows[i + ROW_PREFETCH_DISTANCE]);
        if (CHUNK - used < REPORT_ROW_MAX) {
            failed = write_all(temp.fd, chunk, used) != 0;
            /* The disk starts on each chunk while the next is rendered, so the fsync below
             * waits for the last few instead of all of them (measured: 80 ms less for a
             * 170 MB report). A hint: its failure is the fsync's to report. */
            if (!failed)
                sync_file_range(temp.fd, written, (off_t)used, SYNC_FILE_RANGE_WRITE);
            written += (off_t)used;
            used = 0;
        }
        used +=
            format->format_row(format, rows[i], reverse != NULL ? reverse[i] : NULL, chunk + used);
    }
    if (!failed)
        failed = write_all(temp.fd, chunk, used) != 0;
    if (!failed && replace)
        failed = temporary_copy_mode(&temp, folder_fd, name) != 0;
    if (!failed)
        failed = fsync(temp.fd) != 0;
    if (!failed && replace)
        failed = temporary_link(&temp, folder_fd, name) != 0;
    int saved_errno = chunk == NULL ? ENOMEM : errno;
    free(chunk);
    if (!failed && temporary_publish(&temp, folder_fd, name, replace) != 0) {
        failed = 1;
        saved_errno = errno;
    }
    if (failed && temp.named)
        unlinkat(folder_fd, temp.name, 0);
    if (close(temp.fd) != 0 && !failed) {
        failed = 1; /* the data was fsynced: a late error here is not expected, but counts */
        saved_errno = errno;
    }
    if (failed) {
        if (!replace && saved_errno == EEXIST)
            message_format(err, err_size,
                           "nasoone: cannot create output file %s: it already "
                           "exists",
                           path);
        else
            message_format(err, err_size, "nasoone: cannot write the report %s: %s", path,
                           strerror(saved_errno));
        errno = saved_errno;
        return -1;
    }
    return 0;
}

int report_try_create(const char *path)
{
    int folder_fd = report_open_folder(path);
    if (folder_fd < 0)
        return -1;
    const char *slash = strrchr(path, '/');
    struct temporary temp;
    int result = temporary_open(&temp, folder_fd, slash ? slash + 1 : path);
    int saved_errno = errno;
    if (result == 0) {
        if (temp.named)
            unlinkat(folder_fd, temp.name, 0);
        close(temp.fd);
    }
    close(folder_fd);
    errno = saved_errno;
    return result;
}

int report_write_atomic_as(const char *path, const struct report_format *format,
                           const struct flow_row *const *rows, size_t count, char *err,
                           size_t err_size)
{
    int folder_fd = report_open_folder(path);
    if (folder_fd < 0) {
        message_format(err, err_size, "nasoone: cannot create a temporary file beside %s: %s", path,
                       strerror(errno));
        return -1;
    }
    int result = report_write_at(folder_fd, path, format, rows, NULL, count, 1, err, err_size);
    int saved_errno = errno;
    close(folder_fd);
    errno = saved_errno;
    return result;
}

int report_write_atomic(const char *path, const struct flow_row *const *rows, size_t count,
                        char *err, size_t err_size)
{
    return report_write_atomic_as(path, &report_format_csv, rows, count, err, err_size);
}
