/*
 * mailbox.h - what the caller's thread receives from the engine's threads: the newest report
 * snapshot (on_report), the flow record batches (on_flows), and an event descriptor that is
 * readable while either is waiting or the capture's state changed. The writer and the on_flows
 * sink put, the caller takes (nasoone_take_snapshot, nasoone_take_flows) and waits on the
 * descriptor (nasoone_event_fd, nasoone_wait_event). Its own lock: nothing here needs the
 * capture's.
 */
#ifndef NASOONE_MAILBOX_H
#define NASOONE_MAILBOX_H

#include <pthread.h>
#include <stddef.h>

#include "nasoone.h"

/* Flow record batches that may wait untaken before a put waits (lossless) or drops (lossy):
 * 64 x 512 records. */
#define MAILBOX_FLOWS_MAX 64u

struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t flows_taken; /* a lossless put waits on it while the caller lags */
    int event_fd;               /* eventfd: readable while something waits for the caller */
    struct nasoone_snapshot *snapshot;
    struct nasoone_flow_batch **flows; /* FIFO: flows[0] is the oldest */
    size_t flow_count, flow_capacity;
    int unbounded; /* the caller takes nothing until the threads end (stop): no more waiting,
                      and no dropping */
};

/* Returns 0, or -1 (errno) when the event descriptor cannot be made. */
int mailbox_init(struct mailbox *mailbox);
/* Frees what was never taken. */
void mailbox_destroy(struct mailbox *mailbox);

/* Makes the event descriptor readable (any thread). */
void mailbox_signal(struct mailbox *mailbox);
/* Drains the event descriptor (the caller, before looking at what is waiting). Returns 0, or
 * -1 when it cannot be read. */
int mailbox_clear(struct mailbox *mailbox);

/* Replaces the waiting snapshot (an untaken older one is freed: the new one contains it). */
void mailbox_put_snapshot(struct mailbox *mailbox, struct nasoone_snapshot *snapshot);
/* The waiting snapshot (NULL if none); the caller frees it. */
struct nasoone_snapshot *mailbox_take_snapshot(struct mailbox *mailbox);

/* Queues a batch of records. Lossless: waits while MAILBOX_FLOWS_MAX batches are untaken;
 * lossy: then refuses it. After mailbox_unbound, neither. Returns 1 when queued, 0 when refused
 * (the caller still owns the batch, and counts the loss). */
int mailbox_put_flows(struct mailbox *mailbox, struct nasoone_flow_batch *batch, int lossless);
/* The oldest batch (NULL if none); the caller frees it. */
struct nasoone_flow_batch *mailbox_take_flows(struct mailbox *mailbox);
/* How many batches wait. */
size_t mailbox_flow_count(struct mailbox *mailbox);
/* From now on puts neither wait nor drop (stop: the caller takes after the threads end);
 * wakes a put that waits. */
void mailbox_unbound(struct mailbox *mailbox);

#endif
