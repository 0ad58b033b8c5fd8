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

void *big_alloc(size_t bytes, int huge)
{
    size_t size = big_alloc_size(bytes, huge);
    if (!huge || size < HUGE_PAGE) {
        void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return memory == MAP_FAILED ? NULL : memory;
    }
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
    madvise((void *)start, size, MADV_HUGEPAGE); /* a hint: refused where THP is off */
    return (void *)start;
}

void big_free(void *memory, size_t bytes, int huge)
{
    if (memory != NULL)
        munmap(memory, big_alloc_size(bytes, huge));
}
