/*
 * ipfix_send.c - sends flow records through the IPFIX record sink (csrc/ipfix_export.c) to a
 * target given on the command line, for the checks with real collectors
 * (spec/ipfix_collector_check.sh: ipfixDump, nfcapd + nfdump) and for timing the encoder.
 *
 *   ipfix_send [--count N] [--domain ID] [--mtu BYTES] [--template-resend S]
 *              [--batch N --pace MS] [--quiet] TARGET
 *
 * Without --count it sends a fixed set: IPv4 and IPv6, TCP, UDP and both in one record (two
 * data records), all four end reasons. With --count N, N generated records (deterministic).
 * Prints one line per IPFIX data record sent, the fields a collector must show:
 *   protocol,source,source_port,destination,destination_port,packets,ip_bytes,first_ms,last_ms
 * (addresses as inet_ntop writes them, times in ms since the epoch), then on stderr the sink's
 * counters and the time taken. Exit status 0 when every record was sent, 1 otherwise, 2 on a
 * usage or open error. --batch N --pace MS hand the records over N at a time, MS milliseconds
 * apart, with a tick after each (a live capture's exporter, for a collector that restarts).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "flow_record.h"
#include "message.h"
#include "record_sink.h"

/* the IPFIX sink's kind (ipfix_export.c), as the registry (record_sinks.c) lists it */
extern const struct record_sink_kind ipfix_export_kind;

static uint64_t wall_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct flow_record make_record(const char *src, uint16_t src_port, const char *dst,
                                      uint16_t dst_port, uint8_t reason)
{
    struct flow_record r;
    memset(&r, 0, sizeof r);
    r.key.family = strchr(src, ':') ? FLOW_FAMILY_IPV6 : FLOW_FAMILY_IPV4;
    int af = r.key.family == FLOW_FAMILY_IPV4 ? AF_INET : AF_INET6;
    if (inet_pton(af, src, r.key.src) != 1 || inet_pton(af, dst, r.key.dst) != 1) {
        fprintf(stderr, "ipfix_send: bad address %s or %s\n", src, dst);
        exit(2);
    }
    r.key.src_port = src_port;
    r.key.dst_port = dst_port;
    r.reason = reason;
    return r;
}

static void set_part(struct flow_record *r, int part, uint64_t first, uint64_t last, uint64_t bytes,
                     uint64_t ip_bytes, uint64_t packets)
{
    r->part[part] = (struct flow_part){first, last, bytes, ip_bytes, packets};
    r->protocols |= part == FLOW_PART_TCP ? FLOW_PROTO_TCP : FLOW_PROTO_UDP;
}

/* Times in the recent past (whole records within the last hour), so that collectors which
 * sort by time or reject records far from the export time take them as they are. */
static size_t fixed_records(struct flow_record *out, uint64_t base)
{
    size_t n = 0;
    out[n] = make_record("10.0.0.1", 40000, "192.168.1.2", 80, FLOW_END_IDLE);
    set_part(&out[n++], FLOW_PART_TCP, base + 123, base + 5456, 3 * 1514, 3 * 1500, 3);
    out[n] = make_record("2001:db8::1", 53, "2001:db8:ffff::2", 65535, FLOW_END_ACTIVE);
    set_part(&out[n++], FLOW_PART_UDP, base + 1000, base + 601999, 123456789, 120000000, 98765);
    out[n] = make_record("172.16.0.1", 5353, "172.16.0.2", 443, FLOW_END_END);
    set_part(&out[n], FLOW_PART_TCP, base + 2000, base + 9000, 6000, 5800, 10);
    set_part(&out[n++], FLOW_PART_UDP, base + 1500, base + 8500, 700, 658, 3);
    out[n] = make_record("fe80::1", 65535, "2001:db8::42", 1, FLOW_END_CAPACITY);
    set_part(&out[n], FLOW_PART_TCP, base + 3000, base + 3000, 74, 60, 1);
    set_part(&out[n++], FLOW_PART_UDP, base + 3001, base + 4002, 200, 172, 2);
    out[n] = make_record("192.0.2.7", 1, "198.51.100.9", 65535, FLOW_END_CAPACITY);
    set_part(&out[n++], FLOW_PART_UDP, base + 7, base + 7, 60, 28, 1);
    return n;
}

static void generated_records(struct flow_record *out, size_t count, uint64_t base)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < count; i++) {
        x = x * 1664525u + 1013904223u;
        char src[64], dst[64];
        if (i % 4 != 3) {
            snprintf(src, sizeof src, "10.%u.%u.%u", (unsigned)(i >> 16) & 255,
                     (unsigned)(i >> 8) & 255, (unsigned)i & 255);
            snprintf(dst, sizeof dst, "192.0.2.%u", (x >> 24) & 255);
        } else {
            snprintf(src, sizeof src, "2001:db8::%x:%x", (unsigned)(i >> 16) & 0xffff,
                     (unsigned)i & 0xffff);
            snprintf(dst, sizeof dst, "2001:db8:1::%x", (x >> 16) & 0xffff);
        }
        static const uint8_t reasons[] = {FLOW_END_IDLE, FLOW_END_ACTIVE, FLOW_END_END,
                                          FLOW_END_CAPACITY};
        out[i] = make_record(src, (uint16_t)(1024 + (x >> 20)), dst, (uint16_t)(1 + i % 1000),
                             reasons[i % 4]);
        uint64_t t = base + (i % 3600000);
        int kind = (int)(x >> 8) % 5; /* 0..1 TCP, 2..3 UDP, 4 both */
        if (kind <= 1 || kind == 4)
            set_part(&out[i], FLOW_PART_TCP, t, t + (x & 4095), 100 + (x & 65535), 80 + (x & 65535),
                     1 + (x & 15));
        if (kind >= 2)
            set_part(&out[i], FLOW_PART_UDP, t + 1, t + 2000, 60 + (x & 1023), 32 + (x & 1023),
                     1 + ((x >> 4) & 7));
    }
}

static void print_data_records(const struct flow_record *records, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const struct flow_record *r = &records[i];
        int af = r->key.family == FLOW_FAMILY_IPV4 ? AF_INET : AF_INET6;
        char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
        inet_ntop(af, r->key.src, src, sizeof src);
        inet_ntop(af, r->key.dst, dst, sizeof dst);
        for (int p = 0; p < FLOW_PART_COUNT; p++) {
            const struct flow_part *part = &r->part[p];
            if (part->packets == 0)
                continue;
            printf("%d,%s,%u,%s,%u,%llu,%llu,%llu,%llu\n", p == FLOW_PART_TCP ? 6 : 17, src,
                   r->key.src_port, dst, r->key.dst_port, (unsigned long long)part->packets,
                   (unsigned long long)part->ip_bytes, (unsigned long long)part->first_ms,
                   (unsigned long long)part->last_ms);
        }
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: ipfix_send [--count N] [--domain ID] [--mtu BYTES] [--template-resend S] "
            "[--batch N --pace MS] "
            "[--quiet] TARGET\n"
            "  TARGET: udp://HOST:PORT or file:PATH\n");
    exit(2);
}

int main(int argc, char **argv)
{
    size_t count = 0, batch = 1024;
    unsigned pace_ms = 0;
    int quiet = 0;
    const struct record_sink_kind *ipfix = &ipfix_export_kind;
    struct record_sink_settings settings;
    record_sink_settings_init(&settings, ipfix);
    const char *target = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            count = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
            record_sink_settings_put(&settings, "domain", (uint32_t)strtoul(argv[++i], NULL, 10));
        else if (strcmp(argv[i], "--mtu") == 0 && i + 1 < argc)
            record_sink_settings_put(&settings, "mtu", (uint32_t)strtoul(argv[++i], NULL, 10));
        else if (strcmp(argv[i], "--template-resend") == 0 && i + 1 < argc)
            record_sink_settings_put(&settings, "template_resend",
                                     (uint32_t)strtoul(argv[++i], NULL, 10));
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--pace") == 0 && i + 1 < argc)
            pace_ms = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (argv[i][0] == '-' || target != NULL)
            usage();
        else
            target = argv[i];
    }
    if (target == NULL || batch == 0)
        usage();

    /* a whole second, an hour ago: nfdump shows times in ms and the fixed set stays in it */
    uint64_t base = (wall_ms() / 1000 - 3600) * 1000;
    size_t total = count ? count : 5;
    struct flow_record *records = calloc(total, sizeof *records);
    if (records == NULL) {
        fprintf(stderr, "ipfix_send: out of memory\n");
        return 2;
    }
    if (count)
        generated_records(records, count, base);
    else
        fixed_records(records, base);

    struct record_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.lock, NULL);
    char err[NASOONE_MESSAGE_SIZE];
    if (ipfix->open(&sink, target, &settings, err, sizeof err) != 0 ||
        (sink.ops->start != NULL && sink.ops->start(&sink, err, sizeof err) != 0)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    /* batches as the exporter thread gets them, a tick after each */
    double start = seconds_now();
    for (size_t at = 0; at < total; at += batch) {
        size_t n = total - at < batch ? total - at : batch;
        sink.ops->write(&sink, records + at, n);
        sink.ops->tick(&sink, wall_ms(), 0);
        if (pace_ms > 0)
            usleep(pace_ms * 1000u);
    }
    sink.ops->close(&sink);
    double elapsed = seconds_now() - start;
    sink.ops->destroy(&sink);

    if (!quiet)
        print_data_records(records, total);
    unsigned long long sent = atomic_load(&sink.counters.sent);
    unsigned long long dropped = atomic_load(&sink.counters.dropped);
    unsigned long long errors = atomic_load(&sink.counters.errors);
    fprintf(stderr,
            "ipfix_send: %zu records to %s: sent %llu, dropped %llu, errors %llu in %.3f s "
            "(%.0f records/s)%s%s\n",
            total, target, sent, dropped, errors, elapsed, elapsed > 0 ? total / elapsed : 0.0,
            sink.last_error[0] ? "; last error: " : "", sink.last_error);
    free(records);
    pthread_mutex_destroy(&sink.lock);
    return sent == total && dropped == 0 && errors == 0 ? 0 : 1;
}
