/*
 * pointer_queue.c - see pointer_queue.h.
 */
#include "pointer_queue.h"

#include <errno.h>
#include <stdlib.h>

int pointer_queue_init(struct pointer_queue *queue, uint32_t capacity)
{
    queue->items = calloc(capacity, sizeof *queue->items);
    if (queue->items == NULL)
        return -1;
    queue->capacity = capacity;
    queue->head = 0;
    queue->count = 0;
    queue->closed = 0;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&queue->lock, NULL);
    pthread_cond_init(&queue->not_empty, &attr);
    pthread_cond_init(&queue->not_full, &attr);
    pthread_condattr_destroy(&attr);
    return 0;
}

void pointer_queue_destroy(struct pointer_queue *queue)
{
    if (queue->items == NULL)
        return;
    pthread_mutex_destroy(&queue->lock);
    pthread_cond_destroy(&queue->not_empty);
    pthread_cond_destroy(&queue->not_full);
    free(queue->items);
    queue->items = NULL;
}

static void append_locked(struct pointer_queue *queue, void *item)
{
    queue->items[(queue->head + queue->count) % queue->capacity] = item;
    queue->count++;
    pthread_cond_signal(&queue->not_empty);
}

int pointer_queue_push(struct pointer_queue *queue, void *item)
{
    int waited = 0;
    pthread_mutex_lock(&queue->lock);
    while (queue->count == queue->capacity) {
        waited = 1;
        pthread_cond_wait(&queue->not_full, &queue->lock);
    }
    append_locked(queue, item);
    pthread_mutex_unlock(&queue->lock);
    return waited;
}

int pointer_queue_try_push(struct pointer_queue *queue, void *item)
{
    int result = -1;
    pthread_mutex_lock(&queue->lock);
    if (queue->count < queue->capacity) {
        append_locked(queue, item);
        result = 0;
    }
    pthread_mutex_unlock(&queue->lock);
    return result;
}

static void *take_locked(struct pointer_queue *queue)
{
    void *item = queue->items[queue->head];
    queue->head = (queue->head + 1) % queue->capacity;
    queue->count--;
    pthread_cond_signal(&queue->not_full);
    return item;
}

void *pointer_queue_pop(struct pointer_queue *queue, const struct timespec *deadline, int *closed,
                        int *waited)
{
    void *item = NULL;
    int timed_out = 0;
    pthread_mutex_lock(&queue->lock);
    while (queue->count == 0 && !queue->closed && !timed_out) {
        if (waited != NULL)
            *waited = 1;
        if (deadline == NULL)
            pthread_cond_wait(&queue->not_empty, &queue->lock);
        else
            timed_out =
                pthread_cond_timedwait(&queue->not_empty, &queue->lock, deadline) == ETIMEDOUT;
    }
    if (queue->count > 0)
        item = take_locked(queue);
    if (closed != NULL)
        *closed = queue->closed && queue->count == 0 && item == NULL;
    pthread_mutex_unlock(&queue->lock);
    return item;
}

void *pointer_queue_try_pop(struct pointer_queue *queue)
{
    void *item = NULL;
    pthread_mutex_lock(&queue->lock);
    if (queue->count > 0)
        item = take_locked(queue);
    pthread_mutex_unlock(&queue->lock);
    return item;
}

uint32_t pointer_queue_length(struct pointer_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    uint32_t count = queue->count;
    pthread_mutex_unlock(&queue->lock);
    return count;
}

void pointer_queue_close(struct pointer_queue *queue)
{
    pthread_mutex_lock(&queue->lock);
    queue->closed = 1;
    pthread_cond_broadcast(&queue->not_empty);
    pthread_mutex_unlock(&queue->lock);
}

struct timespec monotonic_after_ms(uint64_t ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

uint64_t monotonic_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}
