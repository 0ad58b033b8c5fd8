/*
 * fragments.c - see fragments.h. Producer thread.
 */
#include "fragments.h"

#include <stdlib.h>
#include <string.h>

struct fragment_entry {
    struct fragment_id id;
    struct flow_key key;
    uint64_t expires_ms; /* 0: empty */
    uint8_t protocol;
};

struct fragment_table {
    struct fragment_entry entries[FRAGMENT_TABLE_ENTRIES];
};

_Static_assert((FRAGMENT_TABLE_ENTRIES & (FRAGMENT_TABLE_ENTRIES - 1)) == 0,
               "FRAGMENT_TABLE_ENTRIES must be a power of two");

static uint32_t fragment_hash(const struct fragment_id *id)
{
    /* the identification varies most; the addresses separate hosts that reuse it */
    uint32_t h = id->id * 0x9e3779b1u;
    for (int i = 0; i < 16; i++)
        h = (h ^ id->src[i] ^ ((uint32_t)id->dst[i] << 8)) * 0x01000193u;
    return (h ^ id->protocol ^ (h >> 15)) & (FRAGMENT_TABLE_ENTRIES - 1);
}

struct fragment_table *fragment_table_new(void) { return calloc(1, sizeof(struct fragment_table)); }

void fragment_table_free(struct fragment_table *table) { free(table); }

void fragment_table_remember(struct fragment_table *table, const struct fragment_id *id,
                             const struct flow_key *key, uint8_t protocol, uint64_t now_ms)
{
    struct fragment_entry *entry = &table->entries[fragment_hash(id)];
    entry->id = *id;
    entry->key = *key;
    entry->protocol = protocol;
    entry->expires_ms = now_ms + FRAGMENT_TIMEOUT_MS;
}

int fragment_table_lookup(const struct fragment_table *table, const struct fragment_id *id,
                          uint64_t now_ms, struct flow_key *key, uint8_t *protocol)
{
    const struct fragment_entry *entry = &table->entries[fragment_hash(id)];
    if (entry->expires_ms == 0 || now_ms > entry->expires_ms ||
        memcmp(&entry->id, id, sizeof *id) != 0)
        return 0;
    *key = entry->key;
    *protocol = entry->protocol;
    return 1;
}
