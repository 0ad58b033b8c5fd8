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
 *   - a counted frame has protocol TCP or UDP, family 4 or 6, key.device and key.zero 0, and an
 * IPv4 key has zero in address bytes 4..15;
 *   - fragments: a later fragment's result is DECODE_FRAGMENT and a DECODE_FRAGMENT frame is
 *     some fragment; a fragment_id with a family is that of a fragment, family 4 or 6, zero[]
 *     zero, IPv4 addresses zero past the fourth byte;
 *   - the output does not depend on what the caller's struct held before (decoded twice, into
 *     structs filled with different bytes): keys and fragment ids are compared as bytes.
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
 * of even one byte is caught) into `out`, first filled with `poison`. */
static enum decode_result decode_copy_keyed(enum decode_link link, const uint8_t *frame,
                                            uint32_t length, int five_tuple,
                                            struct decoded_packet *out, uint8_t poison);

static enum decode_result decode_copy(enum decode_link link, const uint8_t *frame, uint32_t length,
                                      struct decoded_packet *out, uint8_t poison)
{
    return decode_copy_keyed(link, frame, length, -1, out, poison);
}

/* decode_copy through decode_packet_keyed (five_tuple 0 or 1), or decode_packet (-1). */
static enum decode_result decode_copy_keyed(enum decode_link link, const uint8_t *frame,
                                            uint32_t length, int five_tuple,
                                            struct decoded_packet *out, uint8_t poison)
{
    uint8_t *copy = NULL;
    if (length > 0) {
        copy = malloc(length);
        if (copy == NULL)
            abort();
        memcpy(copy, frame, length);
    }
    /* A field decode_packet forgets to set shows up as a difference between two poisons. */
    memset(out, poison, sizeof *out);
    enum decode_result result = five_tuple < 0
                                    ? decode_packet(link, copy, length, out)
                                    : decode_packet_keyed(link, copy, length, five_tuple, out);
    free(copy);
    return result;
}

static int is_zero(const uint8_t *bytes, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (bytes[i] != 0)
            return 0;
    return 1;
}

static void check_counted(const struct decoded_packet *p, enum decode_link link, uint32_t caplen)
{
    if (p->protocol != FLOW_PROTO_TCP && p->protocol != FLOW_PROTO_UDP)
        violation("counted frame with a protocol other than TCP or UDP", link, caplen);
    if (p->key.family != FLOW_FAMILY_IPV4 && p->key.family != FLOW_FAMILY_IPV6)
        violation("counted frame with a family other than 4 or 6", link, caplen);
    if (p->key.device != 0 || p->key.zero != 0)
        violation("key.device or key.zero not zero", link, caplen);
    if (p->key.family == FLOW_FAMILY_IPV4 && (!is_zero(p->key.src + 4, sizeof p->key.src - 4) ||
                                              !is_zero(p->key.dst + 4, sizeof p->key.dst - 4)))
        violation("IPv4 key with non-zero address bytes past the fourth", link, caplen);
}

static void check_fragment(const struct decoded_packet *p, enum decode_result result,
                           enum decode_link link, uint32_t caplen)
{
    if (p->fragment > DECODE_LATER_FRAGMENT)
        violation("fragment out of range", link, caplen);
    if (p->fragment == DECODE_LATER_FRAGMENT && result != DECODE_FRAGMENT)
        violation("a later fragment with a result other than DECODE_FRAGMENT", link, caplen);
    if (result == DECODE_FRAGMENT && p->fragment == DECODE_NOT_FRAGMENT)
        violation("DECODE_FRAGMENT for a frame that is no fragment", link, caplen);
    const struct fragment_id *id = &p->fragment_id;
    if (id->family == 0)
        return;
    if (p->fragment == DECODE_NOT_FRAGMENT)
        violation("a fragment id for a frame that is no fragment", link, caplen);
    if (id->family != FLOW_FAMILY_IPV4 && id->family != FLOW_FAMILY_IPV6)
        violation("fragment id with a family other than 0, 4 or 6", link, caplen);
    if (!is_zero(id->zero, sizeof id->zero))
        violation("fragment_id.zero[] not all zero", link, caplen);
    if (id->family == FLOW_FAMILY_IPV4 &&
        (!is_zero(id->src + 4, sizeof id->src - 4) || !is_zero(id->dst + 4, sizeof id->dst - 4)))
        violation("IPv4 fragment id with non-zero address bytes past the fourth", link, caplen);
    if (id->family == FLOW_FAMILY_IPV6 && id->protocol != 0)
        violation("IPv6 fragment id with a protocol", link, caplen);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    if (size < 1 || size - 1 > UINT32_MAX)
        return 0;
    enum decode_link link = (enum decode_link)(input[0] % (unsigned)DECODE_LINK_COUNT);
    const uint8_t *frame = input + 1;
    uint32_t caplen = (uint32_t)(size - 1);

    struct decoded_packet full;
    enum decode_result result = decode_copy(link, frame, caplen, &full, 0xa5);
    if ((unsigned)result >= DECODE_RESULT_COUNT)
        violation("result out of range", link, caplen);
    if (full.span > caplen)
        violation("span > caplen", link, caplen);
    if (result == DECODE_COUNTED)
        check_counted(&full, link, caplen);
    check_fragment(&full, result, link, caplen);

    /* The same frame into a struct that held other bytes: the same answer, byte for byte. */
    struct decoded_packet again;
    if (decode_copy(link, frame, caplen, &again, 0x5a) != result || again.span != full.span ||
        again.fragment != full.fragment || again.fragment_id.family != full.fragment_id.family)
        violation("a second decoding differs", link, caplen);
    if (result == DECODE_COUNTED &&
        (memcmp(&again.key, &full.key, sizeof full.key) != 0 || again.protocol != full.protocol))
        violation("a second decoding gives another key: bytes left unset", link, caplen);
    if (full.fragment_id.family != 0 &&
        memcmp(&again.fragment_id, &full.fragment_id, sizeof full.fragment_id) != 0)
        violation("a second decoding gives another fragment id: bytes left unset", link, caplen);
    if (decode_result_name(result) == NULL)
        violation("decode_result_name returned NULL", link, caplen);

    /* What the parsers see when the producer copies only `span` bytes. */
    struct decoded_packet prefix;
    enum decode_result prefix_result = decode_copy(link, frame, full.span, &prefix, 0x5a);
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

    /* The 5-tuple key: counted whenever the 4-tuple counts, with the protocol in the key;
     * and the same from the first span bytes (the reader copies no more). */
    struct decoded_packet keyed, keyed_prefix;
    enum decode_result keyed_result = decode_copy_keyed(link, frame, caplen, 1, &keyed, 0xa5);
    if (result == DECODE_COUNTED && keyed_result != DECODE_COUNTED)
        violation("a 4-tuple row's frame is no 5-tuple row", link, caplen);
    if (keyed_result == DECODE_COUNTED) {
        if (keyed.key.protocol == 0 || keyed.key.device != 0 || keyed.key.zero != 0)
            violation("a 5-tuple key without its protocol, or with zero[] set", link, caplen);
        if ((keyed.key.protocol == 6) != (keyed.protocol == FLOW_PROTO_TCP) ||
            (keyed.key.protocol == 17) != (keyed.protocol == FLOW_PROTO_UDP) ||
            (keyed.protocol == FLOW_PROTO_OTHER) ==
                (keyed.key.protocol == 6 || keyed.key.protocol == 17))
            violation("a 5-tuple key's protocol and its protocol bit disagree", link, caplen);
        if (keyed.key.family != FLOW_FAMILY_IPV4 && keyed.key.family != FLOW_FAMILY_IPV6)
            violation("a 5-tuple key with a family other than 4 or 6", link, caplen);
    } else if (keyed_result != result && keyed_result != DECODE_TRUNCATED) {
        violation("the 5-tuple key turned another result into something else", link, caplen);
    }
    if (decode_copy_keyed(link, frame, keyed.span, 1, &keyed_prefix, 0x5a) != keyed_result ||
        (keyed_result == DECODE_COUNTED &&
         memcmp(&keyed_prefix.key, &keyed.key, sizeof keyed.key) != 0))
        violation("the first span bytes give another 5-tuple key", link, caplen);
    return 0;
}
