/*
 * keeper.c - the keeper thread: flow lifecycle in capture order (lifecycle mode only).
 *
 * With flow limits, exports or on_flows set, parsers only decode: they tag each packet of a
 * batch with its key and hand the batch on (with one parser the keeper decodes for itself, and
 * no parser thread runs: run.h's keeper_decodes). The keeper takes the batches back in the
 * producer's order (by sequence number; at most every batch of the pool is out of order at
 * once, so a stash of that many slots restores it) and applies every packet to one table, in
 * capture order, on the capture's own clock. That is what makes the records of a file the
 * same at any read speed and with any number of parsers: idle, active and capacity decisions
 * depend on the packets alone, never on how they were scheduled.
 *
 * Per row it keeps, beside the report totals in the flow table: its place in a list from least
 * to most recently seen (idle and capacity take rows from the old end), and what the row gained
 * since its previous record, per protocol (a flow record, flow_record.h). Most rows end with a
 * single record of one protocol whose period is their whole life: their report totals say it
 * all. So the keeper counts a row's period apart (keeper_row) only once the row has given a
 * record (active timeout) or seen a second protocol; until then a packet touches the index,
 * the table's row and a 16-byte keeper_link, no more, and rows[] (small pages, written only
 * for those rows) takes no memory for the others.
 *
 * Its table is the report: when a report is due the writer asks, and gets a copy of the table
 * between two batches; at the end it gets the table itself. Every interval/4 the keeper sends
 * the exporter the records made since. Nothing grows with the number of distinct connections
 * past max_flows: the table holds at most max_flows rows, and record batches go through a
 * bounded queue.
 *
 * Biflow mode keeps the table's rows one per direction, as the report has them, and links the
 * two directions of a connection (keeper_link.partner): a pair is emitted as one record, the
 * forward direction's (flow_pair.h) with the other's counts beside, moves in the recency list
 * as one (both rows move when either sees a packet), and ends as one: idle when neither
 * direction saw a packet for idle_timeout, active over the two rows' period, and max_flows
 * counts pairs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch_decode.h"
#include "big_alloc.h"
#include "flow_pair.h"
#include "run.h"
#include "stages.h"

/* What every packet of a row touches, beside the table's row. */
struct keeper_link {
    uint32_t older;   /* neighbours in recency order, FLOW_TABLE_NONE */
    uint32_t newer;   /* at the ends */
    uint32_t partner; /* biflow mode: the row of the other direction, or FLOW_TABLE_NONE */
    uint8_t counted;  /* 1: keeper_row counts the row's period; 0: the period is the row's whole
                         life, of one part (FLOW_PART_TCP or not), and its counters say it all */
    uint8_t unused[3];
};

_Static_assert(sizeof(struct keeper_link) == 16, "four links to a cache line");

/* The row's period counted apart (keeper_link.counted): touched only then and at its record. */
struct keeper_row {
    struct flow_part part[FLOW_PART_COUNT]; /* since the row's previous record */
    uint8_t tcp_flags;                      /* OR of the TCP flags since then */
};

struct keeper {
    struct run *run;
    struct flow_table table;
    struct keeper_link *links; /* beside table.rows, same index */
    struct keeper_row *rows;   /* the same */
    uint32_t links_capacity, rows_capacity;
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

/* The part of a packet of FLOW_PROTO_* `protocol`, or of a row whose period is of one part. */
static inline int keeper_part_of(uint8_t protocol)
{
    return protocol & FLOW_PROTO_TCP ? FLOW_PART_TCP : FLOW_PART_UDP;
}

/* What rows[index] gained since its previous record: per part, and the OR of its TCP flags. */
static void keeper_period(const struct keeper *keeper, uint32_t index,
                          struct flow_part part[FLOW_PART_COUNT], uint8_t *tcp_flags)
{
    if (keeper->links[index].counted) {
        memcpy(part, keeper->rows[index].part, sizeof keeper->rows[index].part);
        *tcp_flags = keeper->rows[index].tcp_flags;
        return;
    }
    const struct flow_counters *c = &keeper->table.rows[index].counters;
    memset(part, 0, FLOW_PART_COUNT * sizeof *part);
    part[keeper_part_of(c->protocols)] = (struct flow_part){.first_ms = c->first_ms,
                                                            .last_ms = c->last_ms,
                                                            .bytes = c->bytes,
                                                            .ip_bytes = c->ip_bytes,
                                                            .packets = c->packets};
    *tcp_flags = c->tcp_flags;
}

/* From now on rows[index]'s period is counted apart, starting with what it holds now. */
static void keeper_count_apart(struct keeper *keeper, uint32_t index)
{
    struct keeper_row *row = &keeper->rows[index];
    keeper_period(keeper, index, row->part, &row->tcp_flags);
    keeper->links[index].counted = 1;
}

static int keeper_parts_empty(const struct flow_part part[FLOW_PART_COUNT])
{
    return part[FLOW_PART_TCP].packets == 0 && part[FLOW_PART_UDP].packets == 0;
}

/* The FLOW_PROTO_* bits of a record of rows[index] with these parts. */
static uint8_t keeper_row_protocols(const struct keeper *keeper, uint32_t index,
                                    const struct flow_part part[FLOW_PART_COUNT])
{
    if (keeper_parts_empty(part))
        return 0;
    if (keeper->table.rows[index].key.protocol != 0) /* 5-tuple: one protocol, the row's (the
                                                       "UDP" part holds any but TCP) */
        return keeper->table.rows[index].counters.protocols;
    return (uint8_t)((part[FLOW_PART_TCP].packets ? FLOW_PROTO_TCP : 0) |
                     (part[FLOW_PART_UDP].packets ? FLOW_PROTO_UDP : 0));
}

/* rows[index]'s next period starts empty. */
static void keeper_period_restart(struct keeper *keeper, uint32_t index)
{
    memset(&keeper->rows[index], 0, sizeof keeper->rows[index]);
    keeper->links[index].counted = 1;
}

/* Emits rows[index]'s record (what it gained since its previous one), and for an active
 * timeout starts a new one; in biflow mode its pair's, the forward direction's with the
 * reverse's beside. */
static void keeper_emit(struct keeper *keeper, uint32_t index, enum flow_end_reason reason)
{
    uint32_t partner = keeper->links[index].partner;
    if (partner != FLOW_TABLE_NONE) {
        const struct flow_row *a = &keeper->table.rows[index], *b = &keeper->table.rows[partner];
        if (!flow_pair_forward(&a->key, &a->counters, &b->key, &b->counters)) {
            partner = index;
            index = keeper->links[index].partner;
        }
    }
    struct flow_part part[FLOW_PART_COUNT], reverse[FLOW_PART_COUNT] = {{0}};
    uint8_t tcp_flags, reverse_tcp_flags = 0;
    keeper_period(keeper, index, part, &tcp_flags);
    if (partner != FLOW_TABLE_NONE)
        keeper_period(keeper, partner, reverse, &reverse_tcp_flags);
    if (keeper_parts_empty(part) && keeper_parts_empty(reverse))
        return; /* nothing since the previous record */
    keeper->records_made++;
    if (keeper->emit_records && keeper->records != NULL) {
        struct flow_record *record = &keeper->records->records[keeper->records->count++];
        memset(record, 0, sizeof *record);
        record->key = keeper->table.rows[index].key;
        memcpy(record->part, part, sizeof record->part);
        record->emitted_ms = keeper->clock_ms;
        record->reason = (uint8_t)reason;
        record->protocols = keeper_row_protocols(keeper, index, part);
        record->tcp_flags = tcp_flags;
        record->biflow = (uint8_t)keeper->biflow;
        if (partner != FLOW_TABLE_NONE) {
            memcpy(record->reverse, reverse, sizeof record->reverse);
            record->reverse_protocols = keeper_row_protocols(keeper, partner, reverse);
            record->reverse_tcp_flags = reverse_tcp_flags;
        }
        if (keeper->records->count == NASOONE_RECORD_BATCH)
            keeper_flush_records(keeper);
    }
    if (reason != FLOW_END_ACTIVE)
        return; /* the row leaves, or gets no more packets (end of input) */
    keeper_period_restart(keeper, index);
    if (partner != FLOW_TABLE_NONE)
        keeper_period_restart(keeper, partner);
}

static void keeper_unlink(struct keeper *keeper, uint32_t index)
{
    struct keeper_link *link = &keeper->links[index];
    if (link->older != FLOW_TABLE_NONE)
        keeper->links[link->older].newer = link->newer;
    else
        keeper->oldest = link->newer;
    if (link->newer != FLOW_TABLE_NONE)
        keeper->links[link->newer].older = link->older;
    else
        keeper->newest = link->older;
}

static void keeper_link_newest(struct keeper *keeper, uint32_t index)
{
    struct keeper_link *link = &keeper->links[index];
    link->older = keeper->newest;
    link->newer = FLOW_TABLE_NONE;
    if (keeper->newest != FLOW_TABLE_NONE)
        keeper->links[keeper->newest].newer = index;
    else
        keeper->oldest = index;
    keeper->newest = index;
}

/* Takes rows[index] out of the table and the report. */
static void keeper_remove(struct keeper *keeper, uint32_t index)
{
    keeper_unlink(keeper, index);
    keeper->changed = keeper->moved = 1;
    uint32_t moved = flow_table_delete(&keeper->table, index);
    if (moved != FLOW_TABLE_NONE) {
        /* the table's last row now lives at `index`: its data beside follows it */
        struct keeper_link *link = &keeper->links[index];
        *link = keeper->links[moved];
        if (link->counted)
            keeper->rows[index] = keeper->rows[moved];
        if (link->older != FLOW_TABLE_NONE)
            keeper->links[link->older].newer = index;
        else
            keeper->oldest = index;
        if (link->newer != FLOW_TABLE_NONE)
            keeper->links[link->newer].older = index;
        else
            keeper->newest = index;
        if (link->partner != FLOW_TABLE_NONE)
            keeper->links[link->partner].partner = index;
    }
}

/* Ends rows[index] (and its pair's other row): the last record, then it leaves the table and
 * the report. */
static void keeper_end(struct keeper *keeper, uint32_t index, enum flow_end_reason reason)
{
    keeper_emit(keeper, index, reason);
    keeper->ended[reason]++;
    uint32_t partner = keeper->links[index].partner;
    if (partner == FLOW_TABLE_NONE) {
        keeper_remove(keeper, index);
        return;
    }
    /* the higher index first: removing it moves only the last row, never the lower one */
    keeper->linked--;
    keeper_remove(keeper, index > partner ? index : partner);
    keeper_remove(keeper, index > partner ? partner : index);
}

/* links[] (probed at random like the table: huge pages) or rows[] (mostly never touched: small
 * pages, so that only the rows counted apart take memory) of `size`-byte entries, grown to
 * `wanted` entries if it has fewer (*capacity follows). Returns the array, or NULL when out of
 * memory (it is then as it was). */
static void *keeper_grow(void *array, uint32_t *capacity, uint32_t wanted, size_t size, int huge)
{
    if (wanted <= *capacity)
        return array;
    void *grown = *capacity == 0
                      ? big_alloc((size_t)wanted * size, huge)
                      : big_realloc(array, (size_t)*capacity * size, (size_t)wanted * size, huge);
    if (grown != NULL)
        *capacity = wanted;
    return grown;
}

/* Keeps links[] and rows[] as long as the table's row array. */
static int keeper_reserve(struct keeper *keeper)
{
    uint32_t wanted = keeper->table.row_capacity;
    void *links =
        keeper_grow(keeper->links, &keeper->links_capacity, wanted, sizeof *keeper->links, 1);
    if (links == NULL)
        return -1;
    keeper->links = links;
    void *rows = keeper_grow(keeper->rows, &keeper->rows_capacity, wanted, sizeof *keeper->rows, 0);
    if (rows == NULL)
        return -1;
    keeper->rows = rows;
    return 0;
}

/* Bytes of the keeper's arrays beside its table. */
static size_t keeper_memory(const struct keeper *keeper)
{
    size_t links = (size_t)keeper->links_capacity * sizeof *keeper->links;
    size_t rows = (size_t)keeper->rows_capacity * sizeof *keeper->rows;
    return (links ? big_alloc_size(links, 1) : 0) + (rows ? big_alloc_size(rows, 0) : 0);
}

/* The latest packet of rows[index], or of its pair. */
static inline uint64_t keeper_last_ms(const struct keeper *keeper, uint32_t index)
{
    uint64_t last = keeper->table.rows[index].counters.last_ms;
    uint32_t partner = keeper->links[index].partner;
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
        if (!keeper->links[index].counted) {
            if (keeper->table.rows[index].counters.first_ms < first)
                first = keeper->table.rows[index].counters.first_ms;
        } else {
            const struct keeper_row *row = &keeper->rows[index];
            for (int i = 0; i < FLOW_PART_COUNT; i++)
                if (row->part[i].packets && row->part[i].first_ms < first)
                    first = row->part[i].first_ms;
        }
        index = keeper->links[index].partner;
        if (index == FLOW_TABLE_NONE)
            break;
    }
    return first;
}

/* Rows idle for longer than idle_timeout leave, oldest first. */
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
    uint32_t partner = keeper->links[index].partner;
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
    int part_index = keeper_part_of(packet->protocol);
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
        /* its period is its life so far, this packet: its counters hold it */
        keeper->links[index] = (struct keeper_link){.partner = partner};
        if (partner != FLOW_TABLE_NONE) {
            keeper->links[partner].partner = index;
            keeper->linked++;
        }
        keeper_link_newest(keeper, index);
        if (partner != FLOW_TABLE_NONE)
            keeper_touch(keeper, index);
        if (keeper_flow_count(keeper) > keeper->peak)
            keeper->peak = keeper_flow_count(keeper);
    } else {
        /* a period of one part that gets a packet of the other is counted apart from now */
        if (!keeper->links[index].counted &&
            keeper_part_of(keeper->table.rows[index].counters.protocols) != part_index)
            keeper_count_apart(keeper, index);
        flow_counters_merge(&keeper->table.rows[index].counters, &counters);
        keeper_touch(keeper, index);
        if (keeper->links[index].counted) {
            struct keeper_row *row = &keeper->rows[index];
            struct flow_part *part = &row->part[part_index];
            if (part->packets == 0 || time_ms < part->first_ms)
                part->first_ms = time_ms;
            if (part->packets == 0 || time_ms > part->last_ms)
                part->last_ms = time_ms;
            part->bytes += ref->wire_length;
            part->ip_bytes += packet->ip_bytes;
            part->packets++;
            row->tcp_flags |= packet->tcp_flags;
        }
    }
    keeper->changed = 1;
}

/* The keeper applies packets one at a time, in capture order, so it cannot group lookups as the
 * parsers do; it hints instead, a few packets ahead: the table slot where a packet's key starts
 * probing (its hash came with the batch), then, once that has arrived, the row and keeper_link
 * the slot points at. Hints only: the table may change before the packet comes. */
#define KEEPER_PREFETCH_DISTANCE 8

/* No check of the index against the table's count: a slot only ever names a row in the table,
 * and links[] is as long as rows[]. The check cost more than the hints gained: with it, no hint
 * at all was as fast (keeper CPU 0.369 s against 0.418); without it, 0.261 against 0.33. */
static void keeper_prefetch_row(const struct keeper *keeper, uint32_t hash)
{
    uint64_t slot = keeper->table.slots[hash & keeper->table.slot_mask];
    if (slot == 0)
        return;
    uint32_t index = (uint32_t)slot - 1;
    const struct flow_row *row = &keeper->table.rows[index];
    __builtin_prefetch(row);
    __builtin_prefetch((const char *)row + sizeof *row - 1);
    __builtin_prefetch(&keeper->links[index]);
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
    size_t memory = flow_table_memory(&keeper->table) + keeper_memory(keeper);
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
    /* the parsers' batches, or (keeper_decodes) the reader's, which it decodes first unless the
     * reader already did (keys_decoded) */
    struct pointer_queue *inbox = run->keeper_decodes ? &run->ready_batches : &run->decoded_batches;
    for (;;) {
        uint64_t before = monotonic_ms();
        struct timespec deadline =
            monotonic_after_ms(next_update > before ? next_update - before : 0);
        int closed = 0;
        void *item = pointer_queue_pop(inbox, &deadline, &closed, NULL);
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
            if (run->keeper_decodes && !batch->keys_decoded) {
                batch_decode_keys(batch, run->config.five_tuple, &run->counters);
            }
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
            uint32_t partner = keeper.links[i].partner;
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
    atomic_store(&run->counters.keeper_memory_bytes, keeper_memory(&keeper));
    keeper_stage_done(run);
    free(keeper.records);
    free(keeper.stash);
    big_free(keeper.rows, (size_t)keeper.rows_capacity * sizeof *keeper.rows, 0);
    big_free(keeper.links, (size_t)keeper.links_capacity * sizeof *keeper.links, 1);
    return NULL;
}

/* The writer's and the exporter's inboxes close: the final report and the last records. */
void keeper_stage_done(struct run *run)
{
    pointer_queue_close(&run->table_reports);
    pointer_queue_close(&run->record_batches);
}
