/*
 * test_report.c - unit tests of the report text and its atomic rewrite (csrc/report.c).
 *
 * Covers: report_format_row's exact strings (IPv4, [TCP] / [UDP] / [TCP, UDP], IPv6 in RFC 5952
 * form as inet_ntop prints it, including "::ffff:5.6.7.8" and "1234::", and the longest
 * possible row with 65535 ports and UINT64_MAX counters, written into an exactly
 * REPORT_ROW_MAX-byte heap buffer so ASan sees any overflow); report_format_address;
 * report_compare_rows / report_sort_rows order (IPv4 first, then numeric source address,
 * numeric source port, destination address, destination port), and the radix sort and
 * report_order_extend against qsort with the seed's memcmp comparator on random tables with
 * long ties; the hand-written number and address text against printf and inet_ntop (every
 * digit-count boundary, every octet, every pattern of IPv6 zero groups); report_format_json
 * exactly (both families, every protocol set, with and without a reason, the longest text in
 * an exactly REPORT_ROW_MAX-byte buffer) and report_write_atomic_as in both formats;
 * report_write_atomic in a mkdtemp folder: exact file content (REPORT_HEADER + rows in the given
 * order, also across the writer's 1 MiB chunk), replacement of an existing report by rename (a
 * reader holding the old file still sees all of it), no temporary file left behind (the folder is
 * listed), relative paths, the file mode, and the failure paths: missing folder, a directory in the
 * way, a write error (simulated with RLIMIT_FSIZE, no privileges needed) -- each returning -1 with
 * an error starting "nasoone: ", the old report untouched and nothing left behind. Also: a rewrite
 * keeps the mode of the report it replaces, names up to NAME_MAX bytes work (the temporary name
 * is cut to fit), report_remove_leftovers removes exactly this report's temporary names (regular
 * files only, never a link), and message_format keeps both ends of an over-long message.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "message.h"
#include "report.h"

/* Buffer sizes for the temporary folder and the paths made in it (a path has room for the
 * folder and any name added here). */
#define FOLDER_MAX       512
#define PATH_BUF         1024
#define NASOONE_TEST_ERR 1024

/* ---------------------------------------------------------------------------------------- */
/* Row helpers                                                                               */
/* ---------------------------------------------------------------------------------------- */

static void parse_address(const char *text, uint8_t *family, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, out) == 1) {
        *family = FLOW_FAMILY_IPV4;
    } else if (inet_pton(AF_INET6, text, out) == 1) {
        *family = FLOW_FAMILY_IPV6;
    } else {
        fprintf(stderr, "test_report: bad address in the test: %s\n", text);
        abort();
    }
}

static struct flow_row make_row(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                                uint8_t protocols, uint64_t first, uint64_t last, uint64_t bytes,
                                uint64_t packets)
{
    struct flow_row row;
    uint8_t family_dst = 0;
    memset(&row, 0, sizeof row);
    parse_address(src, &row.key.family, row.key.src);
    parse_address(dst, &family_dst, row.key.dst);
    if (family_dst != row.key.family) {
        fprintf(stderr, "test_report: mixed families in the test: %s %s\n", src, dst);
        abort();
    }
    row.key.src_port = sport;
    row.key.dst_port = dport;
    row.counters.protocols = protocols;
    row.counters.first_ms = first;
    row.counters.last_ms = last;
    row.counters.bytes = bytes;
    row.counters.packets = packets;
    return row;
}

/* Formats into an exactly REPORT_ROW_MAX-byte heap buffer and compares with `expected`. */
static void check_format(const struct flow_row *row, const char *expected)
{
    char *buf = malloc(REPORT_ROW_MAX);
    if (buf == NULL)
        abort();
    memset(buf, '#', REPORT_ROW_MAX);
    size_t n = report_format_row(row, buf);
    CHECK_STR(buf, expected);
    CHECK_EQ(n, strlen(expected));
    CHECK(n + 1 <= REPORT_ROW_MAX);
    free(buf);
}

static void test_format_ipv4(void)
{
    struct flow_row r = make_row("192.168.1.2", 51057, "224.0.0.251", 5353, FLOW_PROTO_UDP,
                                 1672060822910u, 1672060822910u, 84, 1);
    check_format(&r, "192.168.1.2; 51057; 224.0.0.251; 5353; [UDP]; 1672060822910; "
                     "1672060822910; 84; 1\n");

    r = make_row("140.82.112.22", 443, "192.168.1.20", 53673, FLOW_PROTO_TCP, 1672060821867u,
                 1672060822494u, 5228, 11);
    check_format(&r, "140.82.112.22; 443; 192.168.1.20; 53673; [TCP]; 1672060821867; "
                     "1672060822494; 5228; 11\n");

    r = make_row("10.0.0.1", 53, "10.0.0.2", 53, FLOW_PROTO_TCP | FLOW_PROTO_UDP, 5, 9, 300, 3);
    check_format(&r, "10.0.0.1; 53; 10.0.0.2; 53; [TCP, UDP]; 5; 9; 300; 3\n");

    r = make_row("0.0.0.0", 0, "255.255.255.255", 0, FLOW_PROTO_UDP, 0, 0, 0, 0);
    check_format(&r, "0.0.0.0; 0; 255.255.255.255; 0; [UDP]; 0; 0; 0; 0\n");

    /* only the first 4 address bytes are the IPv4 address */
    r = make_row("1.2.3.4", 1, "5.6.7.8", 2, FLOW_PROTO_TCP, 1, 2, 3, 4);
    check_format(&r, "1.2.3.4; 1; 5.6.7.8; 2; [TCP]; 1; 2; 3; 4\n");
}

static void test_format_ipv6(void)
{
    static const struct {
        const char *in;
        const char *out; /* glibc inet_ntop / RFC 5952 text */
    } cases[] = {
        {"2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
        {"::ffff:5.6.7.8", "::ffff:5.6.7.8"},
        {"1234:0:0:0:0:0:0:0", "1234::"},
        {"0:0:0:0:0:0:0:0", "::"},
        {"0:0:0:0:0:0:0:1", "::1"},
        {"fe80:0:0:0:0211:22ff:fe33:4455", "fe80::211:22ff:fe33:4455"},
        {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, /* one zero group stays */
        {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},          /* the longest run */
        {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},    /* tie: the first run */
        {"ABCD:EF01:2345:6789:ABCD:EF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"},
        {"ff02::fb", "ff02::fb"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char expected[256];
        check_set_context("ipv6 %s", cases[i].in);
        struct flow_row r = make_row(cases[i].in, 5353, "ff02::fb", 5353, FLOW_PROTO_UDP,
                                     1672060822910u, 1672060822999u, 1234, 7);
        snprintf(expected, sizeof expected,
                 "%s; 5353; ff02::fb; 5353; [UDP]; 1672060822910; 1672060822999; 1234; 7\n",
                 cases[i].out);
        check_format(&r, expected);
        /* and as the destination */
        r = make_row("2001:db8::2", 1, cases[i].in, 65535, FLOW_PROTO_TCP, 1, 2, 3, 4);
        snprintf(expected, sizeof expected, "2001:db8::2; 1; %s; 65535; [TCP]; 1; 2; 3; 4\n",
                 cases[i].out);
        check_format(&r, expected);

        char address[64];
        report_format_address(&r.key, 0, address);
        CHECK_STR(address, cases[i].out);
        report_format_address(&r.key, 1, address);
        CHECK_STR(address, "2001:db8::2");
    }
    check_set_context("%s", "");
}

static void test_format_max(void)
{
    /* The longest row there is: two full IPv6 addresses, 5-digit ports, both protocols and
     * 20-digit counters. It must fit REPORT_ROW_MAX with its NUL. */
    struct flow_row r = make_row(
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
        65535, FLOW_PROTO_TCP | FLOW_PROTO_UDP, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    const char *expected = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff; 65535; "
                           "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe; 65535; [TCP, UDP]; "
                           "18446744073709551615; 18446744073709551615; 18446744073709551615; "
                           "18446744073709551615\n";
    check_format(&r, expected);
    CHECK(strlen(expected) + 1 <= REPORT_ROW_MAX);

    /* the longest IPv4 row */
    r = make_row("255.255.255.255", 65535, "255.255.255.255", 65535,
                 FLOW_PROTO_TCP | FLOW_PROTO_UDP, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    check_format(&r, "255.255.255.255; 65535; 255.255.255.255; 65535; [TCP, UDP]; "
                     "18446744073709551615; 18446744073709551615; 18446744073709551615; "
                     "18446744073709551615\n");

    /* the longest mixed-notation address inet_ntop writes */
    r = make_row("::ffff:255.255.255.255", 65535, "::ffff:255.255.255.255", 65535,
                 FLOW_PROTO_TCP | FLOW_PROTO_UDP, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX);
    check_format(&r, "::ffff:255.255.255.255; 65535; ::ffff:255.255.255.255; 65535; [TCP, UDP]; "
                     "18446744073709551615; 18446744073709551615; 18446744073709551615; "
                     "18446744073709551615\n");
}

/* Every decimal length boundary, through the bytes and packets fields, against printf. */
static void test_format_numbers(void)
{
    uint64_t values[64];
    size_t n = 0;
    values[n++] = 0;
    for (uint64_t power = 1;; power *= 10) {
        values[n++] = power - 1;
        values[n++] = power;
        values[n++] = power + 1;
        if (power > UINT64_MAX / 10)
            break;
    }
    values[n++] = UINT64_MAX - 1;
    values[n++] = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        char expected[256];
        check_set_context("number %" PRIu64, values[i]);
        struct flow_row r = make_row("10.0.0.1", 1, "10.0.0.2", 2, FLOW_PROTO_TCP, values[i],
                                     values[i], values[i], values[i]);
        snprintf(expected, sizeof expected,
                 "10.0.0.1; 1; 10.0.0.2; 2; [TCP]; %" PRIu64 "; %" PRIu64 "; %" PRIu64 "; %" PRIu64
                 "\n",
                 values[i], values[i], values[i], values[i]);
        check_format(&r, expected);
    }
    check_set_context("%s", "");
}

/* Every octet value in every position of an IPv4 address, against inet_ntop. */
static void test_format_ipv4_octets(void)
{
    for (unsigned octet = 0; octet < 256; octet++) {
        for (int position = 0; position < 4; position++) {
            struct flow_key key;
            memset(&key, 0, sizeof key);
            key.family = FLOW_FAMILY_IPV4;
            memset(key.src, 0x7f, 4);
            key.src[position] = (uint8_t)octet;
            char got[64], want[INET_ADDRSTRLEN];
            report_format_address(&key, 1, got);
            inet_ntop(AF_INET, key.src, want, sizeof want);
            check_set_context("octet %u at %d", octet, position);
            CHECK_STR(got, want);
        }
    }
    check_set_context("%s", "");
}

/* The hand-written IPv6 text against glibc's inet_ntop: every pattern of zero groups (which is
 * what decides the "::" and the dotted tail), with random, small and 0xffff values in the
 * others. */
static void test_format_ipv6_against_inet_ntop(void)
{
    uint64_t state = 0x9e3779b97f4a7c15u;
    unsigned mismatches = 0;
    for (unsigned zeros = 0; zeros < 256; zeros++) {
        for (int round = 0; round < 64; round++) {
            struct flow_key key;
            memset(&key, 0, sizeof key);
            key.family = FLOW_FAMILY_IPV6;
            for (int group = 0; group < 8; group++) {
                state ^= state << 13, state ^= state >> 7, state ^= state << 17;
                unsigned value;
                switch (round % 4) {
                case 0:
                    value = (unsigned)state & 0xffff;
                    break;
                case 1:
                    value = (unsigned)state & 0xf;
                    break; /* one hex digit */
                case 2:
                    value = 0xffff;
                    break; /* ::ffff: forms */
                default:
                    value = ((unsigned)state & 0xff) << 8;
                    break;
                }
                if (value == 0)
                    value = 1;
                if (zeros & (1u << group))
                    value = 0;
                key.src[2 * group] = (uint8_t)(value >> 8);
                key.src[2 * group + 1] = (uint8_t)value;
            }
            char got[64], want[INET6_ADDRSTRLEN];
            report_format_address(&key, 1, got);
            inet_ntop(AF_INET6, key.src, want, sizeof want);
            if (strcmp(got, want) != 0 && mismatches++ < 5) {
                check_set_context("zero groups %02x round %d", zeros, round);
                CHECK_STR(got, want);
            }
        }
    }
    check_set_context("%s", "");
    CHECK_EQ(mismatches, 0u);
}

static struct flow_row with_ip_bytes(struct flow_row row, uint64_t ip_bytes)
{
    row.counters.ip_bytes = ip_bytes;
    return row;
}

/* One TCP packet's counters, for tables filled with random keys. */
static const struct flow_counters one_tcp_packet = {.first_ms = 1,
                                                    .last_ms = 1,
                                                    .bytes = 1,
                                                    .packets = 1,
                                                    .protocols = FLOW_PROTO_TCP,
                                                    .ip_bytes = 1};

static struct flow_row with_tcp_flags(struct flow_row row, uint8_t flags)
{
    row.counters.tcp_flags = flags;
    return row;
}

/* Formats as JSON (reason or NULL) into an exactly REPORT_ROW_MAX-byte heap buffer. */
static void check_json(const struct flow_row *row, const char *reason, const char *expected)
{
    char *buf = malloc(REPORT_ROW_MAX);
    if (buf == NULL)
        abort();
    memset(buf, '#', REPORT_ROW_MAX);
    size_t n = report_format_json(&row->key, &row->counters, reason, buf);
    CHECK_STR(buf, expected);
    CHECK_EQ(n, strlen(expected));
    CHECK(n + 1 <= REPORT_ROW_MAX);
    if (reason == NULL) { /* the report format's renderer is the same text */
        memset(buf, '#', REPORT_ROW_MAX);
        CHECK_EQ(report_format_jsonl.format_row(&report_format_jsonl, row, NULL, buf),
                 strlen(expected));
        CHECK_STR(buf, expected);
    }
    free(buf);
}

static void test_format_json(void)
{
    struct flow_row r = with_tcp_flags(
        with_ip_bytes(make_row("140.82.112.22", 443, "192.168.1.20", 53673, FLOW_PROTO_TCP,
                               1672060821867u, 1672060822494u, 5228, 11),
                      5074),
        0x1b); /* FIN, SYN, PSH, ACK */
    check_json(&r, NULL,
               "{\"source_ip\":\"140.82.112.22\",\"source_port\":443,"
               "\"destination_ip\":\"192.168.1.20\",\"destination_port\":53673,"
               "\"protocols\":[\"TCP\"],\"first\":1672060821867,\"last\":1672060822494,"
               "\"bytes\":5228,\"ip_bytes\":5074,\"packets\":11,\"tcp_flags\":27}\n");
    check_json(&r, "idle",
               "{\"source_ip\":\"140.82.112.22\",\"source_port\":443,"
               "\"destination_ip\":\"192.168.1.20\",\"destination_port\":53673,"
               "\"protocols\":[\"TCP\"],\"first\":1672060821867,\"last\":1672060822494,"
               "\"bytes\":5228,\"ip_bytes\":5074,\"packets\":11,\"tcp_flags\":27,"
               "\"reason\":\"idle\"}\n");

    r = with_ip_bytes(make_row("192.168.1.2", 51057, "224.0.0.251", 5353, FLOW_PROTO_UDP,
                               1672060822910u, 1672060822910u, 84, 1),
                      70);
    check_json(&r, NULL,
               "{\"source_ip\":\"192.168.1.2\",\"source_port\":51057,"
               "\"destination_ip\":\"224.0.0.251\",\"destination_port\":5353,"
               "\"protocols\":[\"UDP\"],\"first\":1672060822910,\"last\":1672060822910,"
               "\"bytes\":84,\"ip_bytes\":70,\"packets\":1}\n");

    r = with_ip_bytes(make_row("2001:db8::1", 0, "::ffff:5.6.7.8", 65535,
                               FLOW_PROTO_TCP | FLOW_PROTO_UDP, 0, 1, 2, 3),
                      4);
    check_json(&r, "capacity",
               "{\"source_ip\":\"2001:db8::1\",\"source_port\":0,"
               "\"destination_ip\":\"::ffff:5.6.7.8\",\"destination_port\":65535,"
               "\"protocols\":[\"TCP\",\"UDP\"],\"first\":0,\"last\":1,\"bytes\":2,"
               "\"ip_bytes\":4,\"packets\":3,\"tcp_flags\":0,\"reason\":\"capacity\"}\n");

    /* no protocol bit (never in a report, but the text stays valid JSON) */
    r = make_row("10.0.0.1", 1, "10.0.0.2", 2, 0, 5, 6, 7, 8);
    check_json(&r, NULL,
               "{\"source_ip\":\"10.0.0.1\",\"source_port\":1,\"destination_ip\":\"10.0.0.2\","
               "\"destination_port\":2,\"protocols\":[],\"first\":5,\"last\":6,\"bytes\":7,"
               "\"ip_bytes\":0,\"packets\":8}\n");

    /* the longest text there is: full IPv6 addresses, 20-digit counts, a 16-byte reason (a
     * longer one is cut there) */
    r = with_tcp_flags(with_ip_bytes(make_row("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
                                              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535,
                                              FLOW_PROTO_TCP | FLOW_PROTO_UDP, UINT64_MAX,
                                              UINT64_MAX, UINT64_MAX, UINT64_MAX),
                                     UINT64_MAX),
                       0xff);
    const char *longest =
        "{\"source_ip\":\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\",\"source_port\":65535,"
        "\"destination_ip\":\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe\","
        "\"destination_port\":65535,\"protocols\":[\"TCP\",\"UDP\"],"
        "\"first\":18446744073709551615,\"last\":18446744073709551615,"
        "\"bytes\":18446744073709551615,\"ip_bytes\":18446744073709551615,"
        "\"packets\":18446744073709551615,\"tcp_flags\":255,\"reason\":\"abcdefghijklmnop\"}\n";
    check_json(&r, "abcdefghijklmnopqrstuvwxyz", longest);
    CHECK_EQ(strlen(longest), 379u);

    CHECK_STR(report_format_csv.name, "csv");
    CHECK_STR(report_format_csv.header, REPORT_HEADER);
    {
        char seed[REPORT_ROW_MAX], rendered[REPORT_ROW_MAX];
        report_format_row(&r, seed);
        report_format_csv.format_row(&report_format_csv, &r, NULL, rendered);
        CHECK_STR(rendered, seed);
    }
    CHECK_STR(report_format_jsonl.name, "jsonl");
    CHECK_STR(report_format_jsonl.header, "");

    CHECK_STR(flow_end_reason_name(FLOW_END_IDLE), "idle");
    CHECK_STR(flow_end_reason_name(FLOW_END_ACTIVE), "active");
    CHECK_STR(flow_end_reason_name(FLOW_END_END), "end");
    CHECK_STR(flow_end_reason_name(FLOW_END_CAPACITY), "capacity");
}

/* ---------------------------------------------------------------------------------------- */
/* Order                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static int sign(int x) { return (x > 0) - (x < 0); }

static int compare_two(const struct flow_row *a, const struct flow_row *b)
{
    return sign(report_compare_rows(&a, &b));
}

static void test_order(void)
{
    /* The expected report order, written out. Text order would differ in many places
     * ("10.0.0.1" < "9.0.0.1", "10" < "9", "2001:..." < "9.0.0.1"). */
    struct flow_row want[] = {
        make_row("9.0.0.1", 9, "1.1.1.1", 80, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 10, "1.1.1.1", 80, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 443, "1.1.1.1", 80, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 443, "1.1.1.1", 443, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 443, "1.1.1.1", 1000, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 443, "2.0.0.0", 1, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 443, "10.0.0.0", 1, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("9.0.0.1", 65535, "0.0.0.0", 0, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("10.0.0.1", 1, "1.1.1.1", 1, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("10.0.0.2", 0, "1.1.1.1", 1, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("100.0.0.1", 0, "1.1.1.1", 1, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("192.168.1.2", 51057, "224.0.0.251", 5353, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("255.255.255.255", 65535, "255.255.255.255", 65535, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("::", 0, "::", 0, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("::1", 5, "::1", 6, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("::ffff:5.6.7.8", 1, "::1", 6, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("1234::", 1, "::1", 6, FLOW_PROTO_UDP, 1, 1, 1, 1),
        make_row("2001:db8::1", 9, "2001:db8::1", 1, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("2001:db8::1", 10, "2001:db8::1", 1, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("2001:db8::1", 10, "2001:db8::2", 0, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("2001:db8::a", 0, "::", 0, FLOW_PROTO_TCP, 1, 1, 1, 1),
        make_row("fe80::1", 0, "::", 0, FLOW_PROTO_TCP, 1, 1, 1, 1),
    };
    enum { N = sizeof want / sizeof want[0] };

    /* pairwise: consistent with the list, antisymmetric, 0 only with itself */
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < N; j++) {
            check_set_context("rows %d and %d", i, j);
            int expected = (i > j) - (i < j);
            CHECK_EQ(compare_two(&want[i], &want[j]), expected);
        }
    }
    /* counters do not take part */
    {
        struct flow_row a = want[3], b = want[3];
        b.counters.bytes = 999;
        b.counters.protocols = FLOW_PROTO_UDP;
        check_set_context("%s", "same key, other counters");
        CHECK_EQ(compare_two(&a, &b), 0);
    }
    check_set_context("%s", "");

    /* report_sort_rows on a table filled in a scrambled order */
    struct flow_table table;
    if (!CHECK_EQ(flow_table_init(&table, 0), 0))
        return;
    for (int step = 0; step < N; step++) {
        int i = (step * 7 + 3) % N; /* 7 is coprime with N = 22: every row once */
        CHECK_EQ(
            flow_table_upsert(&table, &want[i].key, flow_key_hash(&want[i].key), &want[i].counters),
            0);
    }
    CHECK_EQ(table.count, N);
    const struct flow_row *sorted[N];
    report_sort_rows(&table, sorted);
    for (int i = 0; i < N && i < (int)table.count; i++) {
        check_set_context("sorted position %d", i);
        CHECK_MEM(&sorted[i]->key, &want[i].key, sizeof want[i].key);
    }
    check_set_context("%s", "");
    flow_table_destroy(&table);
}

/* report_order_extend: the writer's incremental sort equals a full sort after every round. */
static void test_order_extend(void)
{
    enum { ROUNDS = 6, PER_ROUND = 3000 };
    struct flow_table table;
    if (!CHECK_EQ(flow_table_init(&table, 0), 0))
        return;
    static uint32_t order[ROUNDS * PER_ROUND], scratch[ROUNDS * PER_ROUND];
    static const struct flow_row *expected[ROUNDS * PER_ROUND];
    uint32_t ordered = 0;
    uint64_t state = 88172645463325252u;
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < PER_ROUND; i++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17; /* xorshift64 */
            struct flow_key key = {0};
            key.family = (state & 1) ? FLOW_FAMILY_IPV4 : FLOW_FAMILY_IPV6;
            memcpy(key.src, &state, 3); /* few distinct addresses: ties on address are common */
            memcpy(key.dst, (const char *)&state + 3, 2);
            key.src_port = (uint16_t)(state >> 40);
            key.dst_port = (uint16_t)(state >> 56);
            CHECK_EQ(flow_table_upsert(&table, &key, flow_key_hash(&key), &one_tcp_packet), 0);
        }
        report_order_extend(&table, order, ordered, scratch);
        ordered = table.count;
        report_sort_rows(&table, expected);
        check_set_context("order_extend round %d", round);
        int same = 1;
        for (uint32_t i = 0; i < table.count; i++)
            same &= &table.rows[order[i]] == expected[i];
        CHECK(same);
    }
    check_set_context("%s", "");
    flow_table_destroy(&table);
}

/* The report order as the seed wrote it (memcmp of the addresses): the reference the sort is
 * checked against. */
static int reference_compare(const void *a, const void *b)
{
    const struct flow_key *x = &(*(const struct flow_row *const *)a)->key;
    const struct flow_key *y = &(*(const struct flow_row *const *)b)->key;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->src, y->src, sizeof x->src);
    if (c != 0)
        return c;
    if (x->src_port != y->src_port)
        return x->src_port < y->src_port ? -1 : 1;
    c = memcmp(x->dst, y->dst, sizeof x->dst);
    if (c != 0)
        return c;
    if (x->dst_port != y->dst_port)
        return x->dst_port < y->dst_port ? -1 : 1;
    return 0;
}

/* A random key drawn from few values per field, so that rows tie on long prefixes: the same
 * IPv6 /96 (the sort's first 12 bytes), the same source, the same source and port. */
static struct flow_key random_key(uint64_t *state)
{
    *state ^= *state << 13, *state ^= *state >> 7, *state ^= *state << 17;
    uint64_t r = *state;
    struct flow_key key;
    memset(&key, 0, sizeof key);
    key.family = (r & 3) == 0 ? FLOW_FAMILY_IPV6 : FLOW_FAMILY_IPV4;
    int width = key.family == FLOW_FAMILY_IPV4 ? 4 : 16;
    for (int i = 0; i < width; i++) {
        key.src[i] = (uint8_t)((r >> (2 + i % 8)) & 1 ? (r >> (10 + i)) & 3 : 0x20);
        key.dst[i] = (uint8_t)((r >> (5 + i % 8)) & 1 ? (r >> (20 + i)) & 7 : 0xfe);
    }
    if ((r >> 40) & 1) /* a wholly random address now and then */
        memcpy(key.src, &r, width < 8 ? width : 8);
    key.src_port = (uint16_t)((r >> 44) & 1 ? (r >> 45) & 3 : 443);
    key.dst_port = (uint16_t)((r >> 48) & 0xff);
    if (key.src_port == 1) /* and a port at the extremes */
        key.dst_port = 65535;
    return key;
}

/* report_sort_rows and report_order_extend against qsort with the reference comparator, on
 * tables small and large (every size below the radix sort's threshold and far above it). */
static void test_sort_random(void)
{
    static const uint32_t sizes[] = {1, 2, 3, 31, 32, 33, 100, 1000, 20000, 200000};
    uint64_t state = 0x2545f4914f6cdd1du;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct flow_table table;
        if (!CHECK_EQ(flow_table_init(&table, 0), 0))
            return;
        while (table.count < sizes[s]) {
            struct flow_key key = random_key(&state);
            CHECK_EQ(flow_table_upsert(&table, &key, flow_key_hash(&key), &one_tcp_packet), 0);
        }
        uint32_t count = table.count;
        const struct flow_row **got = calloc(count, sizeof *got);
        const struct flow_row **want = calloc(count, sizeof *want);
        uint32_t *order = calloc(count, sizeof *order), *scratch = calloc(count, sizeof *scratch);
        if (got == NULL || want == NULL || order == NULL || scratch == NULL)
            abort();
        for (uint32_t i = 0; i < count; i++)
            want[i] = &table.rows[i];
        qsort(want, count, sizeof *want, reference_compare);
        report_sort_rows(&table, got);
        check_set_context("sort_rows, %u rows", count);
        CHECK(memcmp(got, want, count * sizeof *got) == 0);
        /* in two steps: the first 40% sorted, the rest merged in */
        uint32_t first = count * 2 / 5;
        struct flow_table prefix = table;
        prefix.count = first;
        report_order_extend(&prefix, order, 0, scratch);
        report_order_extend(&table, order, first, scratch);
        int same = 1;
        for (uint32_t i = 0; i < count; i++)
            same &= &table.rows[order[i]] == want[i];
        check_set_context("order_extend, %u rows", count);
        CHECK(same);
        /* and the comparator itself agrees with the reference on neighbours */
        for (uint32_t i = 1; i < count; i++)
            if (report_compare_rows(&want[i - 1], &want[i]) >= 0 ||
                report_compare_rows(&want[i], &want[i - 1]) <= 0) {
                CHECK(!"report_compare_rows disagrees with the reference");
                break;
            }
        free(got);
        free(want);
        free(order);
        free(scratch);
        flow_table_destroy(&table);
    }
    check_set_context("%s", "");
}

/* ---------------------------------------------------------------------------------------- */
/* Atomic write                                                                              */
/* ---------------------------------------------------------------------------------------- */

/* Whole file into a malloc'd NUL-terminated string (NULL if it cannot be read). */
static char *read_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (length != NULL)
            *length = n;
    }
    return buf;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The names in `folder` (no "." / ".."), sorted, joined with "|"; "" for an empty folder. */
static void list_folder(const char *folder, char *out, size_t size)
{
    char names[64][256];
    int count = 0;
    out[0] = '\0';
    DIR *dir = opendir(folder);
    if (dir == NULL) {
        snprintf(out, size, "(cannot open: %s)", strerror(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < 64) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(names[count++], sizeof names[0], "%s", entry->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? "|" : "", names[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* REPORT_HEADER + each row's formatted text: what the file must hold. */
static char *expected_report(const struct flow_row *const *rows, size_t count, size_t *length)
{
    size_t cap = strlen(REPORT_HEADER) + count * REPORT_ROW_MAX + 1;
    char *text = malloc(cap);
    if (text == NULL)
        abort();
    size_t n = strlen(REPORT_HEADER);
    memcpy(text, REPORT_HEADER, n);
    for (size_t i = 0; i < count; i++)
        n += report_format_row(rows[i], text + n);
    text[n] = '\0';
    *length = n;
    return text;
}

/* Writes, then compares the file with the expected bytes and the folder with `listing`. */
static void write_and_check(const char *folder, const char *path,
                            const struct flow_row *const *rows, size_t count, const char *listing)
{
    char err[512] = "";
    size_t want_length = 0, got_length = 0;
    int rc = report_write_atomic(path, rows, count, err, sizeof err);
    if (!CHECK_EQ(rc, 0))
        fprintf(stderr, "    err: %s\n", err);
    char *want = expected_report(rows, count, &want_length);
    char *got = read_file(path, &got_length);
    if (CHECK(got != NULL)) {
        CHECK_EQ(got_length, want_length);
        if (got_length == want_length)
            CHECK_MEM(got, want, want_length);
        else if (count < 10)
            CHECK_STR(got, want);
    }
    char names[2048];
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, listing);
    free(want);
    free(got);
}

static void test_write_atomic(const char *folder)
{
    char path[PATH_BUF], missing[PATH_BUF], names[2048], err[512];
    snprintf(path, sizeof path, "%s/report.csv", folder);

    struct flow_row r1 = make_row("192.168.1.2", 51057, "224.0.0.251", 5353, FLOW_PROTO_UDP,
                                  1672060822910u, 1672060822910u, 84, 1);
    struct flow_row r2 = make_row("140.82.112.22", 443, "192.168.1.20", 53673, FLOW_PROTO_TCP,
                                  1672060821867u, 1672060822494u, 5228, 11);
    struct flow_row r3 =
        make_row("2001:db8::1", 1, "1234::", 2, FLOW_PROTO_TCP | FLOW_PROTO_UDP, 1, 2, 3, 4);

    /* a new report: header + rows, in the order given (not re-sorted) */
    {
        const struct flow_row *rows[] = {&r1, &r2, &r3};
        check_set_context("%s", "first write");
        write_and_check(folder, path, rows, 3, "report.csv");
        char *text = read_file(path, NULL);
        CHECK_STR(text, "source ip; source port; destination ip; destination port; protocols; "
                        "first; last; bytes; packets\n"
                        "192.168.1.2; 51057; 224.0.0.251; 5353; [UDP]; 1672060822910; "
                        "1672060822910; 84; 1\n"
                        "140.82.112.22; 443; 192.168.1.20; 53673; [TCP]; 1672060821867; "
                        "1672060822494; 5228; 11\n"
                        "2001:db8::1; 1; 1234::; 2; [TCP, UDP]; 1; 2; 3; 4\n");
        free(text);
        struct stat st;
        mode_t mask = umask(0);
        umask(mask);
        if (CHECK_EQ(stat(path, &st), 0)) {
            CHECK(S_ISREG(st.st_mode));
            CHECK_EQ(st.st_mode & 0777, 0666 & ~mask);
        }
    }

    /* over the existing report: replaced by rename, so a reader that opened the old file
     * still reads the whole old report, and the path shows the whole new one */
    {
        int old_fd = open(path, O_RDONLY);
        CHECK(old_fd >= 0);
        struct stat before, after;
        CHECK_EQ(stat(path, &before), 0);
        const struct flow_row *rows[] = {&r3, &r1};
        check_set_context("%s", "rewrite");
        write_and_check(folder, path, rows, 2, "report.csv");
        CHECK_EQ(stat(path, &after), 0);
        CHECK(before.st_ino != after.st_ino); /* a new file took the name */
        if (old_fd >= 0) {
            char old[1024];
            ssize_t n = pread(old_fd, old, sizeof old - 1, 0);
            CHECK(n > 0);
            old[n > 0 ? n : 0] = '\0';
            const struct flow_row *old_rows[] = {&r1, &r2, &r3};
            size_t want_length;
            char *want = expected_report(old_rows, 3, &want_length);
            CHECK_STR(old, want);
            free(want);
            close(old_fd);
        }
    }

    /* no rows: the header alone */
    check_set_context("%s", "empty report");
    write_and_check(folder, path, NULL, 0, "report.csv");
    {
        char *text = read_file(path, NULL);
        CHECK_STR(text, REPORT_HEADER);
        free(text);
    }

    /* many rows: more than the 1 MiB the writer gathers before each write() */
    {
        enum { MANY = 40000 };
        struct flow_row *many = calloc(MANY, sizeof *many);
        const struct flow_row **rows = calloc(MANY, sizeof *rows);
        if (many != NULL && rows != NULL) {
            for (uint32_t i = 0; i < MANY; i++) {
                char src[64];
                if (i % 2)
                    snprintf(src, sizeof src, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255,
                             i & 255);
                else
                    snprintf(src, sizeof src, "2001:db8:%x::%x", i >> 16, i & 0xffff);
                many[i] = make_row(src, (uint16_t)i, i % 2 ? "192.0.2.1" : "2001:db8::2", 443,
                                   (uint8_t)(1 + i % 3), 1672060800000u + i, 1672060900000u + i,
                                   1000000u * i, i);
                rows[i] = &many[i];
            }
            check_set_context("%s", "40000 rows");
            write_and_check(folder, path, rows, MANY, "report.csv");
            size_t length = 0;
            char *text = read_file(path, &length);
            CHECK(length > (1u << 20)); /* the chunk boundary was crossed */
            free(text);
        } else {
            CHECK(!"out of memory");
        }
        free(many);
        free(rows);
    }

    /* a relative path: the temporary goes in the current folder */
    {
        char cwd[PATH_BUF * 4];
        if (CHECK(getcwd(cwd, sizeof cwd) != NULL) && CHECK_EQ(chdir(folder), 0)) {
            const struct flow_row *rows[] = {&r2};
            char *before = read_file("report.csv", NULL);
            check_set_context("%s", "relative path");
            int rc = report_write_atomic("relative.csv", rows, 1, err, sizeof err);
            if (!CHECK_EQ(rc, 0))
                fprintf(stderr, "    err: %s\n", err);
            size_t want_length;
            char *want = expected_report(rows, 1, &want_length);
            char *got = read_file("relative.csv", NULL);
            CHECK_STR(got, want);
            free(want);
            free(got);
            list_folder(".", names, sizeof names);
            CHECK_STR(names, "relative.csv|report.csv");
            char *after = read_file("report.csv", NULL);
            CHECK_STR(after, before); /* the other report is untouched */
            free(before);
            free(after);
            CHECK_EQ(unlink("relative.csv"), 0);
            CHECK_EQ(chdir(cwd), 0);
        }
    }

    /* a folder that does not exist: -1, "nasoone: ...", nothing created anywhere */
    {
        check_set_context("%s", "missing folder");
        snprintf(missing, sizeof missing, "%s/no-such-folder/report.csv", folder);
        const struct flow_row *rows[] = {&r1};
        char *before = read_file(path, NULL);
        memset(err, 0, sizeof err);
        CHECK_EQ(report_write_atomic(missing, rows, 1, err, sizeof err), -1);
        CHECK(strncmp(err, "nasoone: ", 9) == 0);
        CHECK(strstr(err, "no-such-folder") != NULL); /* says which path */
        struct stat st;
        snprintf(missing, sizeof missing, "%s/no-such-folder", folder);
        CHECK(stat(missing, &st) != 0 && errno == ENOENT);
        list_folder(folder, names, sizeof names);
        CHECK_STR(names, "report.csv");
        char *after = read_file(path, NULL);
        CHECK_STR(after, before);
        free(before);
        free(after);
        /* a small err buffer is truncated, still NUL-terminated and still "nasoone: " */
        char small[16];
        memset(small, 'x', sizeof small);
        snprintf(missing, sizeof missing, "%s/no-such-folder/report.csv", folder);
        CHECK_EQ(report_write_atomic(missing, rows, 1, small, sizeof small), -1);
        CHECK(memchr(small, '\0', sizeof small) != NULL);
        CHECK(strncmp(small, "nasoone: ", 9) == 0);
    }

    /* a directory where the report should go: the rename fails; -1, the temporary removed */
    {
        check_set_context("%s", "directory in the way");
        char dir_path[PATH_BUF];
        snprintf(dir_path, sizeof dir_path, "%s/a-directory", folder);
        if (CHECK_EQ(mkdir(dir_path, 0755), 0)) {
            const struct flow_row *rows[] = {&r1};
            memset(err, 0, sizeof err);
            CHECK_EQ(report_write_atomic(dir_path, rows, 1, err, sizeof err), -1);
            CHECK(strncmp(err, "nasoone: ", 9) == 0);
            list_folder(folder, names, sizeof names);
            CHECK_STR(names, "a-directory|report.csv");
            list_folder(dir_path, names, sizeof names);
            CHECK_STR(names, "");
            CHECK_EQ(rmdir(dir_path), 0);
        }
    }
    check_set_context("%s", "");
}

/* report_write_atomic_as: JSON lines, no header, in the order given; CSV as report_write_atomic. */
static void test_write_formats(const char *folder)
{
    char path[PATH_BUF], names[2048], err[512];
    snprintf(path, sizeof path, "%s/report.jsonl", folder);
    check_set_context("%s", "jsonl report");
    struct flow_row r1 =
        with_ip_bytes(make_row("192.168.1.2", 51057, "224.0.0.251", 5353, FLOW_PROTO_UDP,
                               1672060822910u, 1672060822910u, 84, 1),
                      70);
    struct flow_row r2 = with_ip_bytes(
        make_row("2001:db8::1", 1, "1234::", 2, FLOW_PROTO_TCP | FLOW_PROTO_UDP, 1, 2, 3, 4), 5);
    const struct flow_row *rows[] = {&r2, &r1};
    int rc = report_write_atomic_as(path, &report_format_jsonl, rows, 2, err, sizeof err);
    if (!CHECK_EQ(rc, 0))
        fprintf(stderr, "    err: %s\n", err);
    char *text = read_file(path, NULL);
    CHECK_STR(text,
              "{\"source_ip\":\"2001:db8::1\",\"source_port\":1,\"destination_ip\":\"1234::\","
              "\"destination_port\":2,\"protocols\":[\"TCP\",\"UDP\"],\"first\":1,"
              "\"last\":2,\"bytes\":3,\"ip_bytes\":5,\"packets\":4,\"tcp_flags\":0}\n"
              "{\"source_ip\":\"192.168.1.2\",\"source_port\":51057,"
              "\"destination_ip\":\"224.0.0.251\",\"destination_port\":5353,"
              "\"protocols\":[\"UDP\"],\"first\":1672060822910,\"last\":1672060822910,"
              "\"bytes\":84,\"ip_bytes\":70,\"packets\":1}\n");
    free(text);
    /* no rows: an empty file (JSON lines have no header) */
    CHECK_EQ(report_write_atomic_as(path, &report_format_jsonl, NULL, 0, err, sizeof err), 0);
    size_t length = 99;
    text = read_file(path, &length);
    CHECK(text != NULL && length == 0);
    free(text);
    CHECK_EQ(unlink(path), 0);

    /* the CSV format is what report_write_atomic writes */
    snprintf(path, sizeof path, "%s/as.csv", folder);
    check_set_context("%s", "csv through report_write_atomic_as");
    CHECK_EQ(report_write_atomic_as(path, &report_format_csv, rows, 2, err, sizeof err), 0);
    text = read_file(path, NULL);
    CHECK_STR(text, REPORT_HEADER "2001:db8::1; 1; 1234::; 2; [TCP, UDP]; 1; 2; 3; 4\n"
                                  "192.168.1.2; 51057; 224.0.0.251; 5353; [UDP]; 1672060822910; "
                                  "1672060822910; 84; 1\n");
    free(text);
    CHECK_EQ(unlink(path), 0);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "report.csv"); /* nothing else left behind */
    check_set_context("%s", "");
}

/* A write error without privileges: RLIMIT_FSIZE makes write() fail with EFBIG (SIGXFSZ is
 * ignored for the duration). Stands in for a full disk. */
static void test_write_error(const char *folder)
{
    char path[PATH_BUF], names[2048], err[512];
    snprintf(path, sizeof path, "%s/report.csv", folder);
    check_set_context("%s", "write error (RLIMIT_FSIZE)");

    struct flow_row r1 = make_row("192.168.1.2", 51057, "224.0.0.251", 5353, FLOW_PROTO_UDP,
                                  1672060822910u, 1672060822910u, 84, 1);
    const struct flow_row *one[] = {&r1};
    write_and_check(folder, path, one, 1, "report.csv");
    char *before = read_file(path, NULL);

    enum { MANY = 200 };
    struct flow_row many[MANY];
    const struct flow_row *rows[MANY];
    for (int i = 0; i < MANY; i++) {
        many[i] = r1;
        many[i].key.src_port = (uint16_t)i;
        rows[i] = &many[i];
    }
    struct rlimit old_limit, limit;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    if (!CHECK_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0)) {
        signal(SIGXFSZ, old_handler);
        free(before);
        return;
    }
    limit = old_limit;
    limit.rlim_cur = 1000; /* the report below is ~16 KB */
    int set = setrlimit(RLIMIT_FSIZE, &limit);
    CHECK_EQ(set, 0);
    memset(err, 0, sizeof err);
    int rc = report_write_atomic(path, rows, MANY, err, sizeof err);
    int restored = setrlimit(RLIMIT_FSIZE, &old_limit);
    signal(SIGXFSZ, old_handler);
    CHECK_EQ(restored, 0);
    if (set == 0) {
        CHECK_EQ(rc, -1);
        CHECK(strncmp(err, "nasoone: ", 9) == 0);
        CHECK(strstr(err, strerror(EFBIG)) != NULL); /* the real cause is in the message */
        char *after = read_file(path, NULL);
        CHECK_STR(after, before); /* the old report is untouched */
        free(after);
        list_folder(folder, names, sizeof names);
        CHECK_STR(names, "report.csv"); /* the temporary is gone */
    }
    free(before);
    check_set_context("%s", "");
}

/* A folder the process may not write: only meaningful when not root. */
static void test_unwritable_folder(const char *folder)
{
    if (geteuid() == 0) {
        printf("test_report: running as root: the read-only folder case is skipped\n");
        return;
    }
    char sub[PATH_BUF], path[PATH_BUF], err[512];
    snprintf(sub, sizeof sub, "%s/read-only", folder);
    snprintf(path, sizeof path, "%s/read-only/report.csv", folder);
    if (!CHECK_EQ(mkdir(sub, 0500), 0))
        return;
    struct flow_row r1 = make_row("1.2.3.4", 1, "5.6.7.8", 2, FLOW_PROTO_TCP, 1, 2, 3, 4);
    const struct flow_row *rows[] = {&r1};
    CHECK_EQ(report_write_atomic(path, rows, 1, err, sizeof err), -1);
    CHECK(strncmp(err, "nasoone: ", 9) == 0);
    CHECK(strstr(err, strerror(EACCES)) != NULL);
    chmod(sub, 0700);
    char names[256];
    list_folder(sub, names, sizeof names);
    CHECK_STR(names, "");
    CHECK_EQ(rmdir(sub), 0);
}

/* A rewrite takes the mode of the report it replaces (a chmod made while a capture runs). */
static void test_mode_kept(const char *folder)
{
    char path[PATH_BUF], err[NASOONE_TEST_ERR];
    snprintf(path, sizeof path, "%s/mode.csv", folder);
    check_set_context("%s", "mode kept");
    struct flow_row r1 = make_row("1.2.3.4", 1, "5.6.7.8", 2, FLOW_PROTO_TCP, 1, 2, 3, 4);
    const struct flow_row *rows[] = {&r1};
    CHECK_EQ(report_write_atomic(path, rows, 1, err, sizeof err), 0);
    static const mode_t modes[] = {0600, 0640, 0604};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        CHECK_EQ(chmod(path, modes[i]), 0);
        CHECK_EQ(report_write_atomic(path, rows, 1, err, sizeof err), 0);
        struct stat st;
        if (CHECK_EQ(stat(path, &st), 0))
            CHECK_EQ(st.st_mode & 07777, modes[i]);
    }
    if (geteuid() == 0) { /* root keeps the owner too (another user cannot give files away) */
        CHECK_EQ(chown(path, 65534, 65534), 0);
        CHECK_EQ(report_write_atomic(path, rows, 1, err, sizeof err), 0);
        struct stat st;
        if (CHECK_EQ(stat(path, &st), 0)) {
            CHECK_EQ(st.st_uid, 65534u);
            CHECK_EQ(st.st_gid, 65534u);
            CHECK_EQ(st.st_mode & 07777, 0604u);
        }
    }
    CHECK_EQ(unlink(path), 0);
    check_set_context("%s", "");
}

/* The longest name a file can have still works: its temporary name is cut to fit. */
static void test_longest_name(const char *folder)
{
    char path[PATH_BUF], names[2048], err[NASOONE_TEST_ERR], name[NAME_MAX + 1];
    memset(name, 'n', NAME_MAX);
    name[NAME_MAX] = '\0';
    snprintf(path, sizeof path, "%s/%s", folder, name);
    check_set_context("%s", "NAME_MAX name");
    struct flow_row r1 = make_row("1.2.3.4", 1, "5.6.7.8", 2, FLOW_PROTO_TCP, 1, 2, 3, 4);
    const struct flow_row *rows[] = {&r1};
    for (int i = 0; i < 3; i++) {
        int rc = report_write_atomic(path, rows, 1, err, sizeof err);
        if (!CHECK_EQ(rc, 0))
            fprintf(stderr, "    err: %s\n", err);
    }
    list_folder(folder, names, sizeof names);
    char expected[NAME_MAX + 16];
    snprintf(expected, sizeof expected, "%s|report.csv", name); /* report.csv: earlier tests' */
    CHECK_STR(names, expected);
    unlink(path);
    /* one byte more is no file name at all: the reason is in the message */
    char longer[NAME_MAX + 2];
    memset(longer, 'n', NAME_MAX + 1);
    longer[NAME_MAX + 1] = '\0';
    snprintf(path, sizeof path, "%s/%s", folder, longer);
    CHECK_EQ(report_write_atomic(path, rows, 1, err, sizeof err), -1);
    CHECK(strstr(err, strerror(ENAMETOOLONG)) != NULL);
    check_set_context("%s", "");
}

static void touch(const char *folder, const char *name)
{
    char path[PATH_BUF];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (CHECK(fd >= 0))
        close(fd);
}

/* report_remove_leftovers: exactly this report's temporary names, regular files only. */
static void test_remove_leftovers(const char *folder)
{
    char sub[FOLDER_MAX + 16], path[PATH_BUF], link_path[PATH_BUF], names[2048];
    snprintf(sub, sizeof sub, "%s/leftovers", folder);
    snprintf(path, sizeof path, "%s/r.csv", sub);
    check_set_context("%s", "leftovers");
    if (!CHECK_EQ(mkdir(sub, 0700), 0))
        return;
    touch(sub, ".r.csv.0123456789abcdef.tmp");  /* ours: removed */
    touch(sub, ".r.csv.FEDCBA9876543210.tmp");  /* ours: removed */
    touch(sub, ".r.csv.0123456789abcde.tmp");   /* 15 digits */
    touch(sub, ".r.csv.0123456789abcdefa.tmp"); /* 17 digits */
    touch(sub, ".r.csv.0123456789abcdeg.tmp");  /* not hex */
    touch(sub, ".r.csvx0123456789abcdef.tmp");  /* no dot after the name */
    touch(sub, ".s.csv.0123456789abcdef.tmp");  /* another report */
    touch(sub, "r.csv.0123456789abcdef.tmp");   /* no leading dot */
    touch(sub, ".r.csv.0123456789abcdef.tmpx"); /* longer */
    snprintf(link_path, sizeof link_path, "%s/.r.csv.1111111111111111.tmp", sub);
    CHECK_EQ(symlink(".s.csv.0123456789abcdef.tmp", link_path), 0); /* a link: kept */
    char dir_path[PATH_BUF];
    snprintf(dir_path, sizeof dir_path, "%s/.r.csv.2222222222222222.tmp", sub);
    CHECK_EQ(mkdir(dir_path, 0700), 0); /* a folder: kept */
    CHECK_EQ(report_remove_leftovers(path), 2);
    list_folder(sub, names, sizeof names);
    CHECK_STR(names, ".r.csv.0123456789abcde.tmp|.r.csv.0123456789abcdef.tmpx|"
                     ".r.csv.0123456789abcdefa.tmp|.r.csv.0123456789abcdeg.tmp|"
                     ".r.csv.1111111111111111.tmp|.r.csv.2222222222222222.tmp|"
                     ".r.csvx0123456789abcdef.tmp|.s.csv.0123456789abcdef.tmp|"
                     "r.csv.0123456789abcdef.tmp");
    char command[PATH_BUF + 32];
    snprintf(command, sizeof command, "rm -rf -- '%s'", sub);
    CHECK_EQ(system(command), 0);
    /* a missing folder: nothing to do */
    CHECK_EQ(report_remove_leftovers("/nonexistent-folder-of-nasoone/r.csv"), 0);
    check_set_context("%s", "");
}

/* An over-long message loses its middle, never its start or its reason. */
static void test_message_format(void)
{
    check_set_context("%s", "message_format");
    char out[100];
    char path[400];
    memset(path, 'p', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    CHECK_EQ(
        message_format(out, sizeof out, "nasoone: cannot open %s: %s", path, "File name too long"),
        -1);
    CHECK_EQ(strlen(out), sizeof out - 1);
    CHECK(strncmp(out, "nasoone: cannot open ppp", 24) == 0);
    const char *end = ": File name too long";
    CHECK_STR(out + strlen(out) - strlen(end), end);
    CHECK(strstr(out, " ... ") != NULL);
    /* what fits is copied as it is */
    message_format(out, sizeof out, "nasoone: %s %d", "short", 42);
    CHECK_STR(out, "nasoone: short 42");
    /* longer than the internal 1 KiB buffer too */
    char huge[5000];
    memset(huge, 'h', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    message_format(out, sizeof out, "nasoone: bad filter '%s': %s", huge, "syntax error");
    CHECK_STR(out + strlen(out) - strlen("': syntax error"), "': syntax error");
    /* a tiny buffer keeps the start */
    char tiny[16];
    message_format(tiny, sizeof tiny, "nasoone: %s", path);
    CHECK_STR(tiny, "nasoone: pppppp");
    check_set_context("%s", "");
}

int main(void)
{
    test_message_format();
    test_order_extend();
    test_format_ipv4();
    test_format_ipv6();
    test_format_max();
    test_order();
    test_sort_random();
    test_format_numbers();
    test_format_ipv4_octets();
    test_format_ipv6_against_inet_ntop();
    test_format_json();

    const char *tmp = getenv("TMPDIR");
    char folder[FOLDER_MAX];
    snprintf(folder, sizeof folder, "%s/test_report.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (CHECK(mkdtemp(folder) != NULL)) {
        test_write_atomic(folder);
        test_write_formats(folder);
        test_write_error(folder);
        test_unwritable_folder(folder);
        test_mode_kept(folder);
        test_longest_name(folder);
        test_remove_leftovers(folder);
        char path[PATH_BUF];
        snprintf(path, sizeof path, "%s/report.csv", folder);
        unlink(path);
        CHECK_EQ(rmdir(folder), 0); /* empty: nothing else was left behind */
    }
    return check_finish("test_report");
}
