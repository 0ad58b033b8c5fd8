/*
 * big_alloc.c - see big_alloc.h.
 */
#include "big_alloc.h"

#include <stdint.h>
#include <sys/mman.h>

#define SMALL_PAGE ((size_t)4096)
#define HUGE_PAGE  ((size_t)2 << 20)

size_t big_alloc_size(size_t bytes, int huge)
{
    if (bytes == 0)
        bytes = 1;
    size_t page = huge && bytes >= HUGE_PAGE ? HUGE_PAGE : SMALL_PAGE;
    return (bytes + page - 1) / page * page;
}

/* A 2 MiB-aligned region of `size` bytes (a multiple of 2 MiB), not yet asked for huge pages. */
static void *map_aligned(size_t size)
{
    /* Over-map by a huge page and trim both ends, so the region starts on a 2 MiB boundary
     * (the kernel backs only aligned 2 MiB ranges with huge pages). */
    size_t mapped = size + HUGE_PAGE;
    char *memory = mmap(NULL, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED)
        return NULL;
    uintptr_t start = ((uintptr_t)memory + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    size_t head = start - (uintptr_t)memory;
    if (head > 0)
        munmap(memory, head);
    if (mapped - head - size > 0)
        munmap((char *)start + size, mapped - head - size);
    return (void *)start;
}

void *big_alloc(size_t bytes, int huge)
{
    size_t size = big_alloc_size(bytes, huge);
    if (!huge || size < HUGE_PAGE) {
        void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return memory == MAP_FAILED ? NULL : memory;
    }
    void *memory = map_aligned(size);
    if (memory != NULL)
        madvise(memory, size, MADV_HUGEPAGE); /* a hint: refused where THP is off */
    return memory;
}

void *big_realloc(void *memory, size_t old_bytes, size_t new_bytes, int huge)
{
    size_t old_size = big_alloc_size(old_bytes, huge);
    size_t new_size = big_alloc_size(new_bytes, huge);
    if (!huge || new_size < HUGE_PAGE) {
        void *moved = mremap(memory, old_size, new_size, MREMAP_MAYMOVE);
        return moved == MAP_FAILED ? NULL : moved;
    }
    /* into a 2 MiB-aligned place, so that the huge pages stay huge and the new part gets some */
    void *target = map_aligned(new_size);
    if (target == NULL)
        return NULL;
    void *moved = mremap(memory, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    if (moved == MAP_FAILED) {
        munmap(target, new_size);
        return NULL;
    }
    madvise(moved, new_size, MADV_HUGEPAGE);
    return moved;
}

void big_free(void *memory, size_t bytes, int huge)
{
    if (memory != NULL)
        munmap(memory, big_alloc_size(bytes, huge));
}
