/*
 * keeper.c - the keeper thread: flow lifecycle in capture order (lifecycle mode only).
 *
 * With flow limits, exports or on_flows set, parsers only decode: they tag each packet of a
 * batch with its key and hand the batch on. The keeper takes the batches back in the
 * producer's order (by sequence number; at most every batch of the pool is out of order at
 * once, so a stash of that many slots restores it) and applies every packet to one table, in
 * capture order, on the capture's own clock. That is what makes the records of a file the
 * same at any read speed and with any number of parsers: idle, active and capacity decisions
 * depend on the packets alone, never on how they were scheduled.
 *
 * Per row it keeps, beside the report totals in the flow table: what the row gained since its
 * previous record, per protocol (a flow record, flow_record.h), its place in a list from least
 * to most recently seen (idle and capacity take rows from the old end). Its table is the
 * report: when a report is due the writer asks, and gets a copy of the table between two
 * batches; at the end it gets the table itself. Every interval/4 the keeper sends the exporter
 * the records made since. Nothing grows with the number of distinct connections past
 * max_flows: the table holds at most max_flows rows, and record batches go through a bounded
 * queue.
 *
 * Biflow mode keeps the table's rows one per direction, as the report has them, and links the
 * two directions of a connection (keeper_row.partner): a pair is emitted as one record, the
 * forward direction's (flow_pair.h) with the other's counts beside, moves in the recency list
 * as one (both rows move when either sees a packet), and ends as one: idle when neither
 * direction saw a packet for idle_timeout, active over the two rows' period, and max_flows
 * counts pairs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow_pair.h"
#include "run.h"
#include "stages.h"

struct keeper_row {
    struct flow_part part[FLOW_PART_COUNT]; /* since the row's previous record */
    uint32_t older;                         /* neighbours in recency order, FLOW_TABLE_NONE */
    uint32_t newer;                         /* at the ends */
    uint32_t partner;  /* biflow mode: the row of the other direction, or FLOW_TABLE_NONE */
    uint8_t tcp_flags; /* OR of the TCP flags since the row's previous record */
};

_Static_assert(sizeof(struct keeper_row) == 96, "a keeper row is 96 bytes, a line and a half");

struct keeper {
    struct run *run;
    struct flow_table table;
    struct keeper_row *rows; /* beside table.rows, same index */
    uint32_t rows_capacity;
    uint32_t oldest, newest;
    uint64_t clock_ms; /* latest packet time (live: or the wall clock less a second) */
    uint64_t idle_ms, active_ms;
    uint32_t max_flows;
    int biflow;
    uint32_t linked; /* biflow mode: pairs with both rows held; flows = table.count - linked */
    int changed;     /* since the writer's previous copy of the table: a row changed */
    int moved;       /* ... a row left (rows moved: the copy's order must be made anew) */

    int emit_records;             /* some sink takes records */
    struct record_batch *records; /* being filled */
    uint64_t records_made;
    uint64_t ended[FLOW_END_CAPACITY + 1];
    uint64_t peak;
    int out_of_memory;

    struct packet_batch **stash; /* batches that arrived before their turn */
    unsigned stash_size;
    uint64_t next_sequence;
};

static void keeper_fail(struct keeper *keeper, const char *message)
{
    if (!keeper->out_of_memory)
        run_set_error(keeper->run->status, message);
    keeper->out_of_memory = 1;
}

/* Sends the current record batch to the exporter. A file capture waits for room (no record of
 * a file is ever lost); a live one drops the batch when the exporter is behind, counting the
 * loss for every sink's stats, so capture never waits on a collector. */
static void keeper_flush_records(struct keeper *keeper)
{
    struct run *run = keeper->run;
    struct record_batch *batch = keeper->records;
    if (batch == NULL || batch->count == 0)
        return;
    /* counted before any sink can see them: stats never show a sink past stats.records */
    atomic_store(&run->counters.records, keeper->records_made);
    if (!run->source->live || atomic_load(&run->records_final)) {
        pointer_queue_push(&run->record_batches, batch);
    } else if (pointer_queue_try_push(&run->record_batches, batch) != 0) {
        /* the exporter tells the sinks (exporter_count_lost) */
        atomic_fetch_add(&run->records_lost, batch->count);
        batch->count = 0;
        return;
    }
    keeper->records = malloc(sizeof *keeper->records);
    if (keeper->records == NULL)
        keeper_fail(keeper, "nasoone: out of memory for flow records: records were lost");
    else
        keeper->records->count = 0;
}

/* The flows held: rows, or in biflow mode pairs (a pair's two rows are one flow). */
static uint32_t keeper_flow_count(const struct keeper *keeper)
{
    return keeper->table.count - keeper->linked;
}

static int keeper_row_empty(const struct keeper_row *row)
{
    return row->part[FLOW_PART_TCP].packets == 0 && row->part[FLOW_PART_UDP].packets == 0;
}

/* The FLOW_PROTO_* bits of what rows[index] gained since its previous record. */
static uint8_t keeper_row_protocols(const struct keeper *keeper, uint32_t index)
{
    const struct keeper_row *row = &keeper->rows[index];
    if (keeper_row_empty(row))
        return 0;
    if (keeper->table.rows[index].key.protocol != 0) /* 5-tuple: one protocol, the row's (the
                                                       "UDP" part holds any but TCP) */
        return keeper->table.rows[index].counters.protocols;
    return (uint8_t)((row->part[FLOW_PART_TCP].packets ? FLOW_PROTO_TCP : 0) |
                     (row->part[FLOW_PART_UDP].packets ? FLOW_PROTO_UDP : 0));
}

/* Emits rows[index]'s record (what it gained since its previous one) and starts a new one; in
 * biflow mode its pair's, the forward direction's with the reverse's beside. */
static void keeper_emit(struct keeper *keeper, uint32_t index, enum flow_end_reason reason)
{
    uint32_t partner = keeper->rows[index].partner;
    if (partner != FLOW_TABLE_NONE) {
        const struct flow_row *a = &keeper->table.rows[index], *b = &keeper->table.rows[partner];
        if (!flow_pair_forward(&a->key, &a->counters, &b->key, &b->counters)) {
            partner = index;
            index = keeper->rows[index].partner;
        }
    }
    struct keeper_row *row = &keeper->rows[index];
    struct keeper_row *other = partner != FLOW_TABLE_NONE ? &keeper->rows[partner] : NULL;
    if (keeper_row_empty(row) && (other == NULL || keeper_row_empty(other)))
        return; /* nothing since the previous record */
    keeper->records_made++;
    if (keeper->emit_records && keeper->records != NULL) {
        struct flow_record *record = &keeper->records->records[keeper->records->count++];
        memset(record, 0, sizeof *record);
        record->key = keeper->table.rows[index].key;
        memcpy(record->part, row->part, sizeof record->part);
        record->emitted_ms = keeper->clock_ms;
        record->reason = (uint8_t)reason;
        record->protocols = keeper_row_protocols(keeper, index);
        record->tcp_flags = row->tcp_flags;
        record->biflow = (uint8_t)keeper->biflow;
        if (other != NULL) {
            memcpy(record->reverse, other->part, sizeof record->reverse);
            record->reverse_protocols = keeper_row_protocols(keeper, partner);
            record->reverse_tcp_flags = other->tcp_flags;
        }
        if (keeper->records->count == NASOONE_RECORD_BATCH)
            keeper_flush_records(keeper);
    }
    memset(row->part, 0, sizeof row->part);
    row->tcp_flags = 0;
    if (other != NULL) {
        memset(other->part, 0, sizeof other->part);
        other->tcp_flags = 0;
    }
}

static void keeper_unlink(struct keeper *keeper, uint32_t index)
{
    struct keeper_row *row = &keeper->rows[index];
    if (row->older != FLOW_TABLE_NONE)
        keeper->rows[row->older].newer = row->newer;
    else
        keeper->oldest = row->newer;
    if (row->newer != FLOW_TABLE_NONE)
        keeper->rows[row->newer].older = row->older;
    else
        keeper->newest = row->older;
}

static void keeper_link_newest(struct keeper *keeper, uint32_t index)
{
    struct keeper_row *row = &keeper->rows[index];
    row->older = keeper->newest;
    row->newer = FLOW_TABLE_NONE;
    if (keeper->newest != FLOW_TABLE_NONE)
        keeper->rows[keeper->newest].newer = index;
    else
        keeper->oldest = index;
    keeper->newest = index;
}

/* Takes rows[index] out of the table and the report. */
static void keeper_remove(struct keeper *keeper, uint32_t index)
{
    keeper_unlink(keeper, index);
    struct keeper_row *row = &keeper->rows[index];
    keeper->changed = keeper->moved = 1;
    uint32_t moved = flow_table_delete(&keeper->table, index);
    if (moved != FLOW_TABLE_NONE) {
        /* the table's last row now lives at `index`: its data beside follows it */
        *row = keeper->rows[moved];
        if (row->older != FLOW_TABLE_NONE)
            keeper->rows[row->older].newer = index;
        else
            keeper->oldest = index;
        if (row->newer != FLOW_TABLE_NONE)
            keeper->rows[row->newer].older = index;
        else
            keeper->newest = index;
        if (row->partner != FLOW_TABLE_NONE)
            keeper->rows[row->partner].partner = index;
    }
}

/* Ends rows[index] (and its pair's other row): the last record, then it leaves the table and
 * the report. */
static void keeper_end(struct keeper *keeper, uint32_t index, enum flow_end_reason reason)
{
    keeper_emit(keeper, index, reason);
    keeper->ended[reason]++;
    uint32_t partner = keeper->rows[index].partner;
    if (partner == FLOW_TABLE_NONE) {
        keeper_remove(keeper, index);
        return;
    }
    /* the higher index first: removing it moves only the last row, never the lower one */
    keeper->linked--;
    keeper_remove(keeper, index > partner ? index : partner);
    keeper_remove(keeper, index > partner ? partner : index);
}

/* Keeps rows[] as long as the table's row array. */
static int keeper_reserve(struct keeper *keeper)
{
    if (keeper->table.row_capacity <= keeper->rows_capacity)
        return 0;
    struct keeper_row *rows =
        realloc(keeper->rows, (size_t)keeper->table.row_capacity * sizeof *rows);
    if (rows == NULL)
        return -1;
    keeper->rows = rows;
    keeper->rows_capacity = keeper->table.row_capacity;
    return 0;
}

/* Rows idle for longer than idle_timeout leave, oldest first. */
/* The latest packet of rows[index], or of its pair. */
static inline uint64_t keeper_last_ms(const struct keeper *keeper, uint32_t index)
{
    uint64_t last = keeper->table.rows[index].counters.last_ms;
    uint32_t partner = keeper->rows[index].partner;
    if (partner != FLOW_TABLE_NONE && keeper->table.rows[partner].counters.last_ms > last)
        last = keeper->table.rows[partner].counters.last_ms;
    return last;
}

/* The earliest packet since the previous record of rows[index], or of its pair; UINT64_MAX
 * for none. */
static inline uint64_t keeper_period_first(const struct keeper *keeper, uint32_t index)
{
    uint64_t first = UINT64_MAX;
    for (int side = 0; side < 2; side++) {
        const struct keeper_row *row = &keeper->rows[index];
        for (int i = 0; i < FLOW_PART_COUNT; i++)
            if (row->part[i].packets && row->part[i].first_ms < first)
                first = row->part[i].first_ms;
        index = row->partner;
        if (index == FLOW_TABLE_NONE)
            break;
    }
    return first;
}

static void keeper_expire_idle_rows(struct keeper *keeper)
{
    while (keeper->oldest != FLOW_TABLE_NONE) {
        uint64_t last = keeper_last_ms(keeper, keeper->oldest);
        if (keeper->clock_ms <= last || keeper->clock_ms - last <= keeper->idle_ms)
            break;
        keeper_end(keeper, keeper->oldest, FLOW_END_IDLE);
    }
}

/* Called for every packet: the check that nothing is idle stays inline. A pair is idle only if
 * its oldest row is, so that row's own time rules the loop out almost always. */
static inline void keeper_expire_idle(struct keeper *keeper)
{
    if (keeper->idle_ms == 0 || keeper->oldest == FLOW_TABLE_NONE)
        return;
    uint64_t last = keeper->table.rows[keeper->oldest].counters.last_ms;
    if (keeper->clock_ms <= last || keeper->clock_ms - last <= keeper->idle_ms)
        return;
    keeper_expire_idle_rows(keeper);
}

/* Makes rows[index] the most recently seen, and in biflow mode its pair's other row too. */
static inline void keeper_touch(struct keeper *keeper, uint32_t index)
{
    if (keeper->newest != index) {
        keeper_unlink(keeper, index);
        keeper_link_newest(keeper, index);
    }
    uint32_t partner = keeper->rows[index].partner;
    if (partner != FLOW_TABLE_NONE && keeper->newest != partner) {
        keeper_unlink(keeper, partner);
        keeper_link_newest(keeper, partner);
    }
}

/* Biflow mode: the row of `key`'s other direction, or FLOW_TABLE_NONE. */
static uint32_t keeper_find_partner(const struct keeper *keeper, const struct flow_key *key)
{
    struct flow_key reverse;
    if (!keeper->biflow || !flow_key_reverse(key, &reverse) || flow_key_equal(&reverse, key))
        return FLOW_TABLE_NONE;
    return flow_table_find_index(&keeper->table, &reverse, flow_key_hash(&reverse));
}

static void keeper_packet(struct keeper *keeper, const struct decoded_ref *packet,
                          const struct packet_ref *ref, uint32_t order)
{
    uint64_t time_ms = ref->timestamp_ms;
    if (time_ms > keeper->clock_ms)
        keeper->clock_ms = time_ms;
    keeper_expire_idle(keeper);
    uint32_t index = flow_table_find_index(&keeper->table, &packet->key, packet->hash);
    if (index != FLOW_TABLE_NONE) {
        uint64_t last = keeper_last_ms(keeper, index);
        uint64_t period_first = keeper_period_first(keeper, index);
        if (keeper->idle_ms != 0 && time_ms > last && time_ms - last > keeper->idle_ms) {
            /* its own packet shows it idle (the old end of the list may be younger) */
            keeper_end(keeper, index, FLOW_END_IDLE);
            index = FLOW_TABLE_NONE;
        } else if (keeper->active_ms != 0 && period_first != UINT64_MAX && time_ms > period_first &&
                   time_ms - period_first > keeper->active_ms) {
            keeper_emit(keeper, index, FLOW_END_ACTIVE);
            keeper->ended[FLOW_END_ACTIVE]++;
        }
    }
    struct flow_counters counters = {.first_ms = time_ms,
                                     .last_ms = time_ms,
                                     .bytes = ref->wire_length,
                                     .packets = 1,
                                     .protocols = packet->protocol,
                                     .tcp_flags = packet->tcp_flags,
                                     .opened = flow_tcp_opens(packet->tcp_flags),
                                     .first_order = order,
                                     .ip_bytes = packet->ip_bytes};
    if (index == FLOW_TABLE_NONE) {
        uint32_t partner = keeper_find_partner(keeper, &packet->key);
        if (partner == FLOW_TABLE_NONE && keeper->max_flows != 0 &&
            keeper_flow_count(keeper) >= keeper->max_flows)
            keeper_end(keeper, keeper->oldest, FLOW_END_CAPACITY); /* a new flow, not a
                                                                      pair's second row */
        index = flow_table_insert(&keeper->table, &packet->key, packet->hash, &counters);
        if (index == FLOW_TABLE_NONE || keeper_reserve(keeper) != 0) {
            if (index != FLOW_TABLE_NONE)
                flow_table_delete(&keeper->table, index); /* the last row: nothing moves */
            keeper_fail(keeper, "nasoone: out of memory: packets were not counted");
            return;
        }
        memset(&keeper->rows[index], 0, sizeof keeper->rows[index]);
        keeper->rows[index].partner = partner;
        if (partner != FLOW_TABLE_NONE) {
            keeper->rows[partner].partner = index;
            keeper->linked++;
        }
        keeper_link_newest(keeper, index);
        if (partner != FLOW_TABLE_NONE)
            keeper_touch(keeper, index);
        if (keeper_flow_count(keeper) > keeper->peak)
            keeper->peak = keeper_flow_count(keeper);
    } else {
        flow_counters_merge(&keeper->table.rows[index].counters, &counters);
        keeper_touch(keeper, index);
    }
    struct flow_part *part =
        &keeper->rows[index]
             .part[packet->protocol == FLOW_PROTO_TCP ? FLOW_PART_TCP : FLOW_PART_UDP];
    if (part->packets == 0 || time_ms < part->first_ms)
        part->first_ms = time_ms;
    if (part->packets == 0 || time_ms > part->last_ms)
        part->last_ms = time_ms;
    part->bytes += ref->wire_length;
    part->ip_bytes += packet->ip_bytes;
    part->packets++;
    keeper->rows[index].tcp_flags |= packet->tcp_flags;
    keeper->changed = 1;
}

/* The keeper applies packets one at a time, in capture order, so it cannot group lookups as the
 * parsers do; it hints instead, a few packets ahead: the table slot where a packet's key starts
 * probing (its hash came with the batch), then, once that has arrived, the row and keeper_row
 * the slot points at. Hints only: the table may change before the packet comes. */
#define KEEPER_PREFETCH_DISTANCE 8

static void keeper_prefetch_row(const struct keeper *keeper, uint32_t hash)
{
    uint64_t slot = keeper->table.slots[hash & keeper->table.slot_mask];
    uint32_t index = (uint32_t)slot - 1;
    if (slot == 0 || index >= keeper->table.count)
        return;
    const struct flow_row *row = &keeper->table.rows[index];
    __builtin_prefetch(row);
    __builtin_prefetch((const char *)row + sizeof *row - 1);
    __builtin_prefetch(&keeper->rows[index]); /* it may span two lines too */
    __builtin_prefetch((const char *)&keeper->rows[index] + sizeof keeper->rows[index] - 1);
}

static void keeper_run_batch(struct keeper *keeper, struct packet_batch *batch)
{
    const uint32_t ahead = KEEPER_PREFETCH_DISTANCE;
    const struct decoded_ref *decoded = batch->decoded;
    for (uint32_t i = 0; i < batch->count && i < 2 * ahead; i++)
        if (decoded[i].protocol != 0)
            flow_table_prefetch_slot(&keeper->table, decoded[i].hash);
    for (uint32_t i = 0; i < batch->count && i < ahead; i++)
        if (decoded[i].protocol != 0)
            keeper_prefetch_row(keeper, decoded[i].hash);
    for (uint32_t i = 0; i < batch->count; i++) {
        if (i + 2 * ahead < batch->count && decoded[i + 2 * ahead].protocol != 0)
            flow_table_prefetch_slot(&keeper->table, decoded[i + 2 * ahead].hash);
        if (i + ahead < batch->count && decoded[i + ahead].protocol != 0)
            keeper_prefetch_row(keeper, decoded[i + ahead].hash);
        if (decoded[i].protocol != 0)
            keeper_packet(keeper, &decoded[i], &batch->refs[i], packet_batch_order(batch, i));
    }
}

/* Takes `batch` in producer order: runs it and any stashed successors, or stashes it. */
static void keeper_take(struct keeper *keeper, struct packet_batch *batch)
{
    struct run *run = keeper->run;
    keeper->stash[batch->sequence % keeper->stash_size] = batch;
    for (;;) {
        struct packet_batch **slot = &keeper->stash[keeper->next_sequence % keeper->stash_size];
        if (*slot == NULL || (*slot)->sequence != keeper->next_sequence)
            break;
        struct packet_batch *next = *slot;
        *slot = NULL;
        keeper_run_batch(keeper, next);
        pointer_queue_push(&run->free_batches, next);
        keeper->next_sequence++;
    }
}

static uint64_t wall_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

static void keeper_publish(struct keeper *keeper)
{
    struct run_counters *c = &keeper->run->counters;
    atomic_store(&c->rows_held, keeper_flow_count(keeper));
    atomic_store(&c->rows_peak, keeper->peak);
    for (int r = 0; r <= FLOW_END_CAPACITY; r++)
        atomic_store(&c->rows_ended[r], keeper->ended[r]);
    atomic_store(&c->records, keeper->records_made);
    if (!keeper->biflow) /* biflow mode: the pairs, counted at each report */
        atomic_store(&c->flows, keeper->table.count);
    size_t memory =
        flow_table_memory(&keeper->table) + (size_t)keeper->rows_capacity * sizeof *keeper->rows;
    atomic_store(&c->keeper_memory_bytes, memory);
    atomic_store(&keeper->run->capture_clock_ms, keeper->clock_ms);
}

void *keeper_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-keeper"); /* for top -H and perf */
    struct keeper keeper = {.run = argument};
    struct run *run = keeper.run;
    keeper.idle_ms = run->config.idle_timeout_ms;
    keeper.active_ms = run->config.active_timeout_ms;
    keeper.max_flows = run->config.max_flows;
    keeper.biflow = run->config.biflow;
    keeper.oldest = keeper.newest = FLOW_TABLE_NONE;
    keeper.emit_records = run->sink_count > 0;
    keeper.stash_size = run->batch_count;
    uint32_t expected =
        keeper.max_flows != 0 && keeper.max_flows < 65536 ? keeper.max_flows : 65536;
    keeper.stash = calloc(keeper.stash_size, sizeof *keeper.stash);
    keeper.records = keeper.emit_records ? malloc(sizeof *keeper.records) : NULL;
    int ready = keeper.stash != NULL && (!keeper.emit_records || keeper.records != NULL) &&
                flow_table_init(&keeper.table, expected) == 0;
    if (ready)
        ready = keeper_reserve(&keeper) == 0;
    if (!ready)
        keeper_fail(&keeper, "nasoone: out of memory for the flow table: packets were not counted");
    if (keeper.records != NULL)
        keeper.records->count = 0;

    uint64_t period_ms = run->config.interval_ms / 4 ? run->config.interval_ms / 4 : 1;
    uint64_t next_update = monotonic_ms() + period_ms;
    for (;;) {
        uint64_t before = monotonic_ms();
        struct timespec deadline =
            monotonic_after_ms(next_update > before ? next_update - before : 0);
        int closed = 0;
        void *item = pointer_queue_pop(&run->decoded_batches, &deadline, &closed, NULL);
        struct packet_batch *batch = item;
        if (closed)
            atomic_store(&run->records_final, 1);
        if (item == &run->report_request) {
            /* between two batches: the copy is of a moment of the capture; the records made
             * until then go first, so a row's record reaches on_flows no later than the report
             * without the row */
            if (ready)
                keeper_flush_records(&keeper);
            run_answer_report(run, item, &keeper.table, &keeper.changed, &keeper.moved);
        } else if (batch != NULL) {
            if (ready)
                keeper_take(&keeper, batch);
            else
                pointer_queue_push(&run->free_batches, batch);
        }
        uint64_t now = monotonic_ms();
        if (now >= next_update || closed) {
            if (ready && run->source->live) {
                /* a quiet link still ends idle rows: the clock follows the wall, a second
                 * behind so that packets still in flight between threads are not late */
                uint64_t wall = wall_ms();
                if (wall > 1000 && wall - 1000 > keeper.clock_ms)
                    keeper.clock_ms = wall - 1000;
                keeper_expire_idle(&keeper);
            }
            if (ready)
                keeper_flush_records(&keeper);
            keeper_publish(&keeper);
            next_update = now + period_ms;
        }
        if (closed)
            break;
    }
    if (ready) {
        /* End of input: every row still held gives its last record; the rows stay in the
         * final report, which shows what was held at the end. */
        for (uint32_t i = 0; i < keeper.table.count; i++) {
            uint32_t partner = keeper.rows[i].partner;
            if (partner != FLOW_TABLE_NONE && partner < i)
                continue; /* its pair ended with the lower row */
            keeper_emit(&keeper, i, FLOW_END_END);
            keeper.ended[FLOW_END_END]++;
        }
        keeper_flush_records(&keeper);
    }
    keeper_publish(&keeper);
    run_thread_cpu(run, NASOONE_THREAD_KEEPER);
    run_hand_over_table(run, &keeper.table, keeper.moved); /* the final report's rows */
    /* the table is the writer's now: memory_bytes counts it, table_memory_bytes no more */
    atomic_store(&run->counters.keeper_memory_bytes,
                 (size_t)keeper.rows_capacity * sizeof *keeper.rows);
    keeper_stage_done(run);
    free(keeper.records);
    free(keeper.stash);
    free(keeper.rows);
    return NULL;
}

/* The writer's and the exporter's inboxes close: the final report and the last records. */
void keeper_stage_done(struct run *run)
{
    pointer_queue_close(&run->table_reports);
    pointer_queue_close(&run->record_batches);
}
