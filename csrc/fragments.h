/*
 * fragments.h - remembers which flow the first fragment of an IP datagram belonged to, so the
 * later fragments (which carry no ports) can be counted in the same row. Used by the producer
 * thread only, in set_fragments("attribute") mode: it sees packets in capture order, which is
 * what makes the attribution deterministic whatever the number of parsers.
 *
 * Bounded: a fixed number of entries, direct-mapped by a hash of the datagram's identity; a
 * new datagram replaces an older one in its entry, and an entry expires FRAGMENT_TIMEOUT_MS of
 * capture time after its first fragment (the reassembly timeout of Linux, 30 s).
 */
#ifndef NASOONE_FRAGMENTS_H
#define NASOONE_FRAGMENTS_H

#include <stdint.h>

#include "decode.h"

#if !defined(FRAGMENT_TABLE_ENTRIES)
#define FRAGMENT_TABLE_ENTRIES 4096u /* a power of two */
#endif
#if !defined(FRAGMENT_TIMEOUT_MS)
#define FRAGMENT_TIMEOUT_MS 30000u
#endif

struct fragment_table;

/* NULL when out of memory. */
struct fragment_table *fragment_table_new(void);
void fragment_table_free(struct fragment_table *table);

/* Records the flow of a first fragment seen at `now_ms` (capture time). */
void fragment_table_remember(struct fragment_table *table, const struct fragment_id *id,
                             const struct flow_key *key, uint8_t protocol, uint64_t now_ms);

/* The flow of the datagram a later fragment belongs to: 1 and *key, *protocol set when its
 * first fragment was seen within the timeout, 0 otherwise. */
int fragment_table_lookup(const struct fragment_table *table, const struct fragment_id *id,
                          uint64_t now_ms, struct flow_key *key, uint8_t *protocol);

#endif
