/*
 * parser.c - a parser thread: decodes batches and aggregates them into its own delta table.
 *
 * Any number of parsers take batches from one queue, so load balances by itself. A flow may be
 * in several parsers' deltas at once; the writer's merge (sums, min, max) makes that exact.
 * Every interval/4, or when the delta has NASOONE_DELTA_MAX_ROWS rows, the whole delta table is
 * handed to the writer and a cleared one taken from the pool: no lock per packet, no copy.
 *
 * A parser that is the only one owns the report's rows instead (run.h): it aggregates into one
 * table that it lends the writer when a report is due, so each packet is counted once, not
 * once in a delta and again in the writer's merge; until the table outgrows the cache
 * (OWNED_TABLE_MAX_ROWS), when it gives the table to the writer and goes on with deltas.
 */
#include <stdlib.h>

#include "batch_decode.h"
#include "run.h"
#include "stages.h"

struct parser {
    struct run *run;
    struct flow_table *delta; /* what parser_run_batch counts into: a delta, or the owned table */
    struct decode_tally tally;
};

/* Whether the delta must go to the writer before the next batch: one more batch could take it
 * past NASOONE_DELTA_MAX_ROWS, the size it was made with, and it never grows. */
static int parser_delta_full(const struct flow_table *delta)
{
    return delta->count > NASOONE_DELTA_MAX_ROWS - NASOONE_BATCH_PACKETS;
}

/* A cleared table from the writer's pool, or a new one. NULL when out of memory. */
static struct flow_table *parser_take_table(struct run *run)
{
    struct flow_table *table = pointer_queue_try_pop(&run->spare_tables);
    if (table != NULL)
        return table;
    table = malloc(sizeof *table);
    /* sized for its most rows at once: a delta never grows (see parser_main's hand-over); in
     * small pages, so that a delta holds the memory of the rows it got, not 2 MiB steps */
    if (table != NULL && flow_table_init_pages(table, NASOONE_DELTA_MAX_ROWS, 0) != 0) {
        free(table);
        table = NULL;
    }
    return table;
}

/* Hands the delta (if not empty) to the writer and starts a fresh one; the last time
 * (`final`), without taking a fresh one. While the writer's inbox is full (it is rewriting a
 * large report), the parser keeps adding to its delta rather than wait, up to
 * NASOONE_DELTA_MAX_ROWS rows; only then does it wait, which keeps its memory bounded. */
static void parser_hand_over(struct parser *parser, int final)
{
    struct run *run = parser->run;
    if (parser->delta->count == 0)
        return;
    if (final) {
        pointer_queue_push(&run->parser_deltas, parser->delta);
        parser->delta = NULL;
        return;
    }
    struct flow_table *fresh = parser_take_table(run);
    if (fresh == NULL)
        return; /* keep aggregating into the current one; retried at the next hand-over */
    if (parser_delta_full(parser->delta))
        pointer_queue_push(&run->parser_deltas, parser->delta);
    else if (pointer_queue_try_push(&run->parser_deltas, parser->delta) != 0) {
        if (pointer_queue_try_push(&run->spare_tables, fresh) != 0) {
            flow_table_destroy(fresh);
            free(fresh);
        }
        return;
    }
    parser->delta = fresh;
}

static void parser_publish_counts(struct parser *parser);

/* A counted packet between its decoding and its upsert. */
struct counted_packet {
    struct flow_key key;
    uint32_t hash;
    struct flow_counters counters;
};

/* Decodes and aggregates one batch, FLOW_TABLE_PREFETCH_GROUP packets at a time: decode the
 * group and prefetch its slots, prefetch its rows, then upsert (see flow_table.h). Returns how
 * many packets it counted. */
static uint64_t parser_run_batch(struct parser *parser, const struct packet_batch *batch)
{
    struct run *run = parser->run;
    int five_tuple = run->config.five_tuple;
    struct counted_packet group[FLOW_TABLE_PREFETCH_GROUP];
    for (uint32_t first = 0; first < batch->count; first += FLOW_TABLE_PREFETCH_GROUP) {
        uint32_t end = first + FLOW_TABLE_PREFETCH_GROUP;
        if (end > batch->count)
            end = batch->count;
        uint32_t counted = 0;
        /* the next group's headers: the reader wrote them from the other core */
        for (uint32_t i = end; i < end + FLOW_TABLE_PREFETCH_GROUP && i < batch->count; i++)
            __builtin_prefetch(batch->data + batch->refs[i].offset);
        for (uint32_t i = first; i < end; i++) {
            const struct packet_ref *ref = &batch->refs[i];
            struct counted_packet *packet = &group[counted];
            uint8_t protocol, tcp_flags = 0; /* a later fragment has no TCP header */
            uint32_t ip_bytes;
            if (ref->attributed != 0) { /* a later fragment the producer matched to its flow */
                const struct attributed_flow *flow = &batch->attributed[ref->attributed - 1];
                packet->key = flow->key;
                protocol = flow->protocol;
                ip_bytes = flow->ip_bytes;
                parser->tally.fragments_attributed++;
            } else {
                struct decoded_packet decoded;
                enum decode_result result = decode_packet_keyed(
                    ref->link, batch->data + ref->offset, ref->copied, five_tuple, &decoded);
                if (result != DECODE_COUNTED) {
                    parser->tally.results[result]++;
                    continue;
                }
                packet->key = decoded.key;
                packet->key.device = ref->device;
                protocol = decoded.protocol;
                tcp_flags = decoded.tcp_flags;
                ip_bytes = decode_ip_bytes(&decoded, ref->wire_length);
            }
            counted++;
            packet->hash = flow_key_hash(&packet->key);
            packet->counters = (struct flow_counters){.first_ms = ref->timestamp_ms,
                                                      .last_ms = ref->timestamp_ms,
                                                      .bytes = ref->wire_length,
                                                      .packets = 1,
                                                      .protocols = protocol,
                                                      .tcp_flags = tcp_flags,
                                                      .opened = flow_tcp_opens(tcp_flags),
                                                      .first_order = packet_batch_order(batch, i),
                                                      .ip_bytes = ip_bytes};
            flow_table_prefetch_slot(parser->delta, packet->hash);
        }
        for (uint32_t i = 0; i < counted; i++)
            flow_table_prefetch_row(parser->delta, group[i].hash);
        for (uint32_t i = 0; i < counted; i++) {
            if (flow_table_upsert(parser->delta, &group[i].key, group[i].hash,
                                  &group[i].counters) == 0) {
                parser->tally.results[DECODE_COUNTED]++;
            } else {
                run_set_error(run->status, "nasoone: out of memory: packets were not counted");
                parser->tally.results[DECODE_INVALID]++;
            }
        }
    }
    uint64_t counted = parser->tally.results[DECODE_COUNTED];
    parser_publish_counts(parser);
    return counted;
}

/* Adds the parser's counts to the capture's. */
static void parser_publish_counts(struct parser *parser)
{
    decode_tally_publish(&parser->tally, &parser->run->counters);
}

/* Counts into delta tables and hands them to the writer: every interval/4, when one is full,
 * and at the end. */
static void parser_run_deltas(struct parser *parser)
{
    struct run *run = parser->run;
    uint64_t period_ms = run->config.interval_ms / 4 ? run->config.interval_ms / 4 : 1;
    parser->delta = parser_take_table(run);
    if (parser->delta == NULL)
        run_set_error(run->status, "nasoone: out of memory for a parser's flow table");
    uint64_t next_hand_over = monotonic_ms() + period_ms;
    for (;;) {
        uint64_t before = monotonic_ms();
        struct timespec deadline =
            monotonic_after_ms(next_hand_over > before ? next_hand_over - before : 0);
        int closed = 0;
        struct packet_batch *batch =
            pointer_queue_pop(&run->ready_batches, &deadline, &closed, NULL);
        if ((void *)batch == &run->report_request)
            continue; /* asked of the owner this parser was (parser_own_table): not a batch */
        if (batch != NULL) {
            if (parser->delta != NULL)
                parser_run_batch(parser, batch);
            else
                run_set_error(run->status, "nasoone: out of memory: packets were not counted");
            pointer_queue_push(&run->free_batches, batch);
        }
        if (parser->delta == NULL)
            parser->delta = parser_take_table(run);
        if (parser->delta == NULL) {
            if (closed)
                break;
            continue;
        }
        uint64_t now = monotonic_ms();
        if (closed || now >= next_hand_over || parser_delta_full(parser->delta)) {
            parser_hand_over(parser, closed);
            if (now >= next_hand_over)
                next_hand_over = now + period_ms;
        }
        if (closed)
            break;
    }
    if (parser->delta != NULL) {
        flow_table_destroy(parser->delta);
        free(parser->delta);
    }
    /* counted before the run can finish: the writer finishes after the last parser */
    run_thread_cpu(run, NASOONE_THREAD_PARSERS);
    parser_stage_done(run);
}

/* While the table is lent, the delta takes new rows up to this many; then the parser waits for
 * the table (as many rows as the deltas queued for a busy writer hold with several parsers). */
#define OWNED_SIDE_MAX_ROWS (8u * NASOONE_DELTA_MAX_ROWS)

/* The most rows the only parser keeps in its own table: 262,144 rows take 27 MB with their
 * index, about a server's last-level cache (sysconf's figure is not to be trusted in a VM: 320
 * MiB here for 32). Up to there, counting each packet once in one table is the cheapest; past
 * it every count is a miss to memory, and the pipeline of deltas is faster (the writer merges
 * on the other core while the parser decodes), so the parser hands its table to the writer and
 * goes on with deltas (docs/performance.md). */
#define OWNED_TABLE_MAX_ROWS (1u << 18)

/* The only parser, without lifecycle: the table the report is made of, and while the writer has
 * it (run.h's table_report) the delta it counts into instead. */
struct owned_table {
    struct flow_table table;
    struct flow_table *side; /* a delta (parser_take_table), or NULL while nothing is lent */
    int lent;
    int changed; /* since the table was last lent */
};

/* The flows and memory of the table, for stats (as of its last merge while it is lent), and
 * the delta's memory beside: it keeps what it grew to while the table was lent. */
static void owned_table_publish(struct run *run, const struct owned_table *owned)
{
    if (!run->config.biflow) /* biflow mode: the pairs, counted at each report */
        atomic_store(&run->counters.flows, owned->table.count);
    atomic_store(&run->counters.memory_bytes,
                 flow_table_memory(&owned->table) +
                     (owned->side != NULL ? flow_table_memory(owned->side) : 0));
}

/* The writer gave the table back: what was counted meanwhile joins it. */
static void owned_table_returned(struct parser *parser, struct owned_table *owned)
{
    struct run *run = parser->run;
    if (owned->side->count != 0) {
        if (flow_table_merge(&owned->table, owned->side) != 0)
            run_set_error(run->status, "nasoone: out of memory: the report misses some packets");
        owned->changed = 1;
    }
    flow_table_clear(owned->side);
    owned->lent = 0;
    parser->delta = &owned->table;
    owned_table_publish(run, owned);
}

/* The writer asks for the rows: the table is lent, untouched until it comes back. */
static void owned_table_lend(struct parser *parser, struct owned_table *owned,
                             struct table_report *request)
{
    struct run *run = parser->run;
    /* not lent now: the writer gave the table back before it asked again, and parser_own_table
     * took the return before this request */
    if (owned->side == NULL)
        owned->side = parser_take_table(run);
    request->changed = owned->changed;
    request->moved = 0; /* rows are only ever added: never moved */
    request->lent = owned->side != NULL ? &owned->table : NULL;
    request->failed = request->lent == NULL;
    if (request->lent != NULL) {
        owned->lent = 1;
        owned->changed = 0;
        parser->delta = owned->side;
    } else { /* out of memory for the delta: the report is missed, the count goes on */
        run_set_write_error(run->status,
                            "nasoone: out of memory for the report: it was not rewritten");
    }
    pointer_queue_push(&run->table_reports, request);
}

/* The only parser, without lifecycle: counts every packet into the table the report is made of,
 * and lends it to the writer when a report is due, between two batches. */
static void parser_own_table(struct parser *parser)
{
    struct run *run = parser->run;
    struct owned_table owned = {0};
    int ready = flow_table_init(&owned.table, 65536) == 0;
    if (!ready)
        run_set_error(run->status, "nasoone: out of memory for the flow table");
    parser->delta = &owned.table;
    void *item;
    while ((item = pointer_queue_pop(&run->ready_batches, NULL, NULL, NULL)) != NULL) {
        if (owned.lent && pointer_queue_try_pop(&run->table_returns) != NULL)
            owned_table_returned(parser, &owned);
        if (item == &run->report_request) {
            owned_table_lend(parser, &owned, item);
            continue;
        }
        struct packet_batch *batch = item;
        if (ready) {
            if (parser_run_batch(parser, batch) != 0)
                owned.changed = 1;
            owned_table_publish(run, &owned);
            if (owned.lent && owned.side->count > OWNED_SIDE_MAX_ROWS - NASOONE_BATCH_PACKETS) {
                /* a long report of many rows: memory stays bounded, the input waits */
                pointer_queue_pop(&run->table_returns, NULL, NULL, NULL);
                owned_table_returned(parser, &owned);
            }
        } else {
            run_set_error(run->status, "nasoone: out of memory: packets were not counted");
        }
        pointer_queue_push(&run->free_batches, batch);
        if (!owned.lent && owned.table.count > OWNED_TABLE_MAX_ROWS)
            break; /* the table outgrew the cache: deltas from here on */
    }
    if (item != NULL) {
        /* the writer takes the table as its cumulative one (run_hand_over_table, with
         * owner_switched set first: it then merges deltas) */
        if (owned.side != NULL) {
            flow_table_destroy(owned.side);
            free(owned.side);
        }
        atomic_store(&run->owner_switched, 1);
        run_hand_over_table(run, &owned.table, 0);
        parser_run_deltas(parser);
        return;
    }
    if (owned.lent) { /* the writer is reporting from it: wait for it, then add the delta */
        pointer_queue_pop(&run->table_returns, NULL, NULL, NULL);
        owned_table_returned(parser, &owned);
    }
    if (owned.side != NULL) {
        flow_table_destroy(owned.side);
        free(owned.side);
    }
    run_thread_cpu(run, NASOONE_THREAD_PARSERS);
    run_hand_over_table(run, &owned.table, 0);
    parser_stage_done(run);
}

/* Lifecycle mode: decode and pass each batch on to the keeper. */
static void parser_run_lifecycle(struct parser *parser)
{
    struct run *run = parser->run;
    struct packet_batch *batch;
    while ((batch = pointer_queue_pop(&run->ready_batches, NULL, NULL, NULL)) != NULL) {
        batch_decode_keys(batch, run->config.five_tuple, &run->counters);
        pointer_queue_push(&run->decoded_batches, batch);
    }
    run_thread_cpu(run, NASOONE_THREAD_PARSERS);
    parser_stage_done(run);
}

void *parser_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-parser"); /* for top -H and perf */
    struct parser parser = {.run = argument};
    struct run *run = parser.run;
    if (run->lifecycle) {
        parser_run_lifecycle(&parser);
        return NULL;
    }
    if (run->table_owner_inbox == &run->ready_batches) {
        parser_own_table(&parser);
        return NULL;
    }
    parser_run_deltas(&parser);
    return NULL;
}

/* The last parser out closes the parsers' output: the keeper's inbox (it then ends the rows),
 * or the writer's (it then writes the final report). */
void parser_stage_done(struct run *run)
{
    if (atomic_fetch_sub(&run->parsers_running, 1) != 1)
        return;
    if (run->lifecycle)
        pointer_queue_close(&run->decoded_batches);
    else if (run->table_owner_inbox != NULL && !atomic_load(&run->owner_switched))
        pointer_queue_close(&run->table_reports);
    else
        pointer_queue_close(&run->parser_deltas);
}
