/*
 * test_flow_table.c - unit tests of the flow table (csrc/flow_table.c) and the key helpers of
 * csrc/flow_key.h.
 *
 * Covers: upsert of a new key creates a row with exactly the given counters; upsert of an
 * existing key sums bytes and packets, keeps the minimum first and maximum last timestamp and
 * ORs the protocol bits; keys that differ only in direction, family, one port or one address
 * byte are distinct rows; rows stay in insertion order; growth far past the initial capacity
 * (100,000 keys, then a second round of updates) keeps every row findable with the right
 * counters; flow_table_clear empties the table but keeps its memory; flow_table_merge gives the
 * same rows as inserting everything into one table; flow_table_memory is exactly the heap the
 * table holds (measured by a counting allocator: the test is linked with --wrap for malloc,
 * calloc, realloc and free) and grows with it; keys that collide (one hash given to many keys
 * through upsert's hash parameter, and real flow_key_hash collisions found by search) are kept
 * apart by find, upsert, merge and growth; flow_table_copy makes an exact copy, with or without
 * the index, reusing its memory while the size is the same.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"
#include "check.h"
#include "flow_table.h"

/* ---------------------------------------------------------------------------------------- */
/* A counting allocator: every malloc, calloc, realloc and free of this test and of the flow  */
/* table, and the table's big_alloc, big_realloc and big_free (its arrays), go through these */
/* (-Wl,--wrap=...), which keep the size of each live block.                                  */
/* ---------------------------------------------------------------------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *pointer, size_t size);
void __real_free(void *pointer);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *pointer, size_t size);
void __wrap_free(void *pointer);
void *__real_big_alloc(size_t bytes, int huge);
void __real_big_free(void *memory, size_t bytes, int huge);
void *__wrap_big_alloc(size_t bytes, int huge);
void __wrap_big_free(void *memory, size_t bytes, int huge);
void *__real_big_realloc(void *memory, size_t old_bytes, size_t new_bytes, int huge);
void *__wrap_big_realloc(void *memory, size_t old_bytes, size_t new_bytes, int huge);

#define LIVE_BLOCKS_MAX 64

static struct {
    void *pointer;
    size_t size;
} live_blocks[LIVE_BLOCKS_MAX];
static size_t heap_bytes; /* sum of the live blocks' sizes */
static unsigned wrapped;  /* calls seen: proves the wrapping is in effect */

static void block_add(void *pointer, size_t size)
{
    if (pointer == NULL)
        return;
    for (int i = 0; i < LIVE_BLOCKS_MAX; i++)
        if (live_blocks[i].pointer == NULL) {
            live_blocks[i].pointer = pointer;
            live_blocks[i].size = size;
            heap_bytes += size;
            return;
        }
    fprintf(stderr, "test_flow_table: more than %d live blocks\n", LIVE_BLOCKS_MAX);
    abort();
}

static void block_remove(void *pointer)
{
    if (pointer == NULL)
        return;
    for (int i = 0; i < LIVE_BLOCKS_MAX; i++)
        if (live_blocks[i].pointer == pointer) {
            heap_bytes -= live_blocks[i].size;
            live_blocks[i].pointer = NULL;
            return;
        }
    fprintf(stderr, "test_flow_table: free of a block never allocated\n");
    abort();
}

void *__wrap_malloc(size_t size)
{
    wrapped++;
    void *pointer = __real_malloc(size);
    block_add(pointer, size);
    return pointer;
}

void *__wrap_calloc(size_t count, size_t size)
{
    wrapped++;
    void *pointer = __real_calloc(count, size);
    block_add(pointer, count * size);
    return pointer;
}

void *__wrap_realloc(void *pointer, size_t size)
{
    wrapped++;
    void *moved = __real_realloc(pointer, size);
    if (moved != NULL || size == 0) {
        block_remove(pointer);
        block_add(moved, size);
    }
    return moved;
}

void __wrap_free(void *pointer)
{
    wrapped++;
    block_remove(pointer);
    __real_free(pointer);
}

/* > 0: that many big_allocs succeed, then every one fails (out of memory), until reset to 0 */
static int big_allocs_before_failure;

void *__wrap_big_alloc(size_t bytes, int huge)
{
    wrapped++;
    if (big_allocs_before_failure > 0 && --big_allocs_before_failure == 0) {
        big_allocs_before_failure = 1; /* and the next ones fail too */
        return NULL;
    }
    void *pointer = __real_big_alloc(bytes, huge);
    block_add(pointer, big_alloc_size(bytes, huge)); /* whole pages: what it takes */
    return pointer;
}

void *__wrap_big_realloc(void *memory, size_t old_bytes, size_t new_bytes, int huge)
{
    wrapped++;
    void *moved = __real_big_realloc(memory, old_bytes, new_bytes, huge);
    if (moved != NULL) {
        block_remove(memory);
        block_add(moved, big_alloc_size(new_bytes, huge));
    }
    return moved;
}

void __wrap_big_free(void *memory, size_t bytes, int huge)
{
    wrapped++;
    block_remove(memory);
    __real_big_free(memory, bytes, huge);
}

/* A distinct key per index: odd indexes IPv4, even ones IPv6, the index spread over the source
 * address and the ports. */
static struct flow_key key_for(uint32_t i)
{
    struct flow_key k;
    memset(&k, 0, sizeof k);
    if (i % 2) {
        k.family = FLOW_FAMILY_IPV4;
        k.src[0] = 10;
        k.src[1] = (uint8_t)(i >> 16);
        k.src[2] = (uint8_t)(i >> 8);
        k.src[3] = (uint8_t)i;
        k.dst[0] = 192;
        k.dst[1] = 0;
        k.dst[2] = 2;
        k.dst[3] = 1;
    } else {
        k.family = FLOW_FAMILY_IPV6;
        k.src[0] = 0x20;
        k.src[1] = 0x01;
        k.src[2] = 0x0d;
        k.src[3] = 0xb8;
        k.src[12] = (uint8_t)(i >> 24);
        k.src[13] = (uint8_t)(i >> 16);
        k.src[14] = (uint8_t)(i >> 8);
        k.src[15] = (uint8_t)i;
        k.dst[0] = 0xfe;
        k.dst[1] = 0x80;
        k.dst[15] = 1;
    }
    k.src_port = (uint16_t)(i * 7919u);
    k.dst_port = (uint16_t)(443 + i % 3);
    return k;
}

static struct flow_counters counters_for(uint32_t i)
{
    struct flow_counters c;
    memset(&c, 0, sizeof c);
    c.first_ms = 1672060800000u + i;
    c.last_ms = 1672060800000u + 2u * i + 5u;
    c.bytes = 60u + (uint64_t)i * 3u;
    c.packets = 1u + i % 7u;
    c.protocols = (uint8_t)(1u + i % 3u); /* TCP, UDP, both */
    return c;
}

static struct flow_counters make_counters(uint64_t first, uint64_t last, uint64_t bytes,
                                          uint64_t packets, uint8_t protocols)
{
    struct flow_counters c;
    memset(&c, 0, sizeof c);
    c.first_ms = first;
    c.last_ms = last;
    c.bytes = bytes;
    c.packets = packets;
    c.protocols = protocols;
    return c;
}

static int upsert(struct flow_table *t, const struct flow_key *k, const struct flow_counters *c)
{
    return flow_table_upsert(t, k, flow_key_hash(k), c);
}

/* Asserts the row of `k` exists with exactly `c`. */
static void check_row(const struct flow_table *t, const struct flow_key *k,
                      const struct flow_counters *c)
{
    const struct flow_row *row = flow_table_find(t, k);
    if (!CHECK(row != NULL))
        return;
    CHECK_MEM(&row->key, k, sizeof *k);
    CHECK_EQ(row->counters.first_ms, c->first_ms);
    CHECK_EQ(row->counters.last_ms, c->last_ms);
    CHECK_EQ(row->counters.bytes, c->bytes);
    CHECK_EQ(row->counters.packets, c->packets);
    CHECK_EQ(row->counters.protocols, c->protocols);
}

static void check_shape(const struct flow_table *t)
{
    uint64_t slots = (uint64_t)t->slot_mask + 1;
    CHECK(t->count <= t->row_capacity);
    CHECK((slots & (slots - 1)) == 0); /* power of two */
    CHECK(slots >= 2 * (uint64_t)t->row_capacity);
}

static void test_key_helpers(void)
{
    struct flow_key a = key_for(1), b = key_for(1), c = key_for(2);
    CHECK(flow_key_equal(&a, &b));
    CHECK(!flow_key_equal(&a, &c));
    CHECK_EQ(flow_key_hash(&a), flow_key_hash(&b));
    CHECK(flow_key_hash(&a) != flow_key_hash(&c));
    CHECK_EQ(sizeof(struct flow_key), 40);

    /* flow_counters_merge on its own */
    struct flow_counters into = make_counters(100, 200, 60, 1, FLOW_PROTO_TCP);
    struct flow_counters from = make_counters(50, 150, 40, 2, FLOW_PROTO_UDP);
    flow_counters_merge(&into, &from);
    CHECK_EQ(into.first_ms, 50);
    CHECK_EQ(into.last_ms, 200);
    CHECK_EQ(into.bytes, 100);
    CHECK_EQ(into.packets, 3);
    CHECK_EQ(into.protocols, FLOW_PROTO_TCP | FLOW_PROTO_UDP);
}

static void test_empty_and_first_insert(void)
{
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    check_shape(&t);
    CHECK_EQ(t.count, 0);
    CHECK(t.row_capacity >= 1);
    CHECK(flow_table_memory(&t) > 0);
    struct flow_key k = key_for(42);
    CHECK(flow_table_find(&t, &k) == NULL);

    struct flow_counters c = make_counters(1672060822910u, 1672060822910u, 84, 1, FLOW_PROTO_UDP);
    CHECK_EQ(upsert(&t, &k, &c), 0);
    CHECK_EQ(t.count, 1);
    check_row(&t, &k, &c);
    CHECK_MEM(&t.rows[0].key, &k, sizeof k);
    struct flow_key other = key_for(43);
    CHECK(flow_table_find(&t, &other) == NULL);
    flow_table_destroy(&t);
    CHECK(t.rows == NULL && t.slots == NULL && t.count == 0);
}

static void test_merge_semantics(void)
{
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 16), 0))
        return;
    struct flow_key k = key_for(7);
    struct flow_counters c1 = make_counters(1000, 2000, 60, 1, FLOW_PROTO_TCP);
    struct flow_counters c2 = make_counters(500, 1500, 40, 2, FLOW_PROTO_UDP);
    struct flow_counters c3 = make_counters(3000, 3000, 1500, 1, FLOW_PROTO_TCP);
    struct flow_counters c4 = make_counters(999, 2999, 0, 0, 0);
    CHECK_EQ(upsert(&t, &k, &c1), 0);
    CHECK_EQ(upsert(&t, &k, &c2), 0);
    check_row(
        &t, &k,
        &(struct flow_counters){500, 2000, 100, 3, FLOW_PROTO_TCP | FLOW_PROTO_UDP, 0, 0, 0, 0, 0});
    CHECK_EQ(upsert(&t, &k, &c3), 0);
    check_row(&t, &k,
              &(struct flow_counters){500, 3000, 1600, 4, FLOW_PROTO_TCP | FLOW_PROTO_UDP, 0, 0, 0,
                                      0, 0});
    CHECK_EQ(upsert(&t, &k, &c4), 0); /* inside the range: nothing moves */
    check_row(&t, &k,
              &(struct flow_counters){500, 3000, 1600, 4, FLOW_PROTO_TCP | FLOW_PROTO_UDP, 0, 0, 0,
                                      0, 0});
    CHECK_EQ(t.count, 1);

    /* protocols: UDP only stays UDP only */
    struct flow_key u = key_for(8);
    struct flow_counters cu = make_counters(10, 10, 1, 1, FLOW_PROTO_UDP);
    CHECK_EQ(upsert(&t, &u, &cu), 0);
    CHECK_EQ(upsert(&t, &u, &cu), 0);
    check_row(&t, &u, &(struct flow_counters){10, 10, 2, 2, FLOW_PROTO_UDP, 0, 0, 0, 0, 0});
    CHECK_EQ(t.count, 2);

    /* large counters add without loss */
    struct flow_key big = key_for(9);
    struct flow_counters cb = make_counters(UINT64_MAX - 1, UINT64_MAX - 1, UINT64_MAX / 2,
                                            UINT64_MAX / 2, FLOW_PROTO_TCP);
    CHECK_EQ(upsert(&t, &big, &cb), 0);
    CHECK_EQ(upsert(&t, &big,
                    &(struct flow_counters){0, UINT64_MAX, 1, 1, FLOW_PROTO_TCP, 0, 0, 0, 0, 0}),
             0);
    check_row(&t, &big,
              &(struct flow_counters){0, UINT64_MAX, UINT64_MAX / 2 + 1, UINT64_MAX / 2 + 1,
                                      FLOW_PROTO_TCP, 0, 0, 0, 0, 0});
    flow_table_destroy(&t);
}

static void test_distinct_keys(void)
{
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    struct flow_key base;
    memset(&base, 0, sizeof base);
    base.family = FLOW_FAMILY_IPV4;
    memcpy(base.src, (const uint8_t[]){192, 168, 1, 2}, 4);
    memcpy(base.dst, (const uint8_t[]){224, 0, 0, 251}, 4);
    base.src_port = 51057;
    base.dst_port = 5353;

    struct flow_key keys[8];
    keys[0] = base;
    keys[1] = base; /* reverse direction */
    memcpy(keys[1].src, base.dst, 16);
    memcpy(keys[1].dst, base.src, 16);
    keys[1].src_port = base.dst_port;
    keys[1].dst_port = base.src_port;
    keys[2] = base; /* same bytes, other family */
    keys[2].family = FLOW_FAMILY_IPV6;
    keys[3] = base; /* source port */
    keys[3].src_port = 51058;
    keys[4] = base; /* destination port */
    keys[4].dst_port = 5354;
    keys[5] = base; /* ports swapped, addresses kept */
    keys[5].src_port = base.dst_port;
    keys[5].dst_port = base.src_port;
    keys[6] = base; /* addresses swapped, ports kept */
    memcpy(keys[6].src, base.dst, 16);
    memcpy(keys[6].dst, base.src, 16);
    keys[7] = base; /* last address byte */
    keys[7].dst[3] = 252;

    for (uint32_t i = 0; i < 8; i++) {
        struct flow_counters c = counters_for(i);
        check_set_context("distinct key %u", (unsigned)i);
        CHECK_EQ(upsert(&t, &keys[i], &c), 0);
        CHECK_EQ(t.count, i + 1);
    }
    for (uint32_t i = 0; i < 8; i++) {
        struct flow_counters c = counters_for(i);
        check_set_context("distinct key %u", (unsigned)i);
        check_row(&t, &keys[i], &c);
        CHECK_MEM(&t.rows[i].key, &keys[i], sizeof keys[i]); /* insertion order */
    }
    check_set_context("%s", "");
    flow_table_destroy(&t);
}

static void test_growth(void)
{
    enum { N = 100000 };
    struct flow_table t;
    size_t heap0 = heap_bytes;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    size_t memory0 = flow_table_memory(&t);
    uint32_t capacity0 = t.row_capacity;
    CHECK(capacity0 < N);
    int failures = 0;
    for (uint32_t i = 0; i < N; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        failures += upsert(&t, &k, &c) != 0;
    }
    CHECK_EQ(failures, 0);
    CHECK_EQ(t.count, N);
    CHECK(t.row_capacity >= N);
    check_shape(&t);
    CHECK(flow_table_memory(&t) > memory0);
    CHECK_EQ(flow_table_memory(&t), heap_bytes - heap0); /* the grown arrays, the old ones freed */

    /* Every key found with its own counters, in insertion order; counted as one check per
     * property so a failure prints the first bad index. */
    uint32_t bad_find = UINT32_MAX, bad_counters = UINT32_MAX, bad_order = UINT32_MAX;
    for (uint32_t i = 0; i < N; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        const struct flow_row *row = flow_table_find(&t, &k);
        if (row == NULL) {
            if (bad_find == UINT32_MAX)
                bad_find = i;
            continue;
        }
        if ((row->counters.first_ms != c.first_ms || row->counters.last_ms != c.last_ms ||
             row->counters.bytes != c.bytes || row->counters.packets != c.packets ||
             row->counters.protocols != c.protocols || !flow_key_equal(&row->key, &k)) &&
            bad_counters == UINT32_MAX)
            bad_counters = i;
        if (!flow_key_equal(&t.rows[i].key, &k) && bad_order == UINT32_MAX)
            bad_order = i;
    }
    CHECK_EQ(bad_find, UINT32_MAX);
    CHECK_EQ(bad_counters, UINT32_MAX);
    CHECK_EQ(bad_order, UINT32_MAX);

    /* A second round on the grown table merges into the same rows. */
    size_t memory1 = flow_table_memory(&t);
    failures = 0;
    for (uint32_t i = 0; i < N; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = make_counters(0, 0, 1, 1, FLOW_PROTO_TCP);
        failures += upsert(&t, &k, &c) != 0;
    }
    CHECK_EQ(failures, 0);
    CHECK_EQ(t.count, N);
    CHECK_EQ(flow_table_memory(&t), memory1); /* no new rows, no growth */
    bad_counters = UINT32_MAX;
    for (uint32_t i = 0; i < N; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        const struct flow_row *row = flow_table_find(&t, &k);
        if (row == NULL || row->counters.first_ms != 0 || row->counters.last_ms != c.last_ms ||
            row->counters.bytes != c.bytes + 1 || row->counters.packets != c.packets + 1 ||
            row->counters.protocols != (c.protocols | FLOW_PROTO_TCP)) {
            bad_counters = i;
            break;
        }
    }
    CHECK_EQ(bad_counters, UINT32_MAX);
    for (uint32_t i = N; i < N + 1000; i++) {
        struct flow_key k = key_for(i);
        if (flow_table_find(&t, &k) != NULL) {
            CHECK(!"a key never inserted was found");
            break;
        }
    }
    flow_table_destroy(&t);
}

static void test_presized(void)
{
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 5000), 0))
        return;
    CHECK(t.row_capacity >= 5000);
    check_shape(&t);
    size_t memory0 = flow_table_memory(&t);
    for (uint32_t i = 0; i < 5000; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        upsert(&t, &k, &c);
    }
    CHECK_EQ(t.count, 5000);
    CHECK_EQ(flow_table_memory(&t), memory0); /* sized up front: no growth */
    flow_table_destroy(&t);
}

static void test_clear(void)
{
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    for (uint32_t i = 0; i < 3000; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        upsert(&t, &k, &c);
    }
    CHECK_EQ(t.count, 3000);
    uint32_t capacity = t.row_capacity, mask = t.slot_mask;
    size_t memory = flow_table_memory(&t);
    flow_table_clear(&t);
    CHECK_EQ(t.count, 0);
    CHECK_EQ(t.row_capacity, capacity);
    CHECK_EQ(t.slot_mask, mask);
    CHECK_EQ(flow_table_memory(&t), memory);
    int found = 0;
    for (uint32_t i = 0; i < 3000; i++) {
        struct flow_key k = key_for(i);
        found += flow_table_find(&t, &k) != NULL;
    }
    CHECK_EQ(found, 0);
    /* refilled after clear: fresh counters, not the old sums */
    struct flow_key k = key_for(5);
    struct flow_counters c = make_counters(7, 8, 9, 1, FLOW_PROTO_UDP);
    CHECK_EQ(upsert(&t, &k, &c), 0);
    CHECK_EQ(t.count, 1);
    check_row(&t, &k, &c);
    CHECK_MEM(&t.rows[0].key, &k, sizeof k);
    /* clearing an empty table and refilling to the old size needs no growth */
    flow_table_clear(&t);
    flow_table_clear(&t);
    CHECK_EQ(t.count, 0);
    for (uint32_t i = 0; i < 3000; i++) {
        struct flow_key key = key_for(i);
        struct flow_counters cc = counters_for(i);
        upsert(&t, &key, &cc);
    }
    CHECK_EQ(t.count, 3000);
    CHECK_EQ(flow_table_memory(&t), memory);
    flow_table_destroy(&t);
}

/* Two tables that overlap, merged, against one table fed everything. */
static void test_table_merge(void)
{
    struct flow_table a, b, all, empty;
    if (!CHECK_EQ(flow_table_init(&a, 0), 0) || !CHECK_EQ(flow_table_init(&b, 0), 0) ||
        !CHECK_EQ(flow_table_init(&all, 0), 0) || !CHECK_EQ(flow_table_init(&empty, 0), 0))
        return;
    /* a: keys 0..5999, b: keys 4000..11999 (2000 shared) with different counters */
    for (uint32_t i = 0; i < 6000; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        upsert(&a, &k, &c);
        upsert(&all, &k, &c);
    }
    for (uint32_t i = 4000; i < 12000; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i * 3 + 1);
        upsert(&b, &k, &c);
        upsert(&all, &k, &c);
    }
    CHECK_EQ(flow_table_merge(&a, &b), 0);
    CHECK_EQ(a.count, 12000);
    CHECK_EQ(a.count, all.count);
    uint32_t bad = UINT32_MAX;
    for (uint32_t i = 0; i < all.count; i++) {
        const struct flow_row *want = &all.rows[i];
        const struct flow_row *got = flow_table_find(&a, &want->key);
        if (got == NULL || memcmp(&got->key, &want->key, sizeof want->key) != 0 ||
            got->counters.first_ms != want->counters.first_ms ||
            got->counters.last_ms != want->counters.last_ms ||
            got->counters.bytes != want->counters.bytes ||
            got->counters.packets != want->counters.packets ||
            got->counters.protocols != want->counters.protocols) {
            bad = i;
            break;
        }
    }
    CHECK_EQ(bad, UINT32_MAX);
    /* one shared key spelled out: counters_for(4000) merged with counters_for(12001) */
    {
        struct flow_counters x = counters_for(4000), y = counters_for(12001);
        struct flow_key k = key_for(4000);
        check_row(&a, &k,
                  &(struct flow_counters){x.first_ms, y.last_ms, x.bytes + y.bytes,
                                          x.packets + y.packets,
                                          (uint8_t)(x.protocols | y.protocols), 0, 0, 0, 0, 0});
    }
    /* b is left as it was */
    CHECK_EQ(b.count, 8000);
    {
        struct flow_key k = key_for(4000);
        struct flow_counters y = counters_for(12001);
        check_row(&b, &k, &y);
    }
    /* merging an empty delta changes nothing; merging into an empty table copies */
    CHECK_EQ(flow_table_merge(&a, &empty), 0);
    CHECK_EQ(a.count, 12000);
    CHECK_EQ(flow_table_merge(&empty, &b), 0);
    CHECK_EQ(empty.count, b.count);
    bad = UINT32_MAX;
    for (uint32_t i = 0; i < b.count; i++) {
        const struct flow_row *got = flow_table_find(&empty, &b.rows[i].key);
        if (got == NULL || memcmp(&got->counters, &b.rows[i].counters,
                                  offsetof(struct flow_counters, protocols) + 1) != 0) {
            bad = i;
            break;
        }
    }
    CHECK_EQ(bad, UINT32_MAX);
    flow_table_destroy(&a);
    flow_table_destroy(&b);
    flow_table_destroy(&all);
    flow_table_destroy(&empty);
}

/* flow_table_memory is what the table holds on the heap, at every size, and nothing is left
 * behind by destroy. */
static void test_memory(void)
{
    size_t heap0 = heap_bytes;
    unsigned calls0 = wrapped;
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    CHECK(wrapped > calls0); /* the counting allocator sees the table's allocations */
    size_t memory = flow_table_memory(&t);
    CHECK_EQ(memory, heap_bytes - heap0);
    /* an empty table holds room for its rows and an index of them: more than a row per row */
    CHECK(memory >= (size_t)t.row_capacity * sizeof(struct flow_row));
    size_t previous = memory;
    int grew = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        if (upsert(&t, &k, &c) != 0) {
            CHECK(!"upsert failed");
            break;
        }
        size_t now = flow_table_memory(&t);
        if (now != previous) {
            check_set_context("after %u keys", (unsigned)i + 1);
            CHECK(now > previous);
            CHECK_EQ(now, heap_bytes - heap0);
            previous = now;
            grew++;
        }
    }
    check_set_context("%s", "");
    CHECK(grew >= 2);
    /* 20,000 rows of a 40-byte key and 33 bytes of counters: at least that much, and no more
     * than a few times it (rows kept in arrays that double, an index of 8-byte slots) */
    size_t payload = 20000u * (sizeof(struct flow_key) + 33u);
    CHECK(previous >= payload);
    CHECK(previous <= 8 * payload);
    flow_table_clear(&t);
    CHECK_EQ(flow_table_memory(&t), previous);
    CHECK_EQ(heap_bytes - heap0, previous);
    flow_table_destroy(&t);
    CHECK_EQ(heap_bytes, heap0);
}

/* Many distinct keys given one hash through upsert's hash parameter: one probe chain holds
 * them all (starting at the last slot, so it wraps around), across growth. The rows are checked
 * in insertion order (flow_table_find computes the real hash, so it is not used here). */
static void test_forced_collisions(void)
{
    enum { K = 3000 };
    /* two hashes with the same low 31 bits: the same probe start at every table size */
    static const uint32_t hashes[2] = {0xffffffffu, 0x7fffffffu};
    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    uint32_t capacity0 = t.row_capacity;
    uint32_t bad = UINT32_MAX;
    for (uint32_t i = 0; i < K; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        if ((flow_table_upsert(&t, &k, hashes[i % 2], &c) != 0 || t.count != i + 1) &&
            bad == UINT32_MAX)
            bad = i;
    }
    CHECK_EQ(bad, UINT32_MAX);
    CHECK_EQ(t.count, K);
    CHECK(t.row_capacity > capacity0); /* it grew, re-indexing the chain */
    /* again: every key merges into its own row */
    for (uint32_t i = 0; i < K; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = make_counters(0, 0, 1, 1, FLOW_PROTO_TCP);
        if (flow_table_upsert(&t, &k, hashes[i % 2], &c) != 0 && bad == UINT32_MAX)
            bad = i;
    }
    CHECK_EQ(bad, UINT32_MAX);
    CHECK_EQ(t.count, K);
    for (uint32_t i = 0; i < K && bad == UINT32_MAX; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        const struct flow_row *row = &t.rows[i];
        if (!flow_key_equal(&row->key, &k) || row->counters.first_ms != 0 ||
            row->counters.last_ms != c.last_ms || row->counters.bytes != c.bytes + 1 ||
            row->counters.packets != c.packets + 1 ||
            row->counters.protocols != (c.protocols | FLOW_PROTO_TCP))
            bad = i;
    }
    CHECK_EQ(bad, UINT32_MAX);
    flow_table_destroy(&t);
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Real collisions of flow_key_hash among key_for(0 .. 2^19): pairs of distinct keys with the
 * same 32-bit hash (about 2^38 / 2^33 = 32 pairs expected), and keys whose hashes share the low
 * 13 bits of the first pair's, so they start probing at the same slot in tables of up to 8192
 * slots. find, upsert, growth and merge must keep every one of them apart. */
static void test_real_collisions(void)
{
    enum { SEARCHED = 1u << 19, PAIRS_MAX = 16, CLUSTER_MAX = 48, FILLER = 6000 };
    uint64_t *sorted = malloc(SEARCHED * sizeof *sorted);
    if (!CHECK(sorted != NULL))
        return;
    for (uint32_t i = 0; i < SEARCHED; i++) {
        struct flow_key k = key_for(i);
        sorted[i] = (uint64_t)flow_key_hash(&k) << 32 | i;
    }
    qsort(sorted, SEARCHED, sizeof *sorted, compare_u64);
    uint32_t a[PAIRS_MAX], b[PAIRS_MAX];
    unsigned pairs = 0;
    for (uint32_t i = 1; i < SEARCHED && pairs < PAIRS_MAX; i++)
        if (sorted[i] >> 32 == sorted[i - 1] >> 32) {
            a[pairs] = (uint32_t)sorted[i - 1];
            b[pairs] = (uint32_t)sorted[i];
            pairs++;
            i++; /* each key in one pair at most */
        }
    free(sorted);
    if (!CHECK(pairs >= 4))
        return;
    for (unsigned p = 0; p < pairs; p++) {
        struct flow_key ka = key_for(a[p]), kb = key_for(b[p]);
        check_set_context("pair %u: keys %u and %u", p, (unsigned)a[p], (unsigned)b[p]);
        CHECK(!flow_key_equal(&ka, &kb));
        CHECK_EQ(flow_key_hash(&ka), flow_key_hash(&kb));
    }
    check_set_context("%s", "");

    /* the cluster: other keys starting where the first pair does */
    struct flow_key first = key_for(a[0]);
    uint32_t low = flow_key_hash(&first) & 0x1fffu;
    uint32_t cluster[CLUSTER_MAX];
    unsigned clustered = 0;
    for (uint32_t i = 0; i < SEARCHED && clustered < CLUSTER_MAX; i++) {
        struct flow_key k = key_for(i);
        int in_pair = 0;
        for (unsigned p = 0; p < pairs; p++)
            in_pair |= i == a[p] || i == b[p];
        if (!in_pair && (flow_key_hash(&k) & 0x1fffu) == low)
            cluster[clustered++] = i;
    }
    CHECK_EQ(clustered, CLUSTER_MAX);
    printf("collisions: %u pairs of keys with one hash, %u more keys at the first pair's slot\n",
           pairs, clustered);

    struct flow_table t;
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    /* one key of each pair: its partner, same hash, is not there */
    for (unsigned p = 0; p < pairs; p++) {
        struct flow_key ka = key_for(a[p]), kb = key_for(b[p]);
        struct flow_counters ca = counters_for(a[p]);
        check_set_context("pair %u, first key only", p);
        CHECK_EQ(upsert(&t, &ka, &ca), 0);
        CHECK(flow_table_find(&t, &kb) == NULL);
        check_row(&t, &ka, &ca);
    }
    for (unsigned p = 0; p < pairs; p++) {
        struct flow_key kb = key_for(b[p]);
        struct flow_counters cb = counters_for(b[p]);
        check_set_context("pair %u, second key", p);
        CHECK_EQ(upsert(&t, &kb, &cb), 0);
    }
    for (unsigned c = 0; c < clustered; c++) {
        struct flow_key k = key_for(cluster[c]);
        struct flow_counters cc = counters_for(cluster[c]);
        CHECK_EQ(upsert(&t, &k, &cc), 0);
    }
    CHECK_EQ(t.count, 2 * pairs + clustered);
    /* grow the table under them: keys past the searched range are none of theirs */
    uint32_t capacity0 = t.row_capacity;
    for (uint32_t i = SEARCHED; i < SEARCHED + FILLER; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        upsert(&t, &k, &c);
    }
    CHECK_EQ(t.count, 2 * pairs + clustered + FILLER);
    CHECK(t.row_capacity > capacity0);
    /* each found with its own counters, then merged into its own row */
    for (unsigned p = 0; p < pairs; p++) {
        uint32_t both[2] = {a[p], b[p]};
        for (int side = 0; side < 2; side++) {
            struct flow_key k = key_for(both[side]);
            struct flow_counters c = counters_for(both[side]);
            check_set_context("pair %u, key %u, after growth", p, (unsigned)both[side]);
            check_row(&t, &k, &c);
            struct flow_counters more = make_counters(1, c.last_ms + 1, 7, 2, FLOW_PROTO_UDP);
            CHECK_EQ(upsert(&t, &k, &more), 0);
            check_row(&t, &k,
                      &(struct flow_counters){1, c.last_ms + 1, c.bytes + 7, c.packets + 2,
                                              (uint8_t)(c.protocols | FLOW_PROTO_UDP), 0, 0, 0, 0,
                                              0});
        }
    }
    for (unsigned c = 0; c < clustered; c++) {
        struct flow_key k = key_for(cluster[c]);
        struct flow_counters cc = counters_for(cluster[c]);
        check_set_context("cluster key %u, after growth", (unsigned)cluster[c]);
        check_row(&t, &k, &cc);
    }
    check_set_context("%s", "");
    CHECK_EQ(t.count, 2 * pairs + clustered + FILLER);
    flow_table_destroy(&t);

    /* merge: the first keys in one table, their partners in the other */
    struct flow_table firsts, seconds;
    if (!CHECK_EQ(flow_table_init(&firsts, 0), 0) || !CHECK_EQ(flow_table_init(&seconds, 0), 0))
        return;
    for (unsigned p = 0; p < pairs; p++) {
        struct flow_key ka = key_for(a[p]), kb = key_for(b[p]);
        struct flow_counters ca = counters_for(a[p]), cb = counters_for(b[p]);
        upsert(&firsts, &ka, &ca);
        upsert(&seconds, &kb, &cb);
        upsert(&seconds, &ka, &cb); /* and the same key too: merged into the first's row */
    }
    CHECK_EQ(flow_table_merge(&firsts, &seconds), 0);
    CHECK_EQ(firsts.count, 2 * pairs);
    for (unsigned p = 0; p < pairs; p++) {
        struct flow_key ka = key_for(a[p]), kb = key_for(b[p]);
        struct flow_counters ca = counters_for(a[p]), cb = counters_for(b[p]);
        check_set_context("pair %u, merged", p);
        check_row(&firsts, &kb, &cb);
        struct flow_counters sum = ca;
        flow_counters_merge(&sum, &cb);
        check_row(&firsts, &ka, &sum);
    }
    check_set_context("%s", "");
    flow_table_destroy(&firsts);
    flow_table_destroy(&seconds);
}

/* Random inserts and deletes against a reference set: every present key is found with its
 * counters, every deleted one is gone, and data kept beside the table follows the row that
 * flow_table_delete moves. Small table, up to half full, so probe runs overlap and backward
 * shift is exercised across wrap-around too. */
static void test_delete(void)
{
    enum { KEYS = 3000, STEPS = 60000 };
    static uint8_t present[KEYS];
    static uint32_t beside[1u << 12]; /* per row index: the key number of that row */
    memset(present, 0, sizeof present);
    struct flow_table t;
    CHECK_EQ(flow_table_init(&t, 1024), 0);
    uint64_t state = 0x9e3779b97f4a7c15u;
    uint32_t live = 0;
    for (uint32_t step = 0; step < STEPS; step++) {
        state = state * 6364136223846793005u + 1442695040888963407u;
        uint32_t i = (uint32_t)(state >> 33) % KEYS;
        struct flow_key k = key_for(i);
        uint32_t hash = flow_key_hash(&k);
        check_set_context("step %u key %u", step, i);
        if (!present[i]) {
            if (live >= 1000)
                continue;
            struct flow_counters c = counters_for(i);
            uint32_t index = flow_table_insert(&t, &k, hash, &c);
            if (!CHECK(index != FLOW_TABLE_NONE))
                break;
            beside[index] = i;
            present[i] = 1;
            live++;
        } else {
            uint32_t index = flow_table_find_index(&t, &k, hash);
            if (!CHECK(index != FLOW_TABLE_NONE))
                break;
            CHECK_EQ(beside[index], i);
            uint32_t moved = flow_table_delete(&t, index);
            if (moved != FLOW_TABLE_NONE) {
                CHECK_EQ(moved, t.count);
                beside[index] = beside[moved];
            } else {
                CHECK_EQ(index, t.count);
            }
            present[i] = 0;
            live--;
        }
        CHECK_EQ(t.count, live);
        if (step % 2000 == 0 || step == STEPS - 1) {
            for (uint32_t j = 0; j < KEYS; j++) {
                struct flow_key kj = key_for(j);
                uint32_t at = flow_table_find_index(&t, &kj, flow_key_hash(&kj));
                if (present[j]) {
                    struct flow_counters c = counters_for(j);
                    if (CHECK(at != FLOW_TABLE_NONE))
                        CHECK_EQ(beside[at], j);
                    check_row(&t, &kj, &c);
                } else {
                    CHECK(at == FLOW_TABLE_NONE);
                }
            }
        }
    }
    check_set_context("%s", "");
    CHECK_EQ(t.row_capacity, 1024); /* never grew: deletes made room */
    flow_table_destroy(&t);
}

/* Upserts key_for(i) with counters_for(i) for i in [from, to). */
static void upsert_keys(struct flow_table *t, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        CHECK_EQ(upsert(t, &k, &c), 0);
    }
}

/* flow_table_copy: a report's copy of the table that owns the rows. Every row in the same
 * place with the same counters; with the index the copy finds every key, without it the copy
 * holds no index memory; a second copy into the same memory follows the table's changes, and a
 * copy of a table that grew takes the new size; the heap is whole again after destroy. */
static void test_copy(void)
{
    size_t heap0 = heap_bytes;
    struct flow_table t, indexed, plain;
    memset(&indexed, 0, sizeof indexed);
    memset(&plain, 0, sizeof plain);
    if (!CHECK_EQ(flow_table_init(&t, 0), 0))
        return;
    upsert_keys(&t, 0, 3000);
    CHECK_EQ(flow_table_copy(&indexed, &t, 1), 0);
    CHECK_EQ(flow_table_copy(&plain, &t, 0), 0);
    CHECK_EQ(indexed.count, 3000u);
    CHECK_EQ(plain.count, 3000u);
    CHECK_MEM(plain.rows, t.rows, 3000 * sizeof *t.rows);
    CHECK_MEM(indexed.rows, t.rows, 3000 * sizeof *t.rows);
    CHECK(plain.slots == NULL);
    CHECK_EQ(flow_table_memory(&plain),
             flow_table_memory(&t) - big_alloc_size(((size_t)t.slot_mask + 1) * 8, t.huge_pages));
    CHECK_EQ(flow_table_memory(&indexed), flow_table_memory(&t));
    for (uint32_t i = 0; i < 3000; i += 7) {
        struct flow_key k = key_for(i);
        struct flow_counters c = counters_for(i);
        check_row(&indexed, &k, &c);
    }
    /* the table changes and grows: the next copy follows it, into new memory */
    struct flow_key k0 = key_for(0);
    struct flow_counters more = make_counters(1672060800000u, 1672060900000u, 1000, 3, 1);
    CHECK_EQ(upsert(&t, &k0, &more), 0);
    upsert_keys(&t, 3000, 9000);
    CHECK_EQ(flow_table_copy(&indexed, &t, 1), 0);
    CHECK_EQ(flow_table_copy(&plain, &t, 0), 0);
    CHECK_EQ(plain.count, 9000u);
    CHECK_EQ(plain.row_capacity, t.row_capacity);
    CHECK_MEM(plain.rows, t.rows, 9000 * sizeof *t.rows);
    CHECK_EQ(plain.rows[0].counters.packets, counters_for(0).packets + 3);
    check_shape(&indexed);
    struct flow_counters merged = counters_for(0);
    flow_counters_merge(&merged, &more);
    check_row(&indexed, &k0, &merged);
    /* the same size again: the same memory */
    struct flow_row *rows = plain.rows;
    CHECK_EQ(flow_table_copy(&plain, &t, 0), 0);
    CHECK(plain.rows == rows);
    /* out of memory for a copy of another size: the old copy stays whole (a report from it
     * is the previous one, not an empty one) */
    struct flow_table small;
    if (CHECK_EQ(flow_table_init(&small, 0), 0)) {
        big_allocs_before_failure = 2; /* the rows' array comes, the index does not */
        CHECK_EQ(flow_table_copy(&indexed, &small, 1), -1);
        big_allocs_before_failure = 0;
        CHECK_EQ(indexed.count, 9000u);
        check_row(&indexed, &k0, &merged);
        flow_table_destroy(&small);
    }
    flow_table_destroy(&indexed);
    flow_table_destroy(&plain);
    flow_table_destroy(&t);
    CHECK_EQ(heap_bytes, heap0);
}

int main(void)
{
    test_key_helpers();
    test_empty_and_first_insert();
    test_merge_semantics();
    test_distinct_keys();
    test_growth();
    test_presized();
    test_clear();
    test_table_merge();
    test_memory();
    test_forced_collisions();
    test_real_collisions();
    test_delete();
    test_copy();
    return check_finish("test_flow_table");
}
