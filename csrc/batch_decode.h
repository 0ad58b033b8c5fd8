/*
 * batch_decode.h - lifecycle mode's decoding: every packet of a batch to its flow key, in place
 * (packet_batch.decoded), and the tally of what decoding counted and skipped. The parsers use it,
 * and the keeper when it decodes for itself (run.h's keeper_decodes). No thread of its own.
 */
#ifndef NASOONE_BATCH_DECODE_H
#define NASOONE_BATCH_DECODE_H

#include <stdint.h>

#include "decode.h"
#include "packet_batch.h"

struct run_counters;

/* What a thread decoded since it last published: per decode_result ([DECODE_COUNTED] counts the
 * counted packets), and the later fragments the reader attributed to a flow. */
struct decode_tally {
    uint64_t results[DECODE_RESULT_COUNT];
    uint64_t fragments_attributed;
};

/* Fills batch->decoded: each packet's key and hash, or protocol 0 for one not counted; then adds
 * what it counted and skipped to `counters`. */
void batch_decode_keys(struct packet_batch *batch, int five_tuple, struct run_counters *counters);

/* Adds the tally to the run's counters and empties it. */
void decode_tally_publish(struct decode_tally *tally, struct run_counters *counters);

#endif
