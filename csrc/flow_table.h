/*
 * flow_table.h - hash table from flow_key to flow_counters.
 *
 * Rows live densely in one array (so a delta can be walked, sorted and reset cheaply); an
 * open-addressing index of 64-bit slots (32-bit hash | 32-bit row number + 1) finds them with
 * linear probing. A table belongs to one thread at a time: parsers own their delta tables and
 * hand them whole to the writer, which owns the cumulative table. Growth doubles; nothing else
 * allocates, so after warm-up an upsert is a hash, a probe or two and a few adds.
 */
#ifndef NASOONE_FLOW_TABLE_H
#define NASOONE_FLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "flow_key.h"

struct flow_row {
    struct flow_key key;
    struct flow_counters counters;
};

struct flow_table {
    struct flow_row *rows; /* rows[0 .. count) in insertion order */
    uint64_t *slots;       /* 0 = empty, else (hash << 32) | (row index + 1) */
    uint32_t count;
    uint32_t row_capacity;
    uint32_t slot_mask; /* slot count - 1; slot count is a power of two >= 2 * row_capacity */
    int huge_pages;     /* arrays in huge pages (big_alloc.h) */
};

/* Returns 0, or -1 when out of memory. `expected_rows` sizes the first allocation. The arrays
 * are in huge pages: a large table probed at random misses the TLB far less. */
int flow_table_init(struct flow_table *table, uint32_t expected_rows);
/* The same, choosing: small pages suit a short-lived table of a few MB that is reused (the
 * parsers' deltas), whose RSS then follows the rows it really holds. */
int flow_table_init_pages(struct flow_table *table, uint32_t expected_rows, int huge_pages);
void flow_table_destroy(struct flow_table *table);

/* Empties the table, keeping its memory. */
void flow_table_clear(struct flow_table *table);

/* Makes `copy` (initialised, or all zero) hold the rows of `table` in the same places (a row's
 * index is the same in both), and its index too if `with_index`: without it the copy is only
 * to be read row by row (no find, no change), and costs no index memory. Reuses copy's memory
 * when the sizes match. Returns 0, or -1 when out of memory (copy is then as it was). */
int flow_table_copy(struct flow_table *copy, const struct flow_table *table, int with_index);

/* Adds `counters` to the row of `key`, creating it if needed. Returns 0, or -1 when out of
 * memory (the table is unchanged then). */
int flow_table_upsert(struct flow_table *table, const struct flow_key *key, uint32_t hash,
                      const struct flow_counters *counters);

/* Prefetch hints for a group of upserts: first the index slot where `hash` starts probing,
 * then, once that has had time to arrive, the row that slot points at. With a table larger
 * than the cache these two misses are nearly all of an upsert's cost; issuing them for a
 * group of keys ahead of the upserts overlaps them. Hints only: never change the table. */
static inline void flow_table_prefetch_slot(const struct flow_table *table, uint32_t hash)
{
    __builtin_prefetch(&table->slots[hash & table->slot_mask]);
}

static inline void flow_table_prefetch_row(const struct flow_table *table, uint32_t hash)
{
    uint64_t slot = table->slots[hash & table->slot_mask];
    if (slot != 0) {
        const struct flow_row *row = &table->rows[(uint32_t)slot - 1];
        __builtin_prefetch(row);
        __builtin_prefetch((const char *)row + sizeof *row - 1); /* a row may span two lines */
    }
}

/* How many upserts flow_table_merge and the parsers prefetch ahead. */
#define FLOW_TABLE_PREFETCH_GROUP 16

/* No row (flow_table_find_index, flow_table_delete). */
#define FLOW_TABLE_NONE UINT32_MAX

/* The index of `key`'s row in rows[], or FLOW_TABLE_NONE. */
uint32_t flow_table_find_index(const struct flow_table *table, const struct flow_key *key,
                               uint32_t hash);

/* Adds a row for `key`, which must not be in the table. Returns its index, or FLOW_TABLE_NONE
 * when out of memory. */
uint32_t flow_table_insert(struct flow_table *table, const struct flow_key *key, uint32_t hash,
                           const struct flow_counters *counters);

/* Removes rows[index]. Rows stay dense: the last row moves into the hole. Returns the index
 * that row had (so a caller with per-row data beside the table can move it too), or
 * FLOW_TABLE_NONE when the removed row was the last. The index is repaired by backward shift
 * (no tombstones), so probe lengths stay as short as in a table that never deleted. */
uint32_t flow_table_delete(struct flow_table *table, uint32_t index);
/* (A table that deletes must have been filled with flow_key_hash's hashes: deletion finds a
 * row's slot by hashing its key again.) */

/* The row of `key`, or NULL. */
const struct flow_row *flow_table_find(const struct flow_table *table, const struct flow_key *key);

/* Merges every row of `delta` into `table`. Returns 0, or -1 when out of memory. */
int flow_table_merge(struct flow_table *table, const struct flow_table *delta);

/* Bytes held by the table's arrays (for the memory figures in the README). */
size_t flow_table_memory(const struct flow_table *table);

#endif
