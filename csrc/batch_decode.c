/*
 * batch_decode.c - see batch_decode.h.
 */
#include "batch_decode.h"

#include "run.h"

/* How many packets ahead decoding hints a packet's headers: the reader wrote them from another
 * core. 8 took the keeper that decodes from 0.404 to 0.366 s of CPU on the 5M-packet benchmark
 * (16: 0.371). */
#define BATCH_DECODE_PREFETCH_DISTANCE 8

void batch_decode_keys(struct packet_batch *batch, int five_tuple, struct run_counters *counters)
{
    struct decode_tally counts = {{0}, 0}, *tally = &counts;
    for (uint32_t i = 0; i < batch->count; i++) {
        if (i + BATCH_DECODE_PREFETCH_DISTANCE < batch->count)
            __builtin_prefetch(batch->data +
                               batch->refs[i + BATCH_DECODE_PREFETCH_DISTANCE].offset);
        const struct packet_ref *ref = &batch->refs[i];
        struct decoded_ref *out = &batch->decoded[i];
        if (ref->attributed != 0) {
            const struct attributed_flow *flow = &batch->attributed[ref->attributed - 1];
            out->key = flow->key;
            out->protocol = flow->protocol;
            out->ip_bytes = flow->ip_bytes;
            out->tcp_flags = 0; /* a later fragment has no TCP header */
            tally->fragments_attributed++;
        } else {
            struct decoded_packet decoded;
            enum decode_result result = decode_packet_keyed(ref->link, batch->data + ref->offset,
                                                            ref->copied, five_tuple, &decoded);
            if (result != DECODE_COUNTED) {
                tally->results[result]++;
                out->protocol = 0;
                continue;
            }
            out->key = decoded.key;
            out->key.device = ref->device;
            out->protocol = decoded.protocol;
            out->ip_bytes = decode_ip_bytes(&decoded, ref->wire_length);
            out->tcp_flags = decoded.tcp_flags;
        }
        out->hash = flow_key_hash(&out->key);
        tally->results[DECODE_COUNTED]++;
    }
    decode_tally_publish(tally, counters);
}

void decode_tally_publish(struct decode_tally *tally, struct run_counters *counters)
{
    if (tally->fragments_attributed != 0) {
        atomic_fetch_add_explicit(&counters->fragments_attributed, tally->fragments_attributed,
                                  memory_order_relaxed);
        tally->fragments_attributed = 0;
    }
    for (int r = 0; r < DECODE_RESULT_COUNT; r++) {
        if (tally->results[r] == 0)
            continue;
        atomic_uint_fast64_t *counter =
            r == DECODE_COUNTED ? &counters->counted : &counters->skipped[r];
        atomic_fetch_add_explicit(counter, tally->results[r], memory_order_relaxed);
        tally->results[r] = 0;
    }
}
