/*
 * fuzz_decode.c - libFuzzer target for decode_packet() (csrc/decode.c).
 *
 * Input: the first byte picks the link layer: byte % DECODE_LINK_COUNT is an enum decode_link
 * value (csrc/decode.h), DECODE_LINK_UNSUPPORTED included; the rest is the captured frame.
 * fuzz/make_corpus.sh writes its seeds with the same numbering (it reads the enum from decode.h).
 *
 * The frame is copied into a buffer of exactly its length, so AddressSanitizer reports any read
 * past caplen. Invariants checked (abort() on violation, so libFuzzer saves the input):
 *   - the result is a valid enum decode_result, and span <= caplen;
 *   - decoding only the first `span` bytes gives the same result, and when counted the same key
 *     bytes and protocol: the producer copies just `span` bytes of a long frame for the parsers;
 *   - a counted frame has protocol TCP or UDP, family 4 or 6, key.zero[] all zero, and an IPv4
 *     key has zero in address bytes 4..15.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size);

static void violation(const char *what, enum decode_link link, uint32_t caplen)
{
    fprintf(stderr, "fuzz_decode: invariant violated: %s (link %d, caplen %u)\n", what, (int)link,
            caplen);
    abort();
}

/* Decodes `length` bytes of `frame` from an exact-size heap copy (NULL for length 0, so a read
 * of even one byte is caught). */
static enum decode_result decode_copy(enum decode_link link, const uint8_t *frame,
                                      uint32_t length, struct decoded_packet *out)
{
    uint8_t *copy = NULL;
    if (length > 0) {
        copy = malloc(length);
        if (copy == NULL)
            abort();
        memcpy(copy, frame, length);
    }
    /* Poison the output so a field decode_packet forgets to set shows up as a difference. */
    memset(out, 0xa5, sizeof *out);
    enum decode_result result = decode_packet(link, copy, length, out);
    free(copy);
    return result;
}

static void check_counted(const struct decoded_packet *p, enum decode_link link, uint32_t caplen)
{
    if (p->protocol != FLOW_PROTO_TCP && p->protocol != FLOW_PROTO_UDP)
        violation("counted frame with a protocol other than TCP or UDP", link, caplen);
    if (p->key.family != FLOW_FAMILY_IPV4 && p->key.family != FLOW_FAMILY_IPV6)
        violation("counted frame with a family other than 4 or 6", link, caplen);
    for (size_t i = 0; i < sizeof p->key.zero; i++)
        if (p->key.zero[i] != 0)
            violation("key.zero[] not all zero", link, caplen);
    if (p->key.family == FLOW_FAMILY_IPV4)
        for (size_t i = 4; i < sizeof p->key.src; i++)
            if (p->key.src[i] != 0 || p->key.dst[i] != 0)
                violation("IPv4 key with non-zero address bytes past the fourth", link, caplen);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    if (size < 1 || size - 1 > UINT32_MAX)
        return 0;
    enum decode_link link = (enum decode_link)(input[0] % (unsigned)DECODE_LINK_COUNT);
    const uint8_t *frame = input + 1;
    uint32_t caplen = (uint32_t)(size - 1);

    struct decoded_packet full;
    enum decode_result result = decode_copy(link, frame, caplen, &full);
    if ((unsigned)result >= DECODE_RESULT_COUNT)
        violation("result out of range", link, caplen);
    if (full.span > caplen)
        violation("span > caplen", link, caplen);
    if (result == DECODE_COUNTED)
        check_counted(&full, link, caplen);
    if (decode_result_name(result) == NULL)
        violation("decode_result_name returned NULL", link, caplen);

    /* What the parsers see when the producer copies only `span` bytes. */
    struct decoded_packet prefix;
    enum decode_result prefix_result = decode_copy(link, frame, full.span, &prefix);
    if (prefix_result != result)
        violation("decoding the first span bytes gives another result", link, caplen);
    if (prefix.span > full.span)
        violation("decoding the first span bytes looks further than span", link, caplen);
    if (result == DECODE_COUNTED) {
        if (memcmp(&prefix.key, &full.key, sizeof full.key) != 0)
            violation("decoding the first span bytes gives another key", link, caplen);
        if (prefix.protocol != full.protocol)
            violation("decoding the first span bytes gives another protocol", link, caplen);
    }
    return 0;
}
