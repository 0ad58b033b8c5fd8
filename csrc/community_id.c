/*
 * community_id.c - nasoone_community_id (nasoone.h): the Community ID flow hash, version 1
 * (github.com/corelight/community-id-spec), so a 5-tuple row joins Zeek's, Suricata's and
 * Arkime's records of the same flow.
 *
 * "1:" and the base64 of the SHA-1 of: the seed (2 bytes, big-endian), the two addresses, the
 * protocol, a zero byte, and for TCP, UDP, SCTP, ICMP and ICMPv6 the two ports (big-endian),
 * the endpoints in a canonical order (the smaller address first, or the smaller port when the
 * addresses are equal) so both directions hash alike. ICMP's "ports" are its type and the
 * type's counterpart (echo request and reply are one flow), or its type and code for a type
 * without one, which then keeps its direction. Checked against the specification's baseline.
 */
#include <stdint.h>
#include <string.h>

#include "nasoone.h"
#include "flow_pair.h"

/* ---- SHA-1 (FIPS 180-4), for the one short message a row hashes ---- */

static uint32_t rotl(uint32_t x, int n) { return x << n | x >> (32 - n); }

static void sha1_block(uint32_t h[5], const uint8_t block[64])
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | block[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5a827999u;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ed9eba1u;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdcu;
        else
            f = b ^ c ^ d, k = 0xca62c1d6u;
        uint32_t t = rotl(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rotl(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

/* The digest of `length` bytes (at most 119: two blocks with the padding). */
static void sha1(const uint8_t *data, size_t length, uint8_t digest[20])
{
    uint32_t h[5] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u};
    uint8_t blocks[128];
    memset(blocks, 0, sizeof blocks);
    memcpy(blocks, data, length);
    blocks[length] = 0x80;
    size_t total = length + 9 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++)
        blocks[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t at = 0; at < total; at += 64)
        sha1_block(h, blocks + at);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++)
            digest[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

/* ---- the flow hash ---- */

size_t nasoone_community_id(const struct nasoone_row *row, uint16_t seed, char *out)
{
    size_t address_size = row->family == 6 ? 16 : 4;
    const uint8_t *a = row->source, *b = row->destination;
    uint16_t port_a = row->source_port, port_b = row->destination_port;
    int ports = 1, one_way = 0;
    switch (row->protocol) {
    case 6:
    case 17:
    case 132:
        break;
    case 1:
    case 58: { /* the key's ports are the type and the code */
        int counterpart = flow_icmp_counterpart(row->protocol, (uint8_t)port_a);
        if (counterpart >= 0)
            port_b = (uint16_t)counterpart;
        else
            one_way = 1;
        break;
    }
    default:
        ports = 0;
        break;
    }
    if (!one_way) { /* the smaller endpoint first: both directions hash alike */
        int order = memcmp(a, b, address_size);
        if (order > 0 || (order == 0 && ports && port_a > port_b)) {
            const uint8_t *t = a;
            a = b, b = t;
            uint16_t p = port_a;
            port_a = port_b, port_b = p;
        }
    }
    uint8_t data[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    data[n++] = (uint8_t)(seed >> 8), data[n++] = (uint8_t)seed;
    memcpy(data + n, a, address_size), n += address_size;
    memcpy(data + n, b, address_size), n += address_size;
    data[n++] = row->protocol, data[n++] = 0;
    if (ports) {
        data[n++] = (uint8_t)(port_a >> 8), data[n++] = (uint8_t)port_a;
        data[n++] = (uint8_t)(port_b >> 8), data[n++] = (uint8_t)port_b;
    }
    uint8_t digest[20];
    sha1(data, n, digest);
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *p = out;
    *p++ = '1', *p++ = ':';
    for (int i = 0; i < 21; i += 3) { /* 20 bytes: six full groups and one of two bytes */
        uint32_t v = (uint32_t)digest[i] << 16 | (i + 1 < 20 ? (uint32_t)digest[i + 1] << 8 : 0) |
                     (i + 2 < 20 ? digest[i + 2] : 0);
        *p++ = alphabet[v >> 18 & 63];
        *p++ = alphabet[v >> 12 & 63];
        *p++ = i + 1 < 20 ? alphabet[v >> 6 & 63] : '=';
        *p++ = i + 2 < 20 ? alphabet[v & 63] : '=';
    }
    *p = '\0';
    return (size_t)(p - out);
}
