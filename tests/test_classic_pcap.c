/*
 * test_classic_pcap.c - classic_pcap.c against libpcap itself.
 *
 * The producer reads classic pcap files with classic_pcap.c instead of libpcap's reader, so
 * every record it makes must be the record libpcap would hand out (time, lengths, bytes) and
 * every file libpcap refuses part-way must stop at the same record with the same words. Each
 * capture given on the command line is read both ways from memory, as it is and changed:
 * cut at every length over its last records and at its record boundaries, with nanosecond
 * magic, with a snapshot length below its records' lengths, with a record length libpcap
 * refuses, and with times and fractions out of range.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "classic_pcap.h"

struct record {
    struct pcap_pkthdr header;
    const uint8_t *data;
    uint8_t *owned; /* libpcap's records: a copy (its buffer is reused), freed with the reading */
};

/* What one reader made of a file: its records (data copied for libpcap, whose buffer is
 * reused), and how it ended: "" at the end of the file, or the error text. */
struct reading {
    struct record *records;
    size_t count, capacity;
    char end[PCAP_ERRBUF_SIZE];
    int probed; /* classic side: the file is one classic_pcap_probe takes */
};

static void reading_add(struct reading *reading, const struct pcap_pkthdr *header,
                        const uint8_t *data, int copy)
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
    memset(reading, 0, sizeof *reading);
}

/* libpcap's reading of bytes[0 .. size), or -1 when it refuses the file header. */
static int read_with_libpcap(const uint8_t *bytes, size_t size, struct reading *reading,
                             uint32_t *snapshot)
{
    memset(reading, 0, sizeof *reading);
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
    *snapshot = (uint32_t)pcap_snapshot(pcap);
    struct pcap_pkthdr *header;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pcap, &header, &data)) == 1)
        reading_add(reading, header, data, 1);
    if (rc == PCAP_ERROR)
        snprintf(reading->end, sizeof reading->end, "%s", pcap_geterr(pcap));
    pcap_close(pcap);
    return 0;
}

/* classic_pcap.c's reading of the same bytes, as the producer walks them (here all at once:
 * the producer's batch boundaries only decide where a record waits for more bytes). */
static void read_with_classic(const uint8_t *bytes, size_t size, uint32_t snapshot,
                              struct reading *reading)
{
    memset(reading, 0, sizeof *reading);
    struct classic_pcap_format format;
    if (size < CLASSIC_PCAP_FILE_HEADER || !classic_pcap_probe(bytes, snapshot, &format))
        return;
    reading->probed = 1;
    size_t at = CLASSIC_PCAP_FILE_HEADER;
    for (;;) {
        struct pcap_pkthdr header;
        size_t record_size;
        enum classic_pcap_step step =
            classic_pcap_next(&format, bytes + at, size - at, &header, &record_size, reading->end,
                              sizeof reading->end);
        if (step == CLASSIC_PCAP_INVALID)
            return;
        if (step == CLASSIC_PCAP_NEED_MORE) {
            if (at < size)
                classic_pcap_truncated(&format, bytes + at, size - at, reading->end,
                                       sizeof reading->end);
            return;
        }
        reading_add(reading, &header, bytes + at + CLASSIC_PCAP_RECORD_HEADER, 0);
        at += record_size;
    }
}

static unsigned long compared_files, compared_records;

/* Both readings of bytes[0 .. size) agree record for record and in how they end. */
static void compare(const char *what, const uint8_t *bytes, size_t size)
{
    struct reading expected, actual;
    uint32_t snapshot = 0;
    check_set_context("%s", what);
    if (read_with_libpcap(bytes, size, &expected, &snapshot) != 0)
        return; /* no header libpcap takes: the engine never gets this far */
    read_with_classic(bytes, size, snapshot, &actual);
    if (actual.probed) {
        compared_files++;
        CHECK_EQ(actual.count, expected.count);
        size_t n = actual.count < expected.count ? actual.count : expected.count;
        for (size_t i = 0; i < n; i++) {
            const struct pcap_pkthdr *a = &actual.records[i].header;
            const struct pcap_pkthdr *e = &expected.records[i].header;
            check_set_context("%s, record %zu", what, i);
            CHECK_EQ((long long)a->ts.tv_sec, (long long)e->ts.tv_sec);
            CHECK_EQ((long long)a->ts.tv_usec, (long long)e->ts.tv_usec);
            CHECK_EQ(a->caplen, e->caplen);
            CHECK_EQ(a->len, e->len);
            if (a->caplen == e->caplen)
                CHECK_MEM(actual.records[i].data, expected.records[i].data, a->caplen);
            compared_records++;
        }
        check_set_context("%s", what);
        CHECK_STR(actual.end, expected.end);
    }
    reading_free(&expected);
    reading_free(&actual);
}

static void put_u32(uint8_t *at, uint32_t value) { memcpy(at, &value, sizeof value); }
static uint32_t get_u32(const uint8_t *at)
{
    uint32_t value;
    memcpy(&value, at, sizeof value);
    return value;
}

/* Offsets of the records of a classic pcap file in this host's byte order. */
static size_t record_offsets(const uint8_t *bytes, size_t size, size_t *offsets, size_t max)
{
    size_t count = 0;
    for (size_t at = CLASSIC_PCAP_FILE_HEADER;
         at + CLASSIC_PCAP_RECORD_HEADER <= size && count < max;
         at += CLASSIC_PCAP_RECORD_HEADER + get_u32(bytes + at + 8))
        offsets[count++] = at;
    return count;
}

static void compare_variants(const char *path)
{
    size_t size;
    uint8_t *original = check_load_file(path, &size);
    uint8_t *bytes = malloc(size + 1);
    if (bytes == NULL)
        abort();
    char what[512];
    size_t offsets[4096];
    size_t records = record_offsets(original, size, offsets, 4096);

    snprintf(what, sizeof what, "%s as it is", path);
    compare(what, original, size);

    /* cut at every length over the last two records, and at each record's start and middle */
    size_t from = records >= 2 ? offsets[records - 2] : CLASSIC_PCAP_FILE_HEADER;
    for (size_t cut = from; cut < size; cut++) {
        snprintf(what, sizeof what, "%s cut at %zu", path, cut);
        compare(what, original, cut);
    }
    for (size_t r = 0; r < records; r++) {
        size_t cuts[] = {offsets[r], offsets[r] + 7, offsets[r] + CLASSIC_PCAP_RECORD_HEADER + 1};
        for (size_t c = 0; c < 3; c++) {
            if (cuts[c] >= size)
                continue;
            snprintf(what, sizeof what, "%s cut at %zu", path, cuts[c]);
            compare(what, original, cuts[c]);
        }
    }

    /* nanosecond magic: the fractions are taken as nanoseconds and scaled down */
    memcpy(bytes, original, size);
    put_u32(bytes, 0xa1b23c4du);
    snprintf(what, sizeof what, "%s with nanosecond magic", path);
    compare(what, bytes, size);

    /* snapshot lengths below the records' lengths: records are cut to them */
    uint32_t snaplens[] = {0, 1, 14, 40, 64, 100, 65535, 262144, 262145, 0x7fffffffu};
    for (size_t s = 0; s < sizeof snaplens / sizeof *snaplens; s++) {
        memcpy(bytes, original, size);
        put_u32(bytes + 16, snaplens[s]);
        snprintf(what, sizeof what, "%s with snaplen %u", path, snaplens[s]);
        compare(what, bytes, size);
        /* and cut inside the last record */
        snprintf(what, sizeof what, "%s with snaplen %u, cut", path, snaplens[s]);
        compare(what, bytes, size - 3);
    }

    /* a record length libpcap refuses, in the middle of the file */
    if (records >= 2) {
        uint32_t lengths[] = {262144, 262145, 0xffffffffu};
        for (size_t l = 0; l < 3; l++) {
            memcpy(bytes, original, size);
            put_u32(bytes + offsets[records / 2] + 8, lengths[l]);
            snprintf(what, sizeof what, "%s with caplen %u in record %zu", path, lengths[l],
                     records / 2);
            compare(what, bytes, size);
        }
    }

    /* times and fractions out of range: passed through as libpcap gives them */
    uint32_t times[][2] = {{0x80000000u, 0}, {0xffffffffu, 999999},      {0, 1000000},
                           {0, 0xffffffffu}, {1700000000u, 0x80000000u}, {0, 999999999u}};
    for (size_t t = 0; t < sizeof times / sizeof *times && records > 0; t++) {
        for (int nano = 0; nano <= 1; nano++) {
            memcpy(bytes, original, size);
            if (nano)
                put_u32(bytes, 0xa1b23c4du);
            put_u32(bytes + offsets[0], times[t][0]);
            put_u32(bytes + offsets[0] + 4, times[t][1]);
            snprintf(what, sizeof what, "%s with time %u.%u (%s)", path, times[t][0], times[t][1],
                     nano ? "ns" : "us");
            compare(what, bytes, size);
        }
    }

    /* not taken here (libpcap reads them): other versions, the other byte order */
    memcpy(bytes, original, size);
    bytes[6] = 3;
    struct classic_pcap_format format;
    check_set_context("%s version 2.3", path);
    CHECK_EQ(classic_pcap_probe(bytes, 65535, &format), 0);
    put_u32(bytes, 0xd4c3b2a1u);
    bytes[6] = 4;
    CHECK_EQ(classic_pcap_probe(bytes, 65535, &format), 0);
    free(bytes);
    free(original);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_classic_pcap FILE.pcap...\n");
        return 2;
    }
    for (int i = 1; i < argc; i++)
        compare_variants(argv[i]);
    printf("test_classic_pcap: %lu readings, %lu records compared with libpcap\n", compared_files,
           compared_records);
    CHECK(compared_files > 0);
    return check_finish("test_classic_pcap");
}
