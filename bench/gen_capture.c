/*
 * gen_capture.c - writes a deterministic synthetic capture for the benchmark.
 *
 * Usage: gen_capture OUT.pcap [--packets N] [--flows F] [--seed S] [--snaplen B] [--pcapng]
 *        (defaults: 5,000,000 packets, 200,000 flows, seed 1, frames kept whole)
 *
 * --snaplen B keeps only the first B bytes of each frame (at least the headers: B >= 96), as
 * `tcpdump -s B` would: a small file with the same report, for tests that need many packets.
 *
 * The file is classic pcap (little-endian, microsecond timestamps, DLT_EN10MB, snaplen 262144),
 * written with plain stdio; with --pcapng, the same packets as a pcapng file (one little-endian
 * section, one Ethernet interface in microseconds, an Enhanced Packet Block per packet). Each
 * packet belongs to one of F directional flows, picked with a Zipf (s = 1.0) skew: the flow of rank
 * k gets a share proportional to 1/k. Flows are 85% IPv4 / 15% IPv6, 80% TCP / 20% UDP, about 10%
 * of them carry one 802.1Q tag. Frame sizes mix ACK-sized (60-80 bytes, ~45%), mid-sized (100-600,
 * ~15%) and near-MTU (1400-1514, ~40%) frames; every frame is captured whole (caplen == len) unless
 * --snaplen says otherwise. Headers are valid, lengths consistent and checksums correct (the
 * payload is all zeros, so only the headers enter the sums). Timestamps start at 1700000000 s and
 * advance 1-5 us per packet.
 *
 * The same arguments always give the same bytes: all randomness comes from one xorshift64*
 * generator seeded with splitmix64(seed). Single-threaded; it prints a one-line summary (packets,
 * bytes, flows that received at least one packet) on stdout.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_PACKETS 5000000ull
#define DEFAULT_FLOWS   200000ull
#define DEFAULT_SEED    1ull
#define MAX_FLOWS       50000000ull /* keeps the per-flow tables to a few GB at most */

#define SNAPLEN           262144u
#define LINKTYPE_ETHERNET 1u
#define START_SECONDS     1700000000u

#define ETH_HEADER    14u
#define VLAN_TAG      4u
#define IPV4_HEADER   20u
#define IPV6_HEADER   40u
#define TCP_HEADER    20u
#define UDP_HEADER    8u
#define MAX_FRAME     1518u /* 1514-byte frame + one VLAN tag */
#define RECORD_HEADER 16u
#define HEADER_AREA   128u /* zeroed before each frame; every header fits in it */
#define OUTPUT_BUFFER (8u << 20)

/* ---- random numbers ------------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

struct rng {
    uint64_t state; /* never zero */
};

static void rng_seed(struct rng *rng, uint64_t seed)
{
    uint64_t s = seed;
    rng->state = splitmix64(&s);
    if (rng->state == 0)
        rng->state = 0x2545f4914f6cdd1du;
}

static uint64_t rng_next(struct rng *rng)
{
    uint64_t x = rng->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng->state = x;
    return x * 0x2545f4914f6cdd1du;
}

/* Uniform in [0, n), n <= 2^32 (multiply-shift; the bias is far below what matters here). */
static uint32_t rng_below(struct rng *rng, uint64_t n)
{
    return (uint32_t)(((rng_next(rng) >> 32) * n) >> 32);
}

/* Uniform in [lo, hi]. */
static uint32_t rng_range(struct rng *rng, uint32_t lo, uint32_t hi)
{
    return lo + rng_below(rng, (uint64_t)hi - lo + 1);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *rng) { return (double)(rng_next(rng) >> 11) * 0x1.0p-53; }

/* A bijection of 32-bit values: distinct flow numbers give distinct client addresses, so every
 * flow has its own key (each step - xor with a constant, multiply by an odd number, xor with a
 * right shift of itself - is invertible). */
static uint32_t permute32(uint32_t x, uint32_t salt)
{
    x ^= salt;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* ---- flows --------------------------------------------------------------------------------- */

struct flow {
    uint8_t src[16]; /* IPv4 uses the first 4 bytes */
    uint8_t dst[16];
    uint16_t src_port;
    uint16_t dst_port;
    uint32_t tcp_seq;
    uint16_t vlan_tci; /* 0: untagged */
    uint8_t ipv6;
    uint8_t udp;
};

/* Ports are chosen so that tshark's port-based dissectors either ignore the frame or accept an
 * all-zero payload (`tshark -Y _ws.malformed` finds nothing): TCP servers are common services
 * whose dissectors cope with zeros, UDP servers are ports no dissector claims, and client ports
 * come from 61000-65535, where none is registered (e.g. UDP 37008 would be read as TZSP). */
static const uint16_t tcp_server_ports[] = {443, 80, 8443, 8080, 5432, 6379, 8000, 9443};
static const uint16_t udp_server_ports[] = {6000, 9000, 10000, 11000, 15000, 25000, 30000, 33000};
#define CLIENT_PORT_MIN 61000u
#define CLIENT_PORT_MAX 65535u

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void make_flow(struct flow *flow, uint32_t index, struct rng *rng, uint32_t salt)
{
    memset(flow, 0, sizeof *flow);
    flow->ipv6 = rng_below(rng, 100) < 15;
    flow->udp = rng_below(rng, 100) < 20;
    if (rng_below(rng, 100) < 10)
        flow->vlan_tci = (uint16_t)rng_range(rng, 2, 4094); /* priority 0, VLAN id 2..4094 */

    /* The client address is unique per flow; the server is one of a few thousand hosts. */
    uint8_t client[16] = {0};
    uint8_t server[16] = {0};
    uint32_t client_id = permute32(index, salt);
    uint32_t server_id = rng_below(rng, 4096);
    if (flow->ipv6) {
        put32(client, 0x20010db8u); /* 2001:db8:c::/48 clients, 2001:db8:5::/48 servers */
        put32(client + 4, 0x000c0000u | rng_below(rng, 0x10000));
        put32(client + 8, (uint32_t)rng_next(rng));
        put32(client + 12, client_id);
        put32(server, 0x20010db8u);
        put32(server + 4, 0x00050000u);
        put32(server + 12, 0x100u + server_id);
    } else {
        put32(client, client_id);
        put32(server, 0xc6120000u | (server_id + 1)); /* 198.18.0.0/15, benchmark space */
    }

    uint16_t client_port = (uint16_t)rng_range(rng, CLIENT_PORT_MIN, CLIENT_PORT_MAX);
    uint16_t server_port =
        flow->udp
            ? udp_server_ports[rng_below(rng, sizeof udp_server_ports / sizeof udp_server_ports[0])]
            : tcp_server_ports[rng_below(rng,
                                         sizeof tcp_server_ports / sizeof tcp_server_ports[0])];

    /* Directional: half the flows are client->server, half server->client. */
    if (rng_below(rng, 2) == 0) {
        memcpy(flow->src, client, 16);
        memcpy(flow->dst, server, 16);
        flow->src_port = client_port;
        flow->dst_port = server_port;
    } else {
        memcpy(flow->src, server, 16);
        memcpy(flow->dst, client, 16);
        flow->src_port = server_port;
        flow->dst_port = client_port;
    }
    flow->tcp_seq = (uint32_t)rng_next(rng);
}

/* Cumulative Zipf weights: cdf[k] = sum_{i<=k} 1/(i+1), so rank 0 is the heaviest flow. */
static double *make_zipf_cdf(uint64_t flows)
{
    double *cdf = malloc(flows * sizeof *cdf);
    if (!cdf)
        return NULL;
    double sum = 0.0;
    for (uint64_t k = 0; k < flows; k++) {
        sum += 1.0 / (double)(k + 1);
        cdf[k] = sum;
    }
    return cdf;
}

/* The first rank whose cumulative weight exceeds u * total. */
static uint32_t zipf_pick(const double *cdf, uint32_t flows, double u)
{
    double target = u * cdf[flows - 1];
    uint32_t lo = 0, hi = flows - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > target)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- frame building ------------------------------------------------------------------------ */

static void put16be(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Adds big-endian 16-bit words to a ones' complement accumulator (len even). */
static uint32_t sum16(uint32_t acc, const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i + 1 < len; i += 2)
        acc += (uint32_t)p[i] << 8 | p[i + 1];
    return acc;
}

static uint16_t fold16(uint32_t acc)
{
    while (acc >> 16)
        acc = (acc & 0xffffu) + (acc >> 16);
    return (uint16_t)~acc;
}

/* Frame length on the wire (without FCS) for a packet of `flow`, never below its headers. */
static uint32_t pick_frame_length(struct rng *rng, uint32_t headers)
{
    uint32_t r = rng_below(rng, 100);
    uint32_t len;
    if (r < 45)
        len = rng_range(rng, 60, 80);
    else if (r < 60)
        len = rng_range(rng, 100, 600);
    else
        len = rng_range(rng, 1400, 1514);
    return len < headers ? headers : len;
}

/* Writes the Ethernet, VLAN, IP and TCP/UDP headers of one frame of `frame_len` bytes into
 * `frame`, whose first HEADER_AREA bytes are zero and whose payload bytes are zero. */
static void build_frame(uint8_t *frame, struct flow *flow, uint32_t frame_len)
{
    uint32_t off = 0;
    /* MACs: locally administered, derived from the last address bytes. */
    frame[0] = 0x02;
    memcpy(frame + 2, flow->dst + (flow->ipv6 ? 12 : 0), 4);
    frame[6] = 0x02;
    memcpy(frame + 8, flow->src + (flow->ipv6 ? 12 : 0), 4);
    off = 12;
    if (flow->vlan_tci) {
        put16be(frame + off, 0x8100);
        put16be(frame + off + 2, flow->vlan_tci);
        off += VLAN_TAG;
    }
    put16be(frame + off, flow->ipv6 ? 0x86dd : 0x0800);
    off += 2;

    uint32_t ip_len = frame_len - off;
    uint32_t l4_len;
    uint8_t proto = flow->udp ? 17 : 6;
    uint32_t pseudo = 0;
    uint8_t *ip = frame + off;
    if (flow->ipv6) {
        l4_len = ip_len - IPV6_HEADER;
        ip[0] = 0x60;
        put16be(ip + 4, (uint16_t)l4_len);
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, flow->src, 16);
        memcpy(ip + 24, flow->dst, 16);
        pseudo = sum16(0, ip + 8, 32);
        off += IPV6_HEADER;
    } else {
        l4_len = ip_len - IPV4_HEADER;
        ip[0] = 0x45;
        put16be(ip + 2, (uint16_t)ip_len);
        put16be(ip + 4, (uint16_t)(flow->tcp_seq & 0xffffu)); /* identification */
        ip[6] = 0x40;                                         /* DF, offset 0 */
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, flow->src, 4);
        memcpy(ip + 16, flow->dst, 4);
        put16be(ip + 10, fold16(sum16(0, ip, IPV4_HEADER)));
        pseudo = sum16(0, ip + 12, 8);
        off += IPV4_HEADER;
    }
    pseudo += proto + (l4_len & 0xffffu) + (l4_len >> 16);

    uint8_t *l4 = frame + off;
    put16be(l4, flow->src_port);
    put16be(l4 + 2, flow->dst_port);
    if (flow->udp) {
        put16be(l4 + 4, (uint16_t)l4_len);
        uint16_t sum = fold16(sum16(pseudo, l4, UDP_HEADER));
        put16be(l4 + 6, sum ? sum : 0xffff);
    } else {
        uint32_t payload = l4_len - TCP_HEADER;
        put32(l4 + 4, flow->tcp_seq);
        put32(l4 + 8, 1);               /* acknowledgment number */
        l4[12] = 0x50;                  /* data offset 5 */
        l4[13] = payload ? 0x18 : 0x10; /* PSH|ACK or ACK */
        put16be(l4 + 14, 65535);        /* window */
        put16be(l4 + 16, fold16(sum16(pseudo, l4, TCP_HEADER)));
        flow->tcp_seq += payload;
    }
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gen_capture OUT.pcap [--packets N] [--flows F] [--seed S] [--snaplen B] "
            "[--pcapng]\n"
            "  defaults: --packets %llu --flows %llu --seed %llu\n",
            DEFAULT_PACKETS, DEFAULT_FLOWS, DEFAULT_SEED);
}

/* Parses a decimal count in [min, max]; returns 0 on success. */
static int parse_count(const char *name, const char *text, uint64_t min, uint64_t max,
                       uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!text || text[0] < '0' || text[0] > '9') {
        fprintf(stderr, "gen_capture: %s needs a non-negative decimal number\n", name);
        return -1;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "gen_capture: bad %s '%s' (allowed: %llu..%llu)\n", name, text,
                (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

static int write_all(FILE *out, const void *data, size_t len)
{
    return fwrite(data, 1, len, out) == len ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    uint64_t packets = DEFAULT_PACKETS, flows = DEFAULT_FLOWS, seed = DEFAULT_SEED;
    uint64_t snaplen = SNAPLEN;
    int pcapng = 0;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(arg, "--packets") == 0) {
            if (parse_count("--packets", i + 1 < argc ? argv[++i] : NULL, 0, UINT64_MAX / 2,
                            &packets))
                return 2;
        } else if (strcmp(arg, "--flows") == 0) {
            if (parse_count("--flows", i + 1 < argc ? argv[++i] : NULL, 1, MAX_FLOWS, &flows))
                return 2;
        } else if (strcmp(arg, "--seed") == 0) {
            if (parse_count("--seed", i + 1 < argc ? argv[++i] : NULL, 0, UINT64_MAX, &seed))
                return 2;
        } else if (strcmp(arg, "--snaplen") == 0) {
            if (parse_count("--snaplen", i + 1 < argc ? argv[++i] : NULL, HEADER_AREA - 32, SNAPLEN,
                            &snaplen))
                return 2;
        } else if (strcmp(arg, "--pcapng") == 0) {
            pcapng = 1;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            fprintf(stderr, "gen_capture: unknown option '%s'\n", arg);
            usage(stderr);
            return 2;
        } else if (!path) {
            path = arg;
        } else {
            fprintf(stderr, "gen_capture: more than one output file given\n");
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "gen_capture: no output file given\n");
        usage(stderr);
        return 2;
    }

    struct rng rng;
    rng_seed(&rng, seed);
    uint32_t salt = (uint32_t)rng_next(&rng);

    double *cdf = make_zipf_cdf(flows);
    struct flow *table = malloc(flows * sizeof *table);
    uint8_t *used = calloc(flows, 1);
    char *outbuf = malloc(OUTPUT_BUFFER);
    if (!cdf || !table || !used || !outbuf) {
        fprintf(stderr, "gen_capture: out of memory for %llu flows\n", (unsigned long long)flows);
        return 1;
    }
    for (uint64_t k = 0; k < flows; k++)
        make_flow(&table[k], (uint32_t)k, &rng, salt);

    FILE *out = fopen(path, "wb");
    if (!out) {
        fprintf(stderr, "gen_capture: cannot open '%s': %s\n", path, strerror(errno));
        return 1;
    }
    /* A partial file is removed on failure, but only a regular file: never a device like
     * /dev/null or /dev/full, nor a FIFO. */
    struct stat st;
    int regular_file = fstat(fileno(out), &st) == 0 && S_ISREG(st.st_mode);
    if (setvbuf(out, outbuf, _IOFBF, OUTPUT_BUFFER) != 0) {
        fprintf(stderr, "gen_capture: setvbuf failed\n");
        return 1;
    }

    uint8_t global[24] = {0};
    put32le(global, 0xa1b2c3d4u); /* microsecond pcap */
    put16le(global + 4, 2);
    put16le(global + 6, 4);
    put32le(global + 16, (uint32_t)snaplen);
    put32le(global + 20, LINKTYPE_ETHERNET);
    /* pcapng: a section header (no options, length unknown), one Ethernet interface */
    uint8_t section[48] = {0};
    put32le(section, 0x0A0D0D0Au);
    put32le(section + 4, 28);
    put32le(section + 8, 0x1A2B3C4Du);
    put16le(section + 12, 1);
    put32le(section + 16, 0xffffffffu);
    put32le(section + 20, 0xffffffffu);
    put32le(section + 24, 28);
    put32le(section + 28, 1); /* Interface Description Block */
    put32le(section + 32, 20);
    put16le(section + 36, LINKTYPE_ETHERNET);
    put32le(section + 40, (uint32_t)snaplen);
    put32le(section + 44, 20);
    int failed =
        pcapng ? write_all(out, section, sizeof section) : write_all(out, global, sizeof global);
    uint64_t file_header = pcapng ? sizeof section : sizeof global;

    /* Record header followed by the frame, written with one fwrite. */
    static uint8_t record[RECORD_HEADER + MAX_FRAME];
    uint8_t *frame = record + RECORD_HEADER;
    uint64_t ts_sec = START_SECONDS, ts_usec = 0, total_bytes = file_header, used_flows = 0;

    for (uint64_t n = 0; n < packets && !failed; n++) {
        uint32_t rank = zipf_pick(cdf, (uint32_t)flows, rng_unit(&rng));
        struct flow *flow = &table[rank];
        if (!used[rank]) {
            used[rank] = 1;
            used_flows++;
        }
        uint32_t headers = ETH_HEADER + (flow->vlan_tci ? VLAN_TAG : 0) +
                           (flow->ipv6 ? IPV6_HEADER : IPV4_HEADER) +
                           (flow->udp ? UDP_HEADER : TCP_HEADER);
        uint32_t frame_len = pick_frame_length(&rng, headers);
        if (frame_len > MAX_FRAME)
            frame_len = MAX_FRAME;

        memset(frame, 0, HEADER_AREA);
        build_frame(frame, flow, frame_len);

        ts_usec += rng_range(&rng, 1, 5);
        if (ts_usec >= 1000000) {
            ts_usec -= 1000000;
            ts_sec++;
        }
        put32le(record, (uint32_t)ts_sec);
        put32le(record + 4, (uint32_t)ts_usec);
        uint32_t kept = frame_len < snaplen ? frame_len : (uint32_t)snaplen;
        if (pcapng) {
            /* Enhanced Packet Block: header, interface 0, time in microseconds, lengths, the
             * frame padded to 4 bytes, the block's length again */
            uint32_t padded = (kept + 3) & ~3u, length = 32 + padded;
            uint64_t micros = ts_sec * 1000000 + ts_usec;
            uint8_t head[28], tail[8] = {0};
            put32le(head, 6);
            put32le(head + 4, length);
            put32le(head + 8, 0);
            put32le(head + 12, (uint32_t)(micros >> 32));
            put32le(head + 16, (uint32_t)micros);
            put32le(head + 20, kept);
            put32le(head + 24, frame_len);
            put32le(tail + (padded - kept), length);
            failed = write_all(out, head, sizeof head) || write_all(out, frame, kept) ||
                     write_all(out, tail, padded - kept + 4);
            total_bytes += length;
            continue;
        }
        put32le(record + 8, kept);
        put32le(record + 12, frame_len);
        failed = write_all(out, record, RECORD_HEADER + kept);
        total_bytes += RECORD_HEADER + kept;
    }

    if (fflush(out) != 0)
        failed = 1;
    if (ferror(out))
        failed = 1;
    int saved_errno = errno;
    if (fclose(out) != 0 && !failed) {
        failed = 1;
        saved_errno = errno;
    }
    free(outbuf);
    free(used);
    free(table);
    free(cdf);
    if (failed) {
        fprintf(stderr, "gen_capture: write to '%s' failed: %s\n", path, strerror(saved_errno));
        if (regular_file)
            remove(path);
        return 1;
    }
    printf("gen_capture: %s: %llu packets, %llu bytes, %llu of %llu flows used (seed %llu)\n", path,
           (unsigned long long)packets, (unsigned long long)total_bytes,
           (unsigned long long)used_flows, (unsigned long long)flows, (unsigned long long)seed);
    return 0;
}
