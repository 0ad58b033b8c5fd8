/*
 * pointer_queue.h - bounded FIFO of pointers between threads (mutex + condition variables).
 *
 * It moves whole batches of packets and whole delta tables, never single packets, so one lock
 * per item costs nothing measurable (about one per thousand packets) and keeps the hand-off
 * simple to reason about and to check with TSan. Any thread may push or pop.
 */
#ifndef NASOONE_POINTER_QUEUE_H
#define NASOONE_POINTER_QUEUE_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

struct pointer_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    void **items;
    uint32_t capacity;
    uint32_t head;
    uint32_t count;
    int closed;
};

/* Returns 0, or -1 when out of memory. */
int pointer_queue_init(struct pointer_queue *queue, uint32_t capacity);
void pointer_queue_destroy(struct pointer_queue *queue);

/* Appends; waits while full. Returns 1 if it had to wait, 0 if not. */
int pointer_queue_push(struct pointer_queue *queue, void *item);

/* Appends only if there is room now. Returns 0, or -1 when full. */
int pointer_queue_try_push(struct pointer_queue *queue, void *item);

/* Removes the oldest item, waiting until one arrives, the queue is closed and empty, or the
 * CLOCK_MONOTONIC `deadline` passes (NULL: no deadline). Returns NULL in the last two cases;
 * *closed (if not NULL) tells them apart. Sets *waited (if not NULL) when it had to wait. */
void *pointer_queue_pop(struct pointer_queue *queue, const struct timespec *deadline, int *closed,
                        int *waited);

/* Removes the oldest item if there is one now, else NULL. */
void *pointer_queue_try_pop(struct pointer_queue *queue);

/* How many items it holds now (already stale when it returns: a hint for the caller's choices). */
uint32_t pointer_queue_length(struct pointer_queue *queue);
/* After close, pops drain what is left and then return NULL at once. */
void pointer_queue_close(struct pointer_queue *queue);

/* CLOCK_MONOTONIC now plus `ms` milliseconds. */
struct timespec monotonic_after_ms(uint64_t ms);
/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t monotonic_ms(void);

#endif
