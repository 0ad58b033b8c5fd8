/*
 * big_alloc.h - zeroed memory for the engine's large arrays (flow tables, packet batches), in
 * 2 MiB-aligned mappings that ask for transparent huge pages.
 *
 * A hash table larger than the cache is probed at random: with 4 KiB pages nearly every probe
 * also misses the TLB, and every new page is a page fault. With 2 MiB pages a 27 MB table is
 * 14 pages. On this project's 2-core VM (whose guest kernel makes faults and TLB misses dear)
 * that took the 5M-packet benchmark from 1.07 s to 0.88 s (README, "Performance"). Where THP is
 * off ("never"), this is plain
 * anonymous memory. Sizes are rounded up to 4 KiB pages, and to 2 MiB at 2 MiB and above when
 * huge pages are asked for. A huge page is touched (and counted in RSS) whole: short-lived
 * tables of a few MB (the parsers' deltas) ask for small pages.
 */
#ifndef NASOONE_BIG_ALLOC_H
#define NASOONE_BIG_ALLOC_H

#include <stddef.h>

/* `bytes` of zeroed memory, or NULL. `huge`: in huge pages where the size allows (2 MiB and
 * up); otherwise small pages, touched (and counted in RSS) page by page. */
void *big_alloc(size_t bytes, int huge);
/* Grows what big_alloc(old_bytes, huge) returned to new_bytes (> old_bytes), keeping its
 * contents, or returns NULL (the old memory intact). The pages move (mremap), not the bytes:
 * no copy, and no moment with both the old and the new array in memory. */
void *big_realloc(void *memory, size_t old_bytes, size_t new_bytes, int huge);
/* Frees what big_alloc(bytes, huge) returned (the same `bytes` and `huge`); NULL is fine. */
void big_free(void *memory, size_t bytes, int huge);
/* The memory big_alloc(bytes, huge) takes: what the memory figures count. */
size_t big_alloc_size(size_t bytes, int huge);

#endif
