/*
 * flow_table.c - see flow_table.h. Called by whichever single thread owns the table.
 */
#include "flow_table.h"

#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"

#define FLOW_TABLE_MIN_ROWS 1024u
#define FLOW_TABLE_MAX_ROWS (1u << 30)

static uint32_t round_up_pow2(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

int flow_table_init(struct flow_table *table, uint32_t expected_rows)
{
    return flow_table_init_pages(table, expected_rows, 1);
}

int flow_table_init_pages(struct flow_table *table, uint32_t expected_rows, int huge_pages)
{
    memset(table, 0, sizeof *table);
    table->huge_pages = huge_pages;
    uint32_t rows = expected_rows < FLOW_TABLE_MIN_ROWS ? FLOW_TABLE_MIN_ROWS : expected_rows;
    if (rows > FLOW_TABLE_MAX_ROWS)
        rows = FLOW_TABLE_MAX_ROWS;
    rows = round_up_pow2(rows);
    table->row_capacity = rows;
    table->slot_mask = rows * 2 - 1;
    table->rows = big_alloc((size_t)rows * sizeof *table->rows, table->huge_pages);
    table->slots = big_alloc((size_t)rows * 2 * sizeof *table->slots, table->huge_pages);
    if (table->rows == NULL || table->slots == NULL) {
        flow_table_destroy(table);
        return -1;
    }
    return 0;
}

void flow_table_destroy(struct flow_table *table)
{
    big_free(table->rows, (size_t)table->row_capacity * sizeof *table->rows, table->huge_pages);
    big_free(table->slots, ((size_t)table->slot_mask + 1) * sizeof *table->slots,
             table->huge_pages);
    memset(table, 0, sizeof *table);
}

void flow_table_clear(struct flow_table *table)
{
    if (table->count == 0)
        return;
    memset(table->slots, 0, ((size_t)table->slot_mask + 1) * sizeof *table->slots);
    table->count = 0;
}

int flow_table_copy(struct flow_table *copy, const struct flow_table *table, int with_index)
{
    size_t slot_bytes = ((size_t)table->slot_mask + 1) * sizeof *table->slots;
    if (copy->rows == NULL || copy->row_capacity != table->row_capacity ||
        copy->huge_pages != table->huge_pages || (copy->slots != NULL) != (with_index != 0)) {
        /* the new arrays first: out of memory, the old copy stays whole */
        struct flow_table fresh = {.huge_pages = table->huge_pages,
                                   .row_capacity = table->row_capacity};
        fresh.rows =
            big_alloc((size_t)table->row_capacity * sizeof *table->rows, table->huge_pages);
        if (with_index) {
            fresh.slot_mask = table->slot_mask;
            fresh.slots = big_alloc(slot_bytes, table->huge_pages);
        }
        if (fresh.rows == NULL || (with_index && fresh.slots == NULL)) {
            flow_table_destroy(&fresh);
            return -1;
        }
        flow_table_destroy(copy);
        *copy = fresh;
    }
    memcpy(copy->rows, table->rows, (size_t)table->count * sizeof *table->rows);
    if (with_index)
        memcpy(copy->slots, table->slots, slot_bytes);
    copy->count = table->count;
    return 0;
}

/* Doubles rows and slots, re-indexing every row with its stored hash. */
static int flow_table_grow(struct flow_table *table)
{
    if (table->row_capacity >= FLOW_TABLE_MAX_ROWS)
        return -1;
    uint32_t new_rows = table->row_capacity * 2;
    uint32_t new_mask = new_rows * 2 - 1;
    uint64_t *slots = big_alloc(((size_t)new_mask + 1) * sizeof *slots, table->huge_pages);
    if (slots == NULL)
        return -1;
    /* the rows' pages move to a larger mapping: no copy, no second array in memory */
    struct flow_row *rows = big_realloc(table->rows, (size_t)table->row_capacity * sizeof *rows,
                                        (size_t)new_rows * sizeof *rows, table->huge_pages);
    if (rows == NULL) {
        big_free(slots, ((size_t)new_mask + 1) * sizeof *slots, table->huge_pages);
        return -1;
    }
    table->rows = rows;
    for (uint32_t i = 0; i <= table->slot_mask; i++) {
        uint64_t slot = table->slots[i];
        if (slot == 0)
            continue;
        uint32_t at = (uint32_t)(slot >> 32) & new_mask;
        while (slots[at] != 0)
            at = (at + 1) & new_mask;
        slots[at] = slot;
    }
    big_free(table->slots, ((size_t)table->slot_mask + 1) * sizeof *table->slots,
             table->huge_pages);
    table->slots = slots;
    table->row_capacity = new_rows;
    table->slot_mask = new_mask;
    return 0;
}

int flow_table_upsert(struct flow_table *table, const struct flow_key *key, uint32_t hash,
                      const struct flow_counters *counters)
{
    uint32_t at = hash & table->slot_mask;
    for (;;) {
        uint64_t slot = table->slots[at];
        if (slot == 0)
            break;
        if ((uint32_t)(slot >> 32) == hash) {
            struct flow_row *row = &table->rows[(uint32_t)slot - 1];
            if (flow_key_equal(&row->key, key)) {
                flow_counters_merge(&row->counters, counters);
                return 0;
            }
        }
        at = (at + 1) & table->slot_mask;
    }
    if (table->count == table->row_capacity) {
        if (flow_table_grow(table) != 0)
            return -1;
        at = hash & table->slot_mask;
        while (table->slots[at] != 0)
            at = (at + 1) & table->slot_mask;
    }
    uint32_t index = table->count++;
    table->rows[index].key = *key;
    table->rows[index].counters = *counters;
    table->slots[at] = ((uint64_t)hash << 32) | (index + 1);
    return 0;
}

uint32_t flow_table_find_index(const struct flow_table *table, const struct flow_key *key,
                               uint32_t hash)
{
    for (uint32_t at = hash & table->slot_mask;; at = (at + 1) & table->slot_mask) {
        uint64_t slot = table->slots[at];
        if (slot == 0)
            return FLOW_TABLE_NONE;
        uint32_t index = (uint32_t)slot - 1;
        if ((uint32_t)(slot >> 32) == hash && flow_key_equal(&table->rows[index].key, key))
            return index;
    }
}

uint32_t flow_table_insert(struct flow_table *table, const struct flow_key *key, uint32_t hash,
                           const struct flow_counters *counters)
{
    if (table->count == table->row_capacity && flow_table_grow(table) != 0)
        return FLOW_TABLE_NONE;
    uint32_t at = hash & table->slot_mask;
    while (table->slots[at] != 0)
        at = (at + 1) & table->slot_mask;
    uint32_t index = table->count++;
    table->rows[index].key = *key;
    table->rows[index].counters = *counters;
    table->slots[at] = ((uint64_t)hash << 32) | (index + 1);
    return index;
}

/* The slot that points at rows[index]. */
static uint32_t flow_table_slot_of(const struct flow_table *table, uint32_t index)
{
    uint32_t hash = flow_key_hash(&table->rows[index].key);
    uint32_t at = hash & table->slot_mask;
    while ((uint32_t)table->slots[at] != index + 1)
        at = (at + 1) & table->slot_mask;
    return at;
}

uint32_t flow_table_delete(struct flow_table *table, uint32_t index)
{
    uint32_t mask = table->slot_mask;
    /* Backward shift: empty the slot, then pull back every later slot of the probe run that
     * may live at or before the hole (its home is not in (hole, j]). */
    uint32_t hole = flow_table_slot_of(table, index);
    table->slots[hole] = 0;
    for (uint32_t j = (hole + 1) & mask; table->slots[j] != 0; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)(table->slots[j] >> 32) & mask;
        int stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        table->slots[hole] = table->slots[j];
        table->slots[j] = 0;
        hole = j;
    }
    uint32_t last = --table->count;
    if (index == last)
        return FLOW_TABLE_NONE;
    uint32_t moved_slot = flow_table_slot_of(table, last);
    table->rows[index] = table->rows[last];
    table->slots[moved_slot] = (table->slots[moved_slot] & ~(uint64_t)UINT32_MAX) | (index + 1);
    return last;
}

const struct flow_row *flow_table_find(const struct flow_table *table, const struct flow_key *key)
{
    uint32_t hash = flow_key_hash(key);
    for (uint32_t at = hash & table->slot_mask;; at = (at + 1) & table->slot_mask) {
        uint64_t slot = table->slots[at];
        if (slot == 0)
            return NULL;
        const struct flow_row *row = &table->rows[(uint32_t)slot - 1];
        if ((uint32_t)(slot >> 32) == hash && flow_key_equal(&row->key, key))
            return row;
    }
}

int flow_table_merge(struct flow_table *table, const struct flow_table *delta)
{
    uint32_t hashes[FLOW_TABLE_PREFETCH_GROUP];
    for (uint32_t first = 0; first < delta->count; first += FLOW_TABLE_PREFETCH_GROUP) {
        uint32_t n = delta->count - first;
        if (n > FLOW_TABLE_PREFETCH_GROUP)
            n = FLOW_TABLE_PREFETCH_GROUP;
        const struct flow_row *rows = &delta->rows[first];
        for (uint32_t i = 0; i < n; i++) {
            hashes[i] = flow_key_hash(&rows[i].key);
            flow_table_prefetch_slot(table, hashes[i]);
        }
        for (uint32_t i = 0; i < n; i++)
            flow_table_prefetch_row(table, hashes[i]);
        for (uint32_t i = 0; i < n; i++)
            if (flow_table_upsert(table, &rows[i].key, hashes[i], &rows[i].counters) != 0)
                return -1;
    }
    return 0;
}

size_t flow_table_memory(const struct flow_table *table)
{
    size_t rows =
        big_alloc_size((size_t)table->row_capacity * sizeof *table->rows, table->huge_pages);
    if (table->slots == NULL) /* a copy without index (flow_table_copy) */
        return rows;
    return rows +
           big_alloc_size(((size_t)table->slot_mask + 1) * sizeof *table->slots, table->huge_pages);
}
