/*
 * baseline.c - the two reference points the benchmark compares nasoone against.
 *
 * Usage: baseline read FILE        bare libpcap: pcap_next_ex over every packet, summing len
 *        baseline read-1m FILE     the same through a 1 MiB stdio buffer, as nasoone reads files
 *        baseline aggregate FILE [REPORT]
 *                                  one thread: pcap_next_ex + decode_packet + flow_table_upsert,
 *                                  then the sorted CSV report written once (with REPORT; report.c,
 *                                  as nasoone writes it). 1 MiB stdio buffer too, the same flow
 *                                  table, so it differs from nasoone only in threading, hand-off
 *                                  and reading (nasoone reads classic pcap files without stdio)
 *
 * "read" is the floor set by libpcap itself; "aggregate" is what the pipeline's work costs on a
 * single thread without any hand-off. Both print one line of key=value pairs on stdout:
 *   read:      packets=N bytes=SUM_OF_LEN
 *   aggregate: packets=N counted=C flows=F table_bytes=B  (plus skipped_<reason>=K when K > 0)
 * Single-threaded; exits 1 with a message on stderr when the file cannot be read.
 */
#define _DEFAULT_SOURCE /* pcap.h needs u_char and u_int from <sys/types.h> */

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "decode.h"
#include "flow_key.h"
#include "flow_table.h"
#include "report.h"

#define EXPECTED_FLOWS (1u << 16)

#define READ_BUFFER (1u << 20)
static char read_buffer[READ_BUFFER];

/* big_buffer: read through a 1 MiB stdio buffer (pcap_fopen_offline) instead of libpcap's
 * default, which is stdio's 4 KiB. */
static pcap_t *open_capture(const char *path, int big_buffer)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap;
    if (big_buffer) {
        FILE *file = fopen(path, "rb");
        if (!file) {
            perror(path);
            return NULL;
        }
        setvbuf(file, read_buffer, _IOFBF, READ_BUFFER);
        pcap = pcap_fopen_offline(file, errbuf);
        if (!pcap)
            fclose(file);
    } else {
        pcap = pcap_open_offline(path, errbuf);
    }
    if (!pcap)
        fprintf(stderr, "baseline: %s\n", errbuf);
    return pcap;
}

/* Returns 0 at the end of the file, -1 (with a message) on a read error. */
static int finish_loop(pcap_t *pcap, int rc)
{
    if (rc == PCAP_ERROR_BREAK)
        return 0;
    fprintf(stderr, "baseline: read error: %s\n", pcap_geterr(pcap));
    return -1;
}

static int run_read(const char *path, int big_buffer)
{
    pcap_t *pcap = open_capture(path, big_buffer);
    if (!pcap)
        return 1;
    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t packets = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(pcap, &hdr, &data)) == 1) {
        packets++;
        bytes += hdr->len;
    }
    int failed = finish_loop(pcap, rc);
    pcap_close(pcap);
    if (failed)
        return 1;
    printf("packets=%" PRIu64 " bytes=%" PRIu64 "\n", packets, bytes);
    return 0;
}

/* The report of `table` written to `path` as nasoone's final report is: sorted, atomically. */
static int write_report(const struct flow_table *table, const char *path)
{
    const struct flow_row **sorted = malloc(((size_t)table->count + 1) * sizeof *sorted);
    if (sorted == NULL) {
        fprintf(stderr, "baseline: out of memory for the report\n");
        return -1;
    }
    report_sort_rows(table, sorted);
    char err[512];
    int rc = report_write_atomic(path, sorted, table->count, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "baseline: %s\n", err);
    free(sorted);
    return rc;
}

static int run_aggregate(const char *path, const char *report)
{
    pcap_t *pcap = open_capture(path, 1);
    if (!pcap)
        return 1;
    enum decode_link link = decode_link_from_dlt(pcap_datalink(pcap));
    if (link == DECODE_LINK_UNSUPPORTED) {
        fprintf(stderr, "baseline: unsupported link type %d\n", pcap_datalink(pcap));
        pcap_close(pcap);
        return 1;
    }
    struct flow_table table;
    if (flow_table_init(&table, EXPECTED_FLOWS) != 0) {
        fprintf(stderr, "baseline: out of memory\n");
        pcap_close(pcap);
        return 1;
    }

    struct pcap_pkthdr *hdr;
    const u_char *data;
    uint64_t packets = 0;
    uint64_t results[DECODE_RESULT_COUNT] = {0};
    int rc, failed = 0;
    while ((rc = pcap_next_ex(pcap, &hdr, &data)) == 1) {
        packets++;
        struct decoded_packet decoded;
        enum decode_result result = decode_packet(link, data, hdr->caplen, &decoded);
        results[result]++;
        if (result != DECODE_COUNTED)
            continue;
        uint64_t ms = (uint64_t)hdr->ts.tv_sec * 1000u + (uint64_t)hdr->ts.tv_usec / 1000u;
        struct flow_counters counters = {
            .first_ms = ms,
            .last_ms = ms,
            .bytes = hdr->len,
            .packets = 1,
            .protocols = decoded.protocol,
        };
        if (flow_table_upsert(&table, &decoded.key, flow_key_hash(&decoded.key), &counters) != 0) {
            fprintf(stderr, "baseline: out of memory after %" PRIu32 " flows\n", table.count);
            failed = 1;
            break;
        }
    }
    if (!failed)
        failed = finish_loop(pcap, rc) != 0;
    pcap_close(pcap);
    if (!failed && report != NULL)
        failed = write_report(&table, report) != 0;

    if (!failed) {
        printf("packets=%" PRIu64 " counted=%" PRIu64 " flows=%" PRIu32 " table_bytes=%zu", packets,
               results[DECODE_COUNTED], table.count, flow_table_memory(&table));
        for (int r = 0; r < DECODE_RESULT_COUNT; r++)
            if (r != DECODE_COUNTED && results[r] > 0)
                printf(" skipped_%s=%" PRIu64, decode_result_name((enum decode_result)r),
                       results[r]);
        printf("\n");
    }
    flow_table_destroy(&table);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "read") == 0)
        return run_read(argv[2], 0);
    if (argc == 3 && strcmp(argv[1], "read-1m") == 0)
        return run_read(argv[2], 1);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "aggregate") == 0)
        return run_aggregate(argv[2], argc == 4 ? argv[3] : NULL);
    fprintf(stderr,
            "usage: baseline read|read-1m FILE.pcap | baseline aggregate FILE.pcap [REPORT.csv]\n");
    return 2;
}
