/*
 * mailbox.c - the caller's inbox (see mailbox.h).
 */
#include "mailbox.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

int mailbox_init(struct mailbox *mailbox)
{
    memset(mailbox, 0, sizeof *mailbox);
    mailbox->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (mailbox->event_fd < 0)
        return -1;
    pthread_mutex_init(&mailbox->lock, NULL);
    pthread_cond_init(&mailbox->flows_taken, NULL);
    return 0;
}

void mailbox_destroy(struct mailbox *mailbox)
{
    nasoone_snapshot_free(mailbox->snapshot);
    for (size_t i = 0; i < mailbox->flow_count; i++)
        nasoone_flows_free(mailbox->flows[i]);
    free(mailbox->flows);
    close(mailbox->event_fd);
    pthread_mutex_destroy(&mailbox->lock);
    pthread_cond_destroy(&mailbox->flows_taken);
}

void mailbox_signal(struct mailbox *mailbox)
{
    uint64_t one = 1;
    /* a full counter (never in practice) still leaves the descriptor readable */
    if (write(mailbox->event_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        return;
}

int mailbox_clear(struct mailbox *mailbox)
{
    uint64_t drained;
    return read(mailbox->event_fd, &drained, sizeof drained) < 0 && errno != EAGAIN ? -1 : 0;
}

void mailbox_put_snapshot(struct mailbox *mailbox, struct nasoone_snapshot *snapshot)
{
    pthread_mutex_lock(&mailbox->lock);
    struct nasoone_snapshot *replaced = mailbox->snapshot;
    mailbox->snapshot = snapshot;
    pthread_mutex_unlock(&mailbox->lock);
    nasoone_snapshot_free(replaced);
    mailbox_signal(mailbox);
}

struct nasoone_snapshot *mailbox_take_snapshot(struct mailbox *mailbox)
{
    pthread_mutex_lock(&mailbox->lock);
    struct nasoone_snapshot *snapshot = mailbox->snapshot;
    mailbox->snapshot = NULL;
    pthread_mutex_unlock(&mailbox->lock);
    return snapshot;
}

int mailbox_put_flows(struct mailbox *mailbox, struct nasoone_flow_batch *batch, int lossless)
{
    pthread_mutex_lock(&mailbox->lock);
    while (lossless && !mailbox->unbounded && mailbox->flow_count >= MAILBOX_FLOWS_MAX)
        pthread_cond_wait(&mailbox->flows_taken, &mailbox->lock);
    int queued = 0;
    if (!mailbox->unbounded && mailbox->flow_count >= MAILBOX_FLOWS_MAX) {
        queued = 0; /* lossy, and the caller is behind */
    } else if (mailbox->flow_count < mailbox->flow_capacity) {
        queued = 1;
    } else {
        size_t capacity = mailbox->flow_capacity ? mailbox->flow_capacity * 2 : 16;
        struct nasoone_flow_batch **grown = realloc(mailbox->flows, capacity * sizeof *grown);
        if (grown != NULL) {
            mailbox->flows = grown;
            mailbox->flow_capacity = capacity;
            queued = 1;
        }
    }
    if (queued)
        mailbox->flows[mailbox->flow_count++] = batch;
    pthread_mutex_unlock(&mailbox->lock);
    if (queued)
        mailbox_signal(mailbox);
    return queued;
}

struct nasoone_flow_batch *mailbox_take_flows(struct mailbox *mailbox)
{
    struct nasoone_flow_batch *batch = NULL;
    pthread_mutex_lock(&mailbox->lock);
    if (mailbox->flow_count > 0) {
        batch = mailbox->flows[0];
        mailbox->flow_count--;
        memmove(mailbox->flows, mailbox->flows + 1, mailbox->flow_count * sizeof *mailbox->flows);
        pthread_cond_broadcast(&mailbox->flows_taken);
    }
    pthread_mutex_unlock(&mailbox->lock);
    return batch;
}

size_t mailbox_flow_count(struct mailbox *mailbox)
{
    pthread_mutex_lock(&mailbox->lock);
    size_t count = mailbox->flow_count;
    pthread_mutex_unlock(&mailbox->lock);
    return count;
}

void mailbox_unbound(struct mailbox *mailbox)
{
    pthread_mutex_lock(&mailbox->lock);
    mailbox->unbounded = 1;
    pthread_cond_broadcast(&mailbox->flows_taken);
    pthread_mutex_unlock(&mailbox->lock);
}

/* What the caller took is freed here, where it was made to be taken. */
void nasoone_snapshot_free(struct nasoone_snapshot *snapshot) { free(snapshot); }

void nasoone_flows_free(struct nasoone_flow_batch *batch) { free(batch); }
